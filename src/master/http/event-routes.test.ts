// The live event stream ends with the credentials that opened it: sign-out, expiry, a changed admin token; and it
// replays from the id a reconnecting client gives, in its header or its query.
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { hashToken } from '../../platform/secrets.js';
import { createSessionManager } from '../sessions.js';
import { requestedLastEventId } from './event-routes.js';
import { createHttpApp } from './http-app.js';
import { ADMIN_TOKEN, createTestContext, type TestContext } from './http-test-context.js';

const RECHECK_MS = 50;

let app: FastifyInstance | undefined;
let test: TestContext | undefined;

afterEach(async () => {
  await app?.close();
  await test?.events.stop();
  test?.context.sessions.close();
  await test?.store.close();
  app = undefined;
  test = undefined;
});

/** An app whose admin token the test can change, as a restart with --admin-token does to the shared store. */
async function start(options: { sessionTtlMs?: number; recheckMs?: number } = {}) {
  let adminToken = ADMIN_TOKEN;
  const base = await createTestContext();
  const sessions = createSessionManager({
    store: base.store,
    logger: base.logger,
    ttlMs: options.sessionTtlMs ?? 3600_000,
    adminTokenHash: () => Promise.resolve(hashToken(adminToken)),
  });
  base.context.sessions.close();
  base.context.sessions = sessions;
  base.context.checkAdminToken = (token) => Promise.resolve(token === adminToken);
  test = base;
  app = await createHttpApp(base.context, {
    logger: base.logger,
    credentialRecheckMs: options.recheckMs ?? RECHECK_MS,
  });
  return {
    server: app,
    changeAdminToken: () => {
      adminToken = `${ADMIN_TOKEN}-new`;
    },
  };
}

async function signIn(server: FastifyInstance): Promise<string> {
  const response = await server.inject({
    method: 'POST',
    url: '/api/session',
    payload: { token: ADMIN_TOKEN },
  });
  const cookie = response.cookies.find((c) => c.name === 'dm_session');
  if (cookie === undefined) throw new Error('no session cookie was set');
  return `dm_session=${cookie.value}`;
}

/**
 * Opens the stream; inject() resolves only when the server ends it. Resolves `opened` once the stream has
 * subscribed to the event log, i.e. is live.
 */
async function openStream(server: FastifyInstance, headers: Record<string, string>, url = '/api/events') {
  const subscribe = vi.spyOn(test!.events, 'subscribe');
  const ended = server.inject({ method: 'GET', url, headers });
  await vi.waitFor(() => {
    expect(subscribe).toHaveBeenCalled();
  });
  subscribe.mockRestore();
  // Wrapped: an async function returning the promise itself would wait for it.
  return { ended };
}

/** The response once the stream ends, or 'still open' after `ms`. */
function within(ended: Promise<LightMyRequestResponse>, ms: number) {
  return Promise.race([
    ended,
    new Promise<'still open'>((resolve) =>
      setTimeout(() => {
        resolve('still open');
      }, ms),
    ),
  ]);
}

describe('the event stream and the credentials that opened it', () => {
  it('keeps streaming while the session and the admin token stay valid', async () => {
    const { server } = await start();
    const cookie = await signIn(server);
    const { ended } = await openStream(server, { cookie });
    expect(await within(ended, RECHECK_MS * 6)).toBe('still open');
    const { ended: byToken } = await openStream(server, { authorization: `Bearer ${ADMIN_TOKEN}` });
    expect(await within(byToken, RECHECK_MS * 6)).toBe('still open');
  });

  it('ends a session’s stream at sign-out, at once', async () => {
    // No periodic recheck could end it in time: the sign-out itself must.
    const { server } = await start({ recheckMs: 60_000 });
    const cookie = await signIn(server);
    const { ended } = await openStream(server, { cookie });
    const out = await server.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    expect(out.statusCode).toBe(200);
    const response = await within(ended, 1000);
    expect(response).not.toBe('still open');
    expect((response as LightMyRequestResponse).body).toContain('event: hello');
  });

  it('ends a session’s stream when the session expires', async () => {
    const { server } = await start({ sessionTtlMs: 400, recheckMs: 60_000 });
    const cookie = await signIn(server);
    const { ended } = await openStream(server, { cookie });
    expect(await within(ended, 1500)).not.toBe('still open');
  });

  it('ends a session’s stream when the admin token changes', async () => {
    const { server, changeAdminToken } = await start();
    const cookie = await signIn(server);
    const { ended } = await openStream(server, { cookie });
    changeAdminToken();
    expect(await within(ended, 1000)).not.toBe('still open');
  });

  it('ends a bearer token’s stream, header or query, when the admin token changes', async () => {
    const { server, changeAdminToken } = await start();
    const { ended: byHeader } = await openStream(server, { authorization: `Bearer ${ADMIN_TOKEN}` });
    const subscribe = vi.spyOn(test!.events, 'subscribe');
    const byQuery = server.inject({ method: 'GET', url: `/api/events?access_token=${ADMIN_TOKEN}` });
    await vi.waitFor(() => {
      expect(subscribe).toHaveBeenCalled();
    });
    changeAdminToken();
    expect(await within(byHeader, 1000)).not.toBe('still open');
    expect(await within(byQuery, 1000)).not.toBe('still open');
  });
});

describe('the event stream after a reconnect', () => {
  /** Logs `count` migration progress lines; answers their ids. */
  async function announce(count: number): Promise<number[]> {
    const ids: number[] = [];
    const unsubscribe = test!.events.subscribe((entry) => {
      if (entry.id !== undefined) ids.push(entry.id);
    });
    for (let index = 0; index < count; index += 1) {
      test!.registry.publish({
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
    await test!.events.settled();
    unsubscribe();
    return ids;
  }

  /** The ids the stream sent, once the server has ended it (after its replay had time to run). */
  async function idsSent(server: FastifyInstance, headers: Record<string, string>, url?: string) {
    const read = vi.spyOn(test!.events, 'read');
    const { ended } = await openStream(server, headers, url);
    await vi.waitFor(() => {
      expect(read).toHaveBeenCalled();
    });
    await Promise.all(read.mock.results.map((result) => result.value as Promise<unknown>));
    await new Promise((resolve) => setTimeout(resolve, 20));
    read.mockRestore();
    await server.close();
    const { body } = await ended;
    return [...body.matchAll(/^id: (\d+)$/gm)].map((match) => Number(match[1]));
  }

  it('replays the events after the Last-Event-ID header', async () => {
    const { server } = await start();
    const ids = await announce(3);
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
    expect(await idsSent(server, { ...auth, 'last-event-id': String(ids[0]) })).toEqual(ids.slice(1));
  });

  it('replays after ?last_event_id= for a client that cannot set headers', async () => {
    const { server } = await start();
    const ids = await announce(3);
    const url = `/api/events?access_token=${ADMIN_TOKEN}&last_event_id=${ids[0]}`;
    expect(await idsSent(server, {}, url)).toEqual(ids.slice(1));
  });

  it('prefers the header, the newer of the two, when both are given', async () => {
    const { server } = await start();
    const ids = await announce(3);
    const url = `/api/events?access_token=${ADMIN_TOKEN}&last_event_id=${ids[0]}`;
    expect(await idsSent(server, { 'last-event-id': String(ids[1]) }, url)).toEqual(ids.slice(2));
  });

  it('treats an id that is not a non-negative integer as none', () => {
    const request = (header: string | undefined, query: unknown) =>
      ({
        headers: header === undefined ? {} : { 'last-event-id': header },
        query,
      }) as unknown as FastifyRequest;
    expect(requestedLastEventId(request('12', {}))).toBe(12);
    expect(requestedLastEventId(request(undefined, { last_event_id: '0' }))).toBe(0);
    expect(requestedLastEventId(request('', { last_event_id: '7' }))).toBe(7);
    for (const bad of ['-1', '1.5', 'abc', '1e3', '99999999999999999999']) {
      expect(requestedLastEventId(request(bad, {}))).toBeUndefined();
    }
    expect(requestedLastEventId(request(undefined, { last_event_id: ['1', '2'] }))).toBeUndefined();
  });
});
