// Unit tests of duration parsing and formatting as people write durations in flags, env and config files.
import { describe, expect, it } from 'vitest';

import { AppError } from '../core/errors.js';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s', 3_723_000],
    ['1.5s', 1_500],
    ['.5s', 500],
    ['2h0m', 7_200_000],
    ['1s500ms', 1_500],
    [' 10s ', 10_000],
  ])('reads the Go-style duration %j', (input, expected) => {
    expect(parseDuration(input)).toBe(expected);
  });

  it('reads a plain number as milliseconds', () => {
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration(0)).toBe(0);
  });

  it('reads a numeric string as milliseconds', () => {
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('0')).toBe(0);
  });

  it.each(['', '   ', '-5s', '5x', 'abc', '1.5', '5 s', 's', '1h x', '10sec', '1e3', '-1'])(
    'rejects %j and says what is accepted',
    (input) => {
      expect(() => parseDuration(input)).toThrow(
        `invalid duration ${JSON.stringify(input)}: use a number of milliseconds or a value like "30s", "5m", "1h30m"`,
      );
    },
  );

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])('rejects the number %d', (input) => {
    expect(() => parseDuration(input)).toThrow(/^invalid duration .*: use a number of milliseconds/);
  });

  it('throws an invalid_argument AppError', () => {
    const error: unknown = (() => {
      try {
        return parseDuration('5x');
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
  });
});
