// The migration engine in one process over real parts: a master, two workers, two real Docker engines, real
// mutual TLS. A running container with its volume and network moves from h1 to h2 and runs there with equal data.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { startMaster, type RunningMaster } from '../../src/master/start-master.js';
import { createLogger } from '../../src/platform/logger.js';
import { runWorker } from '../../src/worker/start-worker.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';

const run = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const engine1 = engineOverSocket(h1);
const engine2 = engineOverSocket(h2);
const runLabel = newRunLabel();
const suffix = runLabel.slice(-8);
const IMAGE = `dm-app-${suffix}:1`;
const ADMIN = 'dm-admin-integration-migration-0123456789';
const logger = createLogger({ level: process.env.DM_TEST_LOG ?? 'silent', format: 'json' });

const cleanups: (() => Promise<void> | void)[] = [];
let master: RunningMaster;
const workerIds: Record<string, string> = {};

const docker = dockerCli;

interface MigrationJson {
  id: string;
  status: string;
  phase: string;
  error: string | null;
  bytes_transferred: number;
  resources: { type: string; name: string; status: string }[];
  events?: { message: string }[];
}

interface ApiAnswer {
  migration?: MigrationJson;
  blocked?: boolean;
  plan?: {
    resources: {
      type: string;
      name: string;
      estimated_bytes?: number | null;
      allocated_bytes?: number | null;
    }[];
    total_bytes?: number;
  };
  findings?: { code: string; severity: string; message: string }[];
  containers?: { name: string }[];
  error?: { code: string; message: string };
}

interface Inspect {
  Id: string;
  State: { Running: boolean; Health?: { Status: string } };
  Config: { Env: string[]; Labels: Record<string, string> };
  HostConfig: {
    RestartPolicy: { Name: string };
    CapAdd: string[] | null;
    Ulimits: { Name: string; Soft: number; Hard: number }[] | null;
  };
  NetworkSettings: { Networks: Record<string, { Aliases: string[] | null }> };
  Labels: Record<string, string>;
}

async function inspect(host: TestDockerHost, ...args: string[]): Promise<Inspect> {
  const [first] = JSON.parse(await docker(host, ...args)) as Inspect[];
  if (!first) throw new Error(`nothing to inspect: ${args.join(' ')}`);
  return first;
}

async function api(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: ApiAnswer }> {
  const response = await fetch(`${master.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: (await response.json()) as ApiAnswer };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function finished(id: string, timeoutMs = 120_000): Promise<MigrationJson> {
  return waitFor(
    `migration ${id} to finish`,
    async () => {
      const { json } = await api('GET', `/api/migrations/${id}`);
      const status = json.migration?.status;
      return ['completed', 'failed', 'rolled_back', 'cancelled'].includes(status ?? '')
        ? json.migration
        : undefined;
    },
    timeoutMs,
  );
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dm-migration-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  master = await startMaster({
    httpAddr: '127.0.0.1:0',
    grpcAddr: '127.0.0.1:0',
    dataDir: join(dir, 'master'),
    adminToken: ADMIN,
    workerTimeoutMs: 10_000,
    heartbeatIntervalMs: 1_000,
    inventoryIntervalMs: 60_000,
    readyTimeoutMs: 30_000,
    rollbackTimeoutMs: 30_000,
    logger,
    version: 'test',
  });
  cleanups.push(() => master.close());
  for (const [name, engine] of [
    ['h1', engine1],
    ['h2', engine2],
  ] as const) {
    const controller = new AbortController();
    const connected = new Promise<void>((resolve) => {
      void runWorker({
        masterUrl: `127.0.0.1:${master.grpcPort}`,
        token: master.enrollment().token,
        caHash: master.caHash,
        name: `${name}-${suffix}`,
        hostname: name,
        labels: {},
        dataDir: join(dir, name),
        grpcAddr: '127.0.0.1:0',
        reconnectIntervalMs: 200,
        maxReconnectIntervalMs: 1_000,
        engine,
        logger,
        version: 'test',
        signal: controller.signal,
        onConnected: (_welcome, identity) => {
          workerIds[name] = identity.workerId;
          resolve();
        },
      });
    });
    cleanups.push(() => {
      controller.abort();
    });
    await connected;
  }

  // The workload on h1: a custom image on the shared base, a volume with data, a running container using both.
  await run('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\nRUN echo built > /marker\nLABEL ${runLabel}=1\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  await docker(h1, 'network', 'create', '--label', `${runLabel}=1`, '--label', 'team=web', `net-${suffix}`);
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, '--label', 'tier=data', `vol-${suffix}`);
  await docker(
    h1,
    'run',
    '--rm',
    '-v',
    `vol-${suffix}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    [
      'mkdir -p /data/logs',
      'i=0; while [ $i -lt 300 ]; do echo "line $i" > /data/logs/f$i; i=$((i+1)); done',
      'dd if=/dev/urandom of=/data/blob bs=1024 count=4096 2>/dev/null',
      'chown 1000:1000 /data/logs/f1 && chmod 600 /data/logs/f2 && ln -s logs/f3 /data/link',
    ].join(' && '),
  );
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    `app-${suffix}`,
    '--label',
    `${runLabel}=1`,
    '--label',
    'role=app',
    '-e',
    'GREETING=hello',
    '--network',
    `net-${suffix}`,
    '--network-alias',
    'app-alias',
    '-v',
    `vol-${suffix}:/data`,
    '--restart',
    'unless-stopped',
    '--cap-add',
    'NET_ADMIN',
    '--ulimit',
    'nofile=1024:2048',
    '--health-cmd',
    'test -f /data/blob',
    '--health-interval',
    '1s',
    IMAGE,
    'sleep',
    '100000',
  );
  // The master must have seen all of it.
  await waitFor('the inventory of h1', async () => {
    const { json } = await api('GET', `/api/workers/${workerIds.h1}/resources`);
    return json.containers?.some((c) => c.name === `app-${suffix}`) ? true : undefined;
  });
}, 120_000);

afterAll(async () => {
  for (const engine of [engine1, engine2]) {
    for (const name of [`app-${suffix}`, `big-${suffix}`])
      await engine.removeContainer(name, { force: true }).catch(() => undefined);
    await engine.removeVolume(`vol-${suffix}`).catch(() => undefined);
    await engine.removeVolume(`big-${suffix}`).catch(() => undefined);
    await engine.removeNetwork(`net-${suffix}`).catch(() => undefined);
    await removeLabelled(engine, runLabel).catch(() => undefined);
    await engine.removeImage(IMAGE, { force: true }).catch(() => undefined);
  }
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('migration engine (in process, real engines)', () => {
  it('dry run shows the plan with the container, its image, volume and network and changes nothing', async () => {
    const { status, json } = await api('POST', '/api/migrations', {
      source_worker_id: workerIds.h1,
      target_worker_id: `h2-${suffix}`,
      container_ids: [`app-${suffix}`],
      dry_run: true,
    });
    expect(status).toBe(200);
    expect(json.blocked).toBe(false);
    const kinds = json.plan?.resources.map((r) => `${r.type}:${r.name}`);
    expect(kinds).toEqual(
      expect.arrayContaining([`container:app-${suffix}`, `volume:vol-${suffix}`, `network:net-${suffix}`]),
    );
    expect(await docker(h2, 'ps', '-a', '--filter', `name=app-${suffix}`, '-q')).toBe('');
    expect(await docker(h2, 'volume', 'ls', '-q', '--filter', `name=vol-${suffix}`)).toBe('');
  });

  it('dry run of a container with a sparse 1 GiB volume counts the GiB to move, and its few blocks on disk', async () => {
    const GiB = 1024 ** 3;
    await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, `big-${suffix}`);
    await docker(
      h1,
      'run',
      '--rm',
      '-v',
      `big-${suffix}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'truncate -s 1G /data/sparse.img && echo small > /data/note',
    );
    await docker(
      h1,
      'create',
      '--name',
      `big-${suffix}`,
      '--label',
      `${runLabel}=1`,
      '-v',
      `big-${suffix}:/data`,
      h1.baseImage,
      'true',
    );
    await waitFor('the inventory of h1 to list the container', async () => {
      const { json } = await api('GET', `/api/workers/${workerIds.h1}/resources`);
      return json.containers?.some((c) => c.name === `big-${suffix}`) ? true : undefined;
    });
    const { status, json } = await api('POST', '/api/migrations', {
      source_worker_id: workerIds.h1,
      target_worker_id: workerIds.h2,
      container_ids: [`big-${suffix}`],
      dry_run: true,
    });
    expect(status, JSON.stringify(json)).toBe(200);
    const volume = json.plan?.resources.find((r) => r.type === 'volume' && r.name === `big-${suffix}`);
    console.log(
      `migration: dry run of a 1 GiB sparse volume: total_bytes ${String(json.plan?.total_bytes)}, volume estimated ${String(volume?.estimated_bytes)} B, allocated ${String(volume?.allocated_bytes)} B`,
    );
    expect(volume?.estimated_bytes).toBe(GiB + 'small\n'.length);
    expect(json.plan?.total_bytes).toBeGreaterThanOrEqual(GiB);
    // The holes take no room: the disk-space check asks for what the files really take.
    expect(volume?.allocated_bytes).toBeGreaterThan(0);
    expect(volume?.allocated_bytes).toBeLessThan(1024 * 1024);
    expect(json.findings?.map((f) => f.code)).not.toContain('volume_size_unknown');
    expect(await docker(h2, 'volume', 'ls', '-q', '--filter', `name=big-${suffix}`)).toBe('');
  });

  it('moves the running container with its volume and network; it runs on h2 with the same data', async () => {
    const before = await docker(
      h1,
      'run',
      '--rm',
      '-v',
      `vol-${suffix}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'cd /data && find . | sort | xargs -n 50 ls -ld --full-time | md5sum && sha256sum blob',
    );
    const { status, json } = await api('POST', '/api/migrations', {
      source_worker_id: workerIds.h1,
      target_worker_id: workerIds.h2,
      container_ids: [`app-${suffix}`],
      transfer_mode: 'direct',
    });
    expect(status, JSON.stringify(json)).toBe(201);
    const migration = await finished(json.migration?.id ?? '');
    expect(migration.error).toBeNull();
    expect(migration.status).toBe('completed');
    expect(migration.bytes_transferred).toBeGreaterThan(4 * 1024 * 1024);

    const state = await inspect(h2, 'inspect', `app-${suffix}`);
    expect(state.State.Running).toBe(true);
    expect(state.State.Health?.Status).toBe('healthy');
    expect(state.Config.Env).toContain('GREETING=hello');
    expect(state.Config.Labels.role).toBe('app');
    expect(state.HostConfig.RestartPolicy.Name).toBe('unless-stopped');
    // Docker 20.10 reports capabilities with the CAP_ prefix.
    expect(state.HostConfig.CapAdd).toEqual(['CAP_NET_ADMIN']);
    expect(state.HostConfig.Ulimits).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
    expect(state.NetworkSettings.Networks[`net-${suffix}`]?.Aliases).toContain('app-alias');
    const after = await docker(
      h2,
      'run',
      '--rm',
      '-v',
      `vol-${suffix}:/data`,
      h2.baseImage,
      'sh',
      '-c',
      'cd /data && find . | sort | xargs -n 50 ls -ld --full-time | md5sum && sha256sum blob',
    );
    expect(after).toBe(before);
    const volume = await inspect(h2, 'volume', 'inspect', `vol-${suffix}`);
    expect(volume.Labels.tier).toBe('data');
    const network = await inspect(h2, 'network', 'inspect', `net-${suffix}`);
    expect(network.Labels.team).toBe('web');
    expect((await inspect(h2, 'image', 'inspect', IMAGE)).Id).toBe(
      (await inspect(h1, 'image', 'inspect', IMAGE)).Id,
    );
    expect(await docker(h2, 'exec', `app-${suffix}`, 'cat', '/marker')).toBe('built');
    // The source is kept, stopped.
    expect((await inspect(h1, 'inspect', `app-${suffix}`)).State.Running).toBe(false);
  }, 180_000);
});
