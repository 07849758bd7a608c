// Sign-in, sign-out and the session cookie, through inject(): what a browser and a script each get.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';

import { createHttpApp } from './http-app.js';
import { ADMIN_TOKEN, createTestContext, type TestContext } from './http-test-context.js';

let app: FastifyInstance | undefined;
let test: TestContext | undefined;
let webRoot: string | undefined;

async function start(
  options: { webRoot?: string; now?: () => number; trustProxy?: boolean } = {},
): Promise<FastifyInstance> {
  test = await createTestContext();
  app = await createHttpApp(test.context, {
    logger: test.logger,
    webRoot: options.webRoot,
    trustProxy: options.trustProxy ?? false,
    ...(options.now === undefined ? {} : { signInLimit: { now: options.now } }),
  });
  return app;
}

afterEach(async () => {
  await app?.close();
  test?.context.sessions.close();
  await test?.store.close();
  // buildUi() puts the UI two folders down its own temporary folder.
  if (webRoot !== undefined) rmSync(join(webRoot, '..', '..'), { recursive: true, force: true });
  app = undefined;
  test = undefined;
  webRoot = undefined;
});

/** The session cookie a response sets, as the browser would send it back. */
function sessionCookie(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((c) => c.name === 'dm_session');
  if (cookie === undefined) throw new Error('no session cookie was set');
  return `dm_session=${cookie.value}`;
}

async function signIn(server: FastifyInstance): Promise<string> {
  const response = await server.inject({
    method: 'POST',
    url: '/api/session',
    payload: { token: ADMIN_TOKEN },
  });
  expect(response.statusCode).toBe(200);
  return sessionCookie(response);
}

describe('sign-in', () => {
  it('trades the admin token for an HttpOnly, SameSite=Strict, expiring session cookie', async () => {
    const server = await start();
    const response = await server.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: ADMIN_TOKEN },
    });
    expect(response.statusCode).toBe(200);
    const body = response.json<{ authenticated: boolean; via: string; expires_at: string }>();
    expect(body.authenticated).toBe(true);
    expect(body.via).toBe('session');
    const header = String(response.headers['set-cookie']);
    expect(header).toMatch(/^dm_session=dm-session-[\w-]+;/);
    expect(header).toContain('HttpOnly');
    expect(header).toContain('SameSite=Strict');
    expect(header).toContain('Path=/');
    expect(header).toMatch(/Expires=/);
    const expires = Date.parse(body.expires_at);
    expect(expires - Date.now()).toBeGreaterThan(3500_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(response.headers['cache-control']).toBe('no-store');
    // The cookie is a session of its own, not the admin token.
    expect(header).not.toContain(ADMIN_TOKEN);
  });

  it('refuses a wrong token with a JSON 401 and sets no cookie', async () => {
    const server = await start();
    const response = await server.inject({ method: 'POST', url: '/api/session', payload: { token: 'nope' } });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({
      error: { code: 'unauthenticated', message: 'the admin token is not valid' },
    });
    expect(response.headers['set-cookie']).toBeUndefined();
  });

  it('says what to send when the body is not a token', async () => {
    const server = await start();
    for (const payload of [{}, { token: '' }, { password: 'x' }]) {
      const response = await server.inject({ method: 'POST', url: '/api/session', payload });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ error: { message: string } }>().error.message).toContain('"token"');
    }
  });

  it('records sign-ins in the audit log without the token', async () => {
    const server = await start();
    await server.inject({ method: 'POST', url: '/api/session', payload: { token: 'wrong' } });
    await signIn(server);
    await server.close();
    const entries = await test!.store.listAudit();
    expect(entries.map((e) => [e.action, e.actor, e.status])).toEqual([
      ['POST /api/session', 'admin (web UI)', 200],
      ['POST /api/session', 'anonymous', 401],
    ]);
    expect(JSON.stringify(entries)).not.toContain(ADMIN_TOKEN);
  });
});

describe('behind a reverse proxy', () => {
  function signInVia(server: FastifyInstance, headers: Record<string, string>) {
    return server.inject({
      method: 'POST',
      url: '/api/session',
      payload: { token: ADMIN_TOKEN },
      headers,
    });
  }

  it('marks the cookie Secure when a trusted proxy says the browser used https', async () => {
    const server = await start({ trustProxy: true });
    const viaHttps = await signInVia(server, { 'x-forwarded-proto': 'https' });
    expect(viaHttps.statusCode).toBe(200);
    expect(String(viaHttps.headers['set-cookie'])).toMatch(/; Secure/);
    const viaHttp = await signInVia(server, { 'x-forwarded-proto': 'http' });
    expect(String(viaHttp.headers['set-cookie'])).not.toMatch(/Secure/);
    const out = await server.inject({
      method: 'DELETE',
      url: '/api/session',
      headers: { 'x-forwarded-proto': 'https', cookie: sessionCookie(viaHttps) },
    });
    expect(String(out.headers['set-cookie'])).toMatch(/; Secure/);
  });

  it('ignores X-Forwarded-Proto unless told to trust the proxy', async () => {
    const server = await start();
    const response = await signInVia(server, { 'x-forwarded-proto': 'https' });
    expect(response.statusCode).toBe(200);
    expect(String(response.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  it('limits sign-ins by the client a trusted proxy names, not by the proxy', async () => {
    const server = await start({ trustProxy: true });
    for (let i = 0; i < 5; i += 1) {
      const wrong = await server.inject({
        method: 'POST',
        url: '/api/session',
        payload: { token: 'wrong' },
        headers: { 'x-forwarded-for': '203.0.113.50' },
      });
      expect(wrong.statusCode).toBe(401);
    }
    expect((await signInVia(server, { 'x-forwarded-for': '203.0.113.50' })).statusCode).toBe(429);
    expect((await signInVia(server, { 'x-forwarded-for': '203.0.113.51' })).statusCode).toBe(200);
  });
});

describe('sign-in attempts', () => {
  function attempt(server: FastifyInstance, token: string, remoteAddress: string) {
    return server.inject({ method: 'POST', url: '/api/session', payload: { token }, remoteAddress });
  }

  it('locks an address out after 5 failures with a JSON 429 and Retry-After, a right token too', async () => {
    let now = Date.parse('2026-11-29T10:00:00Z');
    const server = await start({ now: () => now });
    for (let i = 0; i < 5; i += 1) {
      expect((await attempt(server, `guess-${i}`, '203.0.113.7')).statusCode).toBe(401);
    }
    const locked = await attempt(server, ADMIN_TOKEN, '203.0.113.7');
    expect(locked.statusCode).toBe(429);
    expect(locked.headers['retry-after']).toBe('60');
    expect(locked.headers['set-cookie']).toBeUndefined();
    expect(locked.json()).toEqual({
      error: {
        code: 'unavailable',
        message: 'too many failed sign-in attempts from this address: try again in 60 s',
        details: { retry_after_seconds: 60 },
      },
    });
    // Another address is not locked out.
    expect((await attempt(server, ADMIN_TOKEN, '198.51.100.2')).statusCode).toBe(200);
    now += 45_000;
    const later = await attempt(server, ADMIN_TOKEN, '203.0.113.7');
    expect(later.statusCode).toBe(429);
    expect(later.headers['retry-after']).toBe('15');
    now += 15_000;
    expect((await attempt(server, ADMIN_TOKEN, '203.0.113.7')).statusCode).toBe(200);
  });

  it('forgets the failures of an address that then signs in', async () => {
    const server = await start({ now: () => Date.parse('2026-11-29T10:00:00Z') });
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 4; i += 1) {
        expect((await attempt(server, 'wrong', '203.0.113.8')).statusCode).toBe(401);
      }
      expect((await attempt(server, ADMIN_TOKEN, '203.0.113.8')).statusCode).toBe(200);
    }
  });

  it('audits a storm of failures as a few rows that count them, not one row each', async () => {
    let now = Date.parse('2026-11-29T10:00:00Z');
    const server = await start({ now: () => now });
    for (let i = 0; i < 200; i += 1) {
      await attempt(server, `guess-${i}`, '203.0.113.9');
      now += 1_000;
    }
    await server.close();
    const entries = await test!.store.listAudit({ limit: 1000 });
    // 200 s: the first failure, then one row per lockout (5 failures, then 60 s refused).
    expect(entries.length).toBeLessThanOrEqual(8);
    expect(entries.every((e) => e.action === 'POST /api/session' && e.actor === 'anonymous')).toBe(true);
    const lockouts = entries.filter((e) => e.status === 429);
    expect(lockouts.length).toBeGreaterThanOrEqual(3);
    const counted = entries.reduce(
      (sum, e) =>
        sum + (e.status === 429 ? Number(e.details.failed_attempts) + Number(e.details.refused_attempts) : 1),
      0,
    );
    // Every attempt but those of the lockout still running is counted in some row.
    expect(counted).toBeGreaterThan(140);
    expect(entries.every((e) => e.remoteAddress === '203.0.113.9')).toBe(true);
    expect(JSON.stringify(entries)).not.toContain('guess-');
  });
});

describe('a session', () => {
  it('opens the API and the event stream route, and GET /api/session describes it', async () => {
    const server = await start();
    const cookie = await signIn(server);
    const workers = await server.inject({ method: 'GET', url: '/api/workers', headers: { cookie } });
    expect(workers.statusCode).toBe(200);
    const session = await server.inject({ method: 'GET', url: '/api/session', headers: { cookie } });
    expect(session.json()).toMatchObject({ authenticated: true, via: 'session' });
    const byToken = await server.inject({
      method: 'GET',
      url: '/api/session',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(byToken.json()).toEqual({ authenticated: true, via: 'token', expires_at: null });
  });

  it('ends at sign-out: the cookie is cleared and no longer works', async () => {
    const server = await start();
    const cookie = await signIn(server);
    const out = await server.inject({ method: 'DELETE', url: '/api/session', headers: { cookie } });
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^dm_session=;.*Expires=Thu, 01 Jan 1970/);
    const after = await server.inject({ method: 'GET', url: '/api/workers', headers: { cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json<{ error: { message: string } }>().error.message).toBe(
      'your session has ended: sign in again',
    );
  });

  it('is refused when made up, and signed-out calls of every kind get 401', async () => {
    const server = await start();
    const forged = await server.inject({
      method: 'GET',
      url: '/api/workers',
      headers: { cookie: 'dm_session=dm-session-made-up' },
    });
    expect(forged.statusCode).toBe(401);
    const asked = await server.inject({ method: 'GET', url: '/api/session' });
    expect(asked.statusCode).toBe(200);
    expect(asked.json()).toEqual({ authenticated: false, via: null, expires_at: null });
    for (const [method, url] of [
      ['GET', '/api/migrations'],
      ['POST', '/api/enrollment-token/regenerate'],
      ['GET', '/api/audit'],
    ] as const) {
      expect((await server.inject({ method, url })).statusCode).toBe(401);
    }
  });

  it('refuses a changing request from another site even with the cookie', async () => {
    const server = await start();
    const cookie = await signIn(server);
    const crossSite = await server.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: { cookie, origin: 'https://evil.example', host: 'master.local:8080' },
    });
    expect(crossSite.statusCode).toBe(403);
    const sameSite = await server.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: { cookie, origin: 'http://master.local:8080', host: 'master.local:8080' },
    });
    expect(sameSite.statusCode).toBe(200);
  });
});

describe('the web UI', () => {
  function buildUi(): string {
    // Installed under a folder named "assets" itself: only the UI's own assets/ folder is cached for good.
    const parent = mkdtempSync(join(tmpdir(), 'dm-web-'));
    mkdirSync(join(parent, 'assets'));
    webRoot = mkdtempSync(join(parent, 'assets', 'ui-'));
    mkdirSync(join(webRoot, 'assets'));
    writeFileSync(
      join(webRoot, 'index.html'),
      '<!doctype html><title>Dockation</title><div id="root"></div>',
    );
    writeFileSync(join(webRoot, 'assets', 'index-abc123.js'), 'console.log(1)');
    return webRoot;
  }

  it('serves index.html for every page path a browser asks for, with a strict CSP', async () => {
    const server = await start({ webRoot: buildUi() });
    for (const url of ['/', '/workers/w-1', '/migrations/new?from=w-1', '/sign-in']) {
      const page = await server.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<div id="root">');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(page.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('caches hashed assets for good, and a missing asset is a 404, not the page', async () => {
    const server = await start({ webRoot: buildUi() });
    const asset = await server.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const index = await server.inject({ method: 'GET', url: '/index.html' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['cache-control']).toBe('no-cache');
    const missing = await server.inject({
      method: 'GET',
      url: '/assets/index-old.js',
      headers: { accept: 'text/html,*/*' },
    });
    expect(missing.statusCode).toBe(404);
  });

  it('keeps the API answering JSON: unknown API paths need auth, scripts get JSON 404s', async () => {
    const server = await start({ webRoot: buildUi() });
    const probe = await server.inject({
      method: 'GET',
      url: '/api/nowhere',
      headers: { accept: 'text/html' },
    });
    expect(probe.statusCode).toBe(401);
    const script = await server.inject({ method: 'GET', url: '/nowhere', headers: { accept: '*/*' } });
    expect(script.statusCode).toBe(404);
    expect(script.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('explains how to build the UI when this build has none', async () => {
    const server = await start();
    const page = await server.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(404);
    expect(page.body).toContain('make build-full');
  });
});
