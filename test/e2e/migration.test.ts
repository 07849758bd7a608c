// Migrations end to end: the built binary as master and workers, two real Docker hosts, the REST API and the
// `migrate` command. What moves is checked as a user would: settings equal, checksums equal, containers running,
// nothing left behind after a rollback.
import { execFile } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portableSettingsDigest } from '../../src/core/container-config.js';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { setTimesByPath } from '../../src/platform/file-times.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { BIN, masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const exec = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const engine1 = engineOverSocket(h1);
const engine2 = engineOverSocket(h2);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-migration-${id}`;
const IMAGE = `dm-e2e-app-${id}:1`;
const PROJECT = `dmproj${id}`;
// Host port and subnet vary per run, so that leftovers of an interrupted run cannot collide with this one.
const seed = Number.parseInt(id.slice(0, 6), 16);
const HOST_PORT = 20_000 + (seed % 20_000);
const SUBNET = `10.${100 + (seed % 100)}.${(seed >> 8) % 250}.0/24`;

interface MigrationJson {
  id: string;
  status: string;
  phase: string;
  error: string | null;
  bytes_transferred: number;
  total_bytes: number;
  downtime_ms: number | null;
  downtime_started_at: string | null;
  completed_at: string | null;
  downtime_phases: Record<
    'stop_ms' | 'final_sync_ms' | 'apply_ms' | 'start_ms' | 'ready_ms',
    number | null
  > | null;
  rounds: { round: number; final: boolean; bytes: number; duration_ms: number; files: number }[];
  compression?: string;
  resources: { type: string; name: string; status: string; action: string }[];
  events?: { message: string }[];
}

interface Answer {
  migration?: MigrationJson;
  blocked?: boolean;
  findings?: { severity: string; code: string; message: string }[];
  plan?: { resources: { type: string; name: string }[] };
  error?: { code: string; message: string; details?: { findings?: { code: string }[] } };
  workers?: { id: string; name: string; status: string }[];
}

let master: RunningProcess;
let apiUrl = '';
let joinArgs: string[] = [];
const workers = new Map<
  string,
  { process: RunningProcess; dir: string; host: TestDockerHost; extra: string[] }
>();

const docker = dockerCli;

async function inspect<T = Record<string, unknown>>(host: TestDockerHost, ...args: string[]): Promise<T> {
  const [first] = JSON.parse(await docker(host, ...args)) as T[];
  if (!first) throw new Error(`nothing to inspect: ${args.join(' ')}`);
  return first;
}

async function exists(
  host: TestDockerHost,
  kind: 'container' | 'volume' | 'network' | 'image',
  name: string,
) {
  try {
    await docker(host, kind, 'inspect', name);
    return true;
  } catch {
    return false;
  }
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: Answer }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, json: (await response.json()) as Answer };
}

async function migration(migrationId: string): Promise<MigrationJson> {
  const { json } = await api('GET', `/api/migrations/${migrationId}`);
  if (!json.migration) throw new Error(`no migration ${migrationId}: ${JSON.stringify(json)}`);
  return json.migration;
}

async function finished(migrationId: string, timeoutMs = 180_000): Promise<MigrationJson> {
  return eventually(
    `migration ${migrationId} to finish`,
    async () => {
      const current = await migration(migrationId);
      return ['completed', 'failed', 'rolled_back', 'cancelled'].includes(current.status)
        ? current
        : undefined;
    },
    timeoutMs,
  );
}

async function start(body: Record<string, unknown>): Promise<MigrationJson> {
  const { status, json } = await api('POST', '/api/migrations', body);
  if (status !== 201 || !json.migration)
    throw new Error(`POST /api/migrations → ${status}: ${JSON.stringify(json)}`);
  return json.migration;
}

function startWorker(name: string, host: TestDockerHost, extra: string[] = []): void {
  const dir = workers.get(name)?.dir ?? tempDir(name);
  const process = startProcess(
    [
      ...joinArgs,
      '--name',
      name,
      '--data-dir',
      dir,
      '--grpc-addr',
      '127.0.0.1:0',
      '--reconnect-interval',
      '200ms',
      '--max-reconnect-interval',
      '1s',
      ...extra,
    ],
    { DOCKER_HOST: host.socket },
  );
  workers.set(name, { process, dir, host, extra });
}

async function workerId(name: string): Promise<string> {
  return eventually(`worker ${name} online`, async () => {
    const { json } = await api('GET', '/api/workers');
    return json.workers?.find((w) => w.name === name && w.status === 'online')?.id;
  });
}

/** Content, owners, modes, times and links of a volume, read from inside a container as a user would. */
async function volumeFingerprint(host: TestDockerHost, volume: string): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '-v',
    `${volume}:/data:ro`,
    host.baseImage,
    'sh',
    '-c',
    // The root folder's own mtime is left out: the Engine's archive API does not restore it (the rest it does).
    'cd /data && stat -c "%u:%g %a" . && find . -mindepth 1 | sort | xargs -n 100 ls -ld --full-time | sed "s/  */ /g" | md5sum && find . -type f | sort | xargs -n 100 md5sum | md5sum && (sha256sum big 2>/dev/null || true)',
  );
}

async function fillVolume(volume: string, script: string): Promise<void> {
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, '--label', 'tier=data', volume);
  await docker(h1, 'run', '--rm', '-v', `${volume}:/data`, h1.baseImage, 'sh', '-c', script);
}

const MANY_FILES = [
  'mkdir -p /data/logs /data/empty /data/deep/a/b/c',
  'i=0; while [ $i -lt 2000 ]; do echo "line $i" > /data/logs/f$i; i=$((i+1)); done',
  'dd if=/dev/urandom of=/data/big bs=1M count=24 2>/dev/null',
  'chown 1000:1000 /data/logs/f1 && chown -R 1000:1000 /data/deep && chmod 600 /data/logs/f2 && chmod 4755 /data/logs/f3',
  'ln -s logs/f4 /data/link && ln /data/logs/f5 /data/hard',
  'dd if=/dev/zero of=/data/sparse bs=1 count=0 seek=33554432 2>/dev/null',
  'touch -d "2021-06-01 12:00:00" /data/logs/f6',
].join(' && ');

beforeAll(async () => {
  master = startProcess([
    'master',
    '--http-addr',
    '127.0.0.1:0',
    '--grpc-addr',
    '127.0.0.1:0',
    '--relay-addr',
    '127.0.0.1:0',
    '--data-dir',
    tempDir('mig-master'),
    '--admin-token',
    adminToken,
    '--heartbeat-interval',
    '1s',
    '--worker-timeout',
    '5s',
    '--ready-timeout',
    '60s',
    '--rollback-timeout',
    '90s',
  ]);
  ({ apiUrl, joinArgs } = await masterAddresses(master));
  startWorker(`src-${id}`, h1);
  startWorker(`dst-${id}`, h2);
  // A second worker for h2 that announces an address nobody can reach: only the relay gets data to it.
  startWorker(`natted-${id}`, h2, ['--advertise-addr', '127.0.0.1:1']);
  // Workers that read and write volumes only through the Engine's archive API (no mountpoint access).
  startWorker(`srceng-${id}`, h1, ['--volume-access', 'engine']);
  startWorker(`dsteng-${id}`, h2, ['--volume-access', 'engine']);

  await exec('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nRUN echo built > /marker && mkdir /www && echo page > /www/index.html\\nLABEL ${runLabel}=1\\nEXPOSE 80\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  await docker(h1, 'tag', IMAGE, `dm-e2e-app-${id}:latest`);
  await docker(h1, 'network', 'create', '--label', `${runLabel}=1`, '--label', 'team=web', `net-${id}`);
  await fillVolume(`vol-${id}`, MANY_FILES);
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    `app-${id}`,
    '--label',
    `${runLabel}=1`,
    '--label',
    'role=app',
    '-e',
    'GREETING=hello',
    '-e',
    'MODE=production',
    '--network',
    `net-${id}`,
    '--network-alias',
    'app-alias',
    '-p',
    `${HOST_PORT}:80`,
    '-v',
    `vol-${id}:/data`,
    '--restart',
    'unless-stopped',
    '--cap-add',
    'NET_ADMIN',
    '--cap-drop',
    'MKNOD',
    '--ulimit',
    'nofile=1024:2048',
    '--user',
    '0:0',
    '--workdir',
    '/www',
    '--hostname',
    'app-host',
    '--memory',
    '64m',
    '--health-cmd',
    'test -f /data/big',
    '--health-interval',
    '1s',
    IMAGE,
    'httpd',
    '-f',
    '-p',
    '80',
  );
  await Promise.all(
    ['src', 'dst', 'natted', 'srceng', 'dsteng'].map((prefix) => workerId(`${prefix}-${id}`)),
  );
}, 180_000);

afterAll(async () => {
  for (const { process } of workers.values()) await process.stop();
  await master.stop();
  for (const [host, engine] of [
    [h1, engine1],
    [h2, engine2],
  ] as const) {
    await exec('sh', [
      '-c',
      `cd /tmp && docker-compose -H ${host.socket} -p ${PROJECT} -f /dev/null down -v 2>/dev/null || true`,
    ]);
    const containers = await docker(host, 'ps', '-aq', '--filter', `name=${id}`);
    if (containers) await docker(host, 'rm', '-f', ...containers.split('\n')).catch(() => '');
    const volumes = await docker(host, 'volume', 'ls', '-q', '--filter', `name=${id}`);
    if (volumes) await docker(host, 'volume', 'rm', '-f', ...volumes.split('\n')).catch(() => '');
    const networks = await docker(host, 'network', 'ls', '-q', '--filter', `name=${id}`);
    if (networks) await docker(host, 'network', 'rm', ...networks.split('\n')).catch(() => '');
    await removeLabelled(engine, runLabel).catch(() => undefined);
    for (const image of [IMAGE, `dm-e2e-app-${id}:latest`, `dm-e2e-img-${id}:1`])
      await engine.removeImage(image, { force: true }).catch(() => undefined);
  }
});

describe('migrations (built binary, two real Docker hosts)', () => {
  it('dry run answers the plan and findings and changes nothing on either host', async () => {
    // Only this run's objects: other processes may use the same engines.
    const snapshot = (): Promise<string[]> =>
      Promise.all([
        docker(h1, 'ps', '-a', '--filter', `name=${id}`, '--format', '{{.ID}} {{.State}}'),
        docker(h2, 'ps', '-a', '--filter', `name=${id}`, '-q'),
        docker(h2, 'volume', 'ls', '-q', '--filter', `name=${id}`),
        docker(h2, 'network', 'ls', '-q', '--filter', `name=${id}`),
      ]);
    const before = await snapshot();
    const { status, json } = await api('POST', '/api/migrations', {
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      container_ids: [`app-${id}`],
      dry_run: true,
    });
    expect(status).toBe(200);
    expect(json.blocked).toBe(false);
    expect(json.plan?.resources.map((r) => `${r.type}:${r.name}`)).toEqual(
      expect.arrayContaining([
        `container:app-${id}`,
        `volume:vol-${id}`,
        `network:net-${id}`,
        `image:${IMAGE}`,
      ]),
    );
    expect(json.findings?.map((f) => f.code)).toContain('container_running_source');
    expect(await snapshot()).toEqual(before);
    expect((await migrationsList()).length).toBe(0);
  });

  it('refuses unknown workers, unknown containers and warm/live modes with readable 4xx errors', async () => {
    const unknownWorker = await api('POST', '/api/migrations', {
      source_worker_id: 'nope',
      target_worker_id: `dst-${id}`,
      container_ids: ['x'],
    });
    expect(unknownWorker.status).toBe(404);
    expect(unknownWorker.json.error?.message).toMatch(/source worker "nope" not found/);
    const unknownContainer = await api('POST', '/api/migrations', {
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      container_ids: ['no-such-container'],
    });
    expect(unknownContainer.status).toBe(404);
    expect(unknownContainer.json.error?.message).toMatch(/no-such-container/);
    const live = await api('POST', '/api/migrations', {
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      container_ids: [`app-${id}`],
      mode: 'live',
    });
    expect(live.status).toBe(400);
    expect(live.json.error?.message).toMatch(/CRIU/);
    const badBody = await api('POST', '/api/migrations', {
      source_worker_id: `src-${id}`,
      transfer_mode: 'carrier-pigeon',
    });
    expect(badBody.status).toBe(400);
    expect(badBody.json.error?.message).toMatch(/transfer_mode/);
  });

  it('moves a running container with image, volume, network and settings via `docker-migrate migrate` (direct)', async () => {
    const source = await inspect(h1, 'inspect', `app-${id}`);
    const volumeBefore = await volumeFingerprint(h1, `vol-${id}`);
    const { stdout } = await exec(
      BIN,
      [
        'migrate',
        '--master-url',
        apiUrl,
        '--from',
        `src-${id}`,
        '--to',
        `dst-${id}`,
        '--container',
        `app-${id}`,
        '--transfer-mode',
        'direct',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: tempDir('cli-home'),
          DOCKER_MIGRATE_ADMIN_TOKEN: adminToken,
        },
        maxBuffer: 8 * 1024 * 1024,
      },
    );
    expect(stdout).toMatch(/completed/);

    const target = await inspect<{ State: { Running: boolean; Health?: { Status: string } }; Image: string }>(
      h2,
      'inspect',
      `app-${id}`,
    );
    expect(target.State.Running).toBe(true);
    expect(target.State.Health?.Status).toBe('healthy');
    expect(portableSettingsDigest(target)).toEqual(portableSettingsDigest(source));
    expect(await volumeFingerprint(h2, `vol-${id}`)).toBe(volumeBefore);
    expect((await inspect<{ Id: string }>(h2, 'image', 'inspect', IMAGE)).Id).toBe(
      (await inspect<{ Id: string }>(h1, 'image', 'inspect', IMAGE)).Id,
    );
    expect(await docker(h2, 'image', 'inspect', `dm-e2e-app-${id}:latest`, '--format', '{{.Id}}')).toBe(
      target.Image,
    );
    expect(
      (await inspect<{ Labels: Record<string, string> }>(h2, 'volume', 'inspect', `vol-${id}`)).Labels.tier,
    ).toBe('data');
    expect(
      (await inspect<{ Labels: Record<string, string> }>(h2, 'network', 'inspect', `net-${id}`)).Labels.team,
    ).toBe('web');
    // The published port answers on the target host, and the alias resolves on its network.
    const page = await exec('nsenter', [
      `--net=/var/run/netns/${h2.netns}`,
      'busybox',
      'wget',
      '-qO-',
      `http://127.0.0.1:${HOST_PORT}/index.html`,
    ]);
    expect(page.stdout.trim()).toBe('page');
    expect(
      await docker(
        h2,
        'run',
        '--rm',
        '--network',
        `net-${id}`,
        h2.baseImage,
        'wget',
        '-qO-',
        'http://app-alias/index.html',
      ),
    ).toBe('page');
    // The source is kept, stopped.
    expect((await inspect<{ State: { Running: boolean } }>(h1, 'inspect', `app-${id}`)).State.Running).toBe(
      false,
    );
    const [record] = await migrationsList();
    expect(record?.status).toBe('completed');
    expect(record?.downtime_ms).toBeGreaterThan(0);
    // Where the downtime went: every phase was reached, and they add up to it (each rounded to the millisecond).
    const phases = Object.values(record?.downtime_phases ?? {});
    expect(phases).toHaveLength(5);
    expect(phases.every((ms) => typeof ms === 'number' && ms >= 0)).toBe(true);
    const sum = phases.reduce<number>((total, ms) => total + (ms ?? 0), 0);
    expect(Math.abs(sum - (record?.downtime_ms ?? 0))).toBeLessThanOrEqual(5);
    // One copy round, made with the source stopped, moving the volume's bytes.
    const volumeBytes = record?.resources.find((r) => r.type === 'volume') as { bytes?: number } | undefined;
    expect(record?.rounds).toEqual([
      expect.objectContaining({ round: 1, final: true, bytes: volumeBytes?.bytes }),
    ]);
  }, 240_000);

  it('moves the container back under overwrite: a cancelled attempt restores the old copy, a second one replaces it', async () => {
    // After the move above, h1 keeps the stopped copy, its volume and its network; the service runs on h2.
    const oldCopy = await inspect<{ Id: string }>(h1, 'inspect', `app-${id}`);
    const oldVolume = await volumeFingerprint(h1, `vol-${id}`);
    await docker(h2, 'exec', `app-${id}`, 'sh', '-c', 'echo changed-on-h2 > /data/new-file');
    const body = {
      source_worker_id: `dst-${id}`,
      target_worker_id: `src-${id}`,
      container_ids: [`app-${id}`],
      transfer_mode: 'direct',
      conflict_policy: 'overwrite',
    };

    const attempt = await start(body);
    await eventually('the old volume content to be set aside', async () => {
      const { json } = await api('GET', `/api/migrations/${attempt.id}`);
      return json.migration?.events?.some((e) => e.message.includes('is kept aside in')) ? true : undefined;
    });
    expect((await api('POST', `/api/migrations/${attempt.id}/cancel`)).status).toBe(200);
    const cancelled = await finished(attempt.id);
    expect(cancelled.status).toBe('cancelled');
    // h1 is as before: the same container (id), its own data, its network; and it still starts.
    expect((await inspect<{ Id: string }>(h1, 'inspect', `app-${id}`)).Id).toBe(oldCopy.Id);
    expect(await volumeFingerprint(h1, `vol-${id}`)).toBe(oldVolume);
    expect(await exists(h1, 'network', `net-${id}`)).toBe(true);
    const leftovers = async (): Promise<string> =>
      [
        await docker(h1, 'ps', '-a', '--filter', `name=app-${id}-dm-aside`, '--format', '{{.Names}}'),
        await docker(h1, 'volume', 'ls', '--filter', `name=vol-${id}-dm-aside`, '--format', '{{.Name}}'),
      ]
        .filter((line) => line !== '')
        .join('\n');
    expect(await leftovers()).toBe('');
    expect((await inspect<{ State: { Running: boolean } }>(h2, 'inspect', `app-${id}`)).State.Running).toBe(
      true,
    );

    const done = await finished((await start(body)).id);
    expect(done.status).toBe('completed');
    const back = await inspect<{ Id: string; State: { Running: boolean } }>(h1, 'inspect', `app-${id}`);
    expect(back.State.Running).toBe(true);
    expect(back.Id).not.toBe(oldCopy.Id);
    expect(await docker(h1, 'exec', `app-${id}`, 'cat', '/data/new-file')).toBe('changed-on-h2');
    expect(await leftovers()).toBe('');
    expect((await inspect<{ State: { Running: boolean } }>(h2, 'inspect', `app-${id}`)).State.Running).toBe(
      false,
    );
  }, 240_000);

  it('a name conflict under "fail" is refused before anything moves', async () => {
    const before = await docker(h2, 'ps', '-a', '--format', '{{.ID}} {{.Names}} {{.State}}');
    const { status, json } = await api('POST', '/api/migrations', {
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      container_ids: [`app-${id}`],
      conflict_policy: 'fail',
    });
    expect(status).toBe(412);
    expect(json.error?.details?.findings?.map((f) => f.code)).toContain('name_conflict');
    expect(await docker(h2, 'ps', '-a', '--format', '{{.ID}} {{.Names}} {{.State}}')).toBe(before);
  });

  it('moves a standalone volume through the master relay (proxy)', async () => {
    await fillVolume(
      `solo-${id}`,
      'echo solo > /data/x && dd if=/dev/urandom of=/data/big bs=1M count=8 2>/dev/null && ' +
        'truncate -s 64M /data/sparse && echo tail >> /data/sparse',
    );
    // What only the volume's folder holds: an extended attribute, and a modification time to the nanosecond.
    const sourceFolder = (await engine1.inspectVolume(`solo-${id}`)).mountpoint;
    setAttributeSync(join(sourceFolder, 'x'), 'user.origin', 'h1');
    setTimesByPath(join(sourceFolder, 'x'), 1_700_000_000_123_456_789n, 1_700_000_000_987_654_321n);
    const before = await volumeFingerprint(h1, `solo-${id}`);
    // Progress and the end also flow on the live event stream.
    const events = await fetch(`${apiUrl}/api/events?access_token=${adminToken}`);
    const reader = (events.body as ReadableStream<Uint8Array>).getReader();
    const started = await start({
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      volume_names: [`solo-${id}`],
      transfer_mode: 'proxy',
    });
    let seen = '';
    const decoder = new TextDecoder();
    while (!new RegExp(`"id":"${started.id}","status":"completed"`).test(seen)) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += decoder.decode(value);
    }
    await reader.cancel();
    expect(seen).toMatch(/event: migration\.updated/);
    expect(seen).toMatch(/event: migration\.event/);
    const done = await finished(started.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    expect(await volumeFingerprint(h2, `solo-${id}`)).toBe(before);
    const targetFolder = (await engine2.inspectVolume(`solo-${id}`)).mountpoint;
    expect(getAttributeSync(join(targetFolder, 'x'), 'user.origin')?.toString()).toBe('h1');
    expect(statSync(join(targetFolder, 'x'), { bigint: true }).mtimeNs).toBe(1_700_000_000_987_654_321n);
    // The 64 MiB hole went over as no bytes, stayed a hole, and still counts in the volume's bytes moved.
    expect(statSync(join(targetFolder, 'sparse')).blocks * 512).toBeLessThan(1024 * 1024);
    expect(done.bytes_transferred).toBeGreaterThan(64 * 1024 * 1024);
    expect(done.bytes_transferred).toBeLessThanOrEqual(done.total_bytes);
  }, 120_000);

  it('moves a volume compressed with zstd through the relay, by the add-on shipped beside the binary', async () => {
    await fillVolume(`zstd-${id}`, MANY_FILES);
    const before = await volumeFingerprint(h1, `zstd-${id}`);
    const started = await start({
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      volume_names: [`zstd-${id}`],
      transfer_mode: 'proxy',
      compression: 'zstd',
    });
    expect(started.compression).toBe('zstd');
    const done = await finished(started.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    expect(await volumeFingerprint(h2, `zstd-${id}`)).toBe(before);
  }, 120_000);

  it('moves a volume through the Engine archive API on helper containers, at either end or both', async () => {
    await fillVolume(`eng-${id}`, MANY_FILES);
    const before = await volumeFingerprint(h1, `eng-${id}`);
    for (const [from, to] of [
      ['srceng', 'dsteng'],
      ['src', 'dsteng'],
      ['srceng', 'dst'],
    ] as const) {
      // The master's view of h2 must have caught up with the removal of the previous copy.
      await eventually('the target inventory without the volume', async () => {
        const { json } = await api('POST', '/api/migrations', {
          source_worker_id: `${from}-${id}`,
          target_worker_id: `${to}-${id}`,
          volume_names: [`eng-${id}`],
          dry_run: true,
        });
        return json.blocked === false ? true : undefined;
      });
      const started = await start({
        source_worker_id: `${from}-${id}`,
        target_worker_id: `${to}-${id}`,
        volume_names: [`eng-${id}`],
        transfer_mode: 'direct',
      });
      const done = await finished(started.id);
      expect(done.error, `${from} → ${to}`).toBeNull();
      expect(await volumeFingerprint(h2, `eng-${id}`), `${from} → ${to}`).toBe(before);
      await docker(h2, 'volume', 'rm', `eng-${id}`);
    }
    // No helper container is left behind on either engine.
    expect(await docker(h1, 'ps', '-a', '-q', '--filter', 'label=docker-migrate.helper')).toBe('');
    expect(await docker(h2, 'ps', '-a', '-q', '--filter', 'label=docker-migrate.helper')).toBe('');
  }, 180_000);

  it('moves a standalone image to a worker nobody can dial: auto falls back to the relay', async () => {
    await exec('sh', [
      '-c',
      `printf 'FROM ${h1.baseImage}\\nRUN head -c 3000000 /dev/urandom > /blob\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t dm-e2e-img-${id}:1 -`,
    ]);
    const started = await start({
      source_worker_id: `src-${id}`,
      target_worker_id: `natted-${id}`,
      image_ids: [`dm-e2e-img-${id}:1`],
      transfer_mode: 'auto',
    });
    const done = await finished(started.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('completed');
    const events = (await migration(started.id)).events?.map((e) => e.message).join('\n');
    expect(events).toMatch(/relaying through the master/);
    expect(await docker(h2, 'image', 'inspect', `dm-e2e-img-${id}:1`, '--format', '{{.Id}}')).toBe(
      await docker(h1, 'image', 'inspect', `dm-e2e-img-${id}:1`, '--format', '{{.Id}}'),
    );
    // The base layer was on h2 already: only about the 3 MB layer went over the wire.
    expect(done.bytes_transferred).toBeLessThan(3_000_000 * 1.01 + 64 * 1024);
  }, 120_000);

  it('moves a standalone user-defined network with its subnet and labels', async () => {
    await docker(
      h1,
      'network',
      'create',
      '--label',
      `${runLabel}=1`,
      '--label',
      'k=v',
      '--subnet',
      SUBNET,
      '--internal',
      `solonet-${id}`,
    );
    const started = await start({
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      network_ids: [`solonet-${id}`],
      transfer_mode: 'direct',
    });
    expect((await finished(started.id)).status).toBe('completed');
    const network = await inspect<{
      Internal: boolean;
      Labels: Record<string, string>;
      IPAM: { Config: { Subnet: string }[] };
    }>(h2, 'network', 'inspect', `solonet-${id}`);
    expect(network.Internal).toBe(true);
    expect(network.Labels.k).toBe('v');
    expect(network.IPAM.Config[0]?.Subnet).toBe(SUBNET);
  }, 60_000);

  it('moves a compose project so that docker-compose on the target adopts it', async () => {
    const dir = tempDir('compose');
    writeFileSync(
      join(dir, 'docker-compose.yml'),
      [
        "version: '2.4'",
        'services:',
        '  web:',
        `    image: ${IMAGE}`,
        '    command: ["httpd", "-f", "-p", "80"]',
        '    volumes: ["content:/content"]',
        '    networks: [back]',
        'volumes:',
        '  content: {}',
        'networks:',
        '  back: {}',
        '',
      ].join('\n'),
    );
    await exec('docker-compose', ['-H', h1.socket, '-p', PROJECT, 'up', '-d'], { cwd: dir });
    await eventually('the compose project in the inventory', async () => {
      const { json } = await api('POST', '/api/migrations', {
        source_worker_id: `src-${id}`,
        target_worker_id: `dst-${id}`,
        compose_projects: [PROJECT],
        dry_run: true,
      });
      return json.plan?.resources.some((r) => r.type === 'container') ? true : undefined;
    });
    const started = await start({
      source_worker_id: `src-${id}`,
      target_worker_id: `dst-${id}`,
      compose_projects: [PROJECT],
      transfer_mode: 'direct',
    });
    const done = await finished(started.id);
    expect(done.error).toBeNull();
    expect(done.resources.map((r) => r.type).sort()).toEqual(['container', 'image', 'network', 'volume']);
    const ps = await exec('docker-compose', ['-H', h2.socket, '-p', PROJECT, 'ps'], { cwd: dir });
    expect(ps.stdout).toMatch(new RegExp(`${PROJECT}_web_1\\s+.*Up`));
  }, 120_000);

  describe('rolling back', () => {
    const heavy = `heavy-${id}`;

    beforeAll(async () => {
      await fillVolume(`heavyvol-${id}`, 'dd if=/dev/urandom of=/data/big bs=1M count=1536 2>/dev/null');
      await docker(
        h1,
        'run',
        '-d',
        '--name',
        heavy,
        '--label',
        `${runLabel}=1`,
        '-v',
        `heavyvol-${id}:/data`,
        h1.baseImage,
        'sleep',
        '100000',
      );
    }, 120_000);

    async function nothingLeftOnTarget(): Promise<void> {
      expect(await exists(h2, 'container', heavy)).toBe(false);
      expect(await exists(h2, 'volume', `heavyvol-${id}`)).toBe(false);
    }

    it('a cancel during the transfer rolls back and ends cancelled: source running again, nothing left on the target', async () => {
      const started = await start({
        source_worker_id: `src-${id}`,
        target_worker_id: `dst-${id}`,
        container_ids: [heavy],
        transfer_mode: 'direct',
        // The base image has another id on h2 under the same tag: keep h2's rather than fail.
        conflict_policy: 'skip',
      });
      await eventually('bytes moving', async () => {
        const current = await migration(started.id);
        return current.phase === 'transfer' && current.bytes_transferred > 0 ? true : undefined;
      });
      const cancel = await api('POST', `/api/migrations/${started.id}/cancel`);
      expect(cancel.status).toBe(200);
      const done = await finished(started.id);
      expect(done.status).toBe('cancelled');
      expect(done.error).toMatch(/cancel/);
      // The source was down from the stop request until the rollback had it running again: reported all the same.
      expect(done.downtime_started_at).not.toBeNull();
      expect(done.downtime_ms).toBeGreaterThan(0);
      expect(done.downtime_ms).toBeLessThanOrEqual(
        Date.parse(done.completed_at ?? '') - Date.parse(done.downtime_started_at ?? '') + 50,
      );
      // A second cancel of what has ended is refused in words.
      const again = await api('POST', `/api/migrations/${started.id}/cancel`);
      expect(again.status).toBe(409);
      expect((await inspect<{ State: { Running: boolean } }>(h1, 'inspect', heavy)).State.Running).toBe(true);
      await nothingLeftOnTarget();
    }, 180_000);

    it('killing the target worker mid-transfer rolls back once it is back: source running, target clean', async () => {
      const started = await start({
        source_worker_id: `src-${id}`,
        target_worker_id: `dst-${id}`,
        container_ids: [heavy],
        transfer_mode: 'direct',
        // The base image has another id on h2 under the same tag: keep h2's rather than fail.
        conflict_policy: 'skip',
      });
      await eventually('bytes moving', async () => {
        const current = await migration(started.id);
        return current.phase === 'transfer' && current.bytes_transferred > 0 ? true : undefined;
      });
      const target = workers.get(`dst-${id}`)!;
      await target.process.stop('SIGKILL');
      await eventually('the migration to notice', async () =>
        (await migration(started.id)).phase === 'rollback' ? true : undefined,
      );
      startWorker(`dst-${id}`, h2);
      const done = await finished(started.id);
      expect(done.status).toBe('rolled_back');
      expect(done.error).toMatch(/lost worker|broke|unavailable|transfer/i);
      expect((await inspect<{ State: { Running: boolean } }>(h1, 'inspect', heavy)).State.Running).toBe(true);
      await nothingLeftOnTarget();
    }, 240_000);
  });
});

describe('metrics', () => {
  it('counts transfers, migrations by status and Docker operations for real', async () => {
    const text = await (await fetch(`${apiUrl.replace(/\/$/, '')}/metrics`)).text();
    const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? 'NaN');
    expect(value(/^docker_migrate_transfer_bytes_total (\d+)/m)).toBeGreaterThan(24 * 1024 * 1024);
    expect(value(/^docker_migrate_migrations_total\{status="completed"\} (\d+)/m)).toBeGreaterThanOrEqual(5);
    // One rolled back by a killed worker; two cancelled by the user (their rollback counted as a cancel).
    expect(value(/^docker_migrate_migrations_total\{status="rolled_back"\} (\d+)/m)).toBe(1);
    expect(value(/^docker_migrate_migrations_total\{status="cancelled"\} (\d+)/m)).toBe(2);
    expect(
      value(/^docker_migrate_docker_operations_total\{operation="container\.create",outcome="ok"\} (\d+)/m),
    ).toBeGreaterThanOrEqual(2);
    expect(value(/^docker_migrate_active_migrations (\d+)/m)).toBe(0);
    expect(text).toMatch(/^docker_migrate_transfer_duration_seconds_count \d+/m);
  });
});

async function migrationsList(): Promise<MigrationJson[]> {
  const response = await fetch(`${apiUrl}/api/migrations`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return ((await response.json()) as { migrations: MigrationJson[] }).migrations;
}
