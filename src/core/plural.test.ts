// The count-and-noun helper every message with a number uses.
import { describe, expect, it } from 'vitest';

import { plural } from './plural.js';

describe('plural', () => {
  it('uses the singular for exactly one and the plural otherwise, zero included', () => {
    expect(plural(1, 'file')).toBe('1 file');
    expect(plural(0, 'file')).toBe('0 files');
    expect(plural(2, 'file')).toBe('2 files');
  });

  it('takes an irregular plural', () => {
    expect(plural(1, 'entry', 'entries')).toBe('1 entry');
    expect(plural(7, 'entry', 'entries')).toBe('7 entries');
  });
});
