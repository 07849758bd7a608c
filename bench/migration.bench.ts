// The figures the product promises, measured through the built binary (a master and two worker processes) on two
// real engines, each beside a baseline measured in the same run; prints a markdown table to paste in the README.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import { BIN, masterAddresses, startProcess, type RunningProcess } from '../test/support/processes.js';

interface Host {
  name: string;
  /** unix:// address of the engine's socket. */
  socket: string;
  baseImage: string;
}

interface MigrationJson {
  id: string;
  status: string;
  error: string | null;
  bytes_transferred: number;
  started_at: string | null;
  completed_at: string | null;
  events?: { at: string; phase: string; message: string }[];
}

/** CPU seconds per process and what the machine as a whole did while one run lasted. */
interface Usage {
  cpuSeconds: Record<string, number>;
  /** Cores busy on average (all processes, containers included), out of `nproc`. */
  busyCores: number;
  /** Highest VmRSS seen per worker, sampled every 200 ms, in bytes. */
  peakRss: Record<string, number>;
}

interface Run {
  label: string;
  wallMs: number;
  /** The migration's own started_at → completed_at; undefined for the baselines. */
  ownMs?: number;
  /** Bytes the migration reports as sent, or the bytes through the baseline's pipe. */
  bytes?: number;
  /** CPU of the baseline's own processes (tar, docker CLIs), from the shell's `times`. */
  pipelineCpuSeconds?: number;
  usage: Usage;
  /** Our migrations' events: seconds after the first, phase and message. */
  timeline?: string[];
}

const MiB = 1024 * 1024;
const VOLUME_BYTES = 1024 * MiB;
const MISSING_LAYER_BYTES = 10 * MiB;
const SHARED_LAYER_BYTES = 200 * MiB;
const RSS_TARGET_BYTES = 200e6;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const HOSTS_SCRIPT = new URL('../scripts/docker-hosts.sh', import.meta.url).pathname;
const HELPER_IMAGE = 'docker-migrate/volume-helper:1'; // made by a worker when it reads a volume through the Engine

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const id = randomBytes(4).toString('hex');
const runLabel = `docker-migrate.bench.${id}`;
const adminToken = `dm-admin-bench-${id}`;
const VOLUME = `dm-bench-vol-${id}`;
const BASE2 = `dm-bench-base2-${id}:1`;
const APP = `dm-bench-app-${id}:1`;
const PIPE_CONTAINERS = [`dm-bench-from-${id}`, `dm-bench-to-${id}`];
/** Data and home folders of the master and workers; made when they start, so that nothing leaks before. */
let root: string | undefined;

/** The engines from `make bench` (DM_BENCH_HOSTS), else those running, else two started here (and left up). */
function engines(): Host[] {
  const parse = (json: string) => JSON.parse(json) as Host[];
  let hosts = parse(process.env.DM_BENCH_HOSTS ?? '[]');
  if (hosts.length < 2)
    hosts = parse(execFileSync('bash', [HOSTS_SCRIPT, 'list', '--json'], { encoding: 'utf8' }));
  if (hosts.length < 2) {
    console.log(
      'The test Docker hosts were not running: starting them with `scripts/docker-hosts.sh start 2`' +
        ' (they stay up afterwards; `scripts/docker-hosts.sh stop` stops them).',
    );
    hosts = parse(
      execFileSync('bash', [HOSTS_SCRIPT, 'start', '2', '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
  }
  if (hosts.length < 2) throw new Error('needs two test Docker hosts (scripts/docker-hosts.sh start 2)');
  return hosts
    .slice(0, 2)
    .map((h) => ({ ...h, baseImage: h.baseImage || 'docker-migrate-test/base:latest' }));
}

const [h1, h2] = engines() as [Host, Host];

async function docker(host: Host, ...args: string[]): Promise<string> {
  const { stdout } = await exec('docker', ['-H', host.socket, ...args], { maxBuffer: 64 * MiB });
  return stdout.trim();
}

async function quietly(work: Promise<unknown>): Promise<void> {
  await work.catch(() => undefined);
}

/** Runs `docker args…` with `input` on its stdin (a Dockerfile for `build -`). */
function dockerWithInput(host: Host, input: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['-H', host.socket, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out.trim());
      else reject(new Error(`docker ${args.join(' ')} → ${code}: ${err}`));
    });
    child.stdin.end(input);
  });
}

/** A bash pipeline, timed; the CPU its processes used comes from `times` (children's user and system). */
async function timedPipeline(script: string): Promise<{ ms: number; cpuSeconds: number }> {
  const start = performance.now();
  const { stdout } = await exec('bash', ['-c', `set -euo pipefail\n${script}\ntimes`], {
    maxBuffer: 4 * MiB,
  });
  const ms = performance.now() - start;
  const children = stdout.trim().split('\n').at(-1) ?? '';
  const cpuSeconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .map((m) => Number(m[1]) * 60 + Number(m[2]))
    .reduce((a, b) => a + b, 0);
  return { ms, cpuSeconds };
}

function procCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** A /proc/<pid>/status figure (VmRSS, VmHWM) in bytes. */
function procMemory(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/** Cores busy machine-wide over `ms`: what else runs here skews every absolute figure below. */
async function busyCoresOver(ms: number): Promise<number> {
  const before = machineTicks();
  await sleep(ms);
  const after = machineTicks();
  return (after.busy - before.busy) / TICKS_PER_SECOND / (ms / 1000);
}

function dockerdPid(host: Host): number | undefined {
  // scripts/docker-hosts.sh keeps dockerd.pid beside the socket; engines from elsewhere are not measured.
  const pidfile = join(dirname(host.socket.replace(/^unix:\/\//, '')), 'dockerd.pid');
  return existsSync(pidfile) ? Number(readFileSync(pidfile, 'utf8').trim()) : undefined;
}

let master: RunningProcess | undefined;
const workers: Record<'src' | 'dst', RunningProcess | undefined> = { src: undefined, dst: undefined };

/** Starts measuring the processes that matter; `stop()` returns what each used since. */
function meter(): { stop(): Usage } {
  const pids: Record<string, number | undefined> = {
    'src worker': workers.src?.child.pid,
    'dst worker': workers.dst?.child.pid,
    master: master?.child.pid,
    [`dockerd ${h1.name}`]: dockerdPid(h1),
    [`dockerd ${h2.name}`]: dockerdPid(h2),
  };
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, procCpuSeconds(pid)]));
  const machineBefore = machineTicks();
  const start = performance.now();
  const peakRss: Record<string, number> = { 'src worker': 0, 'dst worker': 0 };
  const sample = () => {
    for (const name of Object.keys(peakRss))
      peakRss[name] = Math.max(peakRss[name]!, procMemory(pids[name], 'VmRSS') || 0);
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const seconds = (performance.now() - start) / 1000;
      const machine = machineTicks();
      const cores = (machine.total - machineBefore.total) / TICKS_PER_SECOND / seconds;
      return {
        cpuSeconds: Object.fromEntries(
          Object.entries(pids).map(([name, pid]) => [name, procCpuSeconds(pid) - before[name]!]),
        ),
        busyCores:
          ((machine.busy - machineBefore.busy) / Math.max(1, machine.total - machineBefore.total)) * cores,
        peakRss,
      };
    },
  };
}

let apiUrl = '';
const workerIds: Record<'src' | 'dst', string> = { src: '', dst: '' };

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as T };
}

/** POST /api/migrations, then poll until it ends: wall time from the POST, and the migration's own clock. */
async function migrate(label: string, body: Record<string, unknown>): Promise<Run> {
  const usage = meter();
  const start = performance.now();
  const created = await api<{ migration?: MigrationJson }>('POST', '/api/migrations', {
    source_worker_id: workerIds.src,
    target_worker_id: workerIds.dst,
    ...body,
  });
  if (created.status !== 201 || !created.json.migration)
    throw new Error(`POST /api/migrations → ${created.status}: ${JSON.stringify(created.json)}`);
  const migrationId = created.json.migration.id;
  let current: MigrationJson;
  for (;;) {
    const { json } = await api<{ migration: MigrationJson }>('GET', `/api/migrations/${migrationId}`);
    current = json.migration;
    if (['completed', 'failed', 'rolled_back', 'cancelled'].includes(current.status)) break;
    if (performance.now() - start > 180_000) throw new Error(`${label}: not finished within 180 s`);
    await sleep(50);
  }
  const wallMs = performance.now() - start;
  const used = usage.stop();
  if (current.status !== 'completed')
    throw new Error(
      `${label}: migration ${migrationId} ${current.status}: ${current.error}\n` +
        (current.events ?? []).map((e) => `  ${e.message}`).join('\n'),
    );
  const ownMs =
    current.started_at && current.completed_at
      ? Date.parse(current.completed_at) - Date.parse(current.started_at)
      : undefined;
  // The preflight's event comes a moment before started_at: count from whichever is first.
  const origin = Math.min(
    ...[current.started_at, ...(current.events ?? []).map((e) => e.at)]
      .filter((at): at is string => at !== null)
      .map((at) => Date.parse(at)),
  );
  const timeline = (current.events ?? []).map(
    (e) => `+${((Date.parse(e.at) - origin) / 1000).toFixed(1).padStart(5)} s  ${e.phase}: ${e.message}`,
  );
  return { label, wallMs, ownMs, bytes: current.bytes_transferred, usage: used, timeline };
}

async function baseline(label: string, script: string): Promise<Run> {
  const usage = meter();
  const { ms, cpuSeconds } = await timedPipeline(script);
  return { label, wallMs: ms, pipelineCpuSeconds: cpuSeconds, usage: usage.stop() };
}

interface WorkerResources {
  volumes: { name: string }[];
  images: { tags: string[] }[];
}

/**
 * Waits until the master's view of a worker's engine agrees with `check`: the preflight plans from that view,
 * which follows the Engine's events after a short debounce, so a volume just removed on h2 may still conflict.
 */
async function masterSees(role: 'src' | 'dst', what: string, check: (r: WorkerResources) => boolean) {
  const until = Date.now() + 30_000;
  for (;;) {
    const { json } = await api<WorkerResources>('GET', `/api/workers/${workerIds[role]}/resources`);
    if (check(json)) return;
    if (Date.now() > until) throw new Error(`the master does not see ${what} within 30 s`);
    await sleep(100);
  }
}

const hasVolume = (r: WorkerResources) => r.volumes.some((v) => v.name === VOLUME);
const hasImage = (image: string) => (r: WorkerResources) => r.images.some((i) => i.tags.includes(image));

/** Content of the volume as a user would check it, read from inside a container on `host`. */
function volumeFingerprint(host: Host): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    '-v',
    `${VOLUME}:/d:ro`,
    host.baseImage,
    'sh',
    '-c',
    'cd /d && sha256sum random.bin && md5sum zeros.bin && stat -c "%n %s" random.bin zeros.bin && ' +
      'find . -type f | wc -l && find small -type f | sort | xargs cat | md5sum',
  );
}

async function volumeExists(host: Host): Promise<boolean> {
  return (await docker(host, 'volume', 'ls', '-q', '--filter', `name=^${VOLUME}$`)) !== '';
}

/** Runs one copy of the volume to h2, which must not hold it before, and checks that h2 then holds the same. */
async function volumeRun(source: string, work: () => Promise<Run>): Promise<Run> {
  if (await volumeExists(h2)) await docker(h2, 'volume', 'rm', VOLUME);
  await masterSees('dst', `${VOLUME} gone from ${h2.name}`, (r) => !hasVolume(r));
  const run = await work();
  const copied = await volumeFingerprint(h2);
  if (copied !== source)
    throw new Error(`${run.label}: h2's copy differs from h1's volume\nh1:\n${source}\nh2:\n${copied}`);
  await docker(h2, 'volume', 'rm', VOLUME);
  // Flush the copy to disk now, so that its writeback does not run during the next measurement.
  execFileSync('sync');
  return run;
}

async function volumeMountpoint(host: Host): Promise<string> {
  return docker(host, 'volume', 'inspect', '-f', '{{.Mountpoint}}', VOLUME);
}

/** `docker save` on h1 piped into `docker load` on h2, counting the bytes through the pipe. */
async function saveLoad(label: string, image: string): Promise<Run> {
  const usage = meter();
  const start = performance.now();
  const save = spawn('docker', ['-H', h1.socket, 'save', image], { stdio: ['ignore', 'pipe', 'pipe'] });
  const load = spawn('docker', ['-H', h2.socket, 'load', '-q'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let bytes = 0;
  save.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
  save.stdout.pipe(load.stdin);
  const finished = (child: ReturnType<typeof spawn>, what: string) =>
    new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve();
        else reject(new Error(`${what} → ${code}: ${err}`));
      });
    });
  await Promise.all([finished(save, 'docker save'), finished(load, 'docker load')]);
  return { label, wallMs: performance.now() - start, bytes, usage: usage.stop() };
}

async function imageId(host: Host, image: string): Promise<string> {
  return docker(host, 'image', 'inspect', '-f', '{{.Id}}', image);
}

async function imageSize(host: Host, image: string): Promise<number> {
  return Number(await docker(host, 'image', 'inspect', '-f', '{{.Size}}', image));
}

async function startProduct(): Promise<void> {
  root = mkdtempSync(join(tmpdir(), 'dm-bench-migration-'));
  const dir = (name: string) => {
    const path = join(root!, name);
    mkdirSync(path);
    return path;
  };
  master = startProcess(
    [
      'master',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--data-dir',
      dir('master'),
      '--admin-token',
      adminToken,
    ],
    { HOME: dir('home-master') },
  );
  const printed = await masterAddresses(master);
  apiUrl = printed.apiUrl;
  const { joinArgs } = printed;
  for (const [role, host] of [
    ['src', h1],
    ['dst', h2],
  ] as const) {
    workers[role] = startProcess(
      [
        ...joinArgs,
        '--name',
        `bench-${role}-${id}`,
        '--data-dir',
        dir(`worker-${role}`),
        '--grpc-addr',
        '127.0.0.1:0',
      ],
      { DOCKER_HOST: host.socket, HOME: dir(`home-${role}`) },
    );
  }
  const until = Date.now() + 60_000;
  for (;;) {
    const { json } = await api<{ workers?: { id: string; name: string; status: string }[] }>(
      'GET',
      '/api/workers',
    );
    const online = json.workers?.filter((w) => w.status === 'online') ?? [];
    workerIds.src = online.find((w) => w.name === `bench-src-${id}`)?.id ?? '';
    workerIds.dst = online.find((w) => w.name === `bench-dst-${id}`)?.id ?? '';
    if (workerIds.src && workerIds.dst) return;
    if (Date.now() > until)
      throw new Error(
        `workers not online within 60 s:\n${workers.src?.lines.join('\n')}\n${workers.dst?.lines.join('\n')}`,
      );
    await sleep(200);
  }
}

let cleaning: Promise<void> | undefined;

/** Removes every process, container, volume, image and folder this run made, whether it succeeded or not. */
function cleanup(helperBefore: Map<Host, boolean>): Promise<void> {
  cleaning ??= (async () => {
    for (const child of [workers.src, workers.dst, master]) if (child) await child.stop();
    for (const host of [h1, h2]) {
      await quietly(docker(host, 'rm', '-f', ...PIPE_CONTAINERS));
      const labelled = await docker(host, 'ps', '-aq', '--filter', `label=${runLabel}`).catch(() => '');
      if (labelled) await quietly(docker(host, 'rm', '-f', ...labelled.split('\n')));
      await quietly(docker(host, 'volume', 'rm', '-f', VOLUME));
      const volumes = await docker(host, 'volume', 'ls', '-q', '--filter', `label=${runLabel}`).catch(
        () => '',
      );
      if (volumes) await quietly(docker(host, 'volume', 'rm', '-f', ...volumes.split('\n')));
      for (const image of [APP, BASE2]) await quietly(docker(host, 'rmi', '-f', image));
      await quietly(docker(host, 'image', 'prune', '-f', '--filter', `label=${runLabel}`));
      if (helperBefore.get(host) === false) await quietly(docker(host, 'rmi', HELPER_IMAGE));
    }
    if (root) rmSync(root, { recursive: true, force: true });
  })();
  return cleaning;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = (ms: number) => `${(VOLUME_BYTES / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const times = (x: number) => `${x.toFixed(x < 10 ? 2 : 1)}×`;
const verdict = (met: boolean) => (met ? 'met' : '**missed**');

function table(header: string[], rows: string[][]): string {
  const row = (cells: string[]) => `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
  return [row(header), `|${header.map(() => ' --- |').join('')}`, ...rows.map(row)].join('\n');
}

const helperBefore = new Map<Host, boolean>();
for (const host of [h1, h2])
  helperBefore.set(
    host,
    await docker(host, 'image', 'inspect', HELPER_IMAGE).then(
      () => true,
      () => false,
    ),
  );
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => {
    console.error(`\n${signal}: cleaning up`);
    void cleanup(helperBefore).finally(() => process.exit(130));
  });

const started = performance.now();
/** Progress on stderr, so that stdout holds only the figures. */
function step(what: string): void {
  console.error(`[${s(performance.now() - started).padStart(7)}] ${what}`);
}

try {
  const build = await exec(BIN, ['version'], {
    env: { PATH: process.env.PATH, DOCKER_HOST: h1.socket },
  }).then(
    (r) => r.stdout,
    // `version` exits non-zero when it cannot reach an engine, after printing the build.
    (error: unknown) => (error as { stdout?: string }).stdout ?? '',
  );
  console.log(
    `docker-migrate ${/commit:\s+(\S+)/.exec(build)?.[1] ?? '?'} (built ${/built:\s+(\S+)/.exec(build)?.[1] ?? '?'}),` +
      ` engines ${h1.name} → ${h2.name}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores`,
  );
  const idleBusy = await busyCoresOver(1000);
  console.log(
    `before the bench: ${idleBusy.toFixed(2)} cores busy with other work` +
      (idleBusy > 0.25
        ? ' — absolute figures will be slow and noisy; the ratios compare runs of this one bench'
        : ''),
  );

  step('filling a 1 GiB volume on h1');
  // 1 GiB: 512 MiB random, 512 MiB of zeros written by dd (holes a copier may make sparse), 2,000 small files.
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await docker(
    h1,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    '-v',
    `${VOLUME}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    [
      'set -e',
      'dd if=/dev/urandom of=/data/random.bin bs=1M count=512 2>/dev/null',
      'dd if=/dev/zero of=/data/zeros.bin bs=1M count=512 2>/dev/null',
      'i=0',
      'while [ $i -lt 2000 ]; do d=/data/small/$((i / 100)); mkdir -p $d; head -c $((512 + i % 3500)) /dev/urandom > $d/f$i; i=$((i + 1)); done',
    ].join('\n'),
  );
  execFileSync('sync');
  const source = await volumeFingerprint(h1);
  step('starting a master and two workers');
  await startProduct();
  await masterSees('src', `${VOLUME} on ${h1.name}`, hasVolume);

  step('volume: host tar pipe');
  const hostTar = await volumeRun(source, async () => {
    await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
    const [from, to] = [await volumeMountpoint(h1), await volumeMountpoint(h2)];
    return baseline('host tar c | tar x', `tar -C '${from}' -cf - . | tar -C '${to}' -xf -`);
  });
  step('volume: ours, direct');
  const direct = await volumeRun(source, () =>
    migrate('ours, direct', { volume_names: [VOLUME], transfer_mode: 'direct' }),
  );
  step('volume: ours, proxy');
  const proxy = await volumeRun(source, () =>
    migrate('ours, proxy', { volume_names: [VOLUME], transfer_mode: 'proxy' }),
  );
  const workerHwm = {
    src: procMemory(workers.src?.child.pid, 'VmHWM'),
    dst: procMemory(workers.dst?.child.pid, 'VmHWM'),
  };
  step('volume: docker run tar | docker run -i tar (about a minute and a half)');
  const attach = await volumeRun(source, async () => {
    await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
    const [from, to] = PIPE_CONTAINERS as [string, string];
    return baseline(
      'docker run tar | docker run -i tar',
      `docker -H '${h1.socket}' run --rm --name ${from} --label ${runLabel}=1 -v ${VOLUME}:/from ${h1.baseImage} tar -C /from -cf - . |` +
        ` docker -H '${h2.socket}' run --rm -i --name ${to} --label ${runLabel}=1 -v ${VOLUME}:/to ${h2.baseImage} tar -C /to -xf -`,
    );
  });

  step('images: building base2 and app on h1');
  // Images: base2 = base + 200 MiB layer; app = base2 + 10 MiB layer. Once h2 has base2, app lacks one layer there.
  await dockerWithInput(
    h1,
    `FROM ${h1.baseImage}\nRUN head -c ${SHARED_LAYER_BYTES} /dev/urandom > /base2.bin\nLABEL ${runLabel}=1\n`,
    'build',
    '-q',
    '-t',
    BASE2,
    '-',
  );
  await dockerWithInput(
    h1,
    `FROM ${BASE2}\nRUN head -c ${MISSING_LAYER_BYTES} /dev/urandom > /app.bin\nLABEL ${runLabel}=1\n`,
    'build',
    '-q',
    '-t',
    APP,
    '-',
  );
  // Docker's Size is the layers' content bytes: app's minus base2's is the one layer h2 will lack.
  const missingBytes = (await imageSize(h1, APP)) - (await imageSize(h1, BASE2));
  step('images: ours, base2 then app');
  await masterSees('src', `${APP} on ${h1.name}`, hasImage(APP));
  const base2Ours = await migrate('ours, base2', { image_ids: [BASE2], transfer_mode: 'direct' });
  await masterSees('dst', `${BASE2} on ${h2.name}`, hasImage(BASE2));
  const appOurs = await migrate('ours, app', { image_ids: [APP], transfer_mode: 'direct' });
  if ((await imageId(h2, APP)) !== (await imageId(h1, APP)))
    throw new Error('app differs on h2 after migration');
  step('images: docker save | docker load');
  await docker(h2, 'rmi', APP);
  const appBaseline = await saveLoad('docker save app | docker load', APP);
  if ((await imageId(h2, APP)) !== (await imageId(h1, APP)))
    throw new Error('app differs on h2 after save|load');
  await docker(h2, 'rmi', APP, BASE2);
  const base2Baseline = await saveLoad('docker save base2 | docker load', BASE2);

  const ratio = (ours: Run, base: Run) => base.wallMs / ours.wallMs; // throughput ratio: same bytes either way
  const directVsTar = ratio(direct, hostTar);
  const proxyVsTar = ratio(proxy, hostTar);
  const sentRatio = appOurs.bytes! / missingBytes;
  const peakRss = Math.max(workerHwm.src, workerHwm.dst);
  const own = (run: Run) => (run.ownMs === undefined ? '' : `; migration's own clock ${s(run.ownMs)}`);
  const rows = [
    [
      'Volume 1 GiB h1→h2, direct',
      `${s(direct.wallMs)}, ${rate(direct.wallMs)}${own(direct)}`,
      `host \`tar c | tar x\`: ${s(hostTar.wallMs)}, ${rate(hostTar.wallMs)}`,
      `${times(directVsTar)} throughput`,
      `≥ 0.80× — ${verdict(directVsTar >= 0.8)}`,
    ],
    [
      'Volume 1 GiB h1→h2, proxy (master relay)',
      `${s(proxy.wallMs)}, ${rate(proxy.wallMs)}${own(proxy)}`,
      `host \`tar c | tar x\`: ${s(hostTar.wallMs)}, ${rate(hostTar.wallMs)}`,
      `${times(proxyVsTar)} throughput`,
      `≥ 0.80× — ${verdict(proxyVsTar >= 0.8)}`,
    ],
    [
      'Volume 1 GiB, direct vs the usual script',
      rate(direct.wallMs),
      `\`docker run tar c | docker run -i tar x\`: ${s(attach.wallMs)}, ${rate(attach.wallMs)}`,
      `${times(ratio(direct, attach))} throughput`,
      '—',
    ],
    [
      'Volume 1 GiB, proxy vs the usual script',
      rate(proxy.wallMs),
      `\`docker run tar c | docker run -i tar x\`: ${s(attach.wallMs)}, ${rate(attach.wallMs)}`,
      `${times(ratio(proxy, attach))} throughput`,
      '—',
    ],
    [
      'Image app (base2 already on h2): bytes sent',
      mib(appOurs.bytes!),
      `missing layer: ${mib(missingBytes)}`,
      `${sentRatio.toFixed(4)}×`,
      `≤ 1.01× — ${verdict(sentRatio <= 1.01)}`,
    ],
    [
      'Image app (base2 already on h2): time',
      `${s(appOurs.wallMs)}${own(appOurs)}`,
      `\`docker save | docker load\`: ${s(appBaseline.wallMs)}, ${mib(appBaseline.bytes!)} sent`,
      `${times(appOurs.wallMs / appBaseline.wallMs)} the time`,
      '—',
    ],
    [
      'Image base2 (only its 200 MiB layer missing)',
      `${s(base2Ours.wallMs)}, ${mib(base2Ours.bytes!)} sent`,
      `\`docker save | docker load\`: ${s(base2Baseline.wallMs)}, ${mib(base2Baseline.bytes!)} sent`,
      `${times(base2Ours.wallMs / base2Baseline.wallMs)} the time`,
      '—',
    ],
    [
      'Worker peak RSS (VmHWM) through the volume migrations',
      `source ${mb(workerHwm.src)}, target ${mb(workerHwm.dst)}`,
      '—',
      '—',
      `< 200 MB — ${verdict(peakRss < RSS_TARGET_BYTES)}`,
    ],
  ];
  console.log(
    '\nDockation figures: 1 GiB volume (512 MiB random + 512 MiB zeros + 2,000 small files), images on a shared base\n',
  );
  console.log(table(['figure', 'ours', 'baseline', 'ratio', 'target'], rows));

  const cpuNames = ['src worker', 'dst worker', 'master', `dockerd ${h1.name}`, `dockerd ${h2.name}`];
  const cpu = (run: Run, name: string) => run.usage.cpuSeconds[name]?.toFixed(1) ?? '—';
  console.log('\nWhere the time goes (CPU seconds per process during each run; the machine has');
  console.log(
    `${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores for everything, engines and containers included)\n`,
  );
  console.log(
    table(
      [
        'run',
        'wall',
        'sent',
        ...cpuNames,
        'pipeline (tar / docker CLI)',
        'machine busy',
        'peak VmRSS src / dst',
      ],
      [hostTar, direct, proxy, attach, base2Ours, appOurs, appBaseline, base2Baseline].map((run) => [
        run.label,
        s(run.wallMs),
        run.bytes === undefined ? '—' : mib(run.bytes),
        ...cpuNames.map((name) => cpu(run, name)),
        run.pipelineCpuSeconds === undefined ? '—' : run.pipelineCpuSeconds.toFixed(1),
        `${run.usage.busyCores.toFixed(2)} cores`,
        run.ownMs === undefined
          ? '—'
          : `${mb(run.usage.peakRss['src worker']!)} / ${mb(run.usage.peakRss['dst worker']!)}`,
      ]),
    ),
  );
  console.log('\nTimelines of our migrations (events, seconds after the first)');
  for (const run of [direct, proxy, base2Ours, appOurs]) {
    console.log(`\n${run.label}:`);
    for (const line of run.timeline ?? []) console.log(`  ${line}`);
  }
  const met = [directVsTar >= 0.8, proxyVsTar >= 0.8, sentRatio <= 1.01, peakRss < RSS_TARGET_BYTES];
  console.log(
    `\nSummary: volume direct ${times(directVsTar)} / proxy ${times(proxyVsTar)} the host tar pipe's throughput (target ≥ 0.80×),` +
      ` ${times(ratio(direct, attach))} / ${times(ratio(proxy, attach))} the attach-stream script;` +
      ` image sent ${sentRatio.toFixed(4)}× its missing layer (≤ 1.01×); worker peak RSS ${mb(peakRss)} (< 200 MB);` +
      ` ${met.filter(Boolean).length} of ${met.length} targets met; bench took ${s(performance.now() - started)}.`,
  );
} finally {
  step('cleaning up');
  await cleanup(helperBefore);
}
