// Unit tests of one event stream over a fake sink: framing, event shapes, pings, letting go of the client, and the
// replay after a Last-Event-ID without a gap or a repeat.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { EventJson } from '../../contract/index.js';
import type { MasterEventBounds } from '../../core/ports.js';
import type { LoggedEvent } from '../event-log.js';
import {
  formatEvent,
  openEventStream,
  PING_INTERVAL_MS,
  type EventSink,
  type EventStreamOptions,
  type EventStreamSources,
} from './event-stream.js';
import {
  container,
  createTestContext,
  enrollWorker,
  sampleInventory,
  workerRecord,
  type TestContext,
} from './http-test-context.js';

/** A sink that keeps what was written and can pretend its client stopped reading. */
class FakeSink extends EventEmitter implements EventSink {
  written = '';
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  /** Bytes the client leaves unread per write (0: it reads everything). */
  unreadPerWrite = 0;

  write(chunk: string): boolean {
    this.written += chunk;
    this.writableLength += this.unreadPerWrite === 0 ? 0 : chunk.length;
    return true;
  }
  end(): void {
    this.writableEnded = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  /** The events written so far, parsed; `id` only on those that carry one. */
  events(): { event: string; data: unknown; id?: number }[] {
    return this.written
      .split('\n\n')
      .filter((block) => /^(id|event): /.test(block))
      .map((block) => {
        const fields = new Map(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
        );
        const id = fields.get('id');
        return {
          event: fields.get('event') ?? '',
          data: JSON.parse(fields.get('data') ?? 'null') as unknown,
          ...(id === undefined ? {} : { id: Number(id) }),
        };
      });
  }
  /** The events other than the hello, as "id type" (no id: "- type"). */
  sequence(): string[] {
    return this.events()
      .filter((event) => event.event !== 'hello')
      .map((event) => `${event.id ?? '-'} ${event.event}`);
  }
}

let test: TestContext;

beforeEach(async () => {
  test = await createTestContext();
});

afterEach(async () => {
  vi.useRealTimers();
  await test.events.stop();
  await test.store.close();
});

/** Opens a stream on the test's registry and event log. */
function open(sink: FakeSink, options: Partial<EventStreamOptions> = {}) {
  return openEventStream(
    sink,
    { registry: test.registry, events: test.events },
    { logger: test.logger, ...options },
  );
}

/** A migration's progress line, as the migrations announce it through the registry. */
function progress(index: number): void {
  test.registry.publish({
    type: 'migration.event',
    event: {
      id: index,
      migrationId: 'm-1',
      at: '2026-01-01T00:00:00.000Z',
      level: 'info',
      phase: 'transfer',
      message: `step ${index}`,
    },
  });
}

/** Announces `count` progress lines and waits until each is logged; answers their ids. */
async function announce(count: number, from = 0): Promise<number[]> {
  const ids: number[] = [];
  const unsubscribe = test.events.subscribe((entry) => {
    if (entry.id !== undefined) ids.push(entry.id);
  });
  for (let index = from; index < from + count; index += 1) progress(index);
  await test.events.settled();
  unsubscribe();
  return ids;
}

/** The item at `index`; a test fails plainly when there is none. */
function itemAt(items: readonly number[], index: number): number {
  const item = items.at(index);
  if (item === undefined) throw new Error(`no item at ${index} of ${items.length}`);
  return item;
}

describe('openEventStream', () => {
  it('frames an event as one event line and one data line, after its id line when it has an id', () => {
    expect(formatEvent('worker.removed', { worker_id: 'w-1', note: 'a\nb' })).toBe(
      'event: worker.removed\ndata: {"worker_id":"w-1","note":"a\\nb"}\n\n',
    );
    expect(formatEvent('worker.removed', { worker_id: 'w-1' }, 42)).toBe(
      'id: 42\nevent: worker.removed\ndata: {"worker_id":"w-1"}\n\n',
    );
  });

  it('starts with a hello listing every worker', async () => {
    await enrollWorker(test, workerRecord());
    const sink = new FakeSink();
    open(sink);
    const [hello] = sink.events();
    expect(hello?.event).toBe('hello');
    expect(hello?.data).toMatchObject({ workers: [{ id: 'w-000000000001', grpc_address: '10.0.0.1:7443' }] });
  });

  it('sends registry events in the API spelling, inventory changes without their items', async () => {
    const sink = new FakeSink();
    open(sink);
    const worker = await enrollWorker(test, workerRecord());
    test.registry.snapshot(worker.id, 1, sampleInventory());
    test.registry.snapshot(worker.id, 2, { ...sampleInventory(), containers: [container()] });
    await test.registry.remove(worker.id);
    await test.events.settled();

    const events = sink.events();
    expect(events.map((event) => event.event)).toEqual([
      'hello',
      'worker.enrolled',
      'inventory.changed',
      'inventory.changed',
      'worker.removed',
    ]);
    expect(events[1]?.data).toMatchObject({
      worker: { id: worker.id, status: 'offline', enrolled_at: worker.enrolledAt },
    });
    expect(events[3]?.data).toEqual({
      worker_id: worker.id,
      counts: { containers: 1, running_containers: 1, images: 1, volumes: 1, networks: 1 },
      changes: [
        {
          kind: 'container',
          key: 'dead000000000000000000000000000000000000000000000000000000000002',
          removed: true,
        },
      ],
    });
    expect(events[4]?.data).toEqual({ worker_id: worker.id });
    const ids = events.slice(1).map((event) => event.id ?? 0);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(4);
  });

  it('writes a ping comment every 15 seconds', () => {
    vi.useFakeTimers();
    const sink = new FakeSink();
    open(sink);
    vi.advanceTimersByTime(PING_INTERVAL_MS - 1);
    expect(sink.written).not.toContain(': ping');
    vi.advanceTimersByTime(1);
    expect(sink.written.endsWith(': ping\n\n')).toBe(true);
    vi.advanceTimersByTime(PING_INTERVAL_MS);
    expect(sink.written.match(/: ping/g)).toHaveLength(2);
  });

  it('stops listening and pinging once the client disconnects', async () => {
    vi.useFakeTimers();
    const sink = new FakeSink();
    open(sink);
    sink.emit('close');
    const before = sink.written;
    await enrollWorker(test, workerRecord());
    await test.events.settled();
    vi.advanceTimersByTime(PING_INTERVAL_MS * 3);
    expect(sink.written).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops a client that stops reading instead of buffering for ever', async () => {
    const sink = new FakeSink();
    sink.unreadPerWrite = 1;
    open(sink, { maxBufferedBytes: 300 });
    await enrollWorker(test, workerRecord());
    await test.events.settled();
    expect(sink.destroyed).toBe(true);
    const written = sink.written;
    test.registry.snapshot('w-000000000001', 1, sampleInventory());
    await test.events.settled();
    expect(sink.written).toBe(written);
    expect(
      test.logLines().some((line) => line.msg === 'event stream client stopped reading; closing its stream'),
    ).toBe(true);
  });

  it('ends the response when closed from the master side', () => {
    const sink = new FakeSink();
    const stream = open(sink);
    stream.close();
    expect(sink.writableEnded).toBe(true);
  });
});

/**
 * An event log the test drives: `rows` is the store; `publish` writes a row and tells listeners, as the log does;
 * a read can be held until the test lets it go.
 */
class ScriptedLog implements Pick<EventStreamSources['events'], 'subscribe' | 'read' | 'bounds'> {
  rows: LoggedEvent[] = [];
  readonly listeners = new Set<(entry: LoggedEvent) => void>();
  readonly reads: number[] = [];
  /** While set, each read waits for it. */
  gate: Promise<void> | undefined;
  failReads = false;

  static event(index: number): EventJson {
    return { type: 'worker.removed', data: { worker_id: `w-${index}` } };
  }
  subscribe(listener: (entry: LoggedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  publish(id: number | undefined): void {
    const entry = { id, event: ScriptedLog.event(id ?? 0) };
    if (id !== undefined) this.rows.push(entry);
    for (const listener of this.listeners) listener(entry);
  }
  async read(afterId: number, limit = 500): Promise<LoggedEvent[]> {
    this.reads.push(afterId);
    await this.gate;
    if (this.failReads) throw new Error('database is locked');
    return this.rows.filter((row) => (row.id ?? 0) > afterId).slice(0, limit);
  }
  bounds(): Promise<MasterEventBounds> {
    const ids = this.rows.map((row) => row.id ?? 0);
    return Promise.resolve({
      oldest: ids.length === 0 ? undefined : Math.min(...ids),
      latest: ids.length === 0 ? undefined : Math.max(...ids),
    });
  }
}

describe('openEventStream after a Last-Event-ID', () => {
  it('sends the stored events after the id, then live ones, each with its id', async () => {
    const ids = await announce(4);
    const sink = new FakeSink();
    open(sink, { lastEventId: itemAt(ids, 1) });
    await vi.waitFor(() => {
      expect(sink.sequence()).toHaveLength(2);
    });
    await announce(1, 4);

    const events = sink.events();
    expect(events[0]?.event).toBe('hello');
    expect(
      events
        .slice(1)
        .map((event) => [event.id, (event.data as { event: { message: string } }).event.message]),
    ).toEqual([
      [ids[2], 'step 2'],
      [ids[3], 'step 3'],
      [itemAt(ids, 3) + 1, 'step 4'],
    ]);
  });

  it('starts with live events for a client that gives no id, replaying nothing', async () => {
    await announce(3);
    const sink = new FakeSink();
    open(sink);
    const [next] = await announce(1, 3);
    expect(sink.sequence()).toEqual([`${next} migration.event`]);
  });

  it('loses no event and repeats none when events arrive while it replays', async () => {
    const log = new ScriptedLog();
    for (let id = 1; id <= 5; id += 1) log.publish(id);
    let release = (): void => undefined;
    log.gate = new Promise((resolve) => {
      release = resolve;
    });
    const sink = new FakeSink();
    openEventStream(
      sink,
      { registry: test.registry, events: log },
      { logger: test.logger, lastEventId: 1, replayPageSize: 2 },
    );
    // While the first page is being read: rows 6 and 7 are written, and an event the store refused goes by.
    log.publish(6);
    log.publish(undefined);
    log.publish(7);
    expect(sink.sequence()).toEqual([]);
    log.gate = undefined;
    release();
    await vi.waitFor(() => {
      expect(sink.sequence()).toHaveLength(7);
    });
    log.publish(8);

    expect(sink.sequence()).toEqual([
      '2 worker.removed',
      '3 worker.removed',
      '4 worker.removed',
      '5 worker.removed',
      '6 worker.removed',
      '7 worker.removed',
      '- worker.removed',
      '8 worker.removed',
    ]);
    // Page by page, each from the last id sent.
    expect(log.reads).toEqual([1, 3, 5, 7]);
  });

  it('sends a reset carrying the latest id when the events after the id were pruned', async () => {
    const ids = await announce(5);
    await test.store.pruneMasterEvents({ keepNewest: 2 });
    const sink = new FakeSink();
    open(sink, { lastEventId: itemAt(ids, 1) });
    await vi.waitFor(() => {
      expect(sink.sequence()).toHaveLength(1);
    });
    const [next] = await announce(1, 5);

    const [, reset] = sink.events();
    expect(reset).toEqual({
      event: 'reset',
      id: ids[4],
      data: {
        reason: 'pruned',
        message: `the events after ${ids[1]} are no longer kept: fetch the current state again`,
      },
    });
    expect(sink.sequence()).toEqual([`${ids[4]} reset`, `${next} migration.event`]);
  });

  it('replays from the oldest kept event when the id is just before it', async () => {
    const ids = await announce(5);
    await test.store.pruneMasterEvents({ keepNewest: 2 });
    const sink = new FakeSink();
    open(sink, { lastEventId: itemAt(ids, 2) });
    await vi.waitFor(() => {
      expect(sink.sequence()).toEqual([`${ids[3]} migration.event`, `${ids[4]} migration.event`]);
    });
  });

  it('sends a reset for an id this log never gave, then every live event', async () => {
    const ids = await announce(2);
    const sink = new FakeSink();
    open(sink, { lastEventId: itemAt(ids, 1) + 100 });
    await vi.waitFor(() => {
      expect(sink.sequence()).toEqual([`${ids[1]} reset`]);
    });
    expect(sink.events()[1]?.data).toMatchObject({ reason: 'unknown_id' });
    const [next] = await announce(1, 2);
    expect(sink.sequence()).toEqual([`${ids[1]} reset`, `${next} migration.event`]);
  });

  it('sends a reset when the log cannot be read, then every live event', async () => {
    const log = new ScriptedLog();
    log.publish(1);
    log.failReads = true;
    const sink = new FakeSink();
    openEventStream(sink, { registry: test.registry, events: log }, { logger: test.logger, lastEventId: 9 });
    await vi.waitFor(() => {
      expect(sink.sequence()).toEqual(['- reset']);
    });
    log.publish(2);
    expect(sink.sequence()).toEqual(['- reset', '2 worker.removed']);
    expect(sink.events()[1]?.data).toMatchObject({ reason: 'unavailable' });
    expect(
      test
        .logLines()
        .some((line) => line.msg === 'cannot replay live events; the client refetches its state'),
    ).toBe(true);
  });
});
