// The master's live events made durable: every event the web UI's stream sends gets a row and an increasing id, so
// that a browser that reconnects, to this master or to another sharing its database, can ask for what it missed.
import type { EventJson } from '../contract/index.js';
import { systemClock, type Clock } from '../core/clock.js';
import type { MasterEventBounds, MasterEventRecord, MasterEventStore } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import { eventJson } from './http/api-json.js';
import type { MasterEvent } from './worker-registry.js';

/** Rows kept at least (ids grow, so the newest); about 2 h of one migration's progress at one update a second. */
export const EVENT_LOG_KEEP_NEWEST = 10_000;
/** Rows older than this go even when fewer are kept: a browser away this long refetches its state anyway. */
export const EVENT_LOG_KEEP_MS = 24 * 3600_000;
/** How often a writing log prunes. */
export const EVENT_LOG_PRUNE_INTERVAL_MS = 10 * 60_000;
/** How often a following log looks for rows the leading master wrote. */
export const EVENT_LOG_POLL_INTERVAL_MS = 500;
/** Rows read at once when following or catching up. */
const PAGE_SIZE = 500;

/** An event with its id in the log; no id when the store refused the row (it is still sent live, once). */
export interface LoggedEvent {
  id: number | undefined;
  event: EventJson;
}

/**
 * `write`: this master leads; it records what its registry and migrations announce, then tells listeners.
 * `follow`: another master leads and writes the rows; this one reads them every poll interval and tells listeners,
 * ignoring its own registry (a standby's registry has no worker connected and runs no migration).
 */
export type EventLogMode = 'write' | 'follow';

/** Where written events come from; the WorkerRegistry, which also relays the migrations' notices. */
export interface EventLogSource {
  subscribe(listener: (event: MasterEvent) => void): () => void;
}

export interface EventLogOptions {
  store: MasterEventStore;
  source: EventLogSource;
  logger: Logger;
  /** Times the rows carry and the age pruning counts from. */
  clock?: Clock;
  keepNewest?: number;
  keepMs?: number;
  pruneIntervalMs?: number;
  pollIntervalMs?: number;
}

/**
 * The log. Start it in one mode (`start({ mode })`), switch by calling start again, stop on shutdown. In write mode
 * rows are appended one at a time in the order the events happened (a promise chain), and listeners hear of an
 * event only once its row is written, so that an id a browser holds is always in the store. A failed write is
 * logged, never thrown; its event still goes to the listeners, without an id.
 */
export class EventLog {
  readonly #store: MasterEventStore;
  readonly #source: EventLogSource;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #keepNewest: number;
  readonly #keepMs: number;
  readonly #pruneIntervalMs: number;
  readonly #pollIntervalMs: number;
  readonly #listeners = new Set<(entry: LoggedEvent) => void>();
  #mode: EventLogMode | undefined;
  /** Bumped by each start and stop: work of an earlier mode that is still running sees it and gives up. */
  #generation = 0;
  /** The end of the chain of appends, prunes and catch-ups, in order. */
  #tail: Promise<void> = Promise.resolve();
  /** The id of the last event told to listeners; undefined until the first one (or the first poll). */
  #lastId: number | undefined;
  #unsubscribe: (() => void) | undefined;
  #pruneTimer: ReturnType<typeof setInterval> | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #polling: Promise<void> | undefined;
  /** The message of the failure being repeated, logged once until the store works again. */
  #failing: string | undefined;

  constructor(options: EventLogOptions) {
    this.#store = options.store;
    this.#source = options.source;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock();
    this.#keepNewest = options.keepNewest ?? EVENT_LOG_KEEP_NEWEST;
    this.#keepMs = options.keepMs ?? EVENT_LOG_KEEP_MS;
    this.#pruneIntervalMs = options.pruneIntervalMs ?? EVENT_LOG_PRUNE_INTERVAL_MS;
    this.#pollIntervalMs = options.pollIntervalMs ?? EVENT_LOG_POLL_INTERVAL_MS;
  }

  get mode(): EventLogMode | undefined {
    return this.#mode;
  }

  /**
   * Enters `mode`, leaving the current one first (its pending writes finish). Entering write mode from follow
   * first reads what the previous leader wrote since the last poll, so that listeners get every row in id order.
   * Resolves once the mode runs: in write mode, every event the source announces from then on is recorded.
   */
  async start(options: { mode: EventLogMode }): Promise<void> {
    if (this.#mode === options.mode) return;
    await this.stop();
    this.#mode = options.mode;
    const generation = this.#generation;
    if (options.mode === 'follow') {
      this.#schedulePoll(generation, 0);
      return;
    }
    if (this.#lastId !== undefined) {
      this.#enqueue(() => this.#readNew(generation, 'cannot read the live events of the previous leader'));
    }
    this.#unsubscribe = this.#source.subscribe((event) => {
      this.#record(event);
    });
    this.#enqueue(() => this.#prune());
    this.#pruneTimer = setInterval(() => {
      this.#enqueue(() => this.#prune());
    }, this.#pruneIntervalMs);
    this.#pruneTimer.unref();
  }

  /** Leaves the current mode; resolves once the writes and the poll under way have ended. */
  async stop(): Promise<void> {
    this.#generation += 1;
    this.#mode = undefined;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#pollTimer);
    await this.settled();
    await this.#polling;
  }

  /** Resolves once every event announced so far is written and told to listeners (write mode). */
  settled(): Promise<void> {
    return this.#tail;
  }

  /** Hears each event once its row is written (write) or read (follow). Returns the function that stops it. */
  subscribe(listener: (entry: LoggedEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The stored events after `afterId`, oldest first (at most `limit`): what a reconnecting browser missed. */
  async read(afterId: number, limit = PAGE_SIZE): Promise<LoggedEvent[]> {
    return (await this.#store.listMasterEvents(afterId, limit)).map(loggedEvent);
  }

  /** The oldest and latest ids kept: an id before the oldest names events pruned since. */
  bounds(): Promise<MasterEventBounds> {
    return this.#store.masterEventBounds();
  }

  #enqueue(work: () => Promise<void>): void {
    this.#tail = this.#tail.then(work).catch((error: unknown) => {
      this.#logger.error({ err: error }, 'live event log failed');
    });
  }

  /** Takes the event's time and shape now, when it happened; the row follows the ones before it. */
  #record(event: MasterEvent): void {
    const at = this.#clock.now().toISOString();
    const json = eventJson(event);
    this.#enqueue(async () => {
      let id: number | undefined;
      try {
        id = await this.#store.appendMasterEvent({ at, type: json.type, body: json.data });
        this.#recovered();
      } catch (error) {
        this.#failed('cannot record a live event: a browser that reconnects may miss it', error);
      }
      if (id !== undefined) this.#lastId = id;
      this.#emit({ id, event: json });
    });
  }

  async #prune(): Promise<void> {
    const olderThan = new Date(this.#clock.now().getTime() - this.#keepMs).toISOString();
    try {
      const pruned = await this.#store.pruneMasterEvents({ keepNewest: this.#keepNewest, olderThan });
      if (pruned > 0) this.#logger.debug({ pruned }, 'old live events pruned');
    } catch (error) {
      this.#logger.warn({ err: error }, 'cannot prune old live events');
    }
  }

  #schedulePoll(generation: number, delayMs: number): void {
    this.#pollTimer = setTimeout(() => {
      this.#polling = this.#readNew(generation, 'cannot read the live events the leading master writes').then(
        () => {
          if (generation === this.#generation) this.#schedulePoll(generation, this.#pollIntervalMs);
        },
      );
    }, delayMs);
    this.#pollTimer.unref();
  }

  /**
   * Tells listeners the rows after the last id told, page by page. The first read of a log that has told nothing
   * starts at the latest row: history is for browsers that ask (read), not for live listeners.
   */
  async #readNew(generation: number, failure: string): Promise<void> {
    try {
      // Kept at once: should the listing fail, the next poll must not skip the rows written meanwhile.
      this.#lastId ??= (await this.#store.masterEventBounds()).latest ?? 0;
      let lastId = this.#lastId;
      for (;;) {
        const rows = await this.#store.listMasterEvents(lastId, PAGE_SIZE);
        // Stopped meanwhile: the rows are left for the next mode, which starts from #lastId.
        if (generation !== this.#generation) return;
        for (const row of rows) {
          lastId = row.id;
          this.#emit(loggedEvent(row));
        }
        this.#lastId = lastId;
        if (rows.length < PAGE_SIZE) break;
      }
      this.#recovered();
    } catch (error) {
      this.#failed(failure, error);
    }
  }

  #emit(entry: LoggedEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(entry);
      } catch (error) {
        this.#logger.error({ err: error }, 'a live event listener failed');
      }
    }
  }

  #failed(message: string, error: unknown): void {
    if (this.#failing === message) {
      this.#logger.debug({ err: error }, message);
      return;
    }
    this.#failing = message;
    this.#logger.error({ err: error }, message);
  }

  #recovered(): void {
    if (this.#failing === undefined) return;
    this.#logger.info({ after: this.#failing }, 'live events are recorded and read again');
    this.#failing = undefined;
  }
}

/** A row as the stream sends it; the log wrote it from an EventJson, so its type and body fit together. */
function loggedEvent(row: MasterEventRecord): LoggedEvent {
  return { id: row.id, event: { type: row.type, data: row.body } as EventJson };
}
