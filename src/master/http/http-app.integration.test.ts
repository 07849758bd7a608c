// The REST API on a real socket (127.0.0.1, port 0) with a real HTTP client: the live event stream and /metrics.
import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { createHttpApp } from './http-app.js';
import {
  ADMIN_TOKEN,
  createTestContext,
  enrollWorker,
  sampleInventory,
  workerRecord,
  type TestContext,
} from './http-test-context.js';

interface ServerSentEvent {
  event: string;
  data: unknown;
  id?: string;
}

/** Reads Server-Sent Events from a fetch response body, skipping comment blocks (pings). */
class EventReader {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  constructor(private readonly reader: ReadableStreamDefaultReader<Uint8Array>) {}

  async next(): Promise<ServerSentEvent> {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields = new Map(
          block
            .split('\n')
            .filter((line) => !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trimStart()]),
        );
        const event = fields.get('event');
        const id = fields.get('id');
        if (event !== undefined) {
          return {
            event,
            data: JSON.parse(fields.get('data') ?? 'null') as unknown,
            ...(id === undefined ? {} : { id }),
          };
        }
        continue;
      }
      const { done, value } = await this.reader.read();
      if (done) throw new Error('the event stream ended');
      this.buffer += this.decoder.decode(value, { stream: true });
    }
  }

  /** True once the server ends the stream. */
  async ended(): Promise<boolean> {
    for (;;) {
      const { done } = await this.reader.read();
      if (done) return true;
    }
  }
}

let test: TestContext;
let app: FastifyInstance;
let base: string;
const aborts: AbortController[] = [];

beforeEach(async () => {
  test = await createTestContext();
  app = await createHttpApp(test.context, { logger: test.logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const abort of aborts.splice(0)) abort.abort();
  await app.close();
  await test.events.stop();
  await test.store.close();
});

async function openEvents(init: { query?: string; headers?: Record<string, string> }): Promise<{
  response: Response;
  events: EventReader;
  abort: AbortController;
}> {
  const abort = new AbortController();
  aborts.push(abort);
  const response = await fetch(`${base}/api/events${init.query ?? ''}`, {
    headers: init.headers ?? {},
    signal: abort.signal,
  });
  if (!response.body) throw new Error('no body');
  return { response, events: new EventReader(response.body.getReader()), abort };
}

describe('live event stream over HTTP', () => {
  it('says hello, then streams enrollments and inventory changes as they happen', async () => {
    await enrollWorker(test, workerRecord({ id: 'w-000000000009', name: 'existing' }));
    const { response, events } = await openEvents({ headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(response.headers.get('x-accel-buffering')).toBe('no');

    const hello = await events.next();
    expect(hello.event).toBe('hello');
    expect(hello.data).toMatchObject({
      workers: [{ id: 'w-000000000009', name: 'existing', online: false }],
    });

    const worker = await enrollWorker(test, workerRecord());
    const enrolled = await events.next();
    expect(enrolled.event).toBe('worker.enrolled');
    expect(enrolled.data).toMatchObject({
      worker: { id: worker.id, name: 'alpha', counts: { containers: 0 } },
    });

    test.registry.snapshot(worker.id, 1, sampleInventory());
    const changed = await events.next();
    expect(changed.event).toBe('inventory.changed');
    expect(changed.data).toMatchObject({
      worker_id: worker.id,
      counts: { containers: 2, running_containers: 1, images: 1, volumes: 1, networks: 1 },
    });
    const { changes } = changed.data as { changes: Record<string, unknown>[] };
    expect(changes).toHaveLength(5);
    expect(changes[0]).toEqual({
      kind: 'container',
      key: sampleInventory().containers[0]?.id,
      removed: false,
    });
  });

  it('sends, to a client that reconnects with Last-Event-ID, the events it missed and then live ones', async () => {
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const first = await openEvents({ headers: auth });
    await first.events.next();
    const worker = await enrollWorker(test, workerRecord());
    const enrolled = await first.events.next();
    expect(enrolled.id).toMatch(/^\d+$/);
    first.abort.abort();
    // Missed while away.
    test.registry.snapshot(worker.id, 1, sampleInventory());
    await test.registry.remove(worker.id);
    await test.events.settled();

    const again = await openEvents({ headers: { ...auth, 'last-event-id': enrolled.id ?? '' } });
    expect((await again.events.next()).event).toBe('hello');
    const changed = await again.events.next();
    const removed = await again.events.next();
    expect([changed.event, removed.event]).toEqual(['inventory.changed', 'worker.removed']);
    expect(Number(changed.id)).toBeGreaterThan(Number(enrolled.id));
    expect(Number(removed.id)).toBeGreaterThan(Number(changed.id));
    await enrollWorker(test, workerRecord({ id: 'w-000000000002', name: 'beta' }));
    const live = await again.events.next();
    expect(live.event).toBe('worker.enrolled');
    expect(Number(live.id)).toBe(Number(removed.id) + 1);
  });

  it('accepts the admin token as ?access_token= on the event stream, for EventSource', async () => {
    const { response, events } = await openEvents({ query: `?access_token=${ADMIN_TOKEN}` });
    expect(response.status).toBe(200);
    expect((await events.next()).event).toBe('hello');
  });

  it('refuses a wrong ?access_token= on the event stream', async () => {
    const response = await fetch(`${base}/api/events?access_token=nope`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
    expect(await response.json()).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it('does not accept ?access_token= on any other route', async () => {
    const response = await fetch(`${base}/api/workers?access_token=${ADMIN_TOKEN}`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { code: 'unauthenticated' } });
  });

  it('lets go of a client that disconnects, and counts its request then', async () => {
    const { events, abort } = await openEvents({ query: `?access_token=${ADMIN_TOKEN}` });
    await events.next();
    abort.abort();
    await vi.waitFor(async () => {
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toContain(
        'docker_migrate_http_requests_total{method="GET",route="/api/events",status="200"} 1',
      );
      // How long a stream stayed open is no latency: it is counted, not timed.
      expect(metrics).not.toContain('route="/api/events"} ');
    });
    // Nothing is written to the gone client: an enrollment must not fail or throw.
    await enrollWorker(test, workerRecord());
  });

  it('ends open streams when the app closes, so that shutdown does not hang', async () => {
    const { events } = await openEvents({ headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    await events.next();
    const ended = events.ended();
    await app.close();
    expect(await ended).toBe(true);
  });
});

describe('shutdown', () => {
  it('closes promptly although a client holds a connection it never sent a request on', async () => {
    const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1');
    await once(socket, 'connect');
    const closed = once(socket, 'close');
    const started = performance.now();
    await app.close();
    await closed;
    expect(performance.now() - started).toBeLessThan(5_000);
  }, 10_000);
});

describe('metrics over HTTP', () => {
  it('serves Prometheus text without a token, counting API requests by route', async () => {
    await fetch(`${base}/api/workers`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(text).toContain('# TYPE docker_migrate_connected_peers gauge');
    expect(text).toContain('docker_migrate_connected_peers 0');
    expect(text).toContain(
      'docker_migrate_http_requests_total{method="GET",route="/api/workers",status="200"} 1',
    );
  });
});
