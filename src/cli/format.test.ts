// Sizes (in the binary units the web UI uses too), ages and tables read the way a user expects.
import { describe, expect, it } from 'vitest';
import { humanAge, humanBytes, shortId } from './format.js';
import { renderTable } from './table.js';

describe('humanBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10_235, '10 KiB'],
    [1_048_575, '1.0 MiB'],
    [52_428_800, '50 MiB'],
    [1024 ** 3, '1.0 GiB'],
    [1_500_000_000, '1.4 GiB'],
    [123_456_789_012, '115 GiB'],
  ])('shows %i bytes as %s', (bytes, text) => {
    expect(humanBytes(bytes)).toBe(text);
  });

  it('shows unknown sizes as a dash', () => {
    expect(humanBytes(null)).toBe('-');
    expect(humanBytes(undefined)).toBe('-');
    expect(humanBytes(-1)).toBe('-');
  });
});

describe('humanAge', () => {
  const now = 1_800_000_000;
  it.each([
    [now - 10, 'less than a minute ago'],
    [now - 60, '1 minute ago'],
    [now - 3 * 3600, '3 hours ago'],
    [now - 15 * 24 * 3600, '2 weeks ago'],
    [now - 400 * 24 * 3600, '1 year ago'],
  ])('shows %i as %s', (seconds, text) => {
    expect(humanAge(seconds, now)).toBe(text);
  });
});

describe('shortId', () => {
  it('drops the digest prefix and keeps 12 digits', () => {
    expect(shortId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
  });
});

describe('renderTable', () => {
  it('aligns columns under their headers', () => {
    const text = renderTable(
      [
        { header: 'NAME', value: (row: { name: string; size: string }) => row.name },
        { header: 'SIZE', value: (row) => row.size },
      ],
      [
        { name: 'a-long-name', size: '1 kB' },
        { name: 'b', size: '20 MB' },
      ],
    );
    expect(text).toBe('NAME          SIZE\na-long-name   1 kB\nb             20 MB\n');
  });
});
