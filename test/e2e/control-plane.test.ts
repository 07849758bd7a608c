// Master and workers as real processes over mutual TLS, on two real Docker hosts: enrollment, live inventory,
// authentication on every door, restarts that keep identities, and workers going offline.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import type { DockerodeEngine } from '../../src/docker/dockerode-engine.js';
import { ControlServiceClient, type ConnectResponse } from '../../src/gen/dockation/v1/control.js';
import { createCertificateAuthority, createKeyAndCsr, signCsr } from '../../src/platform/pki.js';
import { engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

interface ApiWorker {
  id: string;
  name: string;
  status: string;
  online: boolean;
  grpc_address: string;
  counts: { containers: number; images: number; volumes: number; networks: number };
  system: { cpus: number; memory_total_bytes: number } | null;
}

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const masterDir = tempDir('master');
const adminToken = `dm-admin-test-${runLabel.slice(-8)}`;
let master: RunningProcess;
let apiUrl = '';
let grpcPort = 0;
let joinArgs: string[] = [];
const workers = new Map<string, { process: RunningProcess; dir: string }>();
let engine1: DockerodeEngine;
let engine2: DockerodeEngine;

function startMaster(): RunningProcess {
  return startProcess(
    [
      'master',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      `127.0.0.1:${grpcPort}`,
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      masterDir,
      '--admin-token',
      adminToken,
      '--heartbeat-interval',
      '1s',
      '--worker-timeout',
      '4s',
      '--inventory-interval',
      '30s',
    ],
    {},
  );
}

async function waitForMaster(process: RunningProcess): Promise<void> {
  const printed = await masterAddresses(process);
  ({ apiUrl, joinArgs } = printed);
  grpcPort = Number(/--master-url \S+:(\d+)/.exec(printed.joinCommand)![1]);
}

function startWorker(name: string, socket: string, dir: string, args = joinArgs): RunningProcess {
  return startProcess(
    [
      ...args,
      '--name',
      name,
      '--data-dir',
      dir,
      '--reconnect-interval',
      '200ms',
      '--max-reconnect-interval',
      '1s',
    ],
    {
      DOCKER_HOST: socket,
    },
  );
}

async function api<T = unknown>(
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<{ status: number; body: T }> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? adminToken : init.token;
  if (token !== null) headers.set('Authorization', `Bearer ${token}`);
  const response = await fetch(`${apiUrl}${path}`, { ...init, headers });
  return { status: response.status, body: (await response.json()) as T };
}

async function listWorkers(): Promise<ApiWorker[]> {
  return (await api<{ workers: ApiWorker[] }>('/api/workers')).body.workers;
}

async function workerNamed(name: string, status: 'online' | 'offline'): Promise<ApiWorker> {
  return eventually(
    `worker ${name} ${status}`,
    async () => (await listWorkers()).find((w) => w.name === name && w.status === status),
    15_000,
  );
}

/** Opens a control stream with the given client identity and reports how the master answers. */
async function tryConnect(identity: { certPem: string; keyPem: string } | null): Promise<string> {
  const ca = readFileSync(join(masterDir, 'master', 'ca.crt'));
  const credentials = identity
    ? grpc.credentials.createSsl(ca, Buffer.from(identity.keyPem), Buffer.from(identity.certPem), {
        checkServerIdentity: () => undefined,
      })
    : grpc.credentials.createSsl(ca, null, null, { checkServerIdentity: () => undefined });
  const client = new ControlServiceClient(`127.0.0.1:${grpcPort}`, credentials);
  try {
    return await new Promise<string>((resolve) => {
      const call = client.connect();
      const timer = setTimeout(() => {
        call.cancel();
        resolve('no answer');
      }, 10_000);
      call.on('data', (message: ConnectResponse) => {
        clearTimeout(timer);
        resolve(`accepted: ${message.body?.$case ?? ''}`);
        call.cancel();
      });
      call.on('error', (error: grpc.ServiceError) => {
        clearTimeout(timer);
        resolve(`${grpc.status[error.code]}: ${error.details}`);
      });
      call.write({
        body: {
          $case: 'hello',
          value: {
            name: 'intruder',
            hostname: 'x',
            labels: {},
            version: '0',
            advertiseAddress: '',
            dockerVersion: '',
            dockerApiVersion: '',
          },
        },
      });
    });
  } finally {
    client.close();
  }
}

beforeAll(async () => {
  engine1 = engineOverSocket(h1);
  engine2 = engineOverSocket(h2);
  master = startMaster();
  await waitForMaster(master);
  for (const [name, host] of [
    ['e2e-w1', h1],
    ['e2e-w2', h2],
  ] as const) {
    const dir = tempDir(name);
    workers.set(name, { process: startWorker(name, host.socket, dir), dir });
  }
});

afterAll(async () => {
  for (const { process } of workers.values()) await process.stop();
  await master.stop();
  await removeLabelled(engine1, runLabel);
  await removeLabelled(engine2, runLabel);
});

describe('control plane (built binary, two real Docker hosts)', () => {
  it('prints the admin token state and a full join command with the CA hash', () => {
    expect(joinArgs.join(' ')).toMatch(
      /^worker --master-url 127\.0\.0\.1:\d+ --token dm-enroll-\S+ --ca-hash sha256:[0-9a-f]{64}$/,
    );
  });

  it('enrolls both workers, which come online with counts matching their engines', async () => {
    const w1 = await workerNamed('e2e-w1', 'online');
    const w2 = await workerNamed('e2e-w2', 'online');
    expect(w1.id).toMatch(/^w-[0-9a-f]{12}$/);
    expect(w1.id).not.toBe(w2.id);
    expect(w1.grpc_address).toMatch(/:\d+$/);
    for (const [worker, engine] of [
      [w1, engine1],
      [w2, engine2],
    ] as const) {
      const expected = {
        containers: (await engine.listContainers({ all: true })).length,
        images: (await engine.listImages()).length,
        volumes: (await engine.listVolumes()).length,
        networks: (await engine.listNetworks()).length,
      };
      const counts = await eventually(
        `counts of ${worker.name} matching its engine ${JSON.stringify(expected)}`,
        async () => {
          const current = (await listWorkers()).find((w) => w.id === worker.id)?.counts;
          return current &&
            JSON.stringify({ ...expected }) ===
              JSON.stringify({
                containers: current.containers,
                images: current.images,
                volumes: current.volumes,
                networks: current.networks,
              })
            ? current
            : undefined;
        },
        10_000,
      );
      expect(counts).toMatchObject(expected);
    }
    const withSystem = await eventually(
      'a heartbeat with system figures',
      async () => (await listWorkers()).find((w) => w.id === w1.id && w.system !== null),
      5_000,
    );
    expect(withSystem.system?.cpus).toBeGreaterThan(0);
  });

  it('shows a volume created on a host within 10 seconds', async () => {
    const w1 = await workerNamed('e2e-w1', 'online');
    const name = `e2e-live-${runLabel.slice(-8)}`;
    await engine1.createVolume({ name, labels: { [runLabel]: '1' } });
    const started = Date.now();
    const volume = await eventually(
      'the new volume on the master',
      async () =>
        (
          await api<{ volumes: { name: string; worker_id: string }[] }>(`/api/volumes?worker_id=${w1.id}`)
        ).body.volumes.find((v) => v.name === name),
      10_000,
    );
    expect(volume.worker_id).toBe(w1.id);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses API calls without the admin token or with a wrong one', async () => {
    const none = await api<{ error: { code: string } }>('/api/workers', { token: null });
    expect(none.status).toBe(401);
    expect(none.body.error.code).toBe('unauthenticated');
    const wrong = await api<{ error: { code: string } }>('/api/workers', { token: 'dm-admin-wrong' });
    expect(wrong.status).toBe(401);
    const health = await fetch(`${apiUrl}/health`);
    expect(health.status).toBe(200);
  });

  it('refuses a wrong enrollment token, and the worker exits with a clear error', async () => {
    const args = joinArgs.map((arg, index) => (joinArgs[index - 1] === '--token' ? 'dm-enroll-wrong' : arg));
    const intruder = startWorker('e2e-intruder', h1.socket, tempDir('intruder'), args);
    const code = await intruder.exited;
    expect(code).not.toBe(0);
    expect(intruder.lines.join('\n')).toMatch(
      /error: enrollment with the master at .* failed: the enrollment token is not valid/,
    );
    expect((await listWorkers()).map((w) => w.name)).not.toContain('e2e-intruder');
  });

  it('refuses to enroll with a master whose CA does not match --ca-hash', async () => {
    const args = joinArgs.map((arg, index) =>
      joinArgs[index - 1] === '--ca-hash' ? `sha256:${'0'.repeat(64)}` : arg,
    );
    const worker = startWorker('e2e-pinned', h1.socket, tempDir('pinned'), args);
    expect(await worker.exited).not.toBe(0);
    expect(worker.lines.join('\n')).toMatch(
      /error: the master at .* presented a CA \(sha256:[0-9a-f]{64}\) that does not match --ca-hash/,
    );
  });

  it('refuses gRPC clients without a certificate or with a foreign one', async () => {
    expect(await tryConnect(null)).toMatch(
      /^UNAUTHENTICATED: a client certificate from this master is required/,
    );
    const foreignCa = await createCertificateAuthority({ commonName: 'foreign' });
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'x' });
    const foreign = await signCsr(foreignCa, csrPem, {
      commonName: 'w-000000000000',
      validityDays: 1,
      usage: 'client-server',
    });
    expect(await tryConnect({ certPem: foreign.certPem, keyPem })).toMatch(/^UNAUTHENTICATED/);
  });

  it('keeps every worker id across a master restart, without duplicates, and workers reconnect by themselves', async () => {
    const before = (await listWorkers()).map((w) => `${w.id}:${w.name}`).sort();
    const code = await master.stop('SIGTERM');
    expect(code).toBe(0);
    master = startMaster();
    await waitForMaster(master);
    await workerNamed('e2e-w1', 'online');
    await workerNamed('e2e-w2', 'online');
    const after = (await listWorkers()).map((w) => `${w.id}:${w.name}`).sort();
    expect(after).toEqual(before);
  });

  it('keeps the worker id across a worker restart', async () => {
    const before = await workerNamed('e2e-w2', 'online');
    const entry = workers.get('e2e-w2')!;
    expect(await entry.process.stop('SIGTERM')).toBe(0);
    entry.process = startProcess(
      ['worker', '--data-dir', entry.dir, '--name', 'e2e-w2', '--reconnect-interval', '200ms'],
      { DOCKER_HOST: h2.socket },
    );
    await entry.process.waitFor(/using the stored worker identity/);
    const after = await workerNamed('e2e-w2', 'online');
    expect(after.id).toBe(before.id);
    expect((await listWorkers()).filter((w) => w.name === 'e2e-w2')).toHaveLength(1);
  });

  it('marks a killed worker offline after the timeout, and keeps it listed', async () => {
    const entry = workers.get('e2e-w2')!;
    entry.process.child.kill('SIGKILL');
    await entry.process.exited;
    const offline = await workerNamed('e2e-w2', 'offline');
    expect(offline.online).toBe(false);
  });

  it('revokes a removed worker: its stream is closed, it exits, and its certificate is refused', async () => {
    const w1 = await workerNamed('e2e-w1', 'online');
    const identityDir = join(workers.get('e2e-w1')!.dir, 'worker');
    const identity = {
      certPem: readFileSync(join(identityDir, 'worker.crt'), 'utf8'),
      keyPem: readFileSync(join(identityDir, 'worker.key'), 'utf8'),
    };
    const removed = await api<{ removed: boolean }>(`/api/workers/${w1.id}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    const process = workers.get('e2e-w1')!.process;
    expect(await process.exited).not.toBe(0);
    expect(process.lines.join('\n')).toMatch(/error: .*removed from the master/);
    expect(await tryConnect(identity)).toMatch(/^PERMISSION_DENIED: this worker was removed/);
    expect((await listWorkers()).map((w) => w.id)).not.toContain(w1.id);
    const audit = await api<{ entries: { action: string; target: string }[] }>('/api/audit');
    expect(audit.body.entries[0]).toMatchObject({ action: 'DELETE /api/workers/:id', target: w1.id });
  });
});
