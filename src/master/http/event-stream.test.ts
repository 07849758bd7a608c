// Unit tests of one event stream over a fake sink: framing, event shapes, pings, and letting go of the client.
import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { formatEvent, openEventStream, PING_INTERVAL_MS, type EventSink } from './event-stream.js';
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
  /** The events written so far, parsed. */
  events(): { event: string; data: unknown }[] {
    return this.written
      .split('\n\n')
      .filter((block) => block.startsWith('event: '))
      .map((block) => {
        const [eventLine = '', dataLine = ''] = block.split('\n');
        return {
          event: eventLine.slice('event: '.length),
          data: JSON.parse(dataLine.slice('data: '.length)) as unknown,
        };
      });
  }
}

let test: TestContext;

beforeEach(async () => {
  test = await createTestContext();
});

afterEach(async () => {
  vi.useRealTimers();
  await test.store.close();
});

describe('openEventStream', () => {
  it('frames an event as one event line and one data line', () => {
    expect(formatEvent('worker.removed', { worker_id: 'w-1', note: 'a\nb' })).toBe(
      'event: worker.removed\ndata: {"worker_id":"w-1","note":"a\\nb"}\n\n',
    );
  });

  it('starts with a hello listing every worker', async () => {
    await enrollWorker(test, workerRecord());
    const sink = new FakeSink();
    openEventStream(sink, test.registry, { logger: test.logger });
    const [hello] = sink.events();
    expect(hello?.event).toBe('hello');
    expect(hello?.data).toMatchObject({ workers: [{ id: 'w-000000000001', grpc_address: '10.0.0.1:7443' }] });
  });

  it('sends registry events in the API spelling, inventory changes without their items', async () => {
    const sink = new FakeSink();
    openEventStream(sink, test.registry, { logger: test.logger });
    const worker = await enrollWorker(test, workerRecord());
    test.registry.snapshot(worker.id, 1, sampleInventory());
    test.registry.snapshot(worker.id, 2, { ...sampleInventory(), containers: [container()] });
    await test.registry.remove(worker.id);

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
  });

  it('writes a ping comment every 15 seconds', () => {
    vi.useFakeTimers();
    const sink = new FakeSink();
    openEventStream(sink, test.registry, { logger: test.logger });
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
    openEventStream(sink, test.registry, { logger: test.logger });
    sink.emit('close');
    const before = sink.written;
    await enrollWorker(test, workerRecord());
    vi.advanceTimersByTime(PING_INTERVAL_MS * 3);
    expect(sink.written).toBe(before);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('drops a client that stops reading instead of buffering for ever', async () => {
    const sink = new FakeSink();
    sink.unreadPerWrite = 1;
    openEventStream(sink, test.registry, { logger: test.logger, maxBufferedBytes: 300 });
    await enrollWorker(test, workerRecord());
    expect(sink.destroyed).toBe(true);
    const written = sink.written;
    test.registry.snapshot('w-000000000001', 1, sampleInventory());
    expect(sink.written).toBe(written);
    expect(
      test.logLines().some((line) => line.msg === 'event stream client stopped reading; closing its stream'),
    ).toBe(true);
  });

  it('ends the response when closed from the master side', () => {
    const sink = new FakeSink();
    const stream = openEventStream(sink, test.registry, { logger: test.logger });
    stream.close();
    expect(sink.writableEnded).toBe(true);
  });
});
