// Two masters on one PostgreSQL, two workers on real Docker hosts that know both masters' addresses. The leader
// is killed (SIGKILL) while a container's volume is on the wire: the other master takes the lease, the workers
// reconnect to it, and it ends the migration by its journal — completed or rolled back, the volume's checksum
// equal either way, the container running on exactly one host. Then the new leader is frozen (SIGSTOP) past its
// lease while a migration is held at a phase: the first master leads again and ends that migration; thawed
// (SIGCONT), the frozen one finds itself fenced — it steps down, and nothing it still had in flight changes the
// outcome. The API, with every event of both migrations, answers through whichever master is asked. Last, the
// leader is stopped while the source container's stop waits out its grace period: the migration rolls back and the
// source runs again for good (the worker runs the new leader's commands only after the old leader's stop ended).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import {
  appNames,
  containerState,
  createApp,
  volumeChecksum,
  volumeExists,
  type AppNames,
} from '../faults/fixture.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { ENDED_STATUSES, masterApi } from '../support/master-api.js';
import { startTestPostgres, type TestPostgres } from '../support/postgres.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';
import { freePort } from '../support/ports.js';

const exec = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-ha-${id}`;
const enrollmentToken = `dm-enroll-e2e-ha-${id}`;
const app: AppNames = appNames(`ha${id}`);
/** The root namespace's end of h1's veth: both masters listen there, so workers in every namespace reach them. */
const MASTER_HOST = h1.ip.replace(/\.\d+$/, '.1');
/** Traffic into the target is shaped so that the volume takes several seconds to move. */
const LINK_RATE = '24mbit';
/** Held at this phase, the second migration is where the frozen leader leaves it. */
const FAILPOINTS = 'pause:start=25s';

interface MigrationJson {
  id: string;
  status: string;
  phase: string;
  error: string | null;
  bytes_transferred: number;
  events?: { phase: string; message: string; level?: string }[];
}

interface Master {
  name: string;
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  process?: RunningProcess;
}

const running: RunningProcess[] = [];
let postgres: TestPostgres | undefined;
let storeUrl = '';
let kekFile = '';
const masters: Master[] = [];

function apiUrl(master: Master): string {
  return `http://${MASTER_HOST}:${master.httpPort}`;
}

function grpcUrl(master: Master): string {
  return `${MASTER_HOST}:${master.grpcPort}`;
}

async function startMaster(master: Master): Promise<{ caHash: string }> {
  const started = startProcess(
    [
      'master',
      '--http-addr',
      `${MASTER_HOST}:${master.httpPort}`,
      '--grpc-addr',
      grpcUrl(master),
      '--relay-addr',
      `${MASTER_HOST}:0`,
      '--data-dir',
      master.dataDir,
      '--admin-token',
      adminToken,
      '--enrollment-token',
      enrollmentToken,
      '--heartbeat-interval',
      '1s',
      '--store-url',
      storeUrl,
      '--ca-key-kek',
      kekFile,
    ],
    { DOCKER_MIGRATE_MASTER_FAILPOINTS: FAILPOINTS },
  );
  master.process = started;
  running.push(started);
  const { joinArgs } = await masterAddresses(started);
  return { caHash: joinArgs[joinArgs.indexOf('--ca-hash') + 1] ?? '' };
}

/** One API request to `master`, given up after 15 s (a frozen master never answers). */
function call<T>(master: Master, method: string, path: string, body?: unknown) {
  return masterApi(() => apiUrl(master), adminToken, { timeoutMs: 15_000 }).call<T>(method, path, body);
}

async function health(master: Master): Promise<{ status: string; leader: boolean; epoch: number }> {
  const response = await fetch(`${apiUrl(master)}/health`, { signal: AbortSignal.timeout(5_000) });
  return (await response.json()) as { status: string; leader: boolean; epoch: number };
}

async function leads(master: Master, epochAbove: number, timeoutMs: number): Promise<number> {
  return eventually(
    `${master.name} leading past epoch ${epochAbove}`,
    async () => {
      const seen = await health(master).catch(() => undefined);
      return seen?.leader === true && seen.epoch > epochAbove ? seen.epoch : undefined;
    },
    timeoutMs,
  );
}

/**
 * Starts a migration of `containers` between two workers through `via`, once the leader's inventory lists them (a
 * dry run no longer blocked; asked through `via` too, which forwards when it stands by). Returns its id.
 */
async function startMigration(
  via: Master,
  [from, to]: readonly string[],
  containers: string[],
  options: Record<string, unknown> = {},
): Promise<string> {
  const body = { source_worker_id: from, target_worker_id: to, container_ids: containers, ...options };
  await eventually(
    `the inventory to list ${containers.join(', ')}`,
    async () => {
      const { json } = await call<{ blocked?: boolean }>(via, 'POST', '/api/migrations', {
        ...body,
        dry_run: true,
      });
      return json.blocked === false ? true : undefined;
    },
    60_000,
  );
  const created = await call<{ migration: MigrationJson }>(via, 'POST', '/api/migrations', {
    ...body,
    transfer_mode: 'direct',
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  return created.json.migration.id;
}

async function workersOnline(master: Master, names: string[]): Promise<void> {
  await eventually(
    `workers ${names.join(', ')} online through ${master.name}`,
    async () => {
      type Workers = { workers?: { name: string; status: string }[] };
      const empty: Workers = {};
      const { status, json } = await call<Workers>(master, 'GET', '/api/workers').catch(() => ({
        status: 0,
        json: empty,
      }));
      if (status !== 200) return undefined;
      const online = new Set(json.workers?.filter((w) => w.status === 'online').map((w) => w.name));
      return names.every((name) => online.has(name)) ? true : undefined;
    },
    60_000,
  );
}

async function migration(master: Master, migrationId: string): Promise<MigrationJson> {
  const { json } = await call<{ migration: MigrationJson }>(master, 'GET', `/api/migrations/${migrationId}`);
  return json.migration;
}

async function ended(master: Master, migrationId: string): Promise<MigrationJson> {
  return eventually(
    `migration ${migrationId} ended`,
    async () => {
      const current = await migration(master, migrationId).catch(() => undefined);
      return current !== undefined && ENDED_STATUSES.includes(current.status) ? current : undefined;
    },
    180_000,
  );
}

interface StreamedEvent {
  id: number | undefined;
  name: string;
  data: unknown;
}

/**
 * The event stream from the start of the log (?last_event_id=0), read until it has been quiet for a while: what a
 * browser that lost its master and lands on this one catches up on.
 */
async function replayedEvents(master: Master): Promise<StreamedEvent[]> {
  const stop = new AbortController();
  const response = await fetch(`${apiUrl(master)}/api/events?last_event_id=0`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: stop.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: StreamedEvent[] = [];
  let buffer = '';
  for (;;) {
    const quiet = new Promise<'quiet'>((resolve) =>
      setTimeout(() => {
        resolve('quiet');
      }, 3_000),
    );
    const next = await Promise.race([reader.read(), quiet]);
    if (next === 'quiet' || next.done) break;
    buffer += next.value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const field = (name: string) =>
        block
          .split('\n')
          .find((line) => line.startsWith(`${name}: `))
          ?.slice(name.length + 2);
      const name = field('event');
      if (name === undefined) continue;
      const idText = field('id');
      events.push({
        id: idText === undefined ? undefined : Number(idText),
        name,
        data: JSON.parse(field('data') ?? 'null'),
      });
    }
  }
  stop.abort();
  return events;
}

/** Where the app runs now, after a migration that completed (target) or rolled back (source). */
async function checkOutcome(
  outcome: MigrationJson,
  from: TestDockerHost,
  to: TestDockerHost,
  checksum: string,
): Promise<TestDockerHost> {
  expect(['completed', 'rolled_back'], `${outcome.status}: ${outcome.error ?? ''}`).toContain(outcome.status);
  const [runsOn, other] = outcome.status === 'completed' ? [to, from] : [from, to];
  expect(await containerState(runsOn, app.container)).toEqual({ exists: true, running: true });
  expect((await containerState(other, app.container)).running).toBe(false);
  expect(await volumeChecksum(runsOn, app.volume)).toBe(checksum);
  if (outcome.status === 'rolled_back') expect(await volumeExists(to, app.volume)).toBe(false);
  return runsOn;
}

const workerNames = [`ha-a-${id}`, `ha-b-${id}`];

function startWorkers(caHash: string): void {
  for (const [index, host] of [h1, h2].entries()) {
    running.push(
      startProcess(
        [
          'worker',
          '--master-url',
          masters.map(grpcUrl).join(','),
          '--token',
          enrollmentToken,
          '--ca-hash',
          caHash,
          '--name',
          workerNames[index]!,
          '--data-dir',
          tempDir(`ha-worker-${host.name}`),
          '--grpc-addr',
          `${host.ip}:7443`,
          '--reconnect-interval',
          '200ms',
          '--max-reconnect-interval',
          '1s',
        ],
        { DOCKER_HOST: host.socket },
        { netns: host.netns },
      ),
    );
  }
}

beforeAll(async () => {
  postgres = await startTestPostgres();
  storeUrl = await postgres.createDatabase(`e2e_ha_${id}`);
  kekFile = join(tempDir('ha-kek'), 'kek');
  writeFileSync(kekFile, Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 7 + 3) % 256)), {
    mode: 0o600,
  });
  for (const name of ['alpha', 'beta']) {
    masters.push({
      name,
      httpPort: await freePort(MASTER_HOST),
      grpcPort: await freePort(MASTER_HOST),
      dataDir: tempDir(`ha-${name}`),
    });
  }
}, 60_000);

afterAll(async () => {
  await exec('tc', ['qdisc', 'del', 'dev', h2.netns, 'root']).catch(() => undefined);
  for (const process of running) {
    if (process.child.signalCode === null && process.child.exitCode === null) process.child.kill('SIGCONT');
  }
  await Promise.all(running.map((p) => p.stop()));
  await postgres?.stop();
  for (const host of [h1, h2]) await removeLabelled(engineOverSocket(host), runLabel);
});

describe('two masters on one PostgreSQL', () => {
  it('survives the leader killed mid-transfer, then a frozen leader fenced, with nothing lost', async () => {
    const [alpha, beta] = masters as [Master, Master];
    const { caHash } = await startMaster(alpha);
    expect(await health(alpha)).toEqual({ status: 'ok', leader: true, epoch: 1 });
    const second = await startMaster(beta);
    // One CA for both: a worker enrolled through one is known to the other.
    expect(second.caHash).toBe(caHash);
    expect(await health(beta)).toEqual({ status: 'ok', leader: false, epoch: 1 });
    startWorkers(caHash);
    // Through the standby: it forwards the API to the leader.
    await workersOnline(beta, workerNames);

    const checksum = await createApp(h1, app, runLabel, 'sleeper');
    await exec('tc', [
      'qdisc',
      'replace',
      'dev',
      h2.netns,
      'root',
      'tbf',
      'rate',
      LINK_RATE,
      'burst',
      '256kb',
      'latency',
      '200ms',
    ]);
    const first = await startMigration(beta, workerNames, [app.container]);
    await eventually(
      'the volume on the wire',
      async () => {
        const now = await migration(alpha, first);
        return now.phase === 'transfer' && now.bytes_transferred > 0 ? true : undefined;
      },
      60_000,
    );

    // SIGKILL: no hand-over; the lease runs out and the standby takes it.
    const killedAt = Date.now();
    await alpha.process?.stop('SIGKILL');
    const epoch2 = await leads(beta, 1, 30_000);
    const failoverMs = Date.now() - killedAt;
    expect(epoch2).toBe(2);
    expect(failoverMs).toBeLessThan(20_000);
    await workersOnline(beta, workerNames);
    await exec('tc', ['qdisc', 'del', 'dev', h2.netns, 'root']).catch(() => undefined);
    const outcome1 = await ended(beta, first);
    const events1 = outcome1.events?.map((e) => e.message) ?? [];
    // Ended by the new leader from the journal, once, with its reason in the events.
    expect(events1.some((m) => m.includes('the master running this migration stopped'))).toBe(true);
    let where = await checkOutcome(outcome1, h1, h2, checksum);

    // The first master comes back as a standby and forwards.
    await startMaster(alpha);
    expect(await health(alpha)).toMatchObject({ leader: false, epoch: 2 });
    expect(await migration(alpha, first)).toEqual(await migration(beta, first));

    // The leader is frozen while a migration is held at a phase: past its lease, the other master leads.
    const [from, to] = where === h1 ? [h1, h2] : [h2, h1];
    const names = where === h1 ? workerNames : [...workerNames].reverse();
    const secondId = await startMigration(beta, names, [app.container]);
    await eventually(
      'the migration held before start',
      async () => {
        const now = await migration(beta, secondId);
        return now.events?.some((e) => e.message.startsWith('failpoint: paused')) ? true : undefined;
      },
      120_000,
    );
    beta.process?.child.kill('SIGSTOP');
    const epoch3 = await leads(alpha, 2, 30_000);
    expect(epoch3).toBe(3);
    await workersOnline(alpha, workerNames);
    const outcome2 = await ended(alpha, secondId);
    where = await checkOutcome(outcome2, from, to, checksum);

    // Thawed, the old leader notices it lost the lease and steps down; what it had in flight changes nothing.
    beta.process?.child.kill('SIGCONT');
    await beta.process?.waitFor(/this master stops leading/, 30_000);
    await eventually(
      'the thawed master standing by',
      async () => {
        const seen = await health(beta).catch(() => undefined);
        return seen?.leader === false && seen.epoch === 3 ? true : undefined;
      },
      30_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    const after = await migration(beta, secondId);
    expect(after.status).toBe(outcome2.status);
    expect(after.events).toEqual(outcome2.events);
    expect(await checkOutcome(after, from, to, checksum)).toBe(where);
    expect(await health(alpha)).toMatchObject({ leader: true, epoch: 3 });

    // Every event of both migrations, through either master.
    expect((await migration(beta, first)).events).toEqual(outcome1.events);
    expect((await migration(alpha, first)).events).toEqual(outcome1.events);

    // The live stream through the standby replays the log the three terms wrote: ids increasing, no reset, and
    // each migration's events exactly as stored — the first written partly by the killed master, partly by beta.
    const streamed = await replayedEvents(beta);
    expect(streamed.map((e) => e.name)).not.toContain('reset');
    const ids = streamed.filter((e) => e.name !== 'hello').map((e) => e.id ?? -1);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every((value, i) => value > (ids[i - 1] ?? 0))).toBe(true);
    const messagesOf = (migrationId: string) =>
      streamed
        .filter((e) => e.name === 'migration.event')
        .map((e) => e.data as { migration_id: string; event: { message: string } })
        .filter((data) => data.migration_id === migrationId)
        .map((data) => data.event.message);
    expect(messagesOf(first)).toEqual(outcome1.events?.map((e) => e.message));
    expect(messagesOf(secondId)).toEqual(outcome2.events?.map((e) => e.message));

    // The leader is stopped (SIGTERM) while the source container's stop waits out its grace period (this one
    // ignores SIGTERM): the new leader rolls back, and the worker runs its commands only once the old leader's stop
    // has ended — so the container runs again on the source, and still runs after that grace period is long over.
    const stubborn = `${app.container}-stubborn`;
    const source3 = where;
    await dockerCli(
      source3,
      'run',
      '-d',
      '--name',
      stubborn,
      '--label',
      `${runLabel}=1`,
      source3.baseImage,
      'sh',
      '-c',
      'trap "" TERM; while :; do sleep 1; done',
    );
    const names3 = where === h1 ? workerNames : [...workerNames].reverse();
    // The base image is on both hosts under one tag, built apart: the target keeps its own.
    const thirdId = await startMigration(alpha, names3, [stubborn], { conflict_policy: 'skip' });
    await eventually(
      'the source container being stopped',
      async () => {
        const now = await migration(alpha, thirdId);
        return now.events?.some((e) => e.message.startsWith('stopping container')) ? true : undefined;
      },
      120_000,
    );
    await alpha.process?.stop('SIGTERM');
    expect(await leads(beta, 3, 30_000)).toBe(4);
    const outcome3 = await ended(beta, thirdId);
    expect(outcome3.status, outcome3.error ?? '').toBe('rolled_back');
    // Past the 10 s grace period of the old leader's stop, counted from before the failover.
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    expect(await containerState(source3, stubborn)).toEqual({ exists: true, running: true });
    expect((await containerState(source3 === h1 ? h2 : h1, stubborn)).exists).toBe(false);
  });
});
