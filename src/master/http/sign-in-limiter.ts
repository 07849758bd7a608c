// Failed sign-ins per client address: a few misses, then the address is locked out for a while, and the audit log
// gets one row per lockout that counts the attempts instead of one row per attempt.

/** Failed sign-ins in a row an address may make before it is locked out. */
export const DEFAULT_MAX_FAILURES = 5;

/** How long a locked-out address is refused, whatever token it sends. */
export const DEFAULT_LOCKOUT_MS = 60_000;

/** Addresses remembered at most; the least recently seen are forgotten first, so memory stays bounded. */
const DEFAULT_MAX_ADDRESSES = 10_000;

export interface SignInLimitOptions {
  maxFailures?: number;
  lockoutMs?: number;
  maxAddresses?: number;
  /** Current time in ms; injected by tests. */
  now?: () => number;
}

/** What a failed attempt led to, for the audit log. */
export type FailureOutcome =
  /** The first failure of a streak: worth its own audit row (a mistyped token). */
  | { kind: 'first' }
  /** A failure counted in the streak; its row comes with the lockout. */
  | { kind: 'counted' }
  /** This failure locked the address out: one row for the streak and the attempts refused before it. */
  | { kind: 'locked'; failedAttempts: number; refusedAttempts: number; lockoutMs: number };

interface AddressState {
  failures: number;
  lockedUntil: number;
  /** Attempts refused while locked out, not yet written to the audit log. */
  refused: number;
}

export interface SignInLimiter {
  /** Milliseconds the address must still wait; 0 when it may try. Counts the refusal when it must wait. */
  refuse(address: string): number;
  /** Records a failed attempt. */
  failed(address: string): FailureOutcome;
  /** Forgets the address's failures after a successful sign-in. */
  succeeded(address: string): void;
}

/**
 * Creates the limiter. Only failures are charged, so an office behind one NAT address signing in correctly is
 * never slowed down. Admin tokens are long random strings: the lockout does not make guessing feasible or not, it
 * keeps a guessing client from loading the master and from filling the audit log.
 */
export function createSignInLimiter(options: SignInLimitOptions = {}): SignInLimiter {
  const maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
  const lockoutMs = options.lockoutMs ?? DEFAULT_LOCKOUT_MS;
  const maxAddresses = options.maxAddresses ?? DEFAULT_MAX_ADDRESSES;
  const now = options.now ?? Date.now;
  const addresses = new Map<string, AddressState>();

  /** The address's state, moved to the end of the map (most recently seen). */
  function touch(address: string): AddressState {
    const state = addresses.get(address) ?? { failures: 0, lockedUntil: 0, refused: 0 };
    addresses.delete(address);
    addresses.set(address, state);
    while (addresses.size > maxAddresses) {
      const oldest = addresses.keys().next().value;
      if (oldest === undefined) break;
      addresses.delete(oldest);
    }
    return state;
  }

  return {
    refuse(address) {
      const state = addresses.get(address);
      if (state === undefined) return 0;
      const wait = state.lockedUntil - now();
      if (wait <= 0) return 0;
      touch(address).refused += 1;
      return wait;
    },
    failed(address) {
      const state = touch(address);
      state.failures += 1;
      if (state.failures >= maxFailures) {
        const outcome: FailureOutcome = {
          kind: 'locked',
          failedAttempts: state.failures,
          refusedAttempts: state.refused,
          lockoutMs,
        };
        state.failures = 0;
        state.refused = 0;
        state.lockedUntil = now() + lockoutMs;
        return outcome;
      }
      return state.failures === 1 && state.refused === 0 && state.lockedUntil === 0
        ? { kind: 'first' }
        : { kind: 'counted' };
    },
    succeeded(address) {
      addresses.delete(address);
    },
  };
}
