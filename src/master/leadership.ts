// Which master leads: a lease in the shared database, taken when free, renewed every couple of seconds, and given up
// by the holder itself before it could have expired. The lease's epoch fences the store and the workers; this loop
// only decides when this master starts and stops a term.
import type { Clock } from '../core/clock.js';
import type { LeaderLeaseStore, LeaseCandidate, LeaseState } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import { sleep } from '../platform/sleep.js';

/** How long a lease lasts from its last renewal. */
export const LEASE_TTL_MS = 10_000;
/** How often the leader renews. */
export const LEASE_RENEW_EVERY_MS = 2_000;
/** How often a standby looks whether the lease is free. */
export const LEASE_POLL_EVERY_MS = 1_000;
/**
 * The leader stops this long before its lease could expire, measured from when it sent the renewal: time for
 * clocks running at slightly different rates and for the term's last writes to be refused by the fence anyway.
 */
export const LEASE_SAFETY_MARGIN_MS = 2_000;

export interface LeadershipOptions {
  store: LeaderLeaseStore;
  candidate: LeaseCandidate;
  /**
   * The store is this process's alone (SQLite, held under a lock file): the lease is taken at once, whatever its
   * state, and kept without renewals — nobody else could take it.
   */
  exclusive: boolean;
  clock: Clock;
  logger: Logger;
  /** Starts this master's term; the term's work may write only after it resolves. */
  onElected(epoch: number): Promise<void>;
  /** Ends the term (stop commands, migrations, sessions). Called at most once per election, after onElected. */
  onDeposed(epoch: number, reason: string): Promise<void>;
  ttlMs?: number;
  renewEveryMs?: number;
  pollEveryMs?: number;
}

export interface LeadershipView {
  /** This master's epoch while it leads, else undefined. */
  leadingEpoch(): number | undefined;
  /** The lease as last read (another master's, when this one does not lead). */
  lastSeen(): LeaseState | undefined;
}

/**
 * Runs the lease loop of one master. A standby tries to take the lease every poll; the leader renews, and steps
 * down on its own when a renewal says another master holds the lease, or when it could not renew in time (its
 * database is gone, or the process was paused) — whichever it notices first. Stepping down sets a fence no lease
 * matches, so nothing this master still has in flight can write.
 */
export class Leadership implements LeadershipView {
  readonly #options: LeadershipOptions;
  readonly #ttlMs: number;
  readonly #renewEveryMs: number;
  readonly #pollEveryMs: number;
  readonly #stop = new AbortController();
  #epoch: number | undefined;
  /** Monotonic time past which this master must no longer act as leader. */
  #validUntil = 0;
  #lastSeen: LeaseState | undefined;
  /** Elections and depositions, one after another. */
  #transitions: Promise<void> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;

  constructor(options: LeadershipOptions) {
    this.#options = options;
    this.#ttlMs = options.ttlMs ?? LEASE_TTL_MS;
    this.#renewEveryMs = options.renewEveryMs ?? LEASE_RENEW_EVERY_MS;
    this.#pollEveryMs = options.pollEveryMs ?? LEASE_POLL_EVERY_MS;
    // Until elected, no write of this master passes the store's check.
    options.store.setFence({ holder: options.candidate.holder, epoch: 0 });
  }

  leadingEpoch(): number | undefined {
    return this.#epoch;
  }

  lastSeen(): LeaseState | undefined {
    return this.#lastSeen;
  }

  /** Starts the loop; resolves after the first attempt to take the lease (and the term it started, if any). */
  async start(): Promise<void> {
    await this.#campaign();
    await this.#transitions;
    if (this.#options.exclusive) return;
    this.#loop = this.#run();
    this.#watchdog = setInterval(() => {
      if (this.#epoch !== undefined && this.#options.clock.monotonicMs() > this.#validUntil) {
        this.#stepDown('it could not renew its lease in time');
      }
    }, 250);
  }

  /** Ends the term (if any) and lets the lease go, so that a standby takes over within its next poll. */
  async close(): Promise<void> {
    this.#stop.abort();
    if (this.#watchdog !== undefined) clearInterval(this.#watchdog);
    await this.#loop;
    const epoch = this.#epoch;
    if (epoch !== undefined) {
      // Still the holder: the term's last writes (what its migrations were doing) pass the fence, then the lease goes.
      this.#stepDown('the master is shutting down', { keepFence: true });
      await this.#transitions;
      this.#options.store.setFence({ holder: this.#options.candidate.holder, epoch: 0 });
      await this.#options.store
        .releaseLease(this.#options.candidate.holder, epoch)
        .catch((error: unknown) => {
          this.#options.logger.warn(
            { err: error },
            'the lease was not released; a standby takes it when it expires',
          );
        });
    }
    await this.#transitions;
  }

  async #run(): Promise<void> {
    while (!this.#stopped()) {
      const leading = this.#epoch !== undefined;
      await sleep(leading ? this.#renewEveryMs : this.#pollEveryMs, this.#stop.signal);
      if (this.#stopped()) break;
      await (leading ? this.#renew() : this.#campaign());
    }
  }

  #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  async #campaign(): Promise<void> {
    const { store, candidate, clock, logger } = this.#options;
    const sentAt = clock.monotonicMs();
    let outcome: Awaited<ReturnType<LeaderLeaseStore['tryAcquireLease']>> | undefined;
    try {
      const attempt = store.tryAcquireLease(candidate, this.#ttlMs, { force: this.#options.exclusive });
      outcome = this.#options.exclusive
        ? await attempt
        : await Promise.race([attempt, sleep(this.#ttlMs, this.#stop.signal).then(() => undefined)]);
      if (outcome === undefined) return;
    } catch (error) {
      if (this.#options.exclusive) throw error;
      logger.warn({ err: error }, 'cannot read the leader lease');
      return;
    }
    if (!outcome.acquired) {
      if (this.#lastSeen?.epoch !== outcome.current.epoch) {
        logger.info(
          { leader: outcome.current.grpcUrl, epoch: outcome.current.epoch },
          'another master leads; this one stands by',
        );
      }
      this.#lastSeen = outcome.current;
      return;
    }
    const { epoch } = outcome;
    this.#epoch = epoch;
    this.#validUntil = sentAt + this.#ttlMs - LEASE_SAFETY_MARGIN_MS;
    this.#lastSeen = { ...candidate, epoch, expiresAtMs: 0, nowMs: 0 };
    store.setFence({ holder: candidate.holder, epoch });
    logger.info({ epoch }, 'this master leads');
    this.#transitions = this.#transitions.then(() =>
      this.#options.onElected(epoch).catch((error: unknown) => {
        logger.error({ err: error, epoch }, 'the term did not start; stepping down');
        this.#stepDown('its term did not start');
      }),
    );
  }

  async #renew(): Promise<void> {
    const { store, candidate, clock, logger } = this.#options;
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    const sentAt = clock.monotonicMs();
    try {
      // A database that does not answer must not hold up the loop: the watchdog steps down, the next round retries.
      const held = await Promise.race([
        store.renewLease(candidate.holder, epoch, this.#ttlMs),
        sleep(this.#renewEveryMs * 2, this.#stop.signal).then(() => undefined),
      ]);
      if (this.#epoch !== epoch || held === undefined) return;
      if (!held) {
        this.#stepDown('another master took the lease');
        return;
      }
      this.#validUntil = sentAt + this.#ttlMs - LEASE_SAFETY_MARGIN_MS;
    } catch (error) {
      logger.warn({ err: error, epoch }, 'cannot renew the leader lease');
    }
  }

  #stepDown(reason: string, options: { keepFence?: boolean } = {}): void {
    const epoch = this.#epoch;
    if (epoch === undefined) return;
    this.#epoch = undefined;
    if (options.keepFence !== true) {
      this.#options.store.setFence({ holder: this.#options.candidate.holder, epoch: 0 });
    }
    this.#options.logger.warn({ epoch, reason }, `this master stops leading: ${reason}`);
    this.#transitions = this.#transitions.then(() =>
      this.#options.onDeposed(epoch, reason).catch((error: unknown) => {
        this.#options.logger.error({ err: error, epoch }, 'error while ending the term');
      }),
    );
  }
}
