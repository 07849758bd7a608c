// Warm migrations end to end: the built binary as master and workers, two real Docker hosts. A container keeps
// writing into its volume (scattered 8 KiB writes, appends, new files) while the volume is copied in rounds; it is
// stopped only for the final round. Checked as a user would: the target's volume equals the source's final state,
// the writer's last acknowledged write is there, the container runs on the target, and the downtime reported is
// broken into phases that add up to it.
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
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const execFileAsync = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-warm-${id}`;
const docker = dockerCli;
const VOLUME = `warmvol-${id}`;
const CONTAINER = `writer-${id}`;
/** The writer's image: made here (the hosts' base images differ, so the container's image must travel too). */
const IMAGE = `dm-e2e-writer-${id}:1`;

interface MigrationJson {
  id: string;
  status: string;
  mode: string;
  error: string | null;
  downtime_ms: number | null;
  downtime_phases: Record<string, number | null> | null;
  rounds: { round: number; final: boolean; bytes: number; duration_ms: number; files: number }[];
  events?: { message: string; phase: string }[];
}

let master: RunningProcess;
const workers: RunningProcess[] = [];
let apiUrl = '';

const { call: api, workerId, finished } = masterApi(() => apiUrl, adminToken);

/** Every file's content, owner, mode and mtime, read inside a container: what a user would compare. */
function volumeFingerprint(host: TestDockerHost): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/data:ro`,
    host.baseImage,
    'sh',
    '-c',
    'cd /data && find . -mindepth 1 | sort | xargs -n 100 ls -ld --full-time | sed "s/  */ /g" | md5sum && find . -type f | sort | xargs -n 100 md5sum | md5sum',
  );
}

/**
 * Writes until stopped: each step an 8 KiB block at a scattered offset of /data/big, a line appended to /data/log,
 * now and then a new file; each step synced, then acknowledged on stdout ("ack N"). SIGTERM ends it at once, with a
 * last line "stopped after N". Started on a volume whose log ends so (the copy on the target), it only idles, so
 * that the target's volume can be compared with the source's.
 */
const WRITER = [
  'if tail -n 1 /data/log 2>/dev/null | grep -q "^stopped"; then exec sleep 100000; fi',
  'i=0',
  'trap \'echo "stopped after $i" >> /data/log; sync; exit 0\' TERM',
  'while true; do',
  '  i=$((i+1))',
  '  dd if=/dev/urandom of=/data/big bs=8192 count=1 seek=$(( (i * 7919) % 8192 )) conv=notrunc 2>/dev/null',
  '  echo "record $i" >> /data/log',
  '  if [ $((i % 25)) -eq 0 ]; then head -c 3000 /dev/urandom > /data/new-$i; fi',
  '  sync',
  '  echo "ack $i"',
  '  sleep 0.05',
  'done',
].join('\n');

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
    tempDir('warm-master'),
    '--admin-token',
    adminToken,
    '--heartbeat-interval',
    '1s',
  ]);
  const printed = await masterAddresses(master);
  apiUrl = printed.apiUrl;
  for (const [name, host] of [
    [`wsrc-${id}`, h1],
    [`wdst-${id}`, h2],
  ] as const)
    workers.push(
      startProcess(
        [...printed.joinArgs, '--name', name, '--data-dir', tempDir(name), '--grpc-addr', '127.0.0.1:0'],
        { DOCKER_HOST: host.socket },
      ),
    );
  await execFileAsync('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
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
    'dd if=/dev/urandom of=/data/big bs=1M count=64 2>/dev/null && mkdir /data/small && ' +
      'i=0; while [ $i -lt 300 ]; do head -c $((100 + i * 7)) /dev/urandom > /data/small/f$i; i=$((i+1)); done',
  );
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--label',
    `${runLabel}=1`,
    '-v',
    `${VOLUME}:/data`,
    IMAGE,
    'sh',
    '-c',
    WRITER,
  );
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  await removeLabelled(engineOverSocket(h1), runLabel);
  await removeLabelled(engineOverSocket(h2), runLabel);
  for (const host of [h1, h2]) {
    await docker(host, 'rm', '-f', CONTAINER).catch(() => undefined);
    await docker(host, 'volume', 'rm', '-f', VOLUME).catch(() => undefined);
    await docker(host, 'rmi', '-f', IMAGE).catch(() => undefined);
  }
});

describe('a warm migration of a container that keeps writing', () => {
  it('copies while it runs, stops it only for the final round, and the target holds its last acknowledged write', async () => {
    const [source, target] = [await workerId(`wsrc-${id}`), await workerId(`wdst-${id}`)];
    await eventually('the writer to have written a while', async () =>
      (await docker(h1, 'logs', CONTAINER)).includes('ack 20') ? true : undefined,
    );
    const created = await api<{ migration?: MigrationJson; error?: { message: string } }>(
      'POST',
      '/api/migrations',
      {
        source_worker_id: source,
        target_worker_id: target,
        container_ids: [CONTAINER],
        mode: 'warm',
        downtime_budget: '2s',
      },
    );
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const migrationId = created.json.migration?.id ?? '';
    const done = await finished<MigrationJson>(migrationId);
    const messages = (done.events ?? []).map((e) => e.message);
    expect(done.status, `${done.error ?? ''}\n${messages.join('\n')}`).toBe('completed');
    expect(done.mode).toBe('warm');

    // The writer ran through round 1 and was stopped after it: its log on the source goes on past the round.
    const round1 = messages.findIndex((m) => m.includes('pre-copy round 1'));
    const stopping = messages.findIndex((m) => m.endsWith('stopping the source'));
    expect(round1).toBeGreaterThanOrEqual(0);
    expect(stopping).toBeGreaterThan(round1);
    expect(messages.findIndex((m) => m.includes('final round (source stopped)'))).toBeGreaterThan(stopping);

    // The target holds exactly what the source held once stopped, and the last acknowledged write is in it.
    expect((await docker(h1, 'inspect', '-f', '{{.State.Running}}', CONTAINER)).trim()).toBe('false');
    expect(await volumeFingerprint(h2)).toBe(await volumeFingerprint(h1));
    const acks = [...(await docker(h1, 'logs', CONTAINER)).matchAll(/^ack (\d+)$/gm)].map((m) =>
      Number(m[1]),
    );
    const last = Math.max(...acks);
    expect(last).toBeGreaterThan(20);
    const log = await docker(
      h2,
      'run',
      '--rm',
      '-v',
      `${VOLUME}:/data:ro`,
      h2.baseImage,
      'tail',
      '-n',
      '2',
      '/data/log',
    );
    // The stop may land between a record's sync and its ack: that record is on the source and so on the target too.
    const ends = [last, last + 1].map((n) => [`record ${String(n)}`, `stopped after ${String(n)}`]);
    expect(ends).toContainEqual(log.trim().split('\n'));
    expect((await docker(h2, 'inspect', '-f', '{{.State.Running}}', CONTAINER)).trim()).toBe('true');

    // Rounds: round 1 moved the 64 MiB file while the source ran; the last round was made with it stopped and
    // moved far less.
    expect(done.rounds.length).toBeGreaterThanOrEqual(2);
    const [first] = done.rounds;
    const final = done.rounds.at(-1);
    expect(first).toMatchObject({ round: 1, final: false });
    expect(first?.bytes).toBeGreaterThan(64 * 1024 * 1024);
    expect(final?.final).toBe(true);
    expect(final?.bytes).toBeLessThan((first?.bytes ?? 0) / 4);

    // The downtime, broken into phases that add up to it.
    expect(done.downtime_ms).toBeGreaterThan(0);
    const phases = Object.values(done.downtime_phases ?? {});
    expect(phases.every((ms) => typeof ms === 'number' && ms >= 0)).toBe(true);
    const sum = phases.reduce<number>((total, ms) => total + (ms ?? 0), 0);
    expect(Math.abs(sum - (done.downtime_ms ?? 0))).toBeLessThanOrEqual(5);
  }, 240_000);
});
