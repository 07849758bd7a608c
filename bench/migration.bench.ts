// The figures the product promises, measured through the built binary (a master and two worker processes) on two
// real engines, each beside a baseline measured in the same run; prints markdown tables to paste in the README.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { BIN, masterAddresses, startProcess, type RunningProcess } from '../test/support/processes.js';
import { freePort } from '../test/support/ports.js';

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
  /** Copy rounds: the bytes each sent over the wire. */
  rounds?: { bytes: number }[];
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
  /** The data the run must deliver (file bytes of the volume, content bytes of the missing layers). */
  payloadBytes?: number;
  /** The migration's own started_at → completed_at; undefined for the baselines. */
  ownMs?: number;
  /** Bytes the migration reports as sent, or the bytes through the baseline's pipe. */
  bytes?: number;
  /** Bytes its volume copy rounds sent over the wire (holes, unchanged files and blocks not sent). */
  wireBytes?: number;
  /** CPU of the baseline's own processes (tar, docker CLIs), from the shell's `times` or our waited children. */
  pipelineCpuSeconds?: number;
  usage: Usage;
  /** Our migrations' events: seconds after the first, phase and message. */
  timeline?: string[];
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const MISSING_LAYER_BYTES = 10 * MiB;
const SHARED_LAYER_BYTES = 200 * MiB;
/** The image none of whose layers h2 has: two random layers and one of small files, about base2's size. */
const UNSHARED_LAYER_BYTES = [128 * MiB, 64 * MiB];
const SMALL_FILES = 100_000;
const RSS_TARGET_BYTES = 200e6;
/** Throughput against the host tar pipe that the volume transfers must reach, and the stretch goal of direct. */
const TARGETS = { direct: 0.8, directStretch: 1.0, proxy: 0.6, smallFiles: 0.8, unsharedImageTime: 1.2 };
/** Not a time limit on the figures: a migration still running after this long is taken as hung. */
const HUNG_AFTER_MS = 30 * 60_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const HOSTS_SCRIPT = new URL('../scripts/docker-hosts.sh', import.meta.url).pathname;
const HELPER_IMAGE = 'docker-migrate/volume-helper:1'; // made by a worker when it reads a volume through the Engine

const exec = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const id = randomBytes(4).toString('hex');
const runLabel = `docker-migrate.bench.${id}`;
const adminToken = `dm-admin-bench-${id}`;
const VOLUME = `dm-bench-vol-${id}`;
const FILES_VOLUME = `dm-bench-files-${id}`;
const BASE2 = `dm-bench-base2-${id}:1`;
const APP = `dm-bench-app-${id}:1`;
const UNSHARED = `dm-bench-unshared-${id}:1`;
/** What the rename conflict policy appends to a volume's name on the target. */
const RENAMED = '-migrated';
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
  let reported = start;
  for (;;) {
    const { json } = await api<{ migration: MigrationJson }>('GET', `/api/migrations/${migrationId}`);
    current = json.migration;
    if (['completed', 'failed', 'rolled_back', 'cancelled'].includes(current.status)) break;
    const now = performance.now();
    if (now - start > HUNG_AFTER_MS) throw new Error(`${label}: still ${current.status} after 30 min`);
    if (now - reported > 15_000) {
      reported = now;
      step(`  ${label}: ${current.status}, ${mib(current.bytes_transferred)} sent`);
    }
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
  const wireBytes = (current.rounds ?? []).reduce((sum, r) => sum + r.bytes, 0);
  return { label, wallMs, ownMs, bytes: current.bytes_transferred, wireBytes, usage: used, timeline };
}

/** CPU seconds of the children this process has waited for (cutime + cstime): the docker CLIs of save | load. */
function waitedChildrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / TICKS_PER_SECOND;
}

function cachedBytes(): number {
  const match = /^Cached:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return match ? Number(match[1]) * 1024 : Number.NaN;
}

/**
 * Writes dirty pages out and empties the page cache, so that the next run reads every file from the disk; the
 * engines share this kernel, so one drop serves both sides. Needs root; says why not when it cannot.
 */
function dropCaches(): { dropped: boolean; note: string } {
  execFileSync('sync');
  const before = cachedBytes();
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch (error) {
    return { dropped: false, note: `page cache NOT dropped (${(error as Error).message})` };
  }
  return { dropped: true, note: `page cache dropped: ${mb(before)} → ${mb(cachedBytes())} cached` };
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

const hasVolume = (volume: string) => (r: WorkerResources) => r.volumes.some((v) => v.name === volume);
const hasImage = (image: string) => (r: WorkerResources) => r.images.some((i) => i.tags.includes(image));

/** A volume on h1 to copy, and how a user would check that a copy holds the same, read inside a container. */
interface Workload {
  volume: string;
  /** Shell run in /d, the volume mounted read-only; its output is compared between h1 and h2. */
  fingerprintScript: string;
}

const mixedVolume: Workload = {
  volume: VOLUME,
  fingerprintScript:
    'sha256sum random.bin && md5sum zeros.bin && stat -c "%n %s" random.bin zeros.bin && ' +
    'find . -type f | wc -l && find small -type f | sort | xargs cat | md5sum',
};

const filesVolume: Workload = {
  volume: FILES_VOLUME,
  fingerprintScript:
    'find . | sort | md5sum && find . -type f | wc -l && find . -type f | sort | xargs md5sum | md5sum',
};

function volumeFingerprint(host: Host, workload: Workload, volume = workload.volume): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    '-v',
    `${volume}:/d:ro`,
    host.baseImage,
    'sh',
    '-c',
    `cd /d && ${workload.fingerprintScript}`,
  );
}

async function volumeExists(host: Host, volume: string): Promise<boolean> {
  return (await docker(host, 'volume', 'ls', '-q', '--filter', `name=^${volume}$`)) !== '';
}

async function volumeMountpoint(host: Host, volume: string): Promise<string> {
  return docker(host, 'volume', 'inspect', '-f', '{{.Mountpoint}}', volume);
}

/** Bytes in the volume's files (not folders), summed from the engine's volume folder. */
async function volumeFileBytes(host: Host, volume: string): Promise<number> {
  const { stdout } = await exec(
    'find',
    [await volumeMountpoint(host, volume), '-type', 'f', '-printf', '%s\n'],
    {
      maxBuffer: 64 * MiB,
    },
  );
  return stdout
    .split('\n')
    .filter(Boolean)
    .reduce((sum, size) => sum + Number(size), 0);
}

interface VolumeRunOptions {
  /** The volume's content as `volumeFingerprint` printed it on h1. */
  source: string;
  payloadBytes: number;
  /** Empty the page cache first, so that both sides start from the disk. */
  cold?: boolean;
}

/**
 * Runs one copy of the volume to h2 as `copy`, a volume h2 must not hold before, and checks that h2 then holds the
 * same. `work` gets the note on the page cache to put in its label. Copies stay until the end: on a filesystem
 * without a journal (ext4 on these machines) creating files within a minute or so of deleting many costs several
 * times more (the inode allocator steps over recently freed inodes), so a run made right after the previous copy
 * was deleted pays for it — the host tar pipe of 100,000 files took 54–63 s that way against 12–15 s on a quiet
 * filesystem.
 */
async function volumeRun(
  workload: Workload,
  copy: string,
  options: VolumeRunOptions,
  work: (cacheNote: string) => Promise<Run>,
): Promise<Run> {
  if (await volumeExists(h2, copy)) throw new Error(`${h2.name} already holds ${copy}`);
  let cacheNote = '';
  if (options.cold) {
    const cache = dropCaches();
    step(`  ${cache.note}`);
    cacheNote = cache.dropped ? ', cold caches' : ', caches NOT dropped';
  }
  const run = await work(cacheNote);
  const copied = await volumeFingerprint(h2, workload, copy);
  if (copied !== options.source)
    throw new Error(
      `${run.label}: h2's copy differs from h1's volume\nh1:\n${options.source}\nh2:\n${copied}`,
    );
  // Flush the copy to disk now, so that its writeback does not run during the next measurement.
  execFileSync('sync');
  return { ...run, payloadBytes: options.payloadBytes };
}

/** Host `tar c | tar x` from h1's volume folder into a new volume's folder on h2: the practical limit. */
async function hostTar(workload: Workload, copy: string, label: string, createFlags = ''): Promise<Run> {
  await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, copy);
  const [from, to] = [await volumeMountpoint(h1, workload.volume), await volumeMountpoint(h2, copy)];
  return baseline(label, `tar ${createFlags} -C '${from}' -cf - . | tar -C '${to}' -xf -`);
}

/** One ustar header (enough for busybox tar): a file of `size` bytes or, with type 5, a folder. */
function ustarHeader(name: string, size: number, type: '0' | '5'): Buffer {
  const header = Buffer.alloc(512);
  const text = (value: string, offset: number, length: number) =>
    header.write(value, offset, length, 'ascii');
  const octal = (value: number, offset: number, length: number) =>
    text(value.toString(8).padStart(length - 1, '0'), offset, length - 1);
  text(name, 0, 100);
  octal(type === '5' ? 0o755 : 0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(1_700_000_000, 136, 12);
  header.fill(' ', 148, 156); // the checksum counts its own field as spaces
  text(type, 156, 1);
  text('ustar\0', 257, 6);
  text('00', 263, 2);
  const sum = header.reduce((total, byte) => total + byte, 0);
  text(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return header;
}

/** Size of small file i: 1–20 KiB, spread evenly over the files in a scrambled order, 1 GiB in all. */
function smallFileSize(i: number): number {
  return 1024 + Math.floor((((i * 7919) % SMALL_FILES) * 19_426) / (SMALL_FILES - 1));
}

/**
 * A tar stream of SMALL_FILES random files in 100 folders of 10 folders of 100 files, in 1 MiB chunks: one
 * `tar x` in a container unpacks it far faster than a shell loop forks 100,000 writers.
 */
function* smallFilesTar(): Generator<Buffer> {
  let chunk: Buffer[] = [];
  let length = 0;
  const add = (buffer: Buffer) => {
    chunk.push(buffer);
    length += buffer.length;
  };
  for (let i = 0; i < SMALL_FILES; i++) {
    const [top, sub] = [Math.floor(i / 1000), Math.floor(i / 100) % 10];
    if (i % 1000 === 0) add(ustarHeader(`d${top}/`, 0, '5'));
    if (i % 100 === 0) add(ustarHeader(`d${top}/s${sub}/`, 0, '5'));
    const size = smallFileSize(i);
    add(ustarHeader(`d${top}/s${sub}/f${i}`, size, '0'));
    const body = Buffer.alloc(Math.ceil(size / 512) * 512);
    body.set(randomBytes(size));
    add(body);
    if (length >= MiB) {
      yield Buffer.concat(chunk, length);
      chunk = [];
      length = 0;
    }
  }
  add(Buffer.alloc(1024)); // two zero blocks end the archive
  yield Buffer.concat(chunk, length);
}

/** Fills FILES_VOLUME on h1 through `docker run -i … tar x`, fed from smallFilesTar(). */
async function fillFilesVolume(): Promise<void> {
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, FILES_VOLUME);
  const child = spawn(
    'docker',
    [
      '-H',
      h1.socket,
      'run',
      '--rm',
      '-i',
      '--label',
      `${runLabel}=1`,
      '-v',
      `${FILES_VOLUME}:/data`,
      h1.baseImage,
      'tar',
      '-C',
      '/data',
      '-xf',
      '-',
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await pipeline(Readable.from(smallFilesTar()), child.stdin);
  const code = await exited;
  if (code !== 0) throw new Error(`filling ${FILES_VOLUME}: docker run tar x → ${code}: ${err}`);
}

/** Fills VOLUME on h1: 512 MiB random, 512 MiB of zeros written by dd (holes a copier may make), 2,000 small files. */
async function fillMixedVolume(): Promise<void> {
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
}

/** Whether zeros.bin takes disk blocks: `tar --sparse` sends as holes only what the file system holds as holes. */
async function zerosAllocation(): Promise<string> {
  const path = join(await volumeMountpoint(h1, VOLUME), 'zeros.bin');
  const [size, blocks] = execFileSync('stat', ['-c', '%s %b', path], { encoding: 'utf8' }).trim().split(' ');
  return `zeros.bin on h1: ${mib(Number(size))}, ${mib(Number(blocks) * 512)} allocated`;
}

/** `docker save` on h1 piped into `docker load` on h2, counting the bytes through the pipe. */
async function saveLoad(label: string, image: string): Promise<Run> {
  const usage = meter();
  const cliCpuBefore = waitedChildrenCpuSeconds();
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
  const wallMs = performance.now() - start;
  return {
    label,
    wallMs,
    bytes,
    pipelineCpuSeconds: waitedChildrenCpuSeconds() - cliCpuBefore,
    usage: usage.stop(),
  };
}

async function imageId(host: Host, image: string): Promise<string> {
  return docker(host, 'image', 'inspect', '-f', '{{.Id}}', image);
}

async function imageSize(host: Host, image: string): Promise<number> {
  return Number(await docker(host, 'image', 'inspect', '-f', '{{.Size}}', image));
}

/** Builds `tag` on h1 from a Dockerfile given on stdin. */
async function build(dockerfile: string, tag: string): Promise<void> {
  await dockerWithInput(h1, dockerfile, 'build', '-q', '-t', tag, '-');
}

/**
 * An image from scratch, so that h2 holds none of its layers: two random layers and one of 2,000 small files,
 * made in a first stage (labelled, so that cleanup prunes it) and copied over one layer each.
 */
async function buildUnsharedImage(): Promise<void> {
  const [first, second] = UNSHARED_LAYER_BYTES as [number, number];
  await build(
    [
      `FROM ${h1.baseImage} AS layers`,
      `LABEL ${runLabel}=1`,
      `RUN mkdir -p /l1 /l2 /l3/files && head -c ${first} /dev/urandom > /l1/one.bin && head -c ${second} /dev/urandom > /l2/two.bin && ` +
        'i=0; while [ $i -lt 2000 ]; do head -c $((512 + i % 3500)) /dev/urandom > /l3/files/f$i; i=$((i + 1)); done',
      'FROM scratch',
      'COPY --from=layers /l1 /',
      'COPY --from=layers /l2 /',
      'COPY --from=layers /l3 /',
      `LABEL ${runLabel}=1`,
      '',
    ].join('\n'),
    UNSHARED,
  );
}

/** `--relay-addr` for masters that relay transfers on their own listener; older masters do not know the flag. */
async function relayArgs(): Promise<string[]> {
  const help = await exec(BIN, ['master', '--help'], { env: { PATH: process.env.PATH } }).then(
    (r) => r.stdout,
    (error: unknown) => (error as { stdout?: string }).stdout ?? '',
  );
  if (!help.includes('--relay-addr')) return [];
  return ['--relay-addr', `127.0.0.1:${await freePort()}`];
}

async function startProduct(relay: string[]): Promise<void> {
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
      ...relay,
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
      await quietly(docker(host, 'volume', 'rm', '-f', VOLUME, `${VOLUME}${RENAMED}`, FILES_VOLUME));
      const volumes = await docker(host, 'volume', 'ls', '-q', '--filter', `label=${runLabel}`).catch(
        () => '',
      );
      if (volumes) await quietly(docker(host, 'volume', 'rm', '-f', ...volumes.split('\n')));
      await quietly(docker(host, 'rm', '-f', WRITER));
      await quietly(docker(host, 'volume', 'rm', '-f', WRITER_VOLUME));
      for (const image of [APP, BASE2, UNSHARED, WRITER_IMAGE])
        await quietly(docker(host, 'rmi', '-f', image));
      await quietly(docker(host, 'image', 'prune', '-f', '--filter', `label=${runLabel}`));
      if (helperBefore.get(host) === false) await quietly(docker(host, 'rmi', HELPER_IMAGE));
    }
    if (root) rmSync(root, { recursive: true, force: true });
  })();
  return cleaning;
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
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

/** What filling a volume took, and what it holds. */
interface Filled {
  source: string;
  payloadBytes: number;
  setupMs: number;
}

async function fill(workload: Workload, how: () => Promise<void>): Promise<Filled> {
  const start = performance.now();
  await how();
  execFileSync('sync');
  const setupMs = performance.now() - start;
  return {
    source: await volumeFingerprint(h1, workload),
    payloadBytes: await volumeFileBytes(h1, workload.volume),
    setupMs,
  };
}

/** The mixed volume through both host tar pipes, then ours direct and through the master. */
async function mixedVolumeRuns(filled: Filled) {
  const options = { source: filled.source, payloadBytes: filled.payloadBytes };
  step('volume: host tar pipe');
  const tar = await volumeRun(mixedVolume, `${VOLUME}-tar`, options, () =>
    hostTar(mixedVolume, `${VOLUME}-tar`, 'host tar c | tar x'),
  );
  step('volume: host tar --sparse pipe');
  const sparseTar = await volumeRun(mixedVolume, `${VOLUME}-sparse`, options, () =>
    hostTar(mixedVolume, `${VOLUME}-sparse`, 'host tar --sparse c | tar x', '--sparse'),
  );
  step('volume: ours, direct');
  const direct = await volumeRun(mixedVolume, VOLUME, options, () =>
    migrate('ours, direct', { volume_names: [VOLUME], transfer_mode: 'direct' }),
  );
  step('volume: ours, proxy');
  // The direct copy stays on h2 (see volumeRun): this one arrives under the name the rename policy gives it.
  await masterSees('dst', `${VOLUME} on ${h2.name}`, hasVolume(VOLUME));
  const proxy = await volumeRun(mixedVolume, `${VOLUME}${RENAMED}`, options, () =>
    migrate('ours, proxy', { volume_names: [VOLUME], transfer_mode: 'proxy', conflict_policy: 'rename' }),
  );
  return { tar, sparseTar, direct, proxy };
}

/** The usual script: a container's tar on h1 piped through the attach streams into a container's tar on h2. */
function attachRun(filled: Filled): Promise<Run> {
  return volumeRun(mixedVolume, `${VOLUME}-attach`, filled, async () => {
    await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, `${VOLUME}-attach`);
    const [from, to] = PIPE_CONTAINERS as [string, string];
    return baseline(
      'docker run tar | docker run -i tar',
      `docker -H '${h1.socket}' run --rm --name ${from} --label ${runLabel}=1 -v ${VOLUME}:/from ${h1.baseImage} tar -C /from -cf - . |` +
        ` docker -H '${h2.socket}' run --rm -i --name ${to} --label ${runLabel}=1 -v ${VOLUME}-attach:/to ${h2.baseImage} tar -C /to -xf -`,
    );
  });
}

/** 100,000 small files, each side reading from the disk: what file-by-file work costs. */
async function filesVolumeRuns(filled: Filled) {
  const options = { source: filled.source, payloadBytes: filled.payloadBytes, cold: true };
  step('100,000 files: host tar pipe, cold caches');
  const tar = await volumeRun(filesVolume, `${FILES_VOLUME}-tar`, options, (cache) =>
    hostTar(filesVolume, `${FILES_VOLUME}-tar`, `files: host tar c | tar x${cache}`),
  );
  step('100,000 files: ours, direct, cold caches');
  const direct = await volumeRun(filesVolume, FILES_VOLUME, options, (cache) =>
    migrate(`files: ours, direct${cache}`, { volume_names: [FILES_VOLUME], transfer_mode: 'direct' }),
  );
  return { tar, direct };
}

async function sameImage(image: string, after: string): Promise<void> {
  if ((await imageId(h2, image)) !== (await imageId(h1, image)))
    throw new Error(`${image} differs on h2 after ${after}`);
}

/** Images on a shared base: base2 = base + 200 MiB layer; app = base2 + 10 MiB layer, which h2 then lacks. */
async function sharedBaseImageRuns() {
  step('images: building base2 and app on h1');
  await build(
    `FROM ${h1.baseImage}\nRUN head -c ${SHARED_LAYER_BYTES} /dev/urandom > /base2.bin\nLABEL ${runLabel}=1\n`,
    BASE2,
  );
  await build(
    `FROM ${BASE2}\nRUN head -c ${MISSING_LAYER_BYTES} /dev/urandom > /app.bin\nLABEL ${runLabel}=1\n`,
    APP,
  );
  // Docker's Size is the layers' content bytes: app's minus base2's is the one layer h2 will lack.
  const missingBytes = (await imageSize(h1, APP)) - (await imageSize(h1, BASE2));
  const base2Missing = (await imageSize(h1, BASE2)) - (await imageSize(h1, h1.baseImage));
  step('images: ours, base2 then app');
  await masterSees('src', `${APP} on ${h1.name}`, hasImage(APP));
  const base2Ours = await migrate('ours, base2', { image_ids: [BASE2], transfer_mode: 'direct' });
  await masterSees('dst', `${BASE2} on ${h2.name}`, hasImage(BASE2));
  const appOurs = await migrate('ours, app', { image_ids: [APP], transfer_mode: 'direct' });
  await sameImage(APP, 'migration');
  step('images: docker save | docker load');
  await docker(h2, 'rmi', APP);
  const appBaseline = await saveLoad('docker save app | docker load', APP);
  await sameImage(APP, 'save | load');
  await docker(h2, 'rmi', APP, BASE2);
  const base2Baseline = await saveLoad('docker save base2 | docker load', BASE2);
  return {
    missingBytes,
    base2Ours: { ...base2Ours, payloadBytes: base2Missing },
    appOurs: { ...appOurs, payloadBytes: missingBytes },
    appBaseline: { ...appBaseline, payloadBytes: missingBytes },
    base2Baseline: { ...base2Baseline, payloadBytes: base2Missing },
  };
}

/** An image none of whose layers h2 has, ours against `docker save | docker load`. */
async function unsharedImageRuns() {
  step('images: building an image from scratch on h1 (nothing shared with h2)');
  await buildUnsharedImage();
  const size = await imageSize(h1, UNSHARED);
  await masterSees('src', `${UNSHARED} on ${h1.name}`, hasImage(UNSHARED));
  step('images: ours, nothing shared');
  const ours = await migrate('ours, nothing shared', { image_ids: [UNSHARED], transfer_mode: 'direct' });
  await sameImage(UNSHARED, 'migration');
  await docker(h2, 'rmi', UNSHARED);
  step('images: docker save | docker load, nothing shared');
  const base = await saveLoad('docker save unshared | docker load', UNSHARED);
  await sameImage(UNSHARED, 'save | load');
  await docker(h2, 'rmi', UNSHARED);
  return { size, ours: { ...ours, payloadBytes: size }, baseline: { ...base, payloadBytes: size } };
}

/** A migration's answer with its downtime and rounds, as GET /api/migrations/:id gives it. */
interface TimedMigration {
  status: string;
  error: string | null;
  downtime_ms: number | null;
  downtime_phases: Record<
    'stop_ms' | 'final_sync_ms' | 'apply_ms' | 'start_ms' | 'ready_ms',
    number | null
  > | null;
  rounds: { round: number; final: boolean; bytes: number; duration_ms: number; files: number }[];
}

const WRITER_IMAGE = `dm-bench-writer-${id}:1`;
const WRITER = `dm-bench-writer-${id}`;
const WRITER_VOLUME = `dm-bench-writer-vol-${id}`;
/**
 * The service warm mode is for: every 10 ms an 8 KiB block rewritten at a scattered offset of a 1 GiB file, a
 * line appended to a log, and every 100 steps a new 4 KiB file — about 1 % of the volume changed per 10 s. SIGTERM
 * ends it at once.
 */
const WRITER_SCRIPT = [
  "trap 'exit 0' TERM",
  'i=0',
  'while true; do',
  '  i=$((i+1))',
  '  dd if=/dev/urandom of=/data/big bs=8192 count=1 seek=$(( (i * 7919) % 131072 )) conv=notrunc 2>/dev/null',
  '  echo "record $i" >> /data/log',
  '  if [ $((i % 100)) -eq 0 ]; then head -c 4096 /dev/urandom > /data/new-$i; fi',
  '  sleep 0.01',
  'done',
].join('\n');

async function startWriter(): Promise<void> {
  await docker(h1, 'rm', '-f', WRITER).catch(() => undefined);
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    WRITER,
    '--label',
    `${runLabel}=1`,
    '-v',
    `${WRITER_VOLUME}:/data`,
    WRITER_IMAGE,
    'sh',
    '-c',
    WRITER_SCRIPT,
  );
  await sleep(3000); // writing for a while before the migration starts
}

/** Moves the writer h1 → h2 in `mode`; answers the migration's downtime and rounds. */
async function moveWriter(mode: 'cold' | 'warm'): Promise<TimedMigration> {
  const created = await api<{ migration?: { id: string } }>('POST', '/api/migrations', {
    source_worker_id: workerIds.src,
    target_worker_id: workerIds.dst,
    container_ids: [WRITER],
    mode,
    transfer_mode: 'direct',
  });
  const migrationId = created.json.migration?.id;
  if (created.status !== 201 || migrationId === undefined)
    throw new Error(`POST /api/migrations (${mode}) → ${created.status}: ${JSON.stringify(created.json)}`);
  for (const started = performance.now(); ;) {
    const { json } = await api<{ migration: TimedMigration }>('GET', `/api/migrations/${migrationId}`);
    if (['completed', 'failed', 'rolled_back', 'cancelled'].includes(json.migration.status)) {
      if (json.migration.status !== 'completed')
        throw new Error(`${mode} migration of the writer ${json.migration.status}: ${json.migration.error}`);
      return json.migration;
    }
    if (performance.now() - started > HUNG_AFTER_MS) throw new Error(`${mode} migration of the writer hung`);
    await sleep(100);
  }
}

/** Removes what a migration of the writer left on h2 (its container and volume; the image stays). */
async function clearWriterTarget(): Promise<void> {
  await docker(h2, 'rm', '-f', WRITER).catch(() => undefined);
  await docker(h2, 'volume', 'rm', '-f', WRITER_VOLUME).catch(() => undefined);
  await masterSees('dst', `${WRITER_VOLUME} gone from ${h2.name}`, (r) => !hasVolume(WRITER_VOLUME)(r));
}

/** A writing service with a 1 GiB volume moved cold, then warm: downtime and its phases, rounds and their bytes. */
async function downtimeRuns(): Promise<{ cold: TimedMigration; warm: TimedMigration }> {
  step('downtime: a 1 GiB volume and a container that keeps writing into it');
  await exec('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${WRITER_IMAGE} -`,
  ]);
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, WRITER_VOLUME);
  await docker(
    h1,
    'run',
    '--rm',
    '-v',
    `${WRITER_VOLUME}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    'dd if=/dev/urandom of=/data/big bs=1M count=1024 2>/dev/null && sync',
  );
  await startWriter();
  await masterSees('src', `${WRITER_VOLUME} on ${h1.name}`, hasVolume(WRITER_VOLUME));
  step('downtime: cold');
  const cold = await moveWriter('cold');
  await clearWriterTarget();
  await startWriter();
  step('downtime: warm');
  const warm = await moveWriter('warm');
  await clearWriterTarget();
  await docker(h1, 'rm', '-f', WRITER).catch(() => undefined);
  return { cold, warm };
}

function printDowntime({ cold, warm }: { cold: TimedMigration; warm: TimedMigration }): void {
  const ms = (value: number | null | undefined) => (value === null || value === undefined ? '—' : s(value));
  console.log(
    '\nDowntime of a container that keeps writing into a 1 GiB volume (~1 % changed per 10 s), cold and warm\n',
  );
  console.log(
    table(
      ['mode', 'downtime', 'stop', 'final copy', 'create', 'start', 'ready', 'rounds (bytes in time)'],
      [cold, warm].map((m, index) => [
        index === 0 ? 'cold' : 'warm',
        ms(m.downtime_ms),
        ms(m.downtime_phases?.stop_ms),
        ms(m.downtime_phases?.final_sync_ms),
        ms(m.downtime_phases?.apply_ms),
        ms(m.downtime_phases?.start_ms),
        ms(m.downtime_phases?.ready_ms),
        m.rounds.map((r) => `${r.final ? 'final ' : ''}${mib(r.bytes)} in ${s(r.duration_ms)}`).join('; '),
      ]),
    ),
  );
}

const RESYNC_VOLUME = `dm-bench-resync-${id}`;
/** The copy rsync keeps up to date on h2, beside ours. */
const RSYNC_COPY = `${RESYNC_VOLUME}-rsync`;

/** One re-sync, ours or rsync's: bytes sent and time. */
interface Resync {
  label: string;
  bytes: number;
  wallMs: number;
}

/** Runs a shell script, one line per element, in a throwaway container with the re-sync volume at /data on h1. */
async function inResyncVolume(lines: string[]): Promise<void> {
  await docker(
    h1,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    '-v',
    `${RESYNC_VOLUME}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    lines.join('\n'),
  );
}

/**
 * About 1 % of the re-sync volume changed, as the warm workload's writer does it: 1,280 scattered 8 KiB blocks of
 * the big file (10 MiB), an append to the log, 20 new files, 20 small files deleted. `round` keeps each change
 * apart from the last.
 */
async function changeResyncVolume(round: number): Promise<void> {
  await inResyncVolume([
    'set -e',
    'i=0',
    `while [ $i -lt 1280 ]; do dd if=/dev/urandom of=/data/big bs=8192 count=1 seek=$(( (i * 7919 + ${round * 13}) % 122880 )) conv=notrunc 2>/dev/null; i=$((i + 1)); done`,
    'head -c 102400 /dev/urandom >> /data/log',
    `i=0; while [ $i -lt 20 ]; do head -c 16384 /dev/urandom > /data/new-${round}-$i; i=$((i + 1)); done`,
    `i=0; while [ $i -lt 20 ]; do rm -f /data/small/f$(( ${round * 20} + i )); i=$((i + 1)); done`,
    'sync',
  ]);
}

/** rsync between the two volume folders, with its delta algorithm on, as between two hosts. */
async function rsyncRun(label: string): Promise<Resync> {
  const from = await volumeMountpoint(h1, RESYNC_VOLUME);
  const to = await volumeMountpoint(h2, RSYNC_COPY);
  const start = performance.now();
  const { stdout } = await exec(
    'rsync',
    ['-a', '--delete', '--no-whole-file', '--stats', `${from}/`, `${to}/`],
    {
      maxBuffer: 16 * MiB,
    },
  );
  const wallMs = performance.now() - start;
  const sent = /Total bytes sent: ([\d,.]+)/.exec(stdout)?.[1]?.replace(/[,.]/g, '');
  return { label, bytes: Number(sent ?? Number.NaN), wallMs };
}

/** Moves the re-sync volume h1 → h2 with `strategy`; answers bytes sent (the copy rounds) and time. */
async function resyncMigration(label: string, strategy: 'full' | 'incremental'): Promise<Resync> {
  const run = await migrate(label, { volume_names: [RESYNC_VOLUME], transfer_mode: 'direct', strategy });
  if (process.env.DM_BENCH_ONLY === 'resync') for (const line of run.timeline ?? []) console.log(`  ${line}`);
  return { label, bytes: run.wireBytes ?? Number.NaN, wallMs: run.wallMs };
}

/**
 * A 1 GiB volume (a 960 MiB file and 2,000 small ones) moved with the full strategy (the yardstick), removed from h2,
 * and moved again with the incremental strategy (nothing on the target yet: everything travels, and both ends keep
 * a record of the copy); then twice about 1 % of it changes and the target's copy is brought up to date — by an
 * incremental migration, and by rsync between the volume folders.
 */
async function resyncRuns(): Promise<{ full: Resync; runs: Resync[]; volumeBytes: number }> {
  const rsync = await exec('rsync', ['--version']).then(
    () => true,
    () => false,
  );
  step('re-sync: a 1 GiB volume on h1 (960 MiB file, 2,000 small files)');
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, RESYNC_VOLUME);
  await inResyncVolume([
    'set -e',
    'dd if=/dev/urandom of=/data/big bs=1M count=960 2>/dev/null',
    'mkdir /data/small',
    'i=0; while [ $i -lt 2000 ]; do head -c 32768 /dev/urandom > /data/small/f$i; i=$((i + 1)); done',
    'echo start > /data/log',
    // Written long ago, as most of a volume is: what a sync re-checks by content because it changed within the
    // last 35 s (see README, Warm migrations) is then only what the bench changes.
    'find /data -type f -exec touch -d "2020-01-01 00:00:00" {} +',
    'sync',
  ]);
  const volumeBytes = await volumeFileBytes(h1, RESYNC_VOLUME);
  await masterSees('src', `${RESYNC_VOLUME} on ${h1.name}`, hasVolume(RESYNC_VOLUME));
  step('re-sync: full copy (ours)');
  const full = await resyncMigration('ours, full strategy', 'full');
  await docker(h2, 'volume', 'rm', RESYNC_VOLUME);
  await masterSees('dst', `${RESYNC_VOLUME} gone from ${h2.name}`, (r) => !hasVolume(RESYNC_VOLUME)(r));
  step('re-sync: first copy with the incremental strategy (nothing on the target yet)');
  const runs: Resync[] = [
    await resyncMigration('ours, incremental, nothing on the target yet', 'incremental'),
  ];
  if (rsync) {
    await docker(h2, 'volume', 'create', '--label', `${runLabel}=1`, RSYNC_COPY);
    runs.push(await rsyncRun('rsync, first copy'));
  }
  for (const round of [1, 2]) {
    step(`re-sync ${String(round)}: about 1 % changed on h1`);
    await changeResyncVolume(round);
    if (rsync) runs.push(await rsyncRun(`rsync -a --delete --no-whole-file, change ${String(round)}`));
    runs.push(await resyncMigration(`ours, incremental, change ${String(round)}`, 'incremental'));
  }
  if (!rsync)
    console.log('\nrsync is not installed: bench/run.sh installs it from the distribution (apt-get)');
  return { full, runs, volumeBytes };
}

function printResync(resync: { full: Resync; runs: Resync[]; volumeBytes: number }): Target[] {
  const { full, runs, volumeBytes } = resync;
  console.log(
    `\nRe-sync of a ${mib(volumeBytes)} volume after about 1 % changed (10 MiB of scattered 8 KiB blocks, an append,` +
      ' 20 new and 20 deleted files), against our full copy\n',
  );
  const pct = (bytes: number) => `${((bytes / volumeBytes) * 100).toFixed(2)} %`;
  console.log(
    table(
      ['run', 'sent', 'of the volume', 'time', "of the full copy's time"],
      [full, ...runs].map((r) => [
        r.label,
        mib(r.bytes),
        pct(r.bytes),
        s(r.wallMs),
        `${((r.wallMs / full.wallMs) * 100).toFixed(0)} %`,
      ]),
    ),
  );
  // The targets are the re-syncs' (after a change), not the first copy's.
  const ours = runs.filter((r) => r.label.startsWith('ours, incremental, change'));
  const worstBytes = Math.max(...ours.map((r) => r.bytes / volumeBytes));
  const worstTime = Math.max(...ours.map((r) => r.wallMs / full.wallMs));
  return [
    { name: 'incremental bytes', figure: pct(worstBytes * volumeBytes), met: worstBytes < 0.03 },
    {
      name: 'incremental time',
      figure: `${(worstTime * 100).toFixed(0)} % of a full copy`,
      met: worstTime < 0.25,
    },
  ];
}

type MixedRuns = Awaited<ReturnType<typeof mixedVolumeRuns>>;
type FilesRuns = Awaited<ReturnType<typeof filesVolumeRuns>>;
type SharedRuns = Awaited<ReturnType<typeof sharedBaseImageRuns>>;
type UnsharedRuns = Awaited<ReturnType<typeof unsharedImageRuns>>;

interface Figures {
  mixed: MixedRuns;
  attach: Run;
  files: FilesRuns;
  shared: SharedRuns;
  unshared: UnsharedRuns;
  workerHwm: { src: number; dst: number };
}

interface Target {
  name: string;
  /** The measured figure as printed: a ratio, or a size. */
  figure: string;
  met: boolean;
}

/** Throughput ratio: the same bytes either way, so the inverse ratio of the times. */
const ratio = (ours: Run, base: Run) => base.wallMs / ours.wallMs;

function throughputTarget(name: string, value: number, min: number, stretch?: number): [Target, string] {
  const text =
    `≥ ${min.toFixed(2)}× — ${verdict(value >= min)}` +
    (stretch === undefined
      ? ''
      : `; stretch ≥ ${stretch.toFixed(2)}× — ${value >= stretch ? 'met' : 'not yet'}`);
  return [{ name, figure: times(value), met: value >= min }, text];
}

/** The main table: each figure beside its baseline, the ratio and the target; returns the targets checked. */
function printFigures(f: Figures): Target[] {
  const { mixed, attach, files, shared, unshared } = f;
  const own = (run: Run) => (run.ownMs === undefined ? '' : `; migration's own clock ${s(run.ownMs)}`);
  const speed = (run: Run) => `${s(run.wallMs)}, ${rate(run.payloadBytes!, run.wallMs)}`;
  const targets: Target[] = [];
  const rows: string[][] = [];
  const tar = 'host `tar c | tar x`';
  const sparseTar = 'host `tar --sparse c | tar x`';
  const volumeFigures: [string, string, Run, Run, string, number, number?][] = [
    [
      'direct vs tar',
      'Volume 1 GiB h1→h2, direct',
      mixed.direct,
      mixed.tar,
      tar,
      TARGETS.direct,
      TARGETS.directStretch,
    ],
    [
      'direct vs tar --sparse',
      'Volume 1 GiB h1→h2, direct',
      mixed.direct,
      mixed.sparseTar,
      sparseTar,
      TARGETS.direct,
      TARGETS.directStretch,
    ],
    ['proxy vs tar', 'Volume 1 GiB h1→h2, proxy (master relay)', mixed.proxy, mixed.tar, tar, TARGETS.proxy],
    [
      'proxy vs tar --sparse',
      'Volume 1 GiB h1→h2, proxy (master relay)',
      mixed.proxy,
      mixed.sparseTar,
      sparseTar,
      TARGETS.proxy,
    ],
    [
      '100,000 files vs tar',
      '100,000 files (1–20 KiB, 1 GiB), direct, cold caches',
      files.direct,
      files.tar,
      `${tar}, cold caches`,
      TARGETS.smallFiles,
    ],
  ];
  for (const [name, figure, ours, base, baseName, min, stretch] of volumeFigures) {
    const value = ratio(ours, base);
    const [target, text] = throughputTarget(name, value, min, stretch);
    targets.push(target);
    rows.push([
      figure,
      `${speed(ours)}${own(ours)}`,
      `${baseName}: ${speed(base)}`,
      `${times(value)} throughput`,
      text,
    ]);
  }
  for (const [mode, run] of [
    ['direct', mixed.direct],
    ['proxy', mixed.proxy],
  ] as const)
    rows.push([
      `Volume 1 GiB, ${mode} vs the usual script`,
      rate(run.payloadBytes!, run.wallMs),
      `\`docker run tar c | docker run -i tar x\`: ${speed(attach)}`,
      `${times(ratio(run, attach))} throughput`,
      '—',
    ]);
  const unsharedTime = unshared.ours.wallMs / unshared.baseline.wallMs;
  const unsharedMet = unsharedTime <= TARGETS.unsharedImageTime;
  targets.push({ name: 'image with nothing shared, time', figure: times(unsharedTime), met: unsharedMet });
  rows.push([
    `Image with nothing shared (${mib(unshared.size)}, 3 layers): time`,
    `${s(unshared.ours.wallMs)}, ${mib(unshared.ours.bytes!)} sent${own(unshared.ours)}`,
    `\`docker save | docker load\`: ${s(unshared.baseline.wallMs)}, ${mib(unshared.baseline.bytes!)} sent`,
    `${times(unsharedTime)} the time`,
    `≤ ${TARGETS.unsharedImageTime.toFixed(2)}× — ${verdict(unsharedMet)}`,
  ]);
  const sentRatio = shared.appOurs.bytes! / shared.missingBytes;
  targets.push({
    name: 'image on a shared base, bytes sent',
    figure: `${sentRatio.toFixed(4)}×`,
    met: sentRatio <= 1.01,
  });
  rows.push(
    [
      'Image app (base2 already on h2): bytes sent',
      mib(shared.appOurs.bytes!),
      `missing layer: ${mib(shared.missingBytes)}`,
      `${sentRatio.toFixed(4)}×`,
      `≤ 1.01× — ${verdict(sentRatio <= 1.01)}`,
    ],
    [
      'Image app (base2 already on h2): time',
      `${s(shared.appOurs.wallMs)}${own(shared.appOurs)}`,
      `\`docker save | docker load\`: ${s(shared.appBaseline.wallMs)}, ${mib(shared.appBaseline.bytes!)} sent`,
      `${times(shared.appOurs.wallMs / shared.appBaseline.wallMs)} the time`,
      '—',
    ],
    [
      'Image base2 (only its 200 MiB layer missing)',
      `${s(shared.base2Ours.wallMs)}, ${mib(shared.base2Ours.bytes!)} sent`,
      `\`docker save | docker load\`: ${s(shared.base2Baseline.wallMs)}, ${mib(shared.base2Baseline.bytes!)} sent`,
      `${times(shared.base2Ours.wallMs / shared.base2Baseline.wallMs)} the time`,
      '—',
    ],
  );
  const peakRss = Math.max(f.workerHwm.src, f.workerHwm.dst);
  targets.push({ name: 'worker peak RSS', figure: mb(peakRss), met: peakRss < RSS_TARGET_BYTES });
  rows.push([
    'Worker peak RSS (VmHWM) through the volume migrations',
    `source ${mb(f.workerHwm.src)}, target ${mb(f.workerHwm.dst)}`,
    '—',
    '—',
    `< 200 MB — ${verdict(peakRss < RSS_TARGET_BYTES)}`,
  ]);
  console.log(
    '\nDockation figures: 1 GiB volume (512 MiB random + 512 MiB zeros + 2,000 small files), 1 GiB of 100,000 small' +
      ' files, images on a shared base and with nothing shared\n',
  );
  console.log(table(['figure', 'ours', 'baseline', 'ratio', 'target'], rows));
  return targets;
}

const cpuNames = ['src worker', 'dst worker', 'master', `dockerd ${h1.name}`, `dockerd ${h2.name}`];

/** CPU seconds per process during each run, and the same per GiB of the data each run delivers. */
function printCpu(runs: Run[]): void {
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
      runs.map((run) => [
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
  console.log(
    '\nCPU seconds per GiB delivered (volume file bytes; image layers missing on h2), per process, for the runs' +
      ' that deliver 100 MiB or more (below that, fixed costs dominate)\n',
  );
  const perGiB = (seconds: number | undefined, run: Run) =>
    seconds === undefined || Number.isNaN(seconds) ? undefined : seconds / (run.payloadBytes! / GiB);
  console.log(
    table(
      ['run', 'delivered', ...cpuNames, 'pipeline (tar / docker CLI)', 'all'],
      runs
        .filter((run) => run.payloadBytes! >= 100 * MiB)
        .map((run) => {
          const figures = [
            ...cpuNames.map((name) => perGiB(run.usage.cpuSeconds[name], run)),
            perGiB(run.pipelineCpuSeconds, run),
          ];
          const all = figures.reduce<number>((sum, x) => sum + (x ?? 0), 0);
          return [
            run.label,
            mib(run.payloadBytes!),
            ...figures.map((x) => (x === undefined ? '—' : x.toFixed(1))),
            all.toFixed(1),
          ];
        }),
    ),
  );
}

try {
  const version = await exec(BIN, ['version'], {
    env: { PATH: process.env.PATH, DOCKER_HOST: h1.socket },
  }).then(
    (r) => r.stdout,
    // `version` exits non-zero when it cannot reach an engine, after printing the build.
    (error: unknown) => (error as { stdout?: string }).stdout ?? '',
  );
  const relay = await relayArgs();
  console.log(
    `docker-migrate ${/commit:\s+(\S+)/.exec(version)?.[1] ?? '?'} (built ${/built:\s+(\S+)/.exec(version)?.[1] ?? '?'}),` +
      ` engines ${h1.name} → ${h2.name}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores,` +
      ` master ${relay.length ? `relays on ${relay[1]}` : 'without --relay-addr'}`,
  );
  const idleBusy = await busyCoresOver(1000);
  console.log(
    `before the bench: ${idleBusy.toFixed(2)} cores busy with other work` +
      (idleBusy > 0.25
        ? ' — absolute figures will be slow and noisy; the ratios compare runs of this one bench'
        : ''),
  );

  if (process.env.DM_BENCH_ONLY === 'resync') {
    // Only the re-sync part (DM_BENCH_ONLY=resync bash bench/run.sh migration): a minute instead of four.
    step('starting a master and two workers');
    await startProduct(relay);
    const resync = await resyncRuns();
    const targets = printResync(resync);
    console.log(
      `\nSummary: ${targets.map((t) => `${t.name} ${t.figure} ${t.met ? 'met' : 'MISSED'}`).join('; ')}`,
    );
  } else {
    step('filling a 1 GiB volume on h1 (random, zeros, 2,000 small files)');
    const mixedFilled = await fill(mixedVolume, fillMixedVolume);
    step(
      'filling a 1 GiB volume of 100,000 small files on h1 (a generated tar stream into `docker run -i tar x`)',
    );
    const filesFilled = await fill(filesVolume, fillFilesVolume);
    console.log(
      `setup: mixed volume ${mib(mixedFilled.payloadBytes)} in ${s(mixedFilled.setupMs)};` +
        ` ${SMALL_FILES.toLocaleString('en')} files, ${mib(filesFilled.payloadBytes)} in ${s(filesFilled.setupMs)}` +
        ` (both including sync); ${await zerosAllocation()}`,
    );
    step('starting a master and two workers');
    await startProduct(relay);
    await masterSees('src', `${VOLUME} on ${h1.name}`, hasVolume(VOLUME));
    await masterSees('src', `${FILES_VOLUME} on ${h1.name}`, hasVolume(FILES_VOLUME));

    const mixed = await mixedVolumeRuns(mixedFilled);
    const files = await filesVolumeRuns(filesFilled);
    // VmHWM is each worker's peak since it started: every volume migration so far, images not yet.
    const workerHwm = {
      src: procMemory(workers.src?.child.pid, 'VmHWM'),
      dst: procMemory(workers.dst?.child.pid, 'VmHWM'),
    };
    step('volume: docker run tar | docker run -i tar (about a minute and a half)');
    const attach = await attachRun(mixedFilled);
    const shared = await sharedBaseImageRuns();
    const unshared = await unsharedImageRuns();
    const downtime = await downtimeRuns();
    const resync = await resyncRuns();

    const targets = printFigures({ mixed, attach, files, shared, unshared, workerHwm });
    printDowntime(downtime);
    const warmMet = downtime.warm.downtime_ms !== null && downtime.warm.downtime_ms < 2000;
    targets.push({ name: 'warm downtime', figure: s(downtime.warm.downtime_ms ?? Number.NaN), met: warmMet });
    targets.push(...printResync(resync));
    printCpu([
      mixed.tar,
      mixed.sparseTar,
      mixed.direct,
      mixed.proxy,
      attach,
      files.tar,
      files.direct,
      unshared.ours,
      unshared.baseline,
      shared.base2Ours,
      shared.appOurs,
      shared.appBaseline,
      shared.base2Baseline,
    ]);
    console.log('\nTimelines of our migrations (events, seconds after the first)');
    for (const run of [
      mixed.direct,
      mixed.proxy,
      files.direct,
      unshared.ours,
      shared.base2Ours,
      shared.appOurs,
    ]) {
      console.log(`\n${run.label}:`);
      for (const line of run.timeline ?? []) console.log(`  ${line}`);
    }
    console.log(
      `\nSummary: ${targets.map((t) => `${t.name} ${t.figure} ${t.met ? 'met' : 'MISSED'}`).join('; ')};` +
        ` ${targets.filter((t) => t.met).length} of ${targets.length} targets met; bench took ${s(performance.now() - started)}.`,
    );
  }
} finally {
  step('cleaning up');
  await cleanup(helperBefore);
}
