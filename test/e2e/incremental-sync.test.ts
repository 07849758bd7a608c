// The incremental strategy end to end: the built binary as master and workers, two real Docker hosts. A volume is
// moved in full, about 1 % of it changes on the source (scattered blocks, an append, a new file, a deleted file and
// folder), and an incremental migration brings the target's copy up to date in place. Checked as a user would: the
// bytes that travelled, the target's volume equal to the source's, the deleted files gone; a copy that changed on
// the target since it was made is refused and left as it is; a target volume no migration made stays a conflict.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-incr-${id}`;
const docker = dockerCli;
const VOLUME = `incrvol-${id}`;
const FOREIGN = `foreignvol-${id}`;
const RESYNC = `resyncvol-${id}`;
const WRITER = `resync-writer-${id}`;
const MiB = 1024 * 1024;

interface MigrationJson {
  id: string;
  status: string;
  strategy: string;
  error: string | null;
  rounds: { round: number; final: boolean; bytes: number; duration_ms: number; files: number }[];
  resources: { type: string; name: string; action: string; estimated_bytes: number }[];
  events?: { message: string; level: string }[];
}

interface ApiError {
  error?: { message: string; details?: { findings?: { code: string; message: string }[] } };
}

let master: RunningProcess;
const workers: RunningProcess[] = [];
let apiUrl = '';
let source = '';
let target = '';

const { call: api, workerId, finished } = masterApi(() => apiUrl, adminToken);

/** Runs a shell script in a throwaway container with the volume at /data. */
function inVolume(host: TestDockerHost, volume: string, script: string): Promise<string> {
  return docker(host, 'run', '--rm', '-v', `${volume}:/data`, host.baseImage, 'sh', '-c', script);
}

/** Every entry's type, owner, mode, size and mtime, and every file's content: what a user would compare. */
function fingerprint(host: TestDockerHost, volume: string): Promise<string> {
  return inVolume(
    host,
    volume,
    'cd /data && find . -mindepth 1 | sort | xargs -n 100 ls -ld --full-time | sed "s/  */ /g" | md5sum && find . -type f | sort | xargs -n 100 md5sum | md5sum',
  );
}

/** Moves the volume and waits for the end; answers the finished migration. */
async function migrate(
  volume: string,
  strategy: 'full' | 'incremental',
  extra: Record<string, unknown> = {},
): Promise<MigrationJson> {
  const created = await api<{ migration?: MigrationJson } & ApiError>('POST', '/api/migrations', {
    source_worker_id: source,
    target_worker_id: target,
    volume_names: [volume],
    strategy,
    ...extra,
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const migrationId = created.json.migration?.id ?? '';
  return finished<MigrationJson>(migrationId);
}

/**
 * Waits until the target's inventory no longer lists the throwaway container that just wrote into the volume there
 * (it follows the engine's events): until then, preflight rightly says the volume is in use.
 */
async function untilUnusedOnTarget(volume: string): Promise<void> {
  await eventually('the target to list no container using the volume', async () => {
    const { json } = await api<{ findings: { message: string }[] }>('POST', '/api/migrations', {
      source_worker_id: source,
      target_worker_id: target,
      volume_names: [volume],
      strategy: 'incremental',
      dry_run: true,
    });
    return json.findings.some((f) => f.message.includes('used by container')) ? undefined : true;
  });
}

function explain(migration: MigrationJson): string {
  return `${migration.error ?? ''}\n${(migration.events ?? []).map((e) => e.message).join('\n')}`;
}

const sentBytes = (migration: MigrationJson): number => migration.rounds.reduce((sum, r) => sum + r.bytes, 0);

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
    tempDir('incr-master'),
    '--admin-token',
    adminToken,
    '--heartbeat-interval',
    '1s',
  ]);
  const printed = await masterAddresses(master);
  apiUrl = printed.apiUrl;
  for (const [name, host] of [
    [`isrc-${id}`, h1],
    [`idst-${id}`, h2],
  ] as const)
    workers.push(
      startProcess(
        [...printed.joinArgs, '--name', name, '--data-dir', tempDir(name), '--grpc-addr', '127.0.0.1:0'],
        { DOCKER_HOST: host.socket },
      ),
    );
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await inVolume(
    h1,
    VOLUME,
    'dd if=/dev/urandom of=/data/big bs=1M count=48 2>/dev/null && mkdir -p /data/small /data/old/deeper && ' +
      'i=0; while [ $i -lt 400 ]; do head -c $((200 + i * 13)) /dev/urandom > /data/small/f$i; i=$((i+1)); done && ' +
      'echo gone > /data/old/deeper/file && echo also-gone > /data/small/doomed && ln -s small/f1 /data/link && ' +
      'echo first > /data/log && ' +
      // Written long ago, as most of a real volume is: only what changes later is recent.
      'find /data -type f -exec touch -d "2020-01-01 00:00:00" {} +',
  );
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, FOREIGN);
  await inVolume(h1, FOREIGN, 'echo from-source > /data/file');
  await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, FOREIGN);
  await inVolume(h2, FOREIGN, 'echo the-targets-own > /data/file');
  [source, target] = [await workerId(`isrc-${id}`), await workerId(`idst-${id}`)];
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  await removeLabelled(engineOverSocket(h1), runLabel);
  await removeLabelled(engineOverSocket(h2), runLabel);
  await docker(h1, 'rm', '-f', WRITER).catch(() => undefined);
  for (const host of [h1, h2])
    for (const volume of [VOLUME, FOREIGN, RESYNC])
      await docker(host, 'volume', 'rm', '-f', volume).catch(() => undefined);
});

describe('the incremental strategy', () => {
  it('after a full move and a 1 % change, sends only what changed and leaves the target equal to the source', async () => {
    const full = await migrate(VOLUME, 'full');
    expect(full.status, explain(full)).toBe('completed');
    const volumeBytes = full.resources.find((r) => r.type === 'volume')?.estimated_bytes ?? 0;
    expect(volumeBytes).toBeGreaterThan(48 * MiB);
    expect(sentBytes(full)).toBeGreaterThan(48 * MiB);
    // The copy carries the label that tells it is ours.
    const labels = JSON.parse(
      await docker(h2, 'volume', 'inspect', '-f', '{{json .Labels}}', VOLUME),
    ) as Record<string, string>;
    expect(labels['io.dockation.migration']).toBe(full.id);

    // About 1 %: 60 scattered 8 KiB blocks of the big file (480 KiB), an append, a new file; a file and a
    // folder deleted.
    await inVolume(
      h1,
      VOLUME,
      'i=0; while [ $i -lt 60 ]; do dd if=/dev/urandom of=/data/big bs=8192 count=1 seek=$(( (i * 97) % 6144 )) conv=notrunc 2>/dev/null; i=$((i+1)); done && ' +
        'echo second >> /data/log && head -c 20000 /dev/urandom > /data/small/new-file && ' +
        'rm -r /data/old /data/small/doomed',
    );
    const incremental = await migrate(VOLUME, 'incremental');
    expect(incremental.status, explain(incremental)).toBe('completed');
    expect(incremental.strategy).toBe('incremental');
    expect(incremental.resources.find((r) => r.type === 'volume')?.action).toBe('update');
    const messages = (incremental.events ?? []).map((e) => e.message);
    expect(messages.some((m) => m.includes('brought up to date in place'))).toBe(true);
    // The full move kept no description of the copy: said, since changes made there could not be told.
    expect(messages.some((m) => m.includes('no description of this copy was kept'))).toBe(true);
    // The source compared every file by content (no record of the full move's send), and sent < 5 %.
    expect(sentBytes(incremental)).toBeLessThan(volumeBytes * 0.05);
    expect(sentBytes(incremental)).toBeGreaterThan(480 * 1024);
    expect(await fingerprint(h2, VOLUME)).toBe(await fingerprint(h1, VOLUME));
    expect(await inVolume(h2, VOLUME, 'ls /data/old /data/small/doomed 2>&1; true')).toMatch(
      /No such file[\s\S]*No such file/,
    );
    expect((await inVolume(h2, VOLUME, 'cat /data/log')).trim()).toBe('first\nsecond');

    // Again, with one more change: what the last sync sent is now known on both ends, so files whose stat did not
    // move are not even read on the source.
    await inVolume(h1, VOLUME, 'echo third >> /data/log');
    const again = await migrate(VOLUME, 'incremental');
    expect(again.status, explain(again)).toBe('completed');
    const trusted = (again.events ?? [])
      .map((e) => /(\d+) known equal to what was last sent/.exec(e.message)?.[1])
      .find((n) => n !== undefined);
    expect(Number(trusted)).toBeGreaterThan(400);
    expect(sentBytes(again)).toBeLessThan(256 * 1024);
    expect(again.rounds[0]?.files).toBeLessThan(20);
    expect(await fingerprint(h2, VOLUME)).toBe(await fingerprint(h1, VOLUME));
  }, 300_000);

  it('refuses a copy that changed on the target since it was made, and leaves both sides as they are', async () => {
    await inVolume(h2, VOLUME, 'echo written-on-the-target > /data/target-note');
    const sourceBefore = await fingerprint(h1, VOLUME);
    const targetBefore = await fingerprint(h2, VOLUME);
    await untilUnusedOnTarget(VOLUME);
    const refused = await migrate(VOLUME, 'incremental');
    expect(refused.status, explain(refused)).toBe('rolled_back');
    expect(refused.error).toMatch(/changed there since migration \S+ made this copy/);
    expect(await fingerprint(h2, VOLUME)).toBe(targetBefore);
    expect(await fingerprint(h1, VOLUME)).toBe(sourceBefore);
  }, 240_000);

  it('keeps a target volume that no migration made a conflict', async () => {
    const { status, json } = await api<ApiError>('POST', '/api/migrations', {
      source_worker_id: source,
      target_worker_id: target,
      volume_names: [FOREIGN],
      strategy: 'incremental',
    });
    expect(status).toBe(412);
    const conflict = json.error?.details?.findings?.find((f) => f.code === 'name_conflict');
    expect(conflict?.message).toContain('not a copy a migration made');
    expect((await inVolume(h2, FOREIGN, 'cat /data/file')).trim()).toBe('the-targets-own');
  });

  it('re-syncs a volume whose source keeps running and writing (keep_running): the copy is a moment of it', async () => {
    await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, RESYNC);
    await inVolume(h1, RESYNC, 'dd if=/dev/urandom of=/data/big bs=1M count=16 2>/dev/null');
    await docker(
      h1,
      'run',
      '-d',
      '--name',
      WRITER,
      '--label',
      `${runLabel}=1`,
      '-v',
      `${RESYNC}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'i=0; while true; do i=$((i+1)); echo "line $i" >> /data/log; sleep 0.02; done',
    );
    for (const round of [1, 2]) {
      const resync = await migrate(RESYNC, 'incremental', { source_policy: 'keep_running' });
      expect(resync.status, explain(resync)).toBe('completed');
      // The source never stopped, and the copy holds the log as it was at some moment: a prefix of the source's.
      expect((await docker(h1, 'inspect', '-f', '{{.State.Running}}', WRITER)).trim()).toBe('true');
      const copied = await inVolume(h2, RESYNC, 'cat /data/log');
      const now = await docker(h1, 'exec', WRITER, 'cat', '/data/log');
      expect(copied.split('\n').length).toBeGreaterThan(1);
      expect(now.startsWith(copied.slice(0, copied.lastIndexOf('\n') + 1))).toBe(true);
      if (round === 2) expect(sentBytes(resync)).toBeLessThan(4 * MiB); // the log's growth, not the 16 MiB
      await untilUnusedOnTarget(RESYNC);
    }
  }, 240_000);

  it('refuses a plan that would move nothing before anything stops: the writing source keeps running', async () => {
    // RESYNC is on the target already (the re-sync above); under `full` and `skip` it would be skipped.
    const before = await docker(h1, 'inspect', '-f', '{{.State.StartedAt}}', WRITER);
    const count = async (): Promise<number> =>
      (await api<{ migrations: { id: string }[] }>('GET', '/api/migrations?limit=100')).json.migrations
        .length;
    const migrations = await count();
    const { status, json } = await api<ApiError>('POST', '/api/migrations', {
      source_worker_id: source,
      target_worker_id: target,
      volume_names: [RESYNC],
      conflict_policy: 'skip',
    });
    expect(status).toBe(412);
    const finding = json.error?.details?.findings?.find((f) => f.code === 'nothing_to_move');
    expect(finding?.message).toContain(`volume ${RESYNC}`);
    expect((await docker(h1, 'inspect', '-f', '{{.State.Running}}', WRITER)).trim()).toBe('true');
    expect(await docker(h1, 'inspect', '-f', '{{.State.StartedAt}}', WRITER)).toBe(before);
    expect(await count()).toBe(migrations); // nothing was started
  });
});
