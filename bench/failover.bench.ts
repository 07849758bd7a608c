// Failover of the control plane: two masters on one PostgreSQL (a private server started here) and N simulated
// workers that know both addresses. The leader is stopped again and again — SIGTERM (a hand-over) and SIGKILL (a
// crash) — and restarted as a standby; each time, how long until the other master leads (its /health says so) and
// until every worker is online through it. Prints p50 / p99 / max per kind against the targets.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startTestPostgres } from '../test/support/postgres.js';
import { freePort } from '../test/support/ports.js';

const BIN = new URL('../bin/docker-migrate', import.meta.url).pathname;
const SIM = new URL('./control-plane-sim.ts', import.meta.url).pathname;
const WORKERS = Number(process.env.DM_BENCH_FAILOVER_WORKERS ?? 200);
/** Kills of each kind. */
const KILLS = Number(process.env.DM_BENCH_FAILOVER_KILLS ?? 10);
const ADMIN = 'dm-admin-bench-failover';
const ENROLL = 'dm-enroll-bench-failover';

interface Master {
  name: string;
  httpPort: number;
  grpcPort: number;
  dataDir: string;
  child?: ChildProcess;
  output: string[];
}

function start(master: Master, storeUrl: string, kek: string): void {
  const child = spawn(
    BIN,
    [
      'master',
      '--http-addr',
      `127.0.0.1:${master.httpPort}`,
      '--grpc-addr',
      `127.0.0.1:${master.grpcPort}`,
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      master.dataDir,
      '--admin-token',
      ADMIN,
      '--enrollment-token',
      ENROLL,
      '--store-url',
      storeUrl,
      '--ca-key-kek',
      kek,
    ],
    {
      env: { PATH: process.env.PATH, HOME: master.dataDir, DOCKER_MIGRATE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  master.output = [];
  child.stdout.on('data', (chunk: Buffer) => master.output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => master.output.push(chunk.toString()));
  master.child = child;
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const logs = masters.map((m) => `--- ${m.name}\n${m.output.join('').split('\n').slice(-15).join('\n')}`);
  throw new Error(`${what}: not within ${timeoutMs} ms\n${logs.join('\n')}`);
}

async function leads(master: Master): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${master.httpPort}/health`, {
    signal: AbortSignal.timeout(1_000),
  });
  return ((await response.json()) as { leader: boolean }).leader;
}

async function onlineCount(master: Master): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${master.httpPort}/api/workers`, {
    headers: { Authorization: `Bearer ${ADMIN}` },
    signal: AbortSignal.timeout(5_000),
  });
  if (response.status !== 200) return -1;
  const body = (await response.json()) as { workers: { status: string }[] };
  return body.workers.filter((w) => w.status === 'online').length;
}

async function exit(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const postgres = await startTestPostgres();
const storeUrl = await postgres.createDatabase('bench_failover');
const kek = join(mkdtempSync(join(tmpdir(), 'dm-bench-kek-')), 'kek');
writeFileSync(kek, Buffer.alloc(32, 7), { mode: 0o600 });
const masters: Master[] = [];
for (const name of ['alpha', 'beta']) {
  masters.push({
    name,
    httpPort: await freePort(),
    grpcPort: await freePort(),
    dataDir: mkdtempSync(join(tmpdir(), `dm-bench-${name}-`)),
    output: [],
  });
}
const results: Record<'SIGTERM' | 'SIGKILL', { leadMs: number[]; workersMs: number[] }> = {
  SIGTERM: { leadMs: [], workersMs: [] },
  SIGKILL: { leadMs: [], workersMs: [] },
};
let sim: ChildProcess | undefined;
try {
  for (const master of masters) {
    start(master, storeUrl, kek);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${master.httpPort}/ready`)).ok || undefined,
      60_000,
      `${master.name} ready`,
    );
  }
  const caHash = await waitFor(
    async () => {
      const response = await fetch(`http://127.0.0.1:${masters[0]!.httpPort}/api/enrollment-token`, {
        headers: { authorization: `Bearer ${ADMIN}` },
      });
      return response.ok ? ((await response.json()) as { ca_hash: string }).ca_hash : undefined;
    },
    30_000,
    'the CA hash',
  );
  await waitFor(
    async () => {
      for (const master of masters) if (await leads(master).catch(() => false)) return true;
      return undefined;
    },
    60_000,
    'a leader',
  );
  sim = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      SIM,
      String(WORKERS),
      masters.map((m) => `127.0.0.1:${m.grpcPort}`).join(','),
      ENROLL,
      caHash,
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DM_SIM_RECONNECT_MS: '1000', DM_SIM_MAX_RECONNECT_MS: '5000' },
    },
  );

  const leader = async (): Promise<Master> =>
    waitFor(
      async () => {
        for (const master of masters) if (await leads(master).catch(() => false)) return master;
        return undefined;
      },
      60_000,
      'a leader',
    );
  await waitFor(
    async () => ((await onlineCount(await leader())) === WORKERS ? true : undefined),
    300_000,
    'all workers online',
  );

  for (let round = 0; round < KILLS * 2; round++) {
    const signal = round % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
    const old = await leader();
    const next = masters.find((m) => m !== old)!;
    const stoppedAt = performance.now();
    // Timed from the signal, while the old leader may still be shutting down.
    const exited = exit(old.child, signal);
    await waitFor(async () => ((await leads(next)) ? true : undefined), 60_000, `${next.name} leading`);
    const leadMs = performance.now() - stoppedAt;
    await exited;
    await waitFor(
      async () => ((await onlineCount(next)) === WORKERS ? true : undefined),
      120_000,
      'workers back',
    );
    const workersMs = performance.now() - stoppedAt;
    results[signal].leadMs.push(leadMs);
    results[signal].workersMs.push(workersMs);
    console.log(
      `${signal} ${old.name}: ${next.name} leads after ${(leadMs / 1000).toFixed(2)} s, ${WORKERS} workers back after ${(workersMs / 1000).toFixed(2)} s`,
    );
    start(old, storeUrl, kek);
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${old.httpPort}/ready`)).ok || undefined,
      60_000,
      `${old.name} ready`,
    );
  }
} finally {
  // Also when a step failed: nothing of the bench outlives it.
  await exit(sim, 'SIGTERM');
  for (const master of masters) await exit(master.child, 'SIGTERM');
  await postgres.stop();
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
console.log(
  `\nfailover, two masters on PostgreSQL, ${WORKERS} simulated workers, ${KILLS} kills of each kind`,
);
console.log(`${''.padEnd(34)}${'p50'.padEnd(10)}${'p99'.padEnd(10)}${'max'.padEnd(10)}target`);
for (const [signal, label, target] of [
  ['SIGTERM', 'hand-over (SIGTERM): new leader', '≤ 2 s'],
  ['SIGKILL', 'crash (SIGKILL): new leader', '≤ 11 s'],
] as const) {
  const { leadMs, workersMs } = results[signal];
  console.log(
    `${label.padEnd(34)}${seconds(percentile(leadMs, 50)).padEnd(10)}${seconds(percentile(leadMs, 99)).padEnd(10)}${seconds(Math.max(...leadMs)).padEnd(10)}${target}`,
  );
  console.log(
    `${`  ${signal}: all workers back`.padEnd(34)}${seconds(percentile(workersMs, 50)).padEnd(10)}${seconds(percentile(workersMs, 99)).padEnd(10)}${seconds(Math.max(...workersMs)).padEnd(10)}≤ 30 s`,
  );
}
