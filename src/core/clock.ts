// Time as a port: the wall clock for timestamps people read, a monotonic one for durations (downtime, rates,
// deadlines), so that a wall-clock step (NTP, a changed time zone) never bends a measure and tests drive time.

/** Where the master's migration code reads the time. */
export interface Clock {
  /** Wall-clock time, for timestamps stored and shown (`startedAt`, event times). */
  now(): Date;
  /**
   * Milliseconds on a monotonic clock with an arbitrary origin: only differences mean anything, and they never
   * go backwards. For durations and deadlines, never stored.
   */
  monotonicMs(): number;
}

/**
 * The process's clocks: `Date` and `performance.now()`, each read when asked (not bound once), so that fake
 * timers installed by a test after the clock was made still apply.
 */
export function systemClock(): Clock {
  return {
    now: () => new Date(),
    monotonicMs: () => performance.now(),
  };
}

/** A clock that moves only when told to, for unit tests that measure durations without sleeping. */
export class ManualClock implements Clock {
  private wallMs: number;
  private monotonic = 0;

  constructor(start: Date = new Date('2026-01-01T00:00:00.000Z')) {
    this.wallMs = start.getTime();
  }

  now(): Date {
    return new Date(this.wallMs);
  }

  monotonicMs(): number {
    return this.monotonic;
  }

  /** Moves both clocks forward by `ms`. */
  advance(ms: number): void {
    if (ms < 0) throw new RangeError('a clock does not go back');
    this.wallMs += ms;
    this.monotonic += ms;
  }
}
