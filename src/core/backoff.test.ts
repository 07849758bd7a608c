// Backoff grows exponentially under a ceiling, with full jitter; the rate limiter refills over time.
import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';
import { RateLimiter } from './rate-limiter.js';

describe('Backoff', () => {
  it('doubles the ceiling per attempt up to the maximum', () => {
    const backoff = new Backoff({ initialMs: 5_000, maxMs: 300_000, random: () => 0.999999 });
    const delays = Array.from({ length: 9 }, () => backoff.next());
    expect(delays).toEqual([4999, 9999, 19999, 39999, 79999, 159999, 299999, 299999, 299999]);
  });

  it('spreads delays over the whole range (full jitter)', () => {
    const backoff = new Backoff({ initialMs: 1_000, maxMs: 1_000, random: () => 0 });
    expect(backoff.next()).toBe(0);
  });

  it('starts again from the first ceiling after a reset', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 0.5 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(50);
  });
});

describe('RateLimiter', () => {
  it('allows a burst, refuses the next, and refills with time', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 3, perMinute: 6, now: () => now });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(limiter.take('b')).toBe(true);
    now += 10_000;
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
  });

  it('tells whether an attempt is left without using it', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 1, now: () => 0 });
    expect(limiter.allows('a')).toBe(true);
    expect(limiter.allows('a')).toBe(true);
    limiter.take('a');
    expect(limiter.allows('a')).toBe(false);
  });
});
