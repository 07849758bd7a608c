// Fault injection against the built binary and real engines: a running container with a volume of known checksum
// is migrated while one fault strikes at one phase; every case must end completed (runs on the target, same data)
// or rolled back (runs on the source, same data, nothing of the migration left on the target) — never both down,
// never data lost, never stuck running. Prints the faults × phases table and writes .artifacts/faults-table.md.
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { dockerCli, newRunLabel, testDockerHost, type TestDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { createFaultCluster, type FaultCluster, type MigrationJson } from './cluster.js';
import {
  appNames,
  containerState,
  createApp,
  leftovers,
  restore,
  snapshot,
  volumeChecksum,
  volumeExists,
  type EngineSnapshot,
} from './fixture.js';
import { caseKey, FAULT_TITLES, faultCases, renderTable, type FaultCase, type Outcome } from './matrix.js';

const exec = promisify(execFile);
const source = testDockerHost(0);
const target = testDockerHost(1);
/** Target of the disk-full case: its volumes filesystem is smaller than the volume (hosts-setup.ts). */
const smallTarget = testDockerHost(2);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const names = appNames(id);

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

const outcomes = new Map<string, Outcome>();
const baselines = new Map<string, EngineSnapshot>();
const suiteStarted = Date.now();
let cluster: FaultCluster;
let checksum = '';

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

function targetOf(c: FaultCase): TestDockerHost {
  return c.fault === 'disk_full' ? smallTarget : target;
}

function baselineOf(host: TestDockerHost): EngineSnapshot {
  const found = baselines.get(host.name);
  if (!found) throw new Error(`no baseline of ${host.name}`);
  return found;
}

/** Same master settings as the case needs, every process up, targets as before the suite, source running. */
async function prepareCase(c: FaultCase): Promise<void> {
  await setLink(target, 'up');
  cluster.takeCrashes();
  await cluster.ensureMaster({ failpoints: c.trigger === 'failpoint' ? `pause:${c.phase}=${PAUSE}` : '' });
  await cluster.ensureWorkers();
  await restore(target, baselineOf(target));
  await restore(smallTarget, baselineOf(smallTarget));
  const state = await containerState(source, names.container);
  if (!state.exists) throw new Error(`the source container ${names.container} is gone`);
  if (!state.running) await dockerCli(source, 'start', names.container);
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
}

function request(c: FaultCase): Record<string, unknown> {
  return {
    source_worker_id: cluster.workerName(source),
    target_worker_id: cluster.workerName(targetOf(c)),
    container_ids: [names.container],
    transfer_mode: 'direct',
  };
}

async function startMigration(c: FaultCase): Promise<MigrationJson> {
  const { status, json } = await cluster.api('POST', '/api/migrations', request(c));
  if (status !== 201 || !json.migration)
    throw new Error(`POST /api/migrations → ${status}: ${JSON.stringify(json)}`);
  return json.migration;
}

/**
 * Waits for the moment the fault is meant for; answers why it never came (a harness error, not a pass): the
 * failpoint event did not appear, or the transfer was never seen moving.
 */
async function awaitTrigger(c: FaultCase, migrationId: string): Promise<string | undefined> {
  if (c.fault === 'disk_full') return undefined; // the fault is the filesystem itself
  const until = Date.now() + 45_000;
  for (;;) {
    const current = await cluster.migration(migrationId);
    if (c.trigger === 'mid_transfer') {
      // The volume's own bytes: the image goes over in the same phase, before it.
      const volume = current.resources?.find((r) => r.type === 'volume');
      if (current.phase === 'transfer' && volume?.status === 'running' && volume.bytes > 0) return undefined;
    } else if (
      current.events?.some(
        (e) =>
          e.message.startsWith('failpoint: paused') && (e.phase === c.phase || e.message.includes(c.phase)),
      )
    ) {
      return undefined;
    }
    const awaited =
      c.trigger === 'mid_transfer'
        ? 'volume bytes moving in phase transfer'
        : `the event "failpoint: paused" in phase ${c.phase}`;
    const refused = cluster.refusedVariables.includes('DOCKER_MIGRATE_MASTER_FAILPOINTS')
      ? ' (the master refuses DOCKER_MIGRATE_MASTER_FAILPOINTS as an unknown variable)'
      : '';
    if (FINISHED.has(current.status))
      return `${awaited} never appeared: the migration ended ${current.status} first${c.trigger === 'failpoint' ? refused : ''}`;
    if (Date.now() > until) return `${awaited} never appeared within 45 s (phase ${current.phase})`;
    await sleep(100);
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

async function checksumOf(host: TestDockerHost): Promise<string> {
  return (await volumeExists(host, names.volume)) ? volumeChecksum(host, names.volume) : 'missing';
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

async function runCase(c: FaultCase): Promise<Outcome> {
  await prepareCase(c);
  const started = Date.now();
  const migration = await startMigration(c);
  const missed = await awaitTrigger(c, migration.id);
  const note = missed === undefined ? await inject(c, migration.id) : undefined;
  const final = await finish(migration.id);
  let outcome = await assess(c, final, started);
  if (!final) {
    // Counted as stuck above; a cancel gives the next cases a chance to start from a quiet master.
    await cluster.api('POST', `/api/migrations/${migration.id}/cancel`).catch(() => undefined);
    await finish(migration.id, 60_000);
  }
  if (missed !== undefined && outcome.kind !== 'fail')
    outcome = { ...outcome, kind: 'harness_error', detail: missed };
  if (note !== undefined) outcome = { ...outcome, detail: `${outcome.detail} (${note})` };
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

afterAll(async () => {
  const refused = cluster.refusedVariables;
  const remarks =
    refused.length > 0
      ? [`The master refused ${refused.join(', ')} as unknown variables: it ran without them.`]
      : [];
  const table = renderTable(outcomes, (Date.now() - suiteStarted) / 1000, remarks);
  mkdirSync(new URL('../../.artifacts/', import.meta.url), { recursive: true });
  writeFileSync(new URL('../../.artifacts/faults-table.md', import.meta.url), table);
  console.log(`\nFault injection: faults × phases\n\n${table}`);
  await setLink(target, 'up').catch(() => undefined);
  await cluster.stopAll();
  await unshapeLink(target);
  await unshapeLink(smallTarget);
  for (const host of [target, smallTarget]) {
    const before = baselines.get(host.name);
    if (before) await restore(host, before).catch(() => undefined);
  }
  await dockerCli(source, 'rm', '-f', names.container).catch(() => '');
  await dockerCli(source, 'volume', 'rm', '-f', names.volume).catch(() => '');
  await dockerCli(source, 'network', 'rm', names.network).catch(() => '');
  await dockerCli(source, 'image', 'rm', '-f', names.image).catch(() => '');
}, 120_000);

describe('fault injection (built binary, real engines): completed or rolled back, never both down', () => {
  for (const c of faultCases().filter(selected)) {
    it(`${FAULT_TITLES[c.fault]} at ${c.column === 'mid_copy' ? 'transfer (mid-copy)' : `the start of ${c.phase}`}`, async () => {
      let outcome: Outcome;
      try {
        outcome = await runCase(c);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        outcome = { kind: 'fail', detail: `harness: ${message}`, dataLost: false, stuck: false, seconds: 0 };
      }
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
    }, 300_000);
  }
});
