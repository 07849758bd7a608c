// Unit tests of the REST API through inject(): auth, worker and resource routes, audit, errors and metrics.
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { AppError } from '../../core/errors.js';
import type { ContainerAnswerJson } from '../../contract/index.js';
import type { MigrationRecord } from '../../core/migration.js';
import type { MasterContext } from '../master-context.js';
import { createHttpApp } from './http-app.js';
import {
  ADMIN_TOKEN,
  ENROLLMENT,
  container,
  createTestContext,
  enrollWorker,
  sampleInventory,
  workerRecord,
  type TestContext,
} from './http-test-context.js';

const AUTH = { authorization: `Bearer ${ADMIN_TOKEN}` };

const ALPHA = workerRecord();
const BETA = workerRecord({
  id: 'w-000000000002',
  name: 'beta',
  hostname: 'beta.example.internal',
  advertiseAddress: '10.0.0.2:7443',
});

let app: FastifyInstance | undefined;
let test: TestContext | undefined;

async function start(
  overrides: Partial<MasterContext> = {},
  bodyLimitBytes?: number,
): Promise<{ app: FastifyInstance; test: TestContext }> {
  test = await createTestContext(overrides);
  app = await createHttpApp(
    test.context,
    bodyLimitBytes === undefined ? { logger: test.logger } : { logger: test.logger, bodyLimitBytes },
  );
  return { app, test };
}

afterEach(async () => {
  await app?.close();
  await test?.store.close();
  app = undefined;
  test = undefined;
});

describe('authentication', () => {
  it('rejects an API call without a token with a JSON 401 and WWW-Authenticate', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/api/workers' });
    expect(response.statusCode).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.json()).toEqual({
      error: { code: 'unauthenticated', message: expect.stringContaining('admin token') as string },
    });
  });

  it('rejects a wrong token, and a token in another scheme', async () => {
    const { app } = await start();
    for (const authorization of ['Bearer not-the-token', `Basic ${ADMIN_TOKEN}`, 'Bearer']) {
      const response = await app.inject({ method: 'GET', url: '/api/workers', headers: { authorization } });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer');
      expect(response.json<{ error: { code: string } }>().error.code).toBe('unauthenticated');
    }
  });

  it('accepts the admin token whatever the case of the scheme', async () => {
    const { app } = await start();
    const response = await app.inject({
      method: 'GET',
      url: '/api/workers',
      headers: { authorization: `bearer ${ADMIN_TOKEN}` },
    });
    expect(response.statusCode).toBe(200);
  });

  it('does not take ?access_token= on routes other than the event stream', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: `/api/workers?access_token=${ADMIN_TOKEN}` });
    expect(response.statusCode).toBe(401);
  });

  it('asks for the token before saying whether an /api route exists', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/api/no-such-thing' });
    expect(response.statusCode).toBe(401);
  });

  it('requires the token on the event stream too', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/api/events?access_token=wrong' });
    expect(response.statusCode).toBe(401);
    expect(response.json<{ error: { code: string } }>().error.code).toBe('unauthenticated');
  });
});

describe('open routes', () => {
  it('answers /health without a token', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok', leader: true, epoch: 1 });
  });

  it('answers /ready with 200 when ready and 503 while starting', async () => {
    let ready = false;
    const { app } = await start({ ready: () => ready });
    const starting = await app.inject({ method: 'GET', url: '/ready' });
    expect(starting.statusCode).toBe(503);
    expect(starting.json()).toEqual({ status: 'starting' });
    ready = true;
    const done = await app.inject({ method: 'GET', url: '/ready' });
    expect(done.statusCode).toBe(200);
    expect(done.json()).toEqual({ status: 'ready' });
  });

  it('serves Prometheus metrics without a token, with the connected peers gauge', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('docker_migrate_connected_peers 0');
  });
});

describe('workers', () => {
  it('lists workers in snake_case with counts from their inventory', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    test.registry.snapshot(ALPHA.id, 1, sampleInventory());

    const response = await app.inject({ method: 'GET', url: '/api/workers', headers: AUTH });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      workers: [
        {
          id: ALPHA.id,
          name: 'alpha',
          hostname: 'alpha.example.internal',
          labels: { zone: 'eu-west-1a' },
          version: '0.1.0',
          status: 'offline',
          online: false,
          last_heartbeat: null,
          enrolled_at: '2025-01-02T03:04:05.000Z',
          grpc_address: '10.0.0.1:7443',
          docker_version: '27.3.1',
          active_tasks: 0,
          counts: { containers: 2, running_containers: 1, images: 1, volumes: 1, networks: 1 },
          system: null,
        },
      ],
    });
  });

  it('shows a connected worker as online with its heartbeat figures', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await test.registry.attach(
      ALPHA.id,
      {
        name: 'alpha',
        hostname: 'alpha.example.internal',
        labels: {},
        version: '0.1.0',
        advertiseAddress: '10.0.0.1:7443',
        dockerVersion: '27.3.1',
      },
      { close: () => undefined, sendCommand: () => undefined, cancelCommand: () => undefined },
    );
    test.registry.heartbeat(ALPHA.id, {
      activeTasks: 2,
      system: {
        cpuPercent: 12.5,
        cpus: 4,
        memoryTotalBytes: 8e9,
        memoryUsedBytes: 2e9,
        dockerRootFreeBytes: 5e10,
      },
    });

    const response = await app.inject({ method: 'GET', url: `/api/workers/${ALPHA.id}`, headers: AUTH });
    const { worker } = response.json<{ worker: Record<string, unknown> }>();
    expect(worker).toMatchObject({
      id: ALPHA.id,
      status: 'online',
      online: true,
      active_tasks: 2,
      system: {
        cpu_percent: 12.5,
        cpus: 4,
        memory_total_bytes: 8e9,
        memory_used_bytes: 2e9,
        docker_root_free_bytes: 5e10,
      },
    });
    expect(typeof worker.last_heartbeat).toBe('string');
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('docker_migrate_connected_peers 1');
  });

  it('answers 404 not_found JSON for an unknown worker', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/api/workers/w-nope', headers: AUTH });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'not_found', message: 'worker "w-nope" not found' } });
  });

  it('returns one worker’s resources as the worker reported them', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    const inventory = sampleInventory();
    test.registry.snapshot(ALPHA.id, 1, inventory);

    const response = await app.inject({
      method: 'GET',
      url: `/api/workers/${ALPHA.id}/resources`,
      headers: AUTH,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ worker_id: ALPHA.id, ...inventory });
  });

  it('removes a worker, which then is not found, and audits the removal', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);

    const response = await app.inject({ method: 'DELETE', url: `/api/workers/${ALPHA.id}`, headers: AUTH });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ removed: true, worker_id: ALPHA.id });
    const after = await app.inject({ method: 'GET', url: `/api/workers/${ALPHA.id}`, headers: AUTH });
    expect(after.statusCode).toBe(404);
    expect((await test.store.getWorker(ALPHA.id))?.revokedAt).not.toBeNull();

    await vi.waitFor(async () => {
      expect(await test.store.listAudit()).toHaveLength(1);
    });
    const [entry] = await test.store.listAudit();
    expect(entry).toMatchObject({
      actor: 'admin',
      action: 'DELETE /api/workers/:id',
      target: ALPHA.id,
      outcome: 'ok',
      status: 200,
      details: {},
      remoteAddress: '127.0.0.1',
    });
  });

  it('audits failed mutations too: an unknown worker and an anonymous caller', async () => {
    const { app, test } = await start();
    const unknown = await app.inject({ method: 'DELETE', url: '/api/workers/w-nope', headers: AUTH });
    expect(unknown.statusCode).toBe(404);
    const anonymous = await app.inject({ method: 'DELETE', url: '/api/workers/w-nope' });
    expect(anonymous.statusCode).toBe(401);

    await vi.waitFor(async () => {
      expect(await test.store.listAudit()).toHaveLength(2);
    });
    const entries = await test.store.listAudit();
    expect(entries.map((entry) => [entry.actor, entry.outcome, entry.status, entry.target])).toEqual([
      ['anonymous', 'error', 401, 'w-nope'],
      ['admin', 'error', 404, 'w-nope'],
    ]);
  });

  it('does not audit reads', async () => {
    const { app, test } = await start();
    await app.inject({ method: 'GET', url: '/api/workers', headers: AUTH });
    await app.inject({ method: 'GET', url: '/api/enrollment-token', headers: AUTH });
    await app.close();
    expect(await test.store.listAudit()).toEqual([]);
  });
});

/** A worker's hello, as the registry takes it when the worker connects. */
function helloOf(record: typeof ALPHA) {
  return {
    name: record.name,
    hostname: record.hostname,
    labels: {},
    version: '0.1.0',
    advertiseAddress: record.advertiseAddress,
    dockerVersion: '27.3.1',
  };
}

const IDLE_SESSION = { close: () => undefined, sendCommand: () => undefined, cancelCommand: () => undefined };

describe('resources across workers', () => {
  /** Inspects answered by the test's engine stand-in: (worker id, reference) of each. */
  let inspected: [string, string][] = [];

  async function twoWorkers(
    overrides: Partial<MasterContext> = {},
  ): Promise<{ app: FastifyInstance; test: TestContext }> {
    inspected = [];
    const started = await start({
      inspectContainer: (workerId, ref) => {
        inspected.push([workerId, ref]);
        const summary = started.test.registry.inventory(workerId).containers.find((item) => item.id === ref);
        if (!summary) return Promise.reject(new AppError('not_found', `no such container: ${ref}`));
        return Promise.resolve({
          ...summary,
          restartCount: 0,
          mounts: [],
          raw: { Config: { Image: summary.image, Env: ['PLAIN=y', 'SECRET_KEY=hunter2'] }, Created: 'then' },
        });
      },
      ...overrides,
    });
    await enrollWorker(started.test, ALPHA);
    await enrollWorker(started.test, BETA);
    await started.test.registry.attach(ALPHA.id, helloOf(ALPHA), IDLE_SESSION);
    await started.test.registry.attach(BETA.id, helloOf(BETA), IDLE_SESSION);
    started.test.registry.snapshot(ALPHA.id, 1, sampleInventory());
    started.test.registry.snapshot(BETA.id, 1, {
      containers: [container({ id: 'beef000000000000000000000000000000000000000000000000000000000003' })],
      images: [],
      volumes: [],
      networks: [],
    });
    return started;
  }

  it('lists containers of every worker, each tagged with its worker', async () => {
    const { app } = await twoWorkers();
    const response = await app.inject({ method: 'GET', url: '/api/containers', headers: AUTH });
    expect(response.statusCode).toBe(200);
    const { containers } = response.json<{ containers: Record<string, unknown>[] }>();
    expect(containers.map((item) => [item.name, item.worker_id, item.worker_name])).toEqual([
      ['web', ALPHA.id, 'alpha'],
      ['job', ALPHA.id, 'alpha'],
      ['web', BETA.id, 'beta'],
    ]);
    expect(containers[0]).toMatchObject({ imageId: 'sha256:1111', volumeNames: ['web-data'] });
  });

  it('narrows a list to one worker with ?worker_id=', async () => {
    const { app } = await twoWorkers();
    const response = await app.inject({
      method: 'GET',
      url: `/api/containers?worker_id=${BETA.id}`,
      headers: AUTH,
    });
    const { containers } = response.json<{ containers: { worker_id: string }[] }>();
    expect(containers).toHaveLength(1);
    expect(containers[0]?.worker_id).toBe(BETA.id);
  });

  it('lists images, volumes and networks the same way', async () => {
    const { app } = await twoWorkers();
    for (const list of ['images', 'volumes', 'networks']) {
      const response = await app.inject({ method: 'GET', url: `/api/${list}`, headers: AUTH });
      expect(response.statusCode).toBe(200);
      const items = response.json<Record<string, { worker_id: string; worker_name: string }[]>>()[list];
      expect(items).toHaveLength(1);
      expect(items?.[0]).toMatchObject({ worker_id: ALPHA.id, worker_name: 'alpha' });
    }
  });

  it('refuses a ?worker_id= that names no worker with 400', async () => {
    const { app } = await twoWorkers();
    const response = await app.inject({ method: 'GET', url: '/api/volumes?worker_id=w-typo', headers: AUTH });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'invalid_argument',
        message: 'worker_id "w-typo" names no worker',
        details: { worker_id: 'w-typo' },
      },
    });
  });

  it('finds a container by id, by id prefix and by a name unique across workers', async () => {
    const { app } = await twoWorkers();
    const id = 'dead000000000000000000000000000000000000000000000000000000000002';
    for (const reference of [id, id.slice(0, 12), 'job']) {
      const response = await app.inject({
        method: 'GET',
        url: `/api/containers/${reference}`,
        headers: AUTH,
      });
      expect(response.statusCode).toBe(200);
      const answer = response.json<ContainerAnswerJson>();
      expect(answer.container).toEqual({
        ...sampleInventory().containers[1],
        worker_id: ALPHA.id,
        worker_name: 'alpha',
      });
      expect(answer.details).toMatchObject({ id, name: 'job', created_at: 'then' });
    }
    expect(inspected).toEqual([
      [ALPHA.id, id],
      [ALPHA.id, id],
      [ALPHA.id, id],
    ]);
  });

  it('answers a container’s details from a live inspect, env values of secret names hidden', async () => {
    const { app } = await twoWorkers();
    const response = await app.inject({ method: 'GET', url: '/api/containers/job', headers: AUTH });
    expect(response.statusCode).toBe(200);
    expect(response.json<ContainerAnswerJson>().details.env).toEqual([
      { name: 'PLAIN', value: 'y', redacted: false },
      { name: 'SECRET_KEY', value: '[redacted]', redacted: true },
    ]);
    expect(response.body).not.toContain('hunter2');
  });

  it('answers 503 naming the worker when the container’s worker is offline, without asking it', async () => {
    const { app, test } = await twoWorkers();
    test.registry.detach(ALPHA.id, IDLE_SESSION, 'test');
    const response = await app.inject({ method: 'GET', url: '/api/containers/job', headers: AUTH });
    expect(response.statusCode).toBe(503);
    const { error } = response.json<{ error: { code: string; message: string; details: unknown } }>();
    expect(error.code).toBe('unavailable');
    expect(error.message).toMatch(/^worker "alpha" is offline/);
    expect(error.details).toEqual({
      worker_id: ALPHA.id,
      container_id: 'dead000000000000000000000000000000000000000000000000000000000002',
    });
    expect(inspected).toEqual([]);
  });

  it('answers 404 when the worker’s engine no longer has a container its inventory still lists', async () => {
    const { app } = await twoWorkers({
      inspectContainer: () => Promise.reject(new AppError('not_found', 'no such container')),
    });
    const response = await app.inject({ method: 'GET', url: '/api/containers/job', headers: AUTH });
    expect(response.statusCode).toBe(404);
    expect(response.json<{ error: { code: string } }>().error.code).toBe('not_found');
  });

  it('answers 409 naming the workers when a name is on several, and resolves it with ?worker_id=', async () => {
    const { app } = await twoWorkers();
    const conflict = await app.inject({ method: 'GET', url: '/api/containers/web', headers: AUTH });
    expect(conflict.statusCode).toBe(409);
    const { error } = conflict.json<{ error: { code: string; message: string; details: unknown } }>();
    expect(error.code).toBe('conflict');
    expect(error.message).toContain('alpha');
    expect(error.message).toContain('beta');
    expect(error.message).toContain('?worker_id=');

    const chosen = await app.inject({
      method: 'GET',
      url: `/api/containers/web?worker_id=${BETA.id}`,
      headers: AUTH,
    });
    expect(chosen.statusCode).toBe(200);
    expect(chosen.json<{ container: { worker_name: string } }>().container.worker_name).toBe('beta');
  });

  it('does not match an id prefix shorter than 12 characters, and answers 404 JSON', async () => {
    const { app } = await twoWorkers();
    const response = await app.inject({ method: 'GET', url: '/api/containers/dead0000', headers: AUTH });
    expect(response.statusCode).toBe(404);
    expect(response.json<{ error: { code: string } }>().error.code).toBe('not_found');
  });
});

describe('enrollment token', () => {
  it('shows the token with the join command, not cacheable', async () => {
    const { app } = await start();
    const response = await app.inject({ method: 'GET', url: '/api/enrollment-token', headers: AUTH });
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    expect(response.json()).toEqual({
      token: ENROLLMENT.token,
      ca_hash: ENROLLMENT.caHash,
      master_url: ENROLLMENT.masterUrl,
      join_command: ENROLLMENT.joinCommand,
      install_command: null,
    });
  });

  it('regenerates the token and audits it without writing the token down', async () => {
    const { app, test } = await start();
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: AUTH,
    });
    expect(response.statusCode).toBe(200);
    const { token } = response.json<{ token: string }>();
    expect(token).not.toBe(ENROLLMENT.token);
    const shown = await app.inject({ method: 'GET', url: '/api/enrollment-token', headers: AUTH });
    expect(shown.json<{ token: string }>().token).toBe(token);

    await app.close();
    const entries = await test.store.listAudit();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      action: 'POST /api/enrollment-token/regenerate',
      target: null,
      outcome: 'ok',
      details: {},
    });
    expect(JSON.stringify(entries)).not.toContain(token);
  });
});

describe('audit log', () => {
  async function withEntries(count: number): Promise<{ app: FastifyInstance; test: TestContext }> {
    const started = await start();
    for (let index = 1; index <= count; index += 1) {
      await started.test.store.appendAudit({
        at: `2025-01-01T00:00:0${index}.000Z`,
        actor: 'admin',
        action: 'DELETE /api/workers/:id',
        target: `w-${index}`,
        outcome: 'ok',
        status: 200,
        details: {},
        remoteAddress: '10.1.1.1',
      });
    }
    return started;
  }

  it('pages back through entries, newest first', async () => {
    const { app } = await withEntries(5);
    const first = await app.inject({ method: 'GET', url: '/api/audit?limit=2', headers: AUTH });
    expect(first.statusCode).toBe(200);
    const page = first.json<{ entries: { id: number; target: string }[] }>().entries;
    expect(page.map((entry) => entry.target)).toEqual(['w-5', 'w-4']);
    expect(page[0]).toEqual({
      id: page[0]?.id,
      at: '2025-01-01T00:00:05.000Z',
      actor: 'admin',
      action: 'DELETE /api/workers/:id',
      target: 'w-5',
      outcome: 'ok',
      status: 200,
      details: {},
      remote_address: '10.1.1.1',
      summary: null,
    });

    const next = await app.inject({
      method: 'GET',
      url: `/api/audit?limit=2&before=${page[1]?.id}`,
      headers: AUTH,
    });
    expect(next.json<{ entries: { target: string }[] }>().entries.map((entry) => entry.target)).toEqual([
      'w-3',
      'w-2',
    ]);
    const all = await app.inject({ method: 'GET', url: '/api/audit', headers: AUTH });
    expect(all.json<{ entries: unknown[] }>().entries).toHaveLength(5);
  });

  it('refuses a limit outside 1..1000 or not a number with a 400 naming the parameter', async () => {
    const { app } = await withEntries(0);
    for (const limit of ['0', '1001', 'many']) {
      const response = await app.inject({ method: 'GET', url: `/api/audit?limit=${limit}`, headers: AUTH });
      expect(response.statusCode).toBe(400);
      const { error } = response.json<{ error: { code: string; message: string } }>();
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toContain('query parameter "limit"');
    }
  });
});

describe('migration requests', () => {
  /** Posts a dry run between alpha and beta with `fields`; the service's dry run is stubbed to plan nothing. */
  async function dryRun(fields: Record<string, unknown>) {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    const planned = vi.spyOn(test.context.migrations, 'dryRun').mockResolvedValue({
      plan: { resources: [], findings: [], totalBytes: 0 },
      findings: [],
      blocked: false,
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/migrations',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({
        source_worker_id: 'alpha',
        target_worker_id: 'beta',
        volume_names: ['data'],
        dry_run: true,
        ...fields,
      }),
    });
    return { response, planned };
  }

  it('refuses an unknown compression with a JSON 400 naming the field', async () => {
    const { response, planned } = await dryRun({ compression: 'gzip' });
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{
      error: { code: string; message: string; details: { issues: Array<{ path: string }> } };
    }>();
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/^invalid migration request: compression: /);
    expect(error.message).toContain('"none"');
    expect(error.message).toContain('"zstd"');
    expect(error.details.issues.map((issue) => issue.path)).toEqual(['compression']);
    expect(planned).not.toHaveBeenCalled();
  });

  it.each([
    [{ compression: 'zstd' }, 'zstd'],
    [{ compression: 'none' }, 'none'],
    [{}, 'none'],
  ])('passes compression on to the migration (%j → %s)', async (fields, compression) => {
    const { response, planned } = await dryRun(fields);
    expect(response.statusCode).toBe(200);
    expect(planned.mock.calls[0]?.[0]).toMatchObject({ volumes: ['data'], compression });
  });

  it.each([
    [
      { mode: 'warm', downtime_budget: '500ms', max_rounds: 4 },
      { downtimeBudgetMs: 500, maxRounds: 4 },
    ],
    [{ mode: 'warm', downtime_budget: 1500 }, { downtimeBudgetMs: 1500 }],
  ])('passes a warm migration’s budget and rounds on as milliseconds (%j)', async (fields, expected) => {
    const { response, planned } = await dryRun(fields);
    expect(response.statusCode).toBe(200);
    expect(planned.mock.calls[0]?.[0]).toMatchObject({ mode: 'warm', ...expected });
  });

  it.each([
    [
      { downtime_budget: '2s' },
      'downtime_budget and max_rounds apply to warm migrations only; this one is "cold"',
    ],
    [{ mode: 'warm', downtime_budget: 'soon' }, 'invalid duration "soon"'],
    [
      { mode: 'warm', downtime_budget: '20ms' },
      'downtime_budget must be between 100 ms and 10 min, not 20 ms',
    ],
    [{ mode: 'warm', max_rounds: 0 }, 'invalid migration request: max_rounds: '],
  ])('refuses %j with a JSON 400 that says what is wrong', async (fields, message) => {
    const { response, planned } = await dryRun(fields);
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(message);
    expect(planned).not.toHaveBeenCalled();
  });
});

describe('migration modes', () => {
  /** Posts a request for a volume between two online workers, through the real migration service. */
  async function post(mode: unknown, dryRun: boolean) {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    await test.registry.attach(ALPHA.id, helloOf(ALPHA), IDLE_SESSION);
    await test.registry.attach(BETA.id, helloOf(BETA), IDLE_SESSION);
    test.registry.snapshot(ALPHA.id, 1, sampleInventory());
    return app.inject({
      method: 'POST',
      url: '/api/migrations',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({
        source_worker_id: 'alpha',
        target_worker_id: 'beta',
        volume_names: ['web-data'],
        mode,
        dry_run: dryRun,
      }),
    });
  }

  it.each([false, true])('refuses live with a 400 that says why (dry run: %s)', async (dryRun) => {
    const response = await post('live', dryRun);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: {
        code: 'invalid_argument',
        message:
          'live migration needs CRIU checkpointing, which this Docker/kernel lacks; use "warm" (copies while the containers run, stops them only for what changed) or "cold"',
      },
    });
  });

  it('refuses a mode it does not know by naming the modes that run', async () => {
    const response = await post('hot', false);
    expect(response.statusCode).toBe(400);
    const { error } = response.json<{ error: { code: string; message: string } }>();
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toBe(
      'invalid migration request: mode: "hot" is not a mode: use "cold" or "warm" ("live" needs CRIU checkpointing)',
    );
  });
});

describe('audit of migrations', () => {
  const web = {
    type: 'container',
    name: 'web',
    sourceId: 'c1',
    targetName: 'web',
    reason: 'requested',
    action: 'create',
    estimatedBytes: 2 ** 20,
    status: 'pending',
    bytes: 0,
  } as const;

  async function post(app: FastifyInstance, body: Record<string, unknown>) {
    return app.inject({
      method: 'POST',
      url: '/api/migrations',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ source_worker_id: 'alpha', target_worker_id: 'beta', ...body }),
    });
  }

  it('writes a dry run as its own action with worker names and its verdict', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    const dryRun = vi.spyOn(test.context.migrations, 'dryRun');
    dryRun.mockResolvedValueOnce({
      plan: { resources: [{ ...web }], findings: [], totalBytes: 2 ** 20 },
      findings: [],
      blocked: false,
    });
    const conflict = { severity: 'error', code: 'name_conflict', message: 'web exists on beta' } as const;
    dryRun.mockResolvedValueOnce({
      plan: { resources: [{ ...web }], findings: [conflict], totalBytes: 2 ** 20 },
      findings: [conflict],
      blocked: true,
    });

    expect((await post(app, { container_ids: ['web'], dry_run: true })).statusCode).toBe(200);
    expect((await post(app, { container_ids: ['web'], dry_run: true })).statusCode).toBe(200);
    await app.close();

    const entries = await test.store.listAudit();
    expect(entries.map((entry) => [entry.action, entry.target, entry.outcome, entry.summary])).toEqual([
      [
        'migration.dry_run',
        'alpha → beta',
        'ok',
        'web from alpha to beta: cold, full — blocked: name_conflict',
      ],
      [
        'migration.dry_run',
        'alpha → beta',
        'ok',
        'web from alpha to beta: cold, full — would move 1 resource (1.0 MiB)',
      ],
    ]);
    expect(entries[0]?.details).toMatchObject({
      source_worker: 'alpha',
      source_worker_id: ALPHA.id,
      target_worker: 'beta',
      target_worker_id: BETA.id,
      resources: ['web'],
      mode: 'cold',
      strategy: 'full',
    });
  });

  it('names the workers of a start the master refused, and the failed call', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    vi.spyOn(test.context.migrations, 'start').mockRejectedValue(
      new AppError('failed_precondition', 'preflight found 1 blocking problem'),
    );

    const response = await post(app, { container_ids: ['web'], mode: 'warm', strategy: 'incremental' });
    expect(response.statusCode).toBe(412);
    await app.close();

    expect(await test.store.listAudit()).toEqual([
      expect.objectContaining({
        action: 'migration.start',
        target: 'alpha → beta',
        outcome: 'error',
        status: 412,
        summary: 'web from alpha to beta: warm, incremental',
      }),
    ]);
  });

  it('writes a start refused for an unknown worker as a start, on the way it asked for', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    const response = await post(app, { target_worker_id: 'betta', container_ids: ['web'] });
    expect(response.statusCode).toBe(404);
    await app.close();

    expect(await test.store.listAudit()).toEqual([
      expect.objectContaining({
        action: 'migration.start',
        target: 'alpha → betta',
        status: 404,
        summary: 'refused request from alpha → betta',
      }),
    ]);
  });

  it('names the migration of a cancel or a move back, also when it is refused', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    const unknown = await app.inject({
      method: 'POST',
      url: '/api/migrations/m-000000000000/cancel',
      headers: AUTH,
    });
    expect(unknown.statusCode).toBe(404);
    const back = await app.inject({
      method: 'POST',
      url: '/api/migrations/m-000000000000/reverse',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ dry_run: true }),
    });
    expect(back.statusCode).toBe(404);
    await app.close();

    expect((await test.store.listAudit()).map((e) => [e.action, e.target, e.status, e.summary])).toEqual([
      ['migration.reverse_dry_run', 'm-000000000000', 404, 'move back of m-000000000000'],
      ['migration.cancel', 'm-000000000000', 404, 'cancel of m-000000000000'],
    ]);
  });

  it('writes the end of a migration it saw running, with its outcome and downtime, once', async () => {
    const { app, test } = await start();
    await enrollWorker(test, ALPHA);
    await enrollWorker(test, BETA);
    const running = {
      id: 'm-0123456789ab',
      status: 'running',
      request: {
        sourceWorkerId: ALPHA.id,
        targetWorkerId: BETA.id,
        containers: ['web'],
        images: [],
        volumes: [],
        networks: [],
        composeProjects: [],
        mode: 'cold',
        strategy: 'full',
      },
      plan: { resources: [{ ...web }], findings: [], totalBytes: 2 ** 20 },
      downtimeMs: null,
      error: null,
    } as unknown as MigrationRecord;
    // What the migration service announces as the migration runs and ends, and when it is marked as moved back.
    const announce = (migration: MigrationRecord) => {
      test.context.migrations['notify']({ type: 'migration.updated', migration });
    };
    announce(running);
    announce({ ...running, status: 'completed', downtimeMs: 2400 });
    announce({ ...running, status: 'completed', downtimeMs: 2400 });
    await app.close();

    expect(await test.store.listAudit()).toEqual([
      expect.objectContaining({
        actor: 'master',
        action: 'migration.ended',
        target: 'm-0123456789ab',
        outcome: 'ok',
        status: 0,
        summary: 'completed: web from alpha to beta, downtime 2.4 s',
      }),
    ]);
  });
});

describe('errors', () => {
  it('refuses a body above the limit with a JSON 413', async () => {
    const { app, test } = await start({}, 1024);
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(4096) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toEqual({
      error: { code: 'invalid_argument', message: 'request body is larger than the limit of 1024 bytes' },
    });
    expect(test.context.enrollment().token).toBe(ENROLLMENT.token);
  });

  it('limits bodies to 1 MiB by default', async () => {
    const { app } = await start();
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(1024 * 1024) }),
    });
    expect(response.statusCode).toBe(413);
  });

  it('refuses a body that is not JSON with a 400', async () => {
    const { app } = await start();
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: '{"oops',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: 'invalid_argument', message: 'request body is not valid JSON' },
    });
  });

  it('answers an unknown route with a JSON 404', async () => {
    const { app } = await start();
    for (const url of ['/nowhere', '/api/nowhere?access_token=secret']) {
      const response = await app.inject({ method: 'GET', url, headers: AUTH });
      expect(response.statusCode).toBe(404);
      const { error } = response.json<{ error: { code: string; message: string } }>();
      expect(error.code).toBe('not_found');
      expect(error.message).not.toContain('secret');
    }
  });

  it('answers a URL that does not decode with a JSON 400 that does not repeat it', async () => {
    const { app } = await start();
    const response = await app.inject({
      method: 'GET',
      url: '/api/workers/%E0%A4%A?access_token=secret',
      headers: AUTH,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: 'invalid_argument', message: 'the request URL is not valid (bad percent-encoding)' },
    });
  });

  it('hides an unexpected error behind a 500 "internal error" and logs what happened', async () => {
    const failure = new Error('disk on fire at /var/lib/docker-migrate');
    const { app, test } = await start({
      enrollment: () => {
        throw failure;
      },
    });
    const response = await app.inject({ method: 'GET', url: '/api/enrollment-token', headers: AUTH });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
    expect(response.body).not.toContain('disk on fire');
    expect(response.body).not.toContain('at ');
    const logged = test.logLines().find((line) => line.msg === 'request failed');
    expect(logged).toMatchObject({
      level: 50,
      route: '/api/enrollment-token',
      err: { message: failure.message },
    });
  });

  it('answers an internal AppError without its message either', async () => {
    const { app } = await start({
      regenerateEnrollmentToken: () =>
        Promise.reject(AppError.from(new Error('SQLITE_BUSY: database is locked'))),
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: AUTH,
    });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ error: { code: 'internal', message: 'internal error' } });
  });

  it('keeps the status and details of an AppError', async () => {
    const { app } = await start({
      regenerateEnrollmentToken: () =>
        Promise.reject(
          new AppError('unavailable', 'the CA key is not loaded yet', {
            details: { retry_after_seconds: 5 },
          }),
        ),
    });
    const response = await app.inject({
      method: 'POST',
      url: '/api/enrollment-token/regenerate',
      headers: AUTH,
    });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({
      error: {
        code: 'unavailable',
        message: 'the CA key is not loaded yet',
        details: { retry_after_seconds: 5 },
      },
    });
  });
});

describe('observability', () => {
  it('counts requests by method, route pattern and status', async () => {
    const { app } = await start();
    await app.inject({ method: 'GET', url: '/api/workers/w-abc', headers: AUTH });
    await app.inject({ method: 'GET', url: '/api/workers/w-def', headers: AUTH });
    await app.inject({ method: 'GET', url: '/definitely/not/here' });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(
      'docker_migrate_http_requests_total{method="GET",route="/api/workers/:id",status="404"} 2',
    );
    expect(metrics).toContain(
      'docker_migrate_http_requests_total{method="GET",route="unmatched",status="404"} 1',
    );
    expect(metrics).not.toContain('w-abc');
  });

  it('measures how long requests take, by method and route pattern', async () => {
    const { app } = await start();
    await app.inject({ method: 'GET', url: '/api/workers/w-abc', headers: AUTH });
    await app.inject({ method: 'GET', url: '/api/workers', headers: AUTH });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(
      'docker_migrate_http_request_duration_seconds_count{method="GET",route="/api/workers/:id"} 1',
    );
    expect(metrics).toContain(
      'docker_migrate_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/workers"} 1',
    );
  });

  it('logs one debug line per request with method, route, status and time, never the token', async () => {
    const { app, test } = await start();
    await app.inject({ method: 'GET', url: '/api/workers', headers: AUTH });
    await app.inject({ method: 'GET', url: `/api/events?access_token=${ADMIN_TOKEN}x` });
    const lines = test.logLines().filter((line) => line.msg === 'http request');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 20, method: 'GET', route: '/api/workers', status: 200 });
    expect(typeof lines[0]?.ms).toBe('number');
    expect(lines[1]).toMatchObject({ route: '/api/events', status: 401 });
    expect(test.logText()).not.toContain(ADMIN_TOKEN);
  });
});
