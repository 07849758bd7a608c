// The control plane under N simulated workers (real mutual-TLS streams from a second process) at the default
// intervals: master CPU and memory, GET /api/workers latency, and how long all take to reconnect after a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const BIN = new URL('../bin/docker-migrate', import.meta.url).pathname;
const SIM = new URL('./control-plane-sim.ts', import.meta.url).pathname;
const SIZES = (process.env.DM_BENCH_WORKERS ?? '100,1000').split(',').map(Number);
const STEADY_MS = Number(process.env.DM_BENCH_STEADY_MS ?? 30_000);
/** After the last worker says hello, its first inventory and the stragglers' handshakes still arrive: wait. */
const SETTLE_MS = Number(process.env.DM_BENCH_SETTLE_MS ?? 20_000);
const ADMIN = 'dm-admin-bench';
const TICKS = 100; // USER_HZ on Linux

interface Master {
  child: ChildProcess;
  output: string[];
}

function startMaster(dataDir: string, httpPort: number, grpcPort: number): Master {
  const child = spawn(
    BIN,
    [
      'master',
      '--http-addr',
      `127.0.0.1:${httpPort}`,
      '--grpc-addr',
      `127.0.0.1:${grpcPort}`,
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--admin-token',
      ADMIN,
    ],
    {
      env: { PATH: process.env.PATH, HOME: dataDir, DOCKER_MIGRATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  return { child, output };
}

async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await Promise.resolve(check()).catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

async function onlineCount(httpPort: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${httpPort}/api/workers`, {
    headers: { Authorization: `Bearer ${ADMIN}` },
  });
  const body = (await response.json()) as { workers: { online: boolean }[] };
  return body.workers.filter((w) => w.online).length;
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssMb(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function run(workers: number, index: number): Promise<Record<string, string>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-bench-master-'));
  const httpPort = 28080 + index;
  const grpcPort = 29090 + index;
  let master = startMaster(dataDir, httpPort, grpcPort);
  const joinMatch = await waitFor(
    () =>
      /docker-migrate worker --master-url (\S+) --token (\S+) --ca-hash (\S+)/.exec(master.output.join('')) ??
      undefined,
    30_000,
    'master start',
  );
  // node itself (not npx) so that stopping this pid stops the simulated workers.
  const sim = spawn(
    process.execPath,
    ['--import', 'tsx', SIM, String(workers), joinMatch[1]!, joinMatch[2]!, joinMatch[3]!],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const upStart = performance.now();
  await waitFor(
    async () => ((await onlineCount(httpPort)) === workers ? true : undefined),
    600_000,
    `${workers} workers online`,
  );
  const upMs = performance.now() - upStart;

  const pid = master.child.pid!;
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const ticksBefore = cpuTicks(pid);
  const steadyStart = performance.now();
  await new Promise((resolve) => setTimeout(resolve, STEADY_MS));
  const cpuPercent =
    ((cpuTicks(pid) - ticksBefore) / TICKS / ((performance.now() - steadyStart) / 1000)) * 100;
  const rss = rssMb(pid);

  const latencies: number[] = [];
  for (let i = 0; i < 200; i++) {
    const start = performance.now();
    const response = await fetch(`http://127.0.0.1:${httpPort}/api/workers`, {
      headers: { Authorization: `Bearer ${ADMIN}` },
    });
    await response.arrayBuffer();
    latencies.push(performance.now() - start);
  }

  await stopChild(master.child);
  const restartStart = performance.now();
  master = startMaster(dataDir, httpPort, grpcPort);
  await waitFor(
    async () => ((await onlineCount(httpPort)) === workers ? true : undefined),
    900_000,
    'reconnect after restart',
  );
  const reconnectMs = performance.now() - restartStart;
  const rssAfter = rssMb(master.child.pid!);

  await stopChild(sim);
  await stopChild(master.child);
  return {
    workers: String(workers),
    'enroll+connect all': `${(upMs / 1000).toFixed(1)} s`,
    'master CPU (1 core)': `${cpuPercent.toFixed(1)} %`,
    'master RSS': `${rss.toFixed(0)} MB (${rssAfter.toFixed(0)} MB after restart)`,
    'GET /api/workers p50': `${percentile(latencies, 50).toFixed(1)} ms`,
    'GET /api/workers p99': `${percentile(latencies, 99).toFixed(1)} ms`,
    'all reconnected after restart': `${(reconnectMs / 1000).toFixed(1)} s`,
  };
}

const rows: Record<string, string>[] = [];
for (const [index, size] of SIZES.entries()) rows.push(await run(size, index));
console.log(
  `\ncontrol plane, default intervals (heartbeat 10s, inventory 60s), steady state measured over ${STEADY_MS / 1000} s`,
);
for (const key of Object.keys(rows[0]!)) {
  console.log(`${key.padEnd(32)}${rows.map((row) => (row[key] ?? '').padEnd(36)).join('')}`);
}
