// Progress of a long volume copy as the built binary reports it against a real master, two workers and two Docker
// hosts: the master's bytes move while the copy runs, "X of Y" never has X above Y, and `migrations watch`
// prints the copy moving, not only the phase it is in; the audit log then says who moved what where.
import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import {
  BIN,
  bytesOf,
  startTestMaster,
  startTestWorkers,
  tempDir,
  type RunningProcess,
} from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-cli-progress-${id}`;
const SOURCE = `cpsrc-${id}`;
const TARGET = `cpdst-${id}`;
const VOLUME = `cp-big-${id}`;
/** Large enough that the copy lasts several of the master's progress reports (one a second): 320 MiB could copy
 * within two of them on this machine, leaving one value part-way. */
const VOLUME_MIB = 768;

let master: RunningProcess;
let apiUrl = '';
const workers: RunningProcess[] = [];
const home = tempDir('cli-progress-home');

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      args,
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          DOCKER_MIGRATE_API_URL: apiUrl,
          DOCKER_MIGRATE_ADMIN_TOKEN: adminToken,
        },
        timeout: 240_000,
        maxBuffer: 8 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return (await response.json()) as T;
}

interface Sample {
  status: string;
  phase: string;
  progress: number;
  bytes_transferred: number;
  total_bytes: number;
}

beforeAll(async () => {
  let joinArgs: string[];
  ({ master, apiUrl, joinArgs } = await startTestMaster('cli-progress', adminToken));
  workers.push(
    ...startTestWorkers(joinArgs, [
      [SOURCE, h1],
      [TARGET, h2],
    ]),
  );
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
    `head -c ${String(VOLUME_MIB)}m /dev/urandom > /data/big && sync`,
  );
  await eventually('both workers online', async () => {
    const { workers: list } = await api<{ workers: { name: string; status: string }[] }>('/api/workers');
    return [SOURCE, TARGET].every((n) => list.some((w) => w.name === n && w.status === 'online'))
      ? true
      : undefined;
  });
}, 180_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  for (const host of [h1, h2]) {
    await removeLabelled(engineOverSocket(host), runLabel).catch(() => undefined);
    await dockerCli(host, 'volume', 'rm', '-f', VOLUME).catch(() => '');
  }
});

let migrationId = '';

describe('progress of a long volume copy (built binary, two real Docker hosts)', () => {
  it('moves the bytes while the copy runs, never past the total, and watch prints the copy moving', async () => {
    const started = await cli(['migrate', '--from', SOURCE, '--to', TARGET, '--volume', VOLUME, '--detach']);
    expect(started.code, started.stderr).toBe(0);
    migrationId = started.stdout.trim();
    const watching = cli(['migrations', 'watch', migrationId]);

    const samples: Sample[] = [];
    for (;;) {
      const { migration } = await api<{ migration: Sample }>(`/api/migrations/${migrationId}`);
      samples.push(migration);
      if (['completed', 'failed', 'cancelled', 'rolled_back'].includes(migration.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const watched = await watching;

    const last = samples.at(-1);
    expect(last?.status).toBe('completed');
    const size = VOLUME_MIB * 2 ** 20;
    expect(last?.bytes_transferred).toBeGreaterThanOrEqual(size);
    for (const sample of samples) expect(sample.bytes_transferred).toBeLessThanOrEqual(sample.total_bytes);
    const during = samples.filter(
      (s) => s.phase === 'transfer' && s.bytes_transferred > 0 && s.bytes_transferred < size,
    );
    expect(during.length, 'API samples taken while the volume was being copied').toBeGreaterThan(1);
    expect(new Set(during.map((s) => s.bytes_transferred)).size).toBeGreaterThan(1);

    // What a log shows of it: the copy part-way, and "X of Y" never with X above Y.
    expect(watched.code, watched.stderr).toBe(0);
    const lines = [
      ...watched.stderr.matchAll(/^(?:phase \w+|completed) \((\d+)%, (\S+ \S+) of (\S+ \S+)\)$/gm),
    ];
    expect(lines.length, watched.stderr).toBeGreaterThan(1);
    for (const [line, , moved = '', total = ''] of lines)
      expect(bytesOf(moved), line).toBeLessThanOrEqual(bytesOf(total));
    // More than the line of the phase change: the copy's further tenths each get one.
    const partWay = lines.filter(([line, pct]) => line.startsWith('phase transfer') && Number(pct) < 100);
    expect(new Set(partWay.map(([, pct]) => pct)).size, watched.stderr).toBeGreaterThan(1);
    expect(watched.stderr).toContain(
      `completed (100%, ${String(VOLUME_MIB)} MiB of ${String(VOLUME_MIB)} MiB)`,
    );
  }, 240_000);

  it('audits the dry run, the start and the end of the migration with names, and the enrolments', async () => {
    const dryRun = await cli(['migrate', '--from', SOURCE, '--to', TARGET, '--volume', VOLUME, '--dry-run']);
    // The volume is on the target now: the dry run is blocked, and says so (exit code 1).
    expect(dryRun.stderr).toContain('blocks this migration');
    await eventually('the dry run audited', async () => {
      const { entries } = await api<{ entries: { action: string }[] }>('/api/audit');
      return entries.some((entry) => entry.action === 'migration.dry_run') ? true : undefined;
    });
    const { entries } = await api<{
      entries: { action: string; target: string | null; summary: string | null; status: number }[];
    }>('/api/audit');
    const of = (action: string) => entries.filter((entry) => entry.action === action);

    expect(of('migration.start')).toEqual([
      expect.objectContaining({
        target: migrationId,
        status: 201,
        summary: `${VOLUME} from ${SOURCE} to ${TARGET}: cold, full`,
      }),
    ]);
    expect(of('migration.ended')).toEqual([
      expect.objectContaining({
        target: migrationId,
        summary: `completed: ${VOLUME} from ${SOURCE} to ${TARGET}`,
      }),
    ]);
    expect(of('migration.dry_run')).toEqual([
      expect.objectContaining({
        target: `${SOURCE} → ${TARGET}`,
        summary: expect.stringMatching(
          new RegExp(`^${VOLUME} from ${SOURCE} to ${TARGET}: cold, full — blocked: [a-z_, ]+$`),
        ) as string,
      }),
    ]);
    // Both workers run on this machine: the summary names the host too.
    expect(of('worker.enroll').map((entry) => entry.summary)).toEqual(
      expect.arrayContaining([SOURCE, TARGET].map((name) => `enrolled worker ${name} (host ${hostname()})`)),
    );
  }, 120_000);
});
