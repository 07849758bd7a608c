// Human sizes, rates, durations, relative times and counts, as every page shows them.
import { describe, expect, it } from 'vitest';

import {
  formatBytes,
  formatDuration,
  formatEta,
  formatMovedOf,
  formatPercent,
  formatRate,
  formatRelative,
  plural,
  shortId,
} from './format';

describe('formatMovedOf', () => {
  it('shows bytes moved of the total, raising the total to them when they went past it', () => {
    expect(formatMovedOf(1024, 4096)).toBe('1.0 KiB of 4.0 KiB');
    expect(formatMovedOf(212 * 1024 ** 2, 2 * 1024 ** 2)).toBe('212 MiB of 212 MiB');
    expect(formatMovedOf(0, 0, ' / ')).toBe('0 B / 0 B');
  });
});

describe('formatBytes', () => {
  it('uses binary units with one decimal below ten', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MiB');
    expect(formatBytes(1024 ** 3)).toBe('1.0 GiB');
  });
  it('picks the unit after rounding, so no figure reads 1024 of a unit or 10.0', () => {
    expect(formatBytes(1024 * 1024 - 1)).toBe('1.0 MiB');
    expect(formatBytes(1023.7 * 1024 * 1024)).toBe('1.0 GiB');
    expect(formatBytes(9.97 * 1024)).toBe('10 KiB');
    expect(formatBytes(12.4)).toBe('12 B');
  });
  it('says "—" for unknown sizes', () => {
    expect(formatBytes(null)).toBe('—');
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
});

describe('formatDuration', () => {
  it('reads like a person would say it', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4200)).toBe('4.2 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(120_000)).toBe('2 min');
    expect(formatDuration(2 * 3600_000 + 10 * 60_000)).toBe('2 h 10 min');
    expect(formatDuration(3 * 86_400_000 + 4 * 3600_000)).toBe('3 d 4 h');
  });
  it('moves to the next unit when rounding reaches it', () => {
    expect(formatDuration(999.7)).toBe('1.0 s');
    expect(formatDuration(9_970)).toBe('10 s');
    expect(formatDuration(59_700)).toBe('1 min');
    expect(formatDuration(3_599_700)).toBe('1 h');
  });
});

describe('rates, ETA and percent', () => {
  it('formats a rate and the time left at it', () => {
    expect(formatRate(12 * 1024 * 1024)).toBe('12 MiB/s');
    expect(formatRate(0)).toBe('—');
    expect(formatEta(100 * 1024 * 1024, 10 * 1024 * 1024)).toBe('10 s');
    expect(formatEta(100, 0)).toBe('—');
    expect(formatEta(0, 100)).toBe('—');
  });
  it('clamps percentages', () => {
    expect(formatPercent(0.424)).toBe('42 %');
    expect(formatPercent(1.5)).toBe('100 %');
    expect(formatPercent(-0.2)).toBe('0 %');
  });
  it('says 100 % only when done, and 0 % only when nothing moved', () => {
    expect(formatPercent(0.996)).toBe('99 %');
    expect(formatPercent(1)).toBe('100 %');
    expect(formatPercent(0.001)).toBe('1 %');
    expect(formatPercent(0)).toBe('0 %');
  });
});

describe('formatRelative', () => {
  const now = Date.parse('2026-11-29T12:00:00Z');
  it('counts back from now', () => {
    expect(formatRelative('2026-11-29T11:59:58Z', now)).toBe('just now');
    expect(formatRelative('2026-11-29T11:59:18Z', now)).toBe('42 s ago');
    expect(formatRelative('2026-11-29T11:55:00Z', now)).toBe('5 min ago');
    expect(formatRelative('2026-11-29T09:00:00Z', now)).toBe('3 h ago');
    expect(formatRelative(null, now)).toBe('never');
  });
});

describe('shortId', () => {
  it('drops the digest prefix and keeps twelve characters', () => {
    expect(shortId('sha256:0123456789abcdef0123')).toBe('0123456789ab');
  });
});

describe('plural', () => {
  it('uses the singular for exactly one, and the given plural otherwise', () => {
    expect(plural(1, 'volume')).toBe('1 volume');
    expect(plural(0, 'volume')).toBe('0 volumes');
    expect(plural(2, 'dependency', 'dependencies')).toBe('2 dependencies');
    expect(plural(1, 'dependency', 'dependencies')).toBe('1 dependency');
  });
});
