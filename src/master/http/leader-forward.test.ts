// A standby's API over real sockets: calls reach the leader (bodies, status, headers), probes stay local, and
// without a leader the answer is a JSON 503 saying so.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

import type { LeadershipInfo } from '../master-context.js';
import { createHttpApp } from './http-app.js';
import { ADMIN_TOKEN, createTestContext, type TestContext } from './http-test-context.js';

const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

const apps: FastifyInstance[] = [];
const contexts: TestContext[] = [];

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const test of contexts.splice(0)) await test.store.close();
});

async function master(leadership: () => LeadershipInfo): Promise<{ url: string; test: TestContext }> {
  const test = await createTestContext({ leadership });
  const app = await createHttpApp(test.context, { logger: test.logger });
  await app.listen({ host: '127.0.0.1', port: 0 });
  contexts.push(test);
  apps.push(app);
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, test };
}

describe('a standby master', () => {
  it('forwards API calls to the leader and answers probes itself', async () => {
    const leader = await master(() => ({ leader: true, epoch: 3 }));
    let known: LeadershipInfo = { leader: false, epoch: 3, leaderHttpUrl: leader.url };
    const standby = await master(() => known);

    // A write through the standby lands in the leader's store, and its answer comes back unchanged.
    const created = await fetch(`${standby.url}/api/enrollment-token/regenerate`, {
      method: 'POST',
      headers: AUTH,
    });
    const direct = await fetch(`${leader.url}/api/enrollment-token`, { headers: AUTH });
    expect(created.status).toBe(200);
    expect(((await created.json()) as { token: string }).token).toBe(
      ((await direct.json()) as { token: string }).token,
    );
    const forwarded = await fetch(`${standby.url}/api/workers?limit=5`, { headers: AUTH });
    expect(forwarded.status).toBe(200);
    expect(await forwarded.json()).toEqual(
      await (await fetch(`${leader.url}/api/workers?limit=5`, { headers: AUTH })).json(),
    );

    // A JSON body goes through as sent; the leader's session cookie comes back.
    const signIn = await fetch(`${standby.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: ADMIN_TOKEN }),
    });
    expect(signIn.status).toBe(200);
    const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
    expect(cookie).toMatch(/=/);
    const asSession = await fetch(`${leader.url}/api/workers`, { headers: { cookie } });
    expect(asSession.status).toBe(200);
    const badBody = await fetch(`${standby.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"token":',
    });
    expect(badBody.status).toBe(400);

    // Credentials are checked by the leader: a wrong token is the leader's 401.
    const refused = await fetch(`${standby.url}/api/workers`, { headers: { authorization: 'Bearer nope' } });
    expect(refused.status).toBe(401);
    // The audit is the leader's: the standby wrote nothing.
    expect(await standby.test.store.listAudit({ limit: 10 })).toEqual([]);
    expect((await leader.test.store.listAudit({ limit: 10 })).length).toBeGreaterThan(0);

    const health = await fetch(`${standby.url}/health`);
    expect(await health.json()).toEqual({ status: 'ok', leader: false, epoch: 3 });

    known = { leader: false, epoch: 3 };
    const none = await fetch(`${standby.url}/api/workers`, { headers: AUTH });
    expect(none.status).toBe(503);
    expect(await none.json()).toEqual({
      error: {
        code: 'unavailable',
        message: 'no master leads right now (an election is under way); try again in a few seconds',
        details: { reason: 'not_leader' },
      },
    });
  });

  it('does not forward a call twice when two masters each think the other leads', async () => {
    const urls: string[] = [];
    const a = await master(() => ({ leader: false, epoch: 1, leaderHttpUrl: urls[1] }));
    const b = await master(() => ({ leader: false, epoch: 1, leaderHttpUrl: urls[0] }));
    urls.push(a.url, b.url);
    const response = await fetch(`${a.url}/api/workers`, { headers: AUTH });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      /already forwarded/,
    );
  });

  it('says so when the leader it knows of does not answer', async () => {
    const standby = await master(() => ({ leader: false, epoch: 2, leaderHttpUrl: 'http://127.0.0.1:9' }));
    const response = await fetch(`${standby.url}/api/workers`, { headers: AUTH });
    expect(response.status).toBe(503);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('unavailable');
    expect(body.error.message).toMatch(/^the leading master at http:\/\/127\.0\.0\.1:9 did not answer/);
  });
});
