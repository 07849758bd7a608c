// Fault injection against the built binary and real engines: a running container with a volume of known checksum
// is migrated while one fault strikes at one phase; every case must end completed (runs on the target, same data)
// or rolled back (runs on the source, same data, nothing of the migration left on the target) — never both down,
// never data lost, never stuck running. Warm cases move a container that keeps writing, with faults mid pre-copy
// rounds 1 and 2 and mid final round. Prints both tables and writes .artifacts/faults-table{,-warm}.md.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { dockerCli, newRunLabel, testDockerHost, type TestDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { createFaultCluster, type FaultCluster, type MigrationJson } from './cluster.js';
import {
  appNames,
  containerState,
  counterState,
  createApp,
  leftovers,
  restore,
  snapshot,
  volumeChecksum,
  volumeExists,
  type AppNames,
  type CounterState,
  type EngineSnapshot,
} from './fixture.js';
import {
  caseKey,
  FAULT_TITLES,
  faultCases,
  renderTable,
  renderWarmTable,
  warmFaultCases,
  type FaultCase,
  type Mode,
  type Outcome,
  type WarmColumn,
} from './matrix.js';

const exec = promisify(execFile);
const source = testDockerHost(0);
const target = testDockerHost(1);
/** Target of the disk-full case: its volumes filesystem is smaller than the volume (hosts-setup.ts). */
const smallTarget = testDockerHost(2);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const names = appNames(id);
/** The warm cases' container, which keeps writing (fixture.ts); made at the first warm case. */
const warmNames = appNames(`w${id}`);

/** How long the master holds the phase under test; the fault strikes at its start. */
const PAUSE = '4s';
/** A killed worker stays down past the pause, so the runner meets its absence. */
const WORKER_DOWN_MS = 6_000;
const MASTER_DOWN_MS = 1_000;
/** Longer than the stall timeout given to the master (5 s) and than its worker timeout (4 s). */
const LINK_DOWN_MS = 8_000;
/** Traffic into the targets is shaped so that the volume takes a few seconds to move: "mid-transfer" is a window. */
const TARGET_LINK_RATE = '120mbit';
/** A migration not finished this long after its fault counts as stuck. */
const FINISH_TIMEOUT_MS = 150_000;
const FINISHED = new Set(['completed', 'rolled_back', 'failed', 'cancelled']);
/**
 * Warm requests: a budget no round can meet, so that pre-copying stops after max_rounds (round 1, then round 2 with
 * what the writer changed meanwhile) and the final round has the writer's last seconds to send.
 */
const WARM_REQUEST = { mode: 'warm', downtime_budget: '100ms', max_rounds: 2 };
/** How long after a warm migration ended the source worker may still keep its sync session (back from a kill). */
const SESSION_DROPPED_MS = 20_000;
/** Bytes over the target's link since the previous copy ended that show round 2's or the final round's moving. */
const COPY_MOVING_BYTES = 1024 * 1024;

const outcomes = new Map<string, Outcome>();
const baselines = new Map<string, EngineSnapshot>();
let cluster: FaultCluster;
let checksum = '';
/** The warm volume's checksum, its writer's folder (live/) left out: what it held before it started writing. */
let warmChecksum: string | undefined;
/** Where in the copy a mid-copy warm case struck, by migration id, for its line under the table. */
const strikes = new Map<string, string>();
/** When each mode's first case started and its last one ended, for the tables' totals. */
const spans = new Map<Mode, { from: number; to: number }>();

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function ip(...args: string[]): Promise<void> {
  await exec('ip', args);
}

/** The root namespace's end of a host's veth is named like the host's namespace (scripts/docker-hosts.sh). */
async function setLink(host: TestDockerHost, state: 'up' | 'down'): Promise<void> {
  await ip('link', 'set', host.netns, state);
}

async function shapeLink(host: TestDockerHost): Promise<void> {
  await exec('tc', [
    'qdisc',
    'replace',
    'dev',
    host.netns,
    'root',
    'tbf',
    'rate',
    TARGET_LINK_RATE,
    'burst',
    '256kb',
    'latency',
    '200ms',
  ]);
}

async function unshapeLink(host: TestDockerHost): Promise<void> {
  await exec('tc', ['qdisc', 'del', 'dev', host.netns, 'root']).catch(() => undefined);
}

function namesOf(c: FaultCase): AppNames {
  return c.mode === 'warm' ? warmNames : names;
}

/** Bytes the root namespace sent into the host's namespace so far: what the link into the host carried. */
function linkBytesInto(host: TestDockerHost): number {
  return Number(readFileSync(`/sys/class/net/${host.netns}/statistics/tx_bytes`, 'utf8'));
}

/** Where the source worker keeps what it knows of a warm migration between rounds (worker/sync-sessions.ts). */
function syncSessionFolder(migrationId: string): string {
  return join(cluster.workerDataDir(source), 'sync-sessions', migrationId);
}

async function ensureWarmApp(): Promise<void> {
  warmChecksum ??= await createApp(source, warmNames, runLabel, 'writer');
}

function targetOf(c: FaultCase): TestDockerHost {
  return c.fault === 'disk_full' ? smallTarget : target;
}

function baselineOf(host: TestDockerHost): EngineSnapshot {
  const found = baselines.get(host.name);
  if (!found) throw new Error(`no baseline of ${host.name}`);
  return found;
}

/**
 * Same master settings as the case needs, every process up, targets as before the suite, source running. Answers
 * the warm writer's counter as it is before the migration (what a rollback must keep at least).
 */
async function prepareCase(c: FaultCase): Promise<CounterState | undefined> {
  await setLink(target, 'up');
  cluster.takeCrashes();
  await cluster.ensureMaster({ failpoints: c.trigger === 'failpoint' ? `pause:${c.phase}=${PAUSE}` : '' });
  await cluster.ensureWorkers();
  await restore(target, baselineOf(target));
  await restore(smallTarget, baselineOf(smallTarget));
  if (c.mode === 'warm') await ensureWarmApp();
  const app = namesOf(c);
  const state = await containerState(source, app.container);
  if (!state.exists) throw new Error(`the source container ${app.container} is gone`);
  if (!state.running) await dockerCli(source, 'start', app.container);
  // The master plans from its inventory: wait until it sees the source running and the target free again.
  await eventually(
    "the master's inventory to catch up",
    async () => {
      const { json } = await cluster.api('POST', '/api/migrations', {
        ...request(c),
        dry_run: true,
      });
      return json.blocked === false && json.findings?.some((f) => f.code === 'container_running_source')
        ? true
        : undefined;
    },
    60_000,
  );
  if (c.mode !== 'warm') return undefined;
  const counter = await counterState(source, app.volume);
  if (counter.lines === 0 || counter.firstGap !== 0)
    throw new Error(
      `the writer's counter is not as it should be before the migration: ${JSON.stringify(counter)}`,
    );
  return counter;
}

function request(c: FaultCase): Record<string, unknown> {
  return {
    source_worker_id: cluster.workerName(source),
    target_worker_id: cluster.workerName(targetOf(c)),
    container_ids: [namesOf(c).container],
    transfer_mode: 'direct',
    ...(c.mode === 'warm' ? WARM_REQUEST : {}),
  };
}

async function startMigration(c: FaultCase): Promise<MigrationJson> {
  const { status, json } = await cluster.api('POST', '/api/migrations', request(c));
  if (status !== 201 || !json.migration)
    throw new Error(`POST /api/migrations → ${status}: ${JSON.stringify(json)}`);
  return json.migration;
}

/** Where a warm migration is, as its events and phase tell. */
function warmProgress(current: MigrationJson): {
  round1Done: boolean;
  round2Done: boolean;
  sourceStopped: boolean;
} {
  const events = current.events ?? [];
  return {
    round1Done: events.some((e) => /, pre-copy round 1:/.test(e.message)),
    round2Done: events.some((e) => /, pre-copy round 2:/.test(e.message)),
    sourceStopped: events.some(
      (e) => e.phase === 'stop_source' && / stopped on the source( in [0-9.]+ s)?(:|$)/.test(e.message),
    ),
  };
}

/**
 * Where a warm migration stands towards the copy a round-2 or final-round case strikes in: before it, in it (from
 * the end of the previous copy, bytes or not), or past it. Only the link shows this copy's bytes: the API counts
 * the bytes of round 1 alone.
 */
function copyWindow(trigger: 'mid_round2' | 'mid_final', current: MigrationJson): 'before' | 'in' | 'past' {
  const { round1Done, round2Done, sourceStopped } = warmProgress(current);
  if (trigger === 'mid_round2') return !round1Done ? 'before' : round2Done || sourceStopped ? 'past' : 'in';
  if (!sourceStopped) return 'before';
  return current.phase === 'stop_source' || current.phase === 'transfer' ? 'in' : 'past';
}

const COPY_NAMES = { mid_round2: 'pre-copy round 2', mid_final: 'the final round' } as const;

function awaitedMoment(c: FaultCase): string {
  switch (c.trigger) {
    case 'mid_transfer':
      return 'volume bytes moving in phase transfer';
    case 'mid_precopy':
      return 'volume bytes moving in pre-copy round 1 (the source running)';
    case 'mid_round2':
      return `pre-copy round 2 moving ${COPY_MOVING_BYTES} bytes over the target's link (the source running)`;
    case 'mid_final':
      return `the final round moving ${COPY_MOVING_BYTES} bytes over the target's link (the source stopped)`;
    case 'failpoint':
      return `the event "failpoint: paused" in phase ${c.phase}`;
  }
}

/**
 * Waits for the moment the fault is meant for; answers why it never came (a harness error, not a pass): the
 * failpoint event did not appear, or the transfer was never seen moving.
 */
async function awaitTrigger(c: FaultCase, migrationId: string): Promise<string | undefined> {
  if (c.fault === 'disk_full') return undefined; // the fault is the filesystem itself
  const until = Date.now() + 45_000;
  /** mid_round2, mid_final: the target link's counter once the previous copy was seen over. */
  let linkBase: number | undefined;
  for (;;) {
    const current = await cluster.migration(migrationId);
    // The volume's own bytes: the image goes over in an earlier phase (warm) or the same one, before it (cold).
    const volume = current.resources?.find((r) => r.type === 'volume');
    const moving = current.phase === 'transfer' && volume?.status === 'running' && volume.bytes > 0;
    if (c.trigger === 'mid_transfer') {
      if (moving) return undefined;
    } else if (c.trigger === 'mid_precopy') {
      const { round1Done, sourceStopped } = warmProgress(current);
      if (moving && !round1Done && !sourceStopped) return undefined;
      if (round1Done) return 'pre-copy round 1 ended before its bytes were seen moving';
    } else if (c.trigger === 'mid_round2' || c.trigger === 'mid_final') {
      const window = copyWindow(c.trigger, current);
      if (window === 'past')
        return `${COPY_NAMES[c.trigger]} ended before ${COPY_MOVING_BYTES} bytes of it were seen moving (phase ${current.phase})`;
      if (window === 'in') {
        linkBase ??= linkBytesInto(target);
        const moved = linkBytesInto(target) - linkBase;
        if (moved >= COPY_MOVING_BYTES) {
          // Round 1 is confirmed by now: without its session here, "gone after" would prove nothing.
          if (!existsSync(syncSessionFolder(migrationId)))
            return `the source worker's sync session is not at ${syncSessionFolder(migrationId)} after round 1`;
          strikes.set(migrationId, `at ${(moved / 2 ** 20).toFixed(1)} MiB of ${COPY_NAMES[c.trigger]}`);
          return undefined;
        }
      }
    } else if (
      current.events?.some(
        (e) =>
          e.message.startsWith('failpoint: paused') && (e.phase === c.phase || e.message.includes(c.phase)),
      )
    ) {
      return undefined;
    }
    const awaited = awaitedMoment(c);
    const refused = cluster.refusedVariables.includes('DOCKER_MIGRATE_MASTER_FAILPOINTS')
      ? ' (the master refuses DOCKER_MIGRATE_MASTER_FAILPOINTS as an unknown variable)'
      : '';
    if (FINISHED.has(current.status))
      return `${awaited} never appeared: the migration ended ${current.status} first${c.trigger === 'failpoint' ? refused : ''}`;
    if (Date.now() > until) return `${awaited} never appeared within 45 s (phase ${current.phase})`;
    await sleep(c.trigger === 'mid_final' || c.trigger === 'mid_round2' ? 50 : 100);
  }
}

/** Strikes; answers a note when the fault itself did not go as planned. */
async function inject(c: FaultCase, migrationId: string): Promise<string | undefined> {
  switch (c.fault) {
    case 'cancel': {
      const { status, json } = await cluster.api('POST', `/api/migrations/${migrationId}/cancel`);
      return status === 200 ? undefined : `cancel answered ${status}: ${json.error?.message ?? ''}`;
    }
    case 'kill_master':
      await cluster.killMaster();
      await sleep(MASTER_DOWN_MS);
      await cluster.startMaster();
      return undefined;
    case 'kill_source_worker':
    case 'kill_target_worker': {
      const host = c.fault === 'kill_source_worker' ? source : target;
      await cluster.killWorker(host);
      await sleep(WORKER_DOWN_MS);
      cluster.startWorker(host);
      return undefined;
    }
    case 'link_cut':
      await setLink(target, 'down');
      await sleep(LINK_DOWN_MS);
      await setLink(target, 'up');
      return undefined;
    case 'disk_full':
    case 'none':
      return undefined;
  }
}

async function finish(
  migrationId: string,
  timeoutMs = FINISH_TIMEOUT_MS,
): Promise<MigrationJson | undefined> {
  try {
    return await eventually(
      `migration ${migrationId} to finish`,
      async () => {
        const current = await cluster.migration(migrationId);
        return FINISHED.has(current.status) ? current : undefined;
      },
      timeoutMs,
    );
  } catch {
    return undefined;
  }
}

async function checksumOf(host: TestDockerHost, volume = names.volume, except?: string): Promise<string> {
  return (await volumeExists(host, volume)) ? volumeChecksum(host, volume, except) : 'missing';
}

/** Reads both hosts as a user would and names the end state, or what is wrong with it. */
async function assess(c: FaultCase, final: MigrationJson | undefined, started: number): Promise<Outcome> {
  const to = targetOf(c);
  const seconds = (Date.now() - started) / 1000;
  const sourceState = await containerState(source, names.container);
  const sourceSum = await checksumOf(source);
  const targetState = await containerState(to, names.container);
  const targetSum = await checksumOf(to);
  const left = leftovers(baselineOf(to), await snapshot(to));
  const sourceIntact = sourceSum === checksum;
  const targetIntact = targetState.running && targetSum === checksum;
  const dataLost = !sourceIntact && !targetIntact;
  const problems: string[] = [];
  if (!final) {
    problems.push(`stuck: not finished ${FINISH_TIMEOUT_MS / 1000} s after the fault`);
  } else if (final.status === 'completed') {
    if (!targetState.running) problems.push(`the container does not run on ${to.name}`);
    if (targetSum !== checksum)
      problems.push(`the volume on ${to.name} is ${targetSum === 'missing' ? 'missing' : 'different'}`);
    if (!sourceState.exists) problems.push('the source container is gone (policy keep_stopped)');
    else if (sourceState.running) problems.push('the source container runs as well (policy keep_stopped)');
  } else if (final.status === 'rolled_back' || final.status === 'cancelled') {
    if (!sourceState.running) problems.push('the source container does not run');
    if (left.length > 0) problems.push(`left on ${to.name}: ${left.join(', ')}`);
  } else {
    problems.push(`ended ${final.status}: ${final.error ?? 'no error given'}`);
  }
  problems.push(...cluster.takeCrashes().map((crash) => `crash: ${crash}`));
  if (!sourceIntact)
    problems.push(`the source volume is ${sourceSum === 'missing' ? 'missing' : 'different'}`);
  if (!sourceState.running && !targetState.running) problems.push('the container runs nowhere');
  const status = final ? `${final.status}${final.error ? `: ${final.error}` : ''}` : 'running';
  const base = { dataLost, stuck: !final, seconds };
  if (problems.length > 0) return { kind: 'fail', detail: problems.join('; '), ...base };
  if (c.fault === 'disk_full' && final?.status === 'completed')
    return {
      kind: 'harness_error',
      detail: `the target's volumes filesystem never filled (${status})`,
      ...base,
    };
  return { kind: final?.status === 'completed' ? 'completed' : 'rolled_back', detail: status, ...base };
}

/**
 * A warm case's end state, read as a user would: completed — the target's container runs and its volume equals the
 * source's as it stopped; rolled back — the source container runs and its volume lost nothing (what it held before
 * unchanged, its counter continuous up to at least the value before the migration), the target holds nothing of the
 * migration. Either way the source worker keeps no sync session of it.
 */
async function assessWarm(
  c: FaultCase,
  migrationId: string,
  final: MigrationJson | undefined,
  started: number,
  before: CounterState,
): Promise<Outcome> {
  const to = targetOf(c);
  const { container, volume } = warmNames;
  const seconds = (Date.now() - started) / 1000;
  const sourceState = await containerState(source, container);
  const targetState = await containerState(to, container);
  const sourceKept = await checksumOf(source, volume, 'live');
  const counter = (await volumeExists(source, volume)) ? await counterState(source, volume) : undefined;
  const left = leftovers(baselineOf(to), await snapshot(to));
  // A source worker away when the migration ended is told to drop the session once it is back (the harness
  // restarts it within seconds).
  const keptAtEnd = existsSync(syncSessionFolder(migrationId));
  const session =
    keptAtEnd &&
    (await eventually(
      'the source worker to drop the sync session',
      () => Promise.resolve(existsSync(syncSessionFolder(migrationId)) ? undefined : false),
      SESSION_DROPPED_MS,
    ).catch(() => true));
  const counterProblem =
    counter === undefined
      ? 'missing'
      : counter.firstGap !== 0
        ? `broken at line ${counter.firstGap} of ${counter.lines}`
        : counter.last < before.last
          ? `back at ${counter.last}, it was at ${before.last} before the migration`
          : undefined;
  const sourceIntact = sourceKept === warmChecksum && counterProblem === undefined;
  // Compared once the source stopped for good: a completed migration leaves it stopped (keep_stopped).
  const sourceNow = sourceState.running ? undefined : await checksumOf(source, volume);
  const targetSum = await checksumOf(to, volume);
  const targetIntact = targetState.running && sourceNow !== undefined && targetSum === sourceNow;
  const problems: string[] = [];
  if (!final) {
    problems.push(`stuck: not finished ${FINISH_TIMEOUT_MS / 1000} s after the fault`);
  } else if (final.status === 'completed') {
    if (!targetState.running) problems.push(`the container does not run on ${to.name}`);
    if (!sourceState.exists) problems.push('the source container is gone (policy keep_stopped)');
    else if (sourceState.running) problems.push('the source container runs as well (policy keep_stopped)');
    else if (targetSum !== sourceNow)
      problems.push(
        `the volume on ${to.name} is ${targetSum === 'missing' ? 'missing' : "different from the source's as it stopped"}`,
      );
  } else if (final.status === 'rolled_back' || final.status === 'cancelled') {
    if (!sourceState.running) problems.push('the source container does not run');
    if (left.length > 0) problems.push(`left on ${to.name}: ${left.join(', ')}`);
  } else {
    problems.push(`ended ${final.status}: ${final.error ?? 'no error given'}`);
  }
  if (final && session)
    problems.push(
      `the source worker still keeps the sync session ${syncSessionFolder(migrationId)} ${SESSION_DROPPED_MS / 1000} s after the end`,
    );
  problems.push(...cluster.takeCrashes().map((crash) => `crash: ${crash}`));
  if (sourceKept !== warmChecksum)
    problems.push(
      `the source volume's data from before the migration is ${sourceKept === 'missing' ? 'missing' : 'different'}`,
    );
  if (counterProblem !== undefined) problems.push(`the writer's counter on the source is ${counterProblem}`);
  if (!sourceState.running && !targetState.running) problems.push('the container runs nowhere');
  const status = final ? `${final.status}${final.error ? `: ${final.error}` : ''}` : 'running';
  const base = { dataLost: !sourceIntact && !targetIntact, stuck: !final, seconds };
  if (problems.length > 0) return { kind: 'fail', detail: problems.join('; '), ...base };
  const later = keptAtEnd ? '; the source worker dropped the sync session only once back online' : '';
  return {
    kind: final?.status === 'completed' ? 'completed' : 'rolled_back',
    detail: `${status}${later}`,
    ...base,
  };
}

async function runCase(c: FaultCase): Promise<Outcome> {
  const counterBefore = await prepareCase(c);
  const started = Date.now();
  const migration = await startMigration(c);
  const missed = await awaitTrigger(c, migration.id);
  const note = missed === undefined ? await inject(c, migration.id) : undefined;
  const final = await finish(migration.id);
  let outcome =
    c.mode === 'warm' && counterBefore
      ? await assessWarm(c, migration.id, final, started, counterBefore)
      : await assess(c, final, started);
  if (!final) {
    // Counted as stuck above; a cancel gives the next cases a chance to start from a quiet master.
    await cluster.api('POST', `/api/migrations/${migration.id}/cancel`).catch(() => undefined);
    await finish(migration.id, 60_000);
  }
  // The writer rests between cases: it would load the machine (and the cold cases' copies) for nothing.
  if (c.mode === 'warm') await dockerCli(source, 'stop', warmNames.container).catch(() => '');
  if (missed !== undefined && outcome.kind !== 'fail')
    outcome = { ...outcome, kind: 'harness_error', detail: missed };
  const where = [strikes.get(migration.id), note].filter((s) => s !== undefined);
  if (where.length > 0) outcome = { ...outcome, detail: `${outcome.detail} (${where.join('; ')})` };
  if (outcome.kind === 'fail' || outcome.kind === 'harness_error') {
    const events = await cluster.migration(migration.id).then(
      (m) => m.events ?? [],
      () => [],
    );
    outcome.events = events.map((e) => `[${e.phase}] ${e.message}`);
  }
  return outcome;
}

/** DM_FAULTS_ONLY=cancel@transfer,kill_master@create runs only those cells (while working on one). */
function selected(c: FaultCase): boolean {
  const only = process.env.DM_FAULTS_ONLY;
  return (
    !only ||
    only
      .split(',')
      .map((s) => s.trim())
      .includes(caseKey(c))
  );
}

beforeAll(async () => {
  cluster = await createFaultCluster([source, target, smallTarget], id);
  baselines.set(target.name, await snapshot(target));
  baselines.set(smallTarget.name, await snapshot(smallTarget));
  checksum = await createApp(source, names, runLabel);
  // A run interrupted while a link was cut leaves it down.
  await setLink(target, 'up');
  await shapeLink(target);
  await shapeLink(smallTarget);
  await cluster.ensureMaster({ failpoints: '' });
  await cluster.ensureWorkers();
}, 180_000);

/** Writes and prints a mode's table when cases of that mode ran (a run filtered to one mode keeps the other's). */
function writeTable(mode: Mode, remarks: readonly string[]): void {
  const ran = new Map([...outcomes].filter(([key]) => key.startsWith('warm:') === (mode === 'warm')));
  const span = spans.get(mode);
  if (ran.size === 0 || !span) return;
  const seconds = (span.to - span.from) / 1000;
  const table = mode === 'warm' ? renderWarmTable(ran, seconds, remarks) : renderTable(ran, seconds, remarks);
  const file = mode === 'warm' ? 'faults-table-warm.md' : 'faults-table.md';
  mkdirSync(new URL('../../.artifacts/', import.meta.url), { recursive: true });
  writeFileSync(new URL(`../../.artifacts/${file}`, import.meta.url), table);
  console.log(`\nFault injection${mode === 'warm' ? ', warm mode' : ''}: faults × phases\n\n${table}`);
}

afterAll(async () => {
  const refused = cluster.refusedVariables;
  const remarks =
    refused.length > 0
      ? [`The master refused ${refused.join(', ')} as unknown variables: it ran without them.`]
      : [];
  writeTable('cold', remarks);
  writeTable('warm', remarks);
  await setLink(target, 'up').catch(() => undefined);
  await cluster.stopAll();
  await unshapeLink(target);
  await unshapeLink(smallTarget);
  for (const host of [target, smallTarget]) {
    const before = baselines.get(host.name);
    if (before) await restore(host, before).catch(() => undefined);
  }
  for (const app of [names, warmNames]) {
    await dockerCli(source, 'rm', '-f', app.container).catch(() => '');
    await dockerCli(source, 'volume', 'rm', '-f', app.volume).catch(() => '');
    await dockerCli(source, 'network', 'rm', app.network).catch(() => '');
    await dockerCli(source, 'image', 'rm', '-f', app.image).catch(() => '');
  }
}, 120_000);

/** Runs one case and keeps its outcome for the table; fails the test with the migration's events when it ended wrong. */
async function caseTest(c: FaultCase): Promise<void> {
  let outcome: Outcome;
  const from = Date.now();
  try {
    outcome = await runCase(c);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    outcome = { kind: 'fail', detail: `harness: ${message}`, dataLost: false, stuck: false, seconds: 0 };
  }
  spans.set(c.mode, { from: spans.get(c.mode)?.from ?? from, to: Date.now() });
  outcomes.set(caseKey(c), outcome);
  if (outcome.kind === 'fail' || outcome.kind === 'harness_error')
    throw new Error(
      [
        `${outcome.kind === 'fail' ? 'FAIL' : 'HARNESS ERROR'}: ${outcome.detail}`,
        '--- events of the migration:',
        ...(outcome.events ?? []),
        '--- last lines of the processes:',
        cluster.logTail(30),
      ].join('\n'),
    );
}

const coldCases = faultCases().filter(selected);
const WARM_CASE_NAMES: Record<WarmColumn, string> = {
  precopy: 'during pre-copy round 1',
  precopy_round2: 'during pre-copy round 2',
  final_round: 'during the final round',
};
const warmCases = warmFaultCases().filter(selected);

// A describe without tests fails the file: one is left out when DM_FAULTS_ONLY names no case of its mode.
describe.skipIf(coldCases.length === 0)(
  'fault injection (built binary, real engines): completed or rolled back, never both down',
  () => {
    for (const c of coldCases) {
      it(`${FAULT_TITLES[c.fault]} at ${c.column === 'mid_copy' ? 'transfer (mid-copy)' : `the start of ${c.phase}`}`, async () => {
        await caseTest(c);
      }, 300_000);
    }
  },
);

describe.skipIf(warmCases.length === 0)(
  'fault injection, warm mode: a writing container completes or rolls back with nothing lost',
  () => {
    for (const c of warmCases) {
      it(`warm: ${FAULT_TITLES[c.fault]} ${c.mode === 'warm' ? WARM_CASE_NAMES[c.column] : c.column}`, async () => {
        await caseTest(c);
      }, 300_000);
    }
  },
);
