// Moving back, end to end: the built binary as master and workers, two real Docker hosts. A container with its
// volume and network moves from h1 to h2 (keep_stopped leaves them on h1); it runs on h2 and writes there; then
// POST /api/migrations/:id/reverse moves it back. Checked as a user would: no conflict policy needed, the one
// container of that name on h1 runs again with every byte written on h2, nothing kept aside is left over, only
// what changed travelled; the two migrations name each other, and a second move back is refused. Then a container
// whose shell ignores SIGTERM: preflight says so, and the migration's stop_timeout shortens the wait.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';
import { masterApi } from '../support/master-api.js';
import { startTestMaster, startTestWorkers, type RunningProcess } from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-back-${id}`;
const docker = dockerCli;
const CONTAINER = `backweb-${id}`;
const VOLUME = `backvol-${id}`;
const NETWORK = `backnet-${id}`;
const IMAGE = `backimg-${id}:1`;
const STUBBORN = `stubborn-${id}`;
const MiB = 1024 * 1024;
const execFileAsync = promisify(execFile);

interface MigrationJson {
  id: string;
  status: string;
  error: string | null;
  downtime_ms: number | null;
  downtime_started_at: string | null;
  reverse_of: string | null;
  reversed_by: string | null;
  left_on_source: { type: string; name: string; state: string }[];
  rounds: { bytes: number }[];
  resources: { type: string; name: string; target_name: string; action: string; status: string }[];
  events?: { message: string; level: string }[];
}

let master: RunningProcess;
const workers: RunningProcess[] = [];
let apiUrl = '';
let hostA = '';
let hostB = '';

const { call: api, workerId, finished: finishedMigration } = masterApi(() => apiUrl, adminToken);

function explain(migration: MigrationJson): string {
  return `${migration.error ?? ''}\n${(migration.events ?? []).map((e) => e.message).join('\n')}`;
}

function finished(migrationId: string): Promise<MigrationJson> {
  return finishedMigration<MigrationJson>(migrationId);
}

/** The content of every file in the volume but the start log, as one digest: what must be equal on both hosts. */
function dataDigest(host: TestDockerHost): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/data`,
    host.baseImage,
    'sh',
    '-c',
    'cd /data && find . -type f ! -name starts | sort | xargs md5sum | md5sum',
  );
}

/** Names of the containers on the host whose name begins with the container's (kept-aside copies included). */
async function namesLike(host: TestDockerHost): Promise<string[]> {
  const out = await docker(host, 'ps', '-a', '--filter', `name=${CONTAINER}`, '--format', '{{.Names}}');
  return out === '' ? [] : out.split('\n').sort();
}

interface MigratedTo {
  migration_id: string;
  worker_id: string;
  worker_name: string | null;
  name: string;
  state: string;
}

/** A worker's resources that carry a "migrated to" mark, by "type name". */
async function migratedMarks(workerId: string): Promise<Record<string, MigratedTo>> {
  type Item = { name?: string; names?: string[]; tags?: string[]; migrated_to?: MigratedTo };
  const { json } = await api<Record<'containers' | 'images' | 'volumes' | 'networks', Item[]>>(
    'GET',
    `/api/workers/${workerId}/resources`,
  );
  const marks: Record<string, MigratedTo> = {};
  for (const type of ['containers', 'images', 'volumes', 'networks'] as const)
    for (const item of json[type])
      if (item.migrated_to)
        marks[`${type.slice(0, -1)} ${item.name ?? item.tags?.[0] ?? ''}`] = item.migrated_to;
  return marks;
}

const state = (host: TestDockerHost): Promise<string> =>
  docker(host, 'inspect', '-f', '{{.State.Status}}', CONTAINER);

beforeAll(async () => {
  let joinArgs: string[];
  ({ master, apiUrl, joinArgs } = await startTestMaster('back', adminToken));
  workers.push(
    ...startTestWorkers(joinArgs, [
      [`back-a-${id}`, h1],
      [`back-b-${id}`, h2],
    ]),
  );
  await docker(h1, 'network', 'create', '--label', `${runLabel}=1`, NETWORK);
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await docker(
    h1,
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    'dd if=/dev/urandom of=/data/big bs=1M count=24 2>/dev/null && echo v1 > /data/version',
  );
  // An image of its own (each test host's base image has another id, so it could not move under its tag).
  await execFileAsync('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  // Each start appends a line to /data/starts: the volume tells where the service ran, in order.
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--label',
    `${runLabel}=1`,
    '--network',
    NETWORK,
    '-v',
    `${VOLUME}:/data`,
    IMAGE,
    'sh',
    '-c',
    'hostname >> /data/starts; trap "exit 0" TERM; while true; do sleep 1; done',
  );
  [hostA, hostB] = [await workerId(`back-a-${id}`), await workerId(`back-b-${id}`)];
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  for (const host of [h1, h2]) {
    await removeLabelled(engineOverSocket(host), runLabel);
    await docker(host, 'rm', '-f', STUBBORN).catch(() => undefined);
    for (const name of await namesLike(host).catch(() => []))
      await docker(host, 'rm', '-f', name).catch(() => undefined);
    await docker(host, 'volume', 'rm', '-f', VOLUME).catch(() => undefined);
    await docker(host, 'network', 'rm', NETWORK).catch(() => undefined);
    await docker(host, 'image', 'rm', '-f', IMAGE).catch(() => undefined);
  }
});

describe('moving back', () => {
  let forth: MigrationJson;

  it('moves the container to h2 and says what it left on h1', async () => {
    const created = await api<{ migration: MigrationJson }>('POST', '/api/migrations', {
      source_worker_id: hostA,
      target_worker_id: hostB,
      container_ids: [CONTAINER],
      strategy: 'incremental',
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    forth = await finished(created.json.migration.id);
    expect(forth.status, explain(forth)).toBe('completed');
    expect(await state(h2)).toBe('running');
    expect(await state(h1)).toBe('exited');
    expect(forth.left_on_source.map((l) => `${l.type} ${l.name} ${l.state}`).sort()).toEqual(
      [
        `container ${CONTAINER} stopped`,
        `image ${IMAGE} kept`,
        `network ${NETWORK} kept`,
        `volume ${VOLUME} kept`,
      ].sort(),
    );
    expect(forth.reverse_of).toBeNull();
    expect(forth.reversed_by).toBeNull();
    // h1's resource list marks the leftovers with where they went.
    const marks = await migratedMarks(hostA);
    expect(marks[`container ${CONTAINER}`]).toEqual({
      migration_id: forth.id,
      worker_id: hostB,
      worker_name: `back-b-${id}`,
      name: CONTAINER,
      state: 'stopped',
    });
    expect(marks[`volume ${VOLUME}`]?.migration_id).toBe(forth.id);
  });

  it('moves it back without a conflict policy, reusing what was left and sending only what changed', async () => {
    // Written on h2 after the move: must come back.
    await docker(h2, 'exec', CONTAINER, 'sh', '-c', 'echo v2 > /data/version && echo new > /data/made-on-b');
    const preview = await api<{ blocked: boolean; findings: { code: string; message: string }[] }>(
      'POST',
      `/api/migrations/${forth.id}/reverse`,
      { dry_run: true },
    );
    expect(preview.status, JSON.stringify(preview.json)).toBe(200);
    expect(preview.json.blocked, JSON.stringify(preview.json.findings)).toBe(false);
    expect(preview.json.findings.filter((f) => f.code === 'leftover_reused')).toHaveLength(3);

    const created = await api<{ migration: MigrationJson }>(
      'POST',
      `/api/migrations/${forth.id}/reverse`,
      {},
    );
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const back = await finished(created.json.migration.id);
    expect(back.status, explain(back)).toBe('completed');
    expect(back.reverse_of).toBe(forth.id);
    const actions = Object.fromEntries(back.resources.map((r) => [`${r.type} ${r.name}`, r.action]));
    expect(actions).toMatchObject({
      [`container ${CONTAINER}`]: 'overwrite',
      [`volume ${VOLUME}`]: 'update',
      [`network ${NETWORK}`]: 'skip',
    });

    // One container of that name on h1, running, with what was written on h2; none kept aside.
    expect(await namesLike(h1)).toEqual([CONTAINER]);
    expect(await state(h1)).toBe('running');
    expect(await state(h2)).toBe('exited');
    expect(await dataDigest(h1)).toBe(await dataDigest(h2));
    expect(
      await docker(
        h1,
        'run',
        '--rm',
        '-v',
        `${VOLUME}:/data`,
        h1.baseImage,
        'cat',
        '/data/version',
        '/data/made-on-b',
      ),
    ).toBe('v2\nnew');
    // Started on h1, then on h2, then on h1 again: the same volume all along.
    const starts = await docker(h1, 'exec', CONTAINER, 'cat', '/data/starts');
    expect(starts.split('\n')).toHaveLength(3);
    // Only what changed travelled: far less than the 24 MiB the volume holds.
    const sent = back.rounds.reduce((sum, r) => sum + r.bytes, 0);
    expect(sent).toBeLessThan(2 * MiB);

    const { json } = await api<{ migration: MigrationJson }>('GET', `/api/migrations/${forth.id}`);
    expect(json.migration.reversed_by).toBe(back.id);
    // Moved back: nothing on h1 is marked any more; what the move back left on h2 is.
    expect(Object.keys(await migratedMarks(hostA)).filter((k) => k.includes(id))).toEqual([]);
    expect((await migratedMarks(hostB))[`container ${CONTAINER}`]).toMatchObject({
      migration_id: back.id,
      worker_name: `back-a-${id}`,
      state: 'stopped',
    });
  });

  it('refuses a second move back of the same migration, naming the first', async () => {
    const again = await api<{ error: { code: string; message: string } }>(
      'POST',
      `/api/migrations/${forth.id}/reverse`,
      {},
    );
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe('conflict');
    expect(again.json.error.message).toMatch(/was already moved back by m-/);
  });

  it('answers 404 for an unknown migration and 400 for a field it does not know', async () => {
    const unknown = await api<{ error: { code: string } }>('POST', '/api/migrations/m-nosuch/reverse', {});
    expect(unknown.status).toBe(404);
    const bad = await api<{ error: { code: string; message: string } }>(
      'POST',
      `/api/migrations/${forth.id}/reverse`,
      { target_worker_id: hostB },
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/invalid move back request/);
  });
});

describe('a container that ignores its stop signal', () => {
  it('is named by preflight, and stopped after the stop_timeout the migration sets', async () => {
    await docker(
      h1,
      'run',
      '-d',
      '--name',
      STUBBORN,
      '--label',
      `${runLabel}=1`,
      IMAGE,
      'sh',
      '-c',
      `trap '' TERM; while true; do sleep 1; done`,
    );
    const body = { source_worker_id: hostA, target_worker_id: hostB, container_ids: [STUBBORN] };
    const preview = await api<{ findings: { code: string; severity: string; message: string }[] }>(
      'POST',
      '/api/migrations',
      { ...body, dry_run: true },
    );
    expect(preview.status, JSON.stringify(preview.json)).toBe(200);
    const note = preview.json.findings.find((f) => f.code === 'stop_signal_ignored');
    expect(note?.severity).toBe('warning');
    expect(note?.message).toContain(`container ${STUBBORN} runs a shell as its main process`);
    expect(note?.message).toContain("Docker's default stop timeout of 10 s");

    const created = await api<{ migration: MigrationJson }>('POST', '/api/migrations', {
      ...body,
      stop_timeout: 2,
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const moved = await finished(created.json.migration.id);
    expect(moved.status, explain(moved)).toBe('completed');
    const stopped = (moved.events ?? []).find((e) => e.message.startsWith(`container ${STUBBORN} stopped`));
    expect(stopped?.level).toBe('warning');
    expect(stopped?.message).toMatch(
      /in [23]\.\d s: waited out the 2 s stop grace period this migration set/,
    );
    // Killed after 2 s, not 10: the downtime says so.
    expect(moved.downtime_ms).toBeGreaterThanOrEqual(2_000);
    expect(moved.downtime_ms).toBeLessThan(10_000);
    expect(await docker(h1, 'inspect', '-f', '{{.State.ExitCode}}', STUBBORN)).toBe('137');
    expect(await docker(h2, 'inspect', '-f', '{{.State.Status}}', STUBBORN)).toBe('running');
  });
});
