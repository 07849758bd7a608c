// The live event log over an in-memory SQLite store: rows in the order events happened, listeners told after the
// row is written, failures logged and survived, pruning, and a following master reading what the leader writes.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { ManualClock } from '../core/clock.js';
import type { MasterEventStore } from '../core/ports.js';
import { createLogger, type Logger } from '../platform/logger.js';
import { EventLog, type EventLogOptions, type LoggedEvent } from './event-log.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';
import type { MasterEvent } from './worker-registry.js';

/** What the registry would announce; its listeners are called synchronously, as the registry's are. */
class FakeSource {
  readonly listeners = new Set<(event: MasterEvent) => void>();
  subscribe(listener: (event: MasterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Announces the removal of worker `w-<n>` for each n. */
  removed(...numbers: number[]): void {
    for (const n of numbers) {
      for (const listener of this.listeners) listener({ type: 'worker.removed', workerId: `w-${n}` });
    }
  }
}

/** The worker ids of logged removals, in the order told, with their ids. */
function told(entries: LoggedEvent[]): [number | undefined, string][] {
  return entries.map((entry) => [entry.id, (entry.event.data as { worker_id: string }).worker_id]);
}

let store: SqlMasterStore;
let source: FakeSource;
let logger: Logger;
let lines: string[];
const logs: EventLog[] = [];

beforeEach(async () => {
  store = await openSqliteMasterStore({ path: ':memory:' });
  source = new FakeSource();
  lines = [];
  logger = createLogger({
    level: 'debug',
    format: 'json',
    destination: new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    }),
  });
});

afterEach(async () => {
  for (const log of logs.splice(0)) await log.stop();
  await store.close();
});

function createLog(options: Partial<EventLogOptions> = {}): { log: EventLog; entries: LoggedEvent[] } {
  const log = new EventLog({ store, source, logger, ...options });
  logs.push(log);
  const entries: LoggedEvent[] = [];
  log.subscribe((entry) => entries.push(entry));
  return { log, entries };
}

function messages(): string[] {
  return lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
}

describe('EventLog in write mode', () => {
  it('writes events one at a time in the order they happened, and tells listeners each after its row', async () => {
    // The first append is the slowest: appends running side by side would finish, and be told, out of order.
    const delays = [30, 20, 10, 0];
    const written: number[] = [];
    const slowFirst: MasterEventStore = {
      ...bind(store),
      async appendMasterEvent(event) {
        await new Promise((resolve) => setTimeout(resolve, delays[written.length] ?? 0));
        const id = await store.appendMasterEvent(event);
        written.push(id);
        return id;
      },
    };
    const { log, entries } = createLog({ store: slowFirst });
    const writtenWhenTold: boolean[] = [];
    log.subscribe((entry) => writtenWhenTold.push(entry.id !== undefined && written.includes(entry.id)));
    await log.start({ mode: 'write' });
    source.removed(1, 2, 3, 4);
    await log.settled();

    const rows = await store.listMasterEvents(0);
    expect(rows.map((row) => [row.type, row.body])).toEqual(
      [1, 2, 3, 4].map((n) => ['worker.removed', { worker_id: `w-${n}` }]),
    );
    expect(told(entries)).toEqual(rows.map((row) => [row.id, (row.body as { worker_id: string }).worker_id]));
    expect(writtenWhenTold).toEqual([true, true, true, true]);
  });

  it('stamps each row with the time its event happened', async () => {
    const clock = new ManualClock(new Date('2026-03-01T10:00:00.000Z'));
    const { log } = createLog({ clock });
    await log.start({ mode: 'write' });
    source.removed(1);
    clock.advance(1500);
    source.removed(2);
    await log.settled();
    expect((await store.listMasterEvents(0)).map((row) => row.at)).toEqual([
      '2026-03-01T10:00:00.000Z',
      '2026-03-01T10:00:01.500Z',
    ]);
  });

  it('still tells listeners an event the store refused, without an id, and logs the failure once', async () => {
    let refuse = true;
    const flaky: MasterEventStore = {
      ...bind(store),
      appendMasterEvent: (event) =>
        refuse ? Promise.reject(new Error('disk I/O error')) : store.appendMasterEvent(event),
    };
    const { log, entries } = createLog({ store: flaky });
    await log.start({ mode: 'write' });
    source.removed(1, 2);
    await log.settled();
    refuse = false;
    source.removed(3);
    await log.settled();

    const [row] = await store.listMasterEvents(0);
    expect(told(entries)).toEqual([
      [undefined, 'w-1'],
      [undefined, 'w-2'],
      [row?.id, 'w-3'],
    ]);
    const logged = messages();
    expect(
      logged.filter((msg) => msg === 'cannot record a live event: a browser that reconnects may miss it'),
    ).toHaveLength(2);
    expect(lines.filter((line) => line.includes('"level":50'))).toHaveLength(1);
    expect(logged).toContain('live events are recorded and read again');
  });

  it('prunes to the newest rows when it starts and then on its timer', async () => {
    for (let n = 0; n < 6; n += 1) {
      await store.appendMasterEvent({ at: new Date().toISOString(), type: 'worker.removed', body: {} });
    }
    const { log } = createLog({ keepNewest: 3, pruneIntervalMs: 20 });
    await log.start({ mode: 'write' });
    await log.settled();
    expect(await store.listMasterEvents(0)).toHaveLength(3);

    source.removed(1, 2, 3, 4);
    await vi.waitFor(async () => {
      const rows = await store.listMasterEvents(0);
      expect(rows.map((row) => row.body)).toEqual([2, 3, 4].map((n) => ({ worker_id: `w-${n}` })));
    });
  });

  it('prunes rows older than it keeps, but never the newest', async () => {
    const clock = new ManualClock(new Date('2026-03-02T00:00:00.000Z'));
    await store.appendMasterEvent({ at: '2026-02-28T00:00:00.000Z', type: 'a', body: {} });
    const kept = await store.appendMasterEvent({ at: '2026-03-01T12:00:00.000Z', type: 'b', body: {} });
    const { log } = createLog({ clock, keepMs: 24 * 3600_000 });
    await log.start({ mode: 'write' });
    await log.settled();
    expect(await store.masterEventBounds()).toEqual({ oldest: kept, latest: kept });
  });

  it('stops recording once stopped, after writing what was announced before', async () => {
    const { log, entries } = createLog();
    await log.start({ mode: 'write' });
    source.removed(1, 2);
    await log.stop();
    source.removed(3);
    await log.settled();
    expect(told(entries).map(([, worker]) => worker)).toEqual(['w-1', 'w-2']);
    expect(await store.listMasterEvents(0)).toHaveLength(2);
    expect(source.listeners.size).toBe(0);
  });
});

describe('EventLog in follow mode', () => {
  it('tells listeners the rows the leading master writes, from the moment it starts', async () => {
    const leader = createLog();
    await leader.log.start({ mode: 'write' });
    source.removed(1);
    await leader.log.settled();

    const polls = countingPolls();
    const follower = createLog({ source: new FakeSource(), store: polls.store, pollIntervalMs: 10 });
    await follower.log.start({ mode: 'follow' });
    // Its first poll finds where the log ends; what was there before is not told.
    await polls.done(1);
    source.removed(2, 3);
    await leader.log.settled();

    await vi.waitFor(() => {
      expect(told(follower.entries)).toEqual(told(leader.entries.slice(1)));
    });
    expect(follower.log.mode).toBe('follow');
  });

  it('reads, on becoming the writer, what the previous leader wrote since its last poll, before its own events', async () => {
    const leader = createLog();
    await leader.log.start({ mode: 'write' });
    const ownSource = new FakeSource();
    const polls = countingPolls();
    const follower = createLog({ source: ownSource, store: polls.store, pollIntervalMs: 3600_000 });
    await follower.log.start({ mode: 'follow' });
    // Its first poll has run (at once) and found nothing; the next is an hour away.
    await polls.done(1);
    source.removed(1, 2);
    await leader.log.stop();

    await follower.log.start({ mode: 'write' });
    ownSource.removed(3);
    await follower.log.settled();

    const ids = told(follower.entries).map(([id]) => id ?? 0);
    expect(told(follower.entries).map(([, worker]) => worker)).toEqual(['w-1', 'w-2', 'w-3']);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });

  it('keeps polling after the store fails, logging the failure once', async () => {
    let fail = true;
    let failures = 0;
    const flaky: MasterEventStore = {
      ...bind(store),
      listMasterEvents: (afterId, limit) => {
        if (!fail) return store.listMasterEvents(afterId, limit);
        failures += 1;
        return Promise.reject(new Error('connection refused'));
      },
    };
    const follower = createLog({ store: flaky, pollIntervalMs: 10 });
    await follower.log.start({ mode: 'follow' });
    await vi.waitFor(() => {
      expect(failures).toBeGreaterThanOrEqual(3);
    });
    const id = await store.appendMasterEvent({
      at: new Date().toISOString(),
      type: 'worker.removed',
      body: { worker_id: 'w-9' },
    });
    fail = false;
    await vi.waitFor(() => {
      expect(told(follower.entries)).toEqual([[id, 'w-9']]);
    });
    expect(lines.filter((line) => line.includes('"level":50'))).toHaveLength(1);
  });
});

/** The store, counting the polls that have read from it; `done(n)` resolves once n have. */
function countingPolls(): { store: MasterEventStore; done(count: number): Promise<void> } {
  let count = 0;
  return {
    store: {
      ...bind(store),
      async listMasterEvents(afterId, limit) {
        const rows = await store.listMasterEvents(afterId, limit);
        count += 1;
        return rows;
      },
    },
    done: (wanted) =>
      vi.waitFor(() => {
        expect(count).toBeGreaterThanOrEqual(wanted);
      }),
  };
}

/** The store's event methods as a plain object, so that a test can replace one. */
function bind(target: SqlMasterStore): MasterEventStore {
  return {
    appendMasterEvent: (event) => target.appendMasterEvent(event),
    listMasterEvents: (afterId, limit) => target.listMasterEvents(afterId, limit),
    masterEventBounds: () => target.masterEventBounds(),
    pruneMasterEvents: (options) => target.pruneMasterEvents(options),
  };
}
