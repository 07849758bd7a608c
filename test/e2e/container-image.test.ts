// The container image, end to end: `make image`'s script builds docker-migrate:<version> on a test engine with no
// registry reachable (from a base made of this host's Node.js), a worker runs from it as a container on that
// engine (host network, the engine's socket and volume folder mounted, as the README shows), enrolls with a master
// and receives a volume from a worker on another host; the bytes on the target equal the source's. Then
// deploy/compose.yaml runs a master from the image whose state outlives the container (same CA after a re-create).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
  volumeDigest,
} from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { startTestMaster, startTestWorkers, tempDir, type RunningProcess } from '../support/processes.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-image-${id}`;
const VOLUME = `imgvol-${id}`;
const WORKER_CONTAINER = `dm-worker-${id}`;
const PROJECT = `dm-e2e-${id}`;
const composeDownloads = tempDir('compose-downloads');
const execFileAsync = promisify(execFile);

let master: RunningProcess | undefined;
const workers: RunningProcess[] = [];
let apiUrl = '';
const { call: api, workerId, finished } = masterApi(() => apiUrl, adminToken);

/** The address of the root namespace on a test host's link: what a process on that host reaches this machine at. */
function gatewayOf(host: TestDockerHost): string {
  return host.ip.replace(/\.\d+$/, '.1');
}

beforeAll(async () => {
  if (h2.ip === '' || h2.netns === '')
    throw new Error('this test needs the hosts of scripts/docker-hosts.sh');
  await execFileAsync('bash', ['scripts/image.sh'], {
    cwd: ROOT,
    env: { ...process.env, DOCKER_HOST: h2.socket, BASE: 'offline' },
    timeout: 300_000,
  });
}, 320_000);

/** docker-compose (v1, Debian's) with deploy/compose.yaml on the second host. */
function compose(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('docker-compose', ['-p', PROJECT, '-f', 'deploy/compose.yaml', ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      DOCKER_HOST: h2.socket,
      DOCKER_MIGRATE_ADMIN_TOKEN: adminToken,
      MASTER_HOST: h2.ip,
      DOCKER_MIGRATE_VERSION: VERSION,
      DOCKER_MIGRATE_DOWNLOADS: composeDownloads,
    },
    timeout: 120_000,
  });
}

afterAll(async () => {
  await compose('down', '-v').catch(() => undefined);
  await dockerCli(h2, 'rm', '-f', WORKER_CONTAINER).catch(() => undefined);
  await Promise.all(workers.map((w) => w.stop()));
  await master?.stop();
  for (const host of [h1, h2]) await removeLabelled(engineOverSocket(host), runLabel);
});

describe('a worker running from the docker-migrate image', () => {
  it('enrolls, is online and receives a volume whose bytes equal the source', async () => {
    const images = await dockerCli(h2, 'images', '--format', '{{.Repository}}:{{.Tag}}', 'docker-migrate');
    expect(images.split('\n')).toEqual(
      expect.arrayContaining([`docker-migrate:${VERSION}`, 'docker-migrate:latest']),
    );

    // The master listens where the test host's network reaches this machine.
    const gateway = gatewayOf(h2);
    const started = await startTestMaster('image', adminToken, [
      '--http-addr',
      `${gateway}:0`,
      '--grpc-addr',
      `${gateway}:0`,
      '--relay-addr',
      `${gateway}:0`,
    ]);
    master = started.master;
    apiUrl = started.apiUrl;
    workers.push(...startTestWorkers(started.joinArgs, [[`src-${id}`, h1]]));

    // As the README's `docker run` for a worker: host network, the socket and the volume folder mounted.
    const dockerRoot = await dockerCli(h2, 'info', '--format', '{{.DockerRootDir}}');
    const socketPath = h2.socket.replace(/^unix:\/\//, '');
    await dockerCli(
      h2,
      'run',
      '-d',
      '--name',
      WORKER_CONTAINER,
      '--label',
      `${runLabel}=1`,
      '--network',
      'host',
      '-v',
      `${socketPath}:/var/run/docker.sock`,
      '-v',
      `${dockerRoot}/volumes:${dockerRoot}/volumes`,
      `docker-migrate:${VERSION}`,
      'worker',
      ...started.joinArgs.slice(1),
      '--name',
      `cw-${id}`,
      '--grpc-addr',
      ':0',
      // The fast path, held to: with the volume folder mounted, the worker writes the volume's folder itself.
      '--volume-access',
      'mountpoint',
    );
    const target = await workerId(`cw-${id}`).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await dockerCli(h2, 'logs', WORKER_CONTAINER).catch(() => '')}`);
    });
    const source = await workerId(`src-${id}`);
    const { json: listed } = await api<{ workers: { id: string; version: string }[] }>('GET', '/api/workers');
    expect(listed.workers.find((w) => w.id === target)?.version).toBe(VERSION);

    await dockerCli(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
    await dockerCli(
      h1,
      'run',
      '--rm',
      '-v',
      `${VOLUME}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'mkdir -p /data/d && head -c 12000000 /dev/urandom > /data/d/blob && echo hello > /data/note && ln -s note /data/link && chmod 640 /data/note',
    );
    await eventually('the volume in the source inventory', async () => {
      const { json } = await api<{ volumes: { name: string }[] }>('GET', `/api/workers/${source}/resources`);
      return json.volumes.some((v) => v.name === VOLUME) ? true : undefined;
    });

    const created = await api<{ migration: { id: string } }>('POST', '/api/migrations', {
      source_worker_id: source,
      target_worker_id: target,
      volume_names: [VOLUME],
      transfer_mode: 'direct',
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const migration = await finished<{
      status: string;
      error: string | null;
      events?: { message: string }[];
    }>(created.json.migration.id, 120_000);
    expect(
      migration.status,
      `${migration.error}\n${(migration.events ?? []).map((e) => e.message).join('\n')}`,
    ).toBe('completed');
    expect(await volumeDigest(h2, VOLUME)).toBe(await volumeDigest(h1, VOLUME));
    await dockerCli(h2, 'volume', 'rm', VOLUME);
  });
});

describe('deploy/compose.yaml', () => {
  it('runs a master from the image whose state lives in a named volume', async () => {
    const base = `http://${h2.ip}:8080`;
    const caHash = async (): Promise<string> =>
      eventually('the master in its container to answer', async () => {
        const response = await fetch(`${base}/api/enrollment-token`, {
          headers: { authorization: `Bearer ${adminToken}` },
        }).catch(() => undefined);
        if (response?.status !== 200) return undefined;
        const json = (await response.json()) as { ca_hash: string; master_url: string };
        expect(json.master_url).toBe(`${h2.ip}:9090`);
        return json.ca_hash;
      });
    await compose('up', '-d');
    const first = await caHash();
    expect(first).toMatch(/^sha256:/);
    // A new container on the same volume is the same master: same CA, so enrolled workers stay trusted.
    await compose('down');
    await compose('up', '-d');
    expect(await caHash()).toBe(first);
  });
});
