// The sign-in limiter alone, on a manual clock: lockout, its end, and memory that stays bounded.
import { describe, expect, it } from 'vitest';

import { createSignInLimiter } from './sign-in-limiter.js';

describe('sign-in limiter', () => {
  it('locks an address out at its fifth failure, counts refusals, and lets it try again after', () => {
    let now = 0;
    const limiter = createSignInLimiter({ now: () => now });
    expect(limiter.failed('a')).toEqual({ kind: 'first' });
    for (let i = 0; i < 3; i += 1) expect(limiter.failed('a')).toEqual({ kind: 'counted' });
    expect(limiter.failed('a')).toEqual({
      kind: 'locked',
      failedAttempts: 5,
      refusedAttempts: 0,
      lockoutMs: 60_000,
    });
    expect(limiter.refuse('a')).toBe(60_000);
    now = 59_000;
    expect(limiter.refuse('a')).toBe(1_000);
    now = 60_000;
    expect(limiter.refuse('a')).toBe(0);
    for (let i = 0; i < 4; i += 1) expect(limiter.failed('a')).toEqual({ kind: 'counted' });
    expect(limiter.failed('a')).toMatchObject({ kind: 'locked', failedAttempts: 5, refusedAttempts: 2 });
  });

  it('keeps at most its bound of addresses, forgetting the least recently seen', () => {
    const limiter = createSignInLimiter({ maxAddresses: 3, maxFailures: 1, now: () => 0 });
    for (const address of ['a', 'b', 'c']) limiter.failed(address);
    expect(limiter.refuse('a')).toBeGreaterThan(0);
    limiter.failed('d');
    // 'a' was just seen (refused), so 'b' is the one forgotten.
    expect(limiter.refuse('b')).toBe(0);
    expect(limiter.refuse('a')).toBeGreaterThan(0);
    expect(limiter.refuse('d')).toBeGreaterThan(0);
  });
});
