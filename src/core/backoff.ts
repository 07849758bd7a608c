// Reconnect delays: exponential backoff with full jitter (AWS architecture blog), so that a fleet of workers that
// lost its master does not come back in lockstep.

export interface BackoffOptions {
  /** First ceiling, e.g. 5 s. */
  initialMs: number;
  /** Largest ceiling, e.g. 5 min. */
  maxMs: number;
  /** Returns a number in [0, 1); Math.random by default (injected for tests). */
  random?: () => number;
}

/** Successive delays: attempt n waits a uniform random time in [0, min(max, initial·2ⁿ)]. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call grows the ceiling until `maxMs`. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt += 1;
    const random = this.options.random ?? Math.random;
    return Math.floor(random() * ceiling);
  }

  /** After a connection that worked: start again from the initial ceiling. */
  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
