// Bad input never gets a 5xx: random and malformed requests to every route the app registers (taken from fastify
// itself, so a new route cannot be left out), signed in and not, each answered 2xx/4xx with the JSON error shape.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';

import fc from 'fast-check';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createHttpApp } from './http-app.js';
import {
  ADMIN_TOKEN,
  createTestContext,
  enrollWorker,
  sampleInventory,
  workerRecord,
  type TestContext,
} from './http-test-context.js';

/** Runs of the property; a few seconds in all. FUZZ_RUNS and FUZZ_SEED replay or widen a run. */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

interface Route {
  method: string;
  url: string;
}

let test: TestContext;
let app: FastifyInstance;
let uiFolder: string;
let sessionCookie = '';
const routes: Route[] = [];

beforeAll(async () => {
  uiFolder = mkdtempSync(join(tmpdir(), 'dm-fuzz-ui-'));
  mkdirSync(join(uiFolder, 'assets'));
  writeFileSync(join(uiFolder, 'index.html'), '<!doctype html><div id="root"></div>');
  writeFileSync(join(uiFolder, 'assets', 'index-abc.js'), 'console.log(1)');
  test = await createTestContext();
  const worker = await enrollWorker(test, workerRecord({ id: 'w-000000000001', name: 'alpha' }));
  await enrollWorker(test, workerRecord({ id: 'w-000000000002', name: 'beta' }));
  test.registry.snapshot(worker.id, 1, sampleInventory());
  app = await createHttpApp(test.context, {
    logger: test.logger,
    webRoot: uiFolder,
    onRoute: (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    },
  });
  await signIn();
});

/** Signs in again (the fuzzing signs out too), from an address of its own that no lockout reaches. */
async function signIn(): Promise<void> {
  const response = await app.inject({
    method: 'POST',
    url: '/api/session',
    payload: { token: ADMIN_TOKEN },
    remoteAddress: '192.0.2.1',
  });
  const cookie = response.cookies.find((c) => c.name === 'dm_session');
  if (cookie === undefined) throw new Error('no session cookie');
  sessionCookie = `dm_session=${cookie.value}`;
}

afterAll(async () => {
  await app.close();
  test.context.sessions.close();
  await test.store.close();
  rmSync(uiFolder, { recursive: true, force: true });
});

const WEIRD = [
  '',
  ' ',
  '%',
  '%zz',
  '%00',
  '..',
  '../..',
  '\u0000',
  'é',
  '😀',
  '\\',
  '"',
  "'",
  '<script>',
  '{}',
  '[]',
];

/** Text that is often hostile: empty, percent junk, control and multi-byte characters, long runs. */
const nastyString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...WEIRD),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('w-000000000001', 'w-000000000002', 'c0ffee000001', 'alpha', 'mig-1', 'a'.repeat(5000)),
  fc.integer().map(String),
);

/** A path segment for `:id`, sometimes percent-encoded, sometimes raw (percent junk and dots included). */
const pathSegment = fc.oneof(
  nastyString.map((value) => encodeURIComponent(value)),
  fc.constantFrom('%', '%zz', '%2F', '..', '.', '%00', 'a%20b', '%E0%A4%A'),
);

const queryKey = fc.oneof(
  fc.constantFrom('limit', 'before', 'status', 'worker_id', 'access_token', 'dry_run', 'id', '__proto__'),
  fc.string({ maxLength: 8 }),
);
const queryValue = fc.oneof(
  nastyString,
  fc.integer({ min: -10, max: 2000 }).map(String),
  fc.constantFrom('1e3', '-0', 'NaN', 'Infinity', '0x10', ADMIN_TOKEN, 'completed', 'running'),
);

/** A raw query string: pairs (repeated keys too), encoded or not, or plain junk. */
const queryString = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(queryKey, queryValue, fc.boolean()), { maxLength: 4 })
    .map(
      (pairs) =>
        `?${pairs
          .map(([key, value, encode]) =>
            encode ? `${encodeURIComponent(key)}=${encodeURIComponent(value)}` : `${key}=${value}`,
          )
          .join('&')}`,
    ),
  fc.constantFrom('?', '?&&', '?a[b]=1&a[c]=2', '?%', '?limit=%zz', '?limit=1&limit=2', '?=x'),
);

const json = fc.jsonValue({ maxDepth: 3 });

/** Bodies shaped like what POST /api/migrations takes, with every field sometimes of the wrong type. */
const migrationBody = fc.record(
  {
    source_worker_id: fc.oneof(fc.constantFrom('w-000000000001', 'alpha', 'beta', ''), json),
    target_worker_id: fc.oneof(fc.constantFrom('w-000000000002', 'beta', 'alpha'), json),
    container_ids: fc.oneof(fc.array(nastyString, { maxLength: 3 }), json),
    image_ids: fc.oneof(fc.array(nastyString, { maxLength: 3 }), json),
    volume_names: fc.oneof(fc.array(nastyString, { maxLength: 3 }), json),
    network_ids: fc.oneof(fc.array(nastyString, { maxLength: 3 }), json),
    compose_projects: fc.oneof(fc.array(nastyString, { maxLength: 3 }), json),
    mode: fc.oneof(fc.constantFrom('cold', 'warm', 'live'), json),
    strategy: fc.oneof(fc.constantFrom('full', 'incremental'), json),
    transfer_mode: fc.oneof(fc.constantFrom('direct', 'proxy', 'auto'), json),
    compression: fc.oneof(fc.constantFrom('none', 'zstd', 'gzip', 'ZSTD'), json),
    conflict_policy: fc.oneof(fc.constantFrom('fail', 'skip', 'rename', 'overwrite'), json),
    source_policy: fc.oneof(fc.constantFrom('keep_stopped', 'remove', 'keep_running'), json),
    bind_mounts: fc.oneof(
      fc.dictionary(
        fc.oneof(fc.constant('/data'), nastyString),
        fc.oneof(fc.constant({ skip: true }), fc.record({ path: nastyString }), nastyString, json),
        { maxKeys: 2 },
      ),
      json,
    ),
    acknowledge: fc.oneof(fc.array(fc.constantFrom('volume_in_use', 'x', 'BAD', ''), { maxLength: 3 }), json),
    dry_run: fc.oneof(fc.boolean(), json),
    token: fc.oneof(fc.constant(ADMIN_TOKEN), nastyString, json),
  },
  { requiredKeys: [] },
);

/** Bodies POST /api/migrations accepts as valid, so that the handler's own checks (workers, resources) run. */
const validMigrationBody = fc.record(
  {
    source_worker_id: fc.constantFrom('w-000000000001', 'alpha', 'beta', 'w-0000', 'nobody'),
    target_worker_id: fc.constantFrom('w-000000000002', 'beta', 'alpha', 'w-000000000001'),
    container_ids: fc.array(fc.constantFrom('c0ffee000001', 'web', 'nope', 'c0ffee'), { maxLength: 2 }),
    image_ids: fc.array(fc.constantFrom('sha256:abc', 'nginx:latest', 'nope'), { maxLength: 2 }),
    volume_names: fc.array(fc.constantFrom('data', 'nope'), { maxLength: 2 }),
    network_ids: fc.array(fc.constantFrom('backend', 'nope'), { maxLength: 2 }),
    compose_projects: fc.array(fc.constantFrom('shop', 'nope'), { maxLength: 1 }),
    mode: fc.constantFrom('cold', 'warm', 'live'),
    strategy: fc.constantFrom('full', 'incremental'),
    transfer_mode: fc.constantFrom('direct', 'proxy', 'auto'),
    compression: fc.constantFrom('none', 'zstd'),
    conflict_policy: fc.constantFrom('fail', 'skip', 'rename', 'overwrite'),
    source_policy: fc.constantFrom('keep_stopped', 'remove', 'keep_running'),
    bind_mounts: fc.dictionary(
      fc.constantFrom('/data', '/srv'),
      fc.oneof(fc.constant({ skip: true }), fc.constant({ path: '/elsewhere' }), fc.constant('volume-x')),
      { maxKeys: 2 },
    ),
    acknowledge: fc.array(fc.constantFrom('volume_in_use', 'port_conflict'), { maxLength: 2 }),
    dry_run: fc.boolean(),
  },
  { requiredKeys: ['source_worker_id', 'target_worker_id'] },
);

/** The payload as bytes on the wire: JSON of any value, plausible bodies, or text that is not JSON at all. */
const payload = fc.oneof(
  fc.constant(undefined),
  json.map((value) => JSON.stringify(value)),
  { weight: 3, arbitrary: migrationBody.map((value) => JSON.stringify(value)) },
  { weight: 3, arbitrary: validMigrationBody.map((value) => JSON.stringify(value)) },
  {
    weight: 2,
    arbitrary: fc
      .record({ token: fc.oneof(fc.constant(ADMIN_TOKEN), nastyString) })
      .map((value) => JSON.stringify(value)),
  },
  fc.constantFrom('{', '{"token":', 'null', '""', '[]', '{"__proto__":{"x":1}}', '\u0000', 'token=abc'),
  fc.string({ maxLength: 60 }),
);

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  fc.constant(undefined),
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=utf-16',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    'application/json;;',
    '*/*',
    '',
  ),
  fc.string({ maxLength: 20 }),
);

type Credentials = 'token' | 'cookie' | 'none' | 'bad';

const authorization = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', `Basic ${ADMIN_TOKEN}`, `bearer ${ADMIN_TOKEN}x`, 'Bearer a b', ''),
  nastyString.map((value) => `Bearer ${value}`),
  fc.string({ maxLength: 20 }),
);
const cookieHeader = fc.oneof(
  fc.constantFrom('dm_session=', 'dm_session', '=;;=', 'dm_session=%', 'dm_session="x', 'a=b; dm_session=x'),
  nastyString.map((value) => `dm_session=${value}`),
  fc.string({ maxLength: 30 }),
);

/** Headers may hold only Latin-1 without line breaks; anything else is dropped by node's client before us. */
function headerSafe(value: string): boolean {
  return /^[\t\x20-\x7e\x80-\xff]*$/.test(value);
}

const request = fc.record({
  route: fc.constant(null).chain(() => fc.constantFrom(...routes)),
  id: pathSegment,
  query: queryString,
  body: payload,
  contentType,
  credentials: fc.oneof(
    { weight: 3, arbitrary: fc.constant<Credentials>('token') },
    { weight: 2, arbitrary: fc.constant<Credentials>('cookie') },
    fc.constant<Credentials>('none'),
    fc.constant<Credentials>('bad'),
  ),
  authorization,
  cookie: cookieHeader,
  origin: fc.oneof(
    { weight: 4, arbitrary: fc.constant(null) },
    fc.constantFrom('https://evil.example', 'null', 'not a url', 'http://localhost:80'),
  ),
  // Mostly new addresses, so that the sign-in lockout does not answer for the handler most of the time.
  remote: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant('192.0.2.10')),
});

type FuzzRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

function toInject(input: FuzzRequest): InjectOptions {
  const path = input.route.url.replaceAll(/:[A-Za-z_]+|\*/g, () => input.id);
  const headers: Record<string, string> = {};
  if (input.contentType !== undefined && headerSafe(input.contentType)) {
    headers['content-type'] = input.contentType;
  }
  if (input.credentials === 'token') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
  if (input.credentials === 'cookie') headers.cookie = sessionCookie;
  if (input.credentials === 'bad') {
    if (headerSafe(input.authorization)) headers.authorization = input.authorization;
    if (headerSafe(input.cookie)) headers.cookie = input.cookie;
  }
  if (input.origin !== null) headers.origin = input.origin;
  return {
    method: input.route.method as InjectOptions['method'],
    url: `${path}${input.query}`,
    headers,
    remoteAddress: input.remote,
    ...(input.body === undefined ? {} : { payload: input.body }),
    // The event stream never ends by itself: its answer is taken at its headers, without waiting for a body.
    payloadAsStream: true,
  };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

async function send(options: InjectOptions): Promise<Answer> {
  const response: LightMyRequestResponse = await app.inject(options);
  const contentType = String(response.headers['content-type'] ?? '');
  // A stream that started (the event stream) is not read: it lasts as long as the app.
  const body = contentType.startsWith('text/event-stream') ? '' : await text(response.stream());
  return { status: response.statusCode, contentType, body };
}

/** Why an answer breaks the contract, or undefined when it keeps it. */
function contractBreach(method: string, answer: Answer): string | undefined {
  if (answer.status >= 500) return `status ${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status < 200) return `status ${answer.status}`;
  if (answer.status < 400 || method === 'HEAD') return undefined;
  if (!answer.contentType.startsWith('application/json')) {
    return `status ${answer.status} with content-type "${answer.contentType}"`;
  }
  try {
    const parsed = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code !== 'string' || typeof parsed.error.message !== 'string') {
      return `status ${answer.status} without {"error":{"code","message"}}: ${answer.body.slice(0, 300)}`;
    }
  } catch {
    return `status ${answer.status} with a body that is not JSON: ${answer.body.slice(0, 300)}`;
  }
  return undefined;
}

describe('every route under random and malformed input', () => {
  it('registers the routes the fuzzing covers', () => {
    const names = new Set(routes.map((route) => `${route.method} ${route.url}`));
    for (const expected of [
      'GET /api/workers/:id',
      'DELETE /api/workers/:id',
      'POST /api/migrations',
      'POST /api/migrations/:id/cancel',
      'GET /api/events',
      'POST /api/session',
      'GET /health',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('answers 2xx or 4xx with the JSON error shape, never 5xx, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const options = toInject(input);
        const answer = await send(options);
        if (input.route.url === '/api/session' && input.route.method === 'DELETE') await signIn();
        const breach = contractBreach(input.route.method, answer);
        if (breach !== undefined) {
          throw new Error(`${input.route.method} ${input.route.url} (${input.id}${input.query}) → ${breach}`);
        }
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true },
    );
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode).toBe(200);
    const workers = await app.inject({
      method: 'GET',
      url: '/api/workers',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(workers.statusCode).toBe(200);
  }, 60_000);
});
