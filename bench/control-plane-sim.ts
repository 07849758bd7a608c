// Simulated workers for bench/control-plane: N real workers (enrollment, mutual TLS, control streams, heartbeats,
// inventory) over in-memory engines, in one process apart from the master's.
import { setMaxListeners } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../src/core/errors.js';
import { FakeDockerEngine } from '../src/core/testing/fake-docker-engine.js';
import { createLogger } from '../src/platform/logger.js';
import { runControlLoop } from '../src/worker/control-client.js';
import { enrollWorker } from '../src/worker/enroll.js';
import { parseMasterUrls } from '../src/worker/master-address.js';
import type { WorkerIdentity } from '../src/worker/worker-identity.js';

const [count, masterUrl, token, caHash] = process.argv.slice(2);
const total = Number(count);
if (!total || !masterUrl || !token || !caHash)
  throw new Error('usage: control-plane-sim N MASTER[,MASTER…] TOKEN CA_HASH');
// One master, or several separated by commas (a failover bench gives each worker every master).
const masters = parseMasterUrls(masterUrl);
const logger = createLogger({ level: 'silent', format: 'json' });
const dir = mkdtempSync(join(tmpdir(), 'dm-bench-sim-'));
const stop = new AbortController();
// One listener per simulated worker.
setMaxListeners(0, stop.signal);
process.on('SIGTERM', () => {
  stop.abort();
});

async function fakeEngine(): Promise<FakeDockerEngine> {
  const engine = new FakeDockerEngine({ images: [{ tags: ['app:1'] }, { tags: ['db:15'] }] });
  for (let i = 0; i < 5; i++) await engine.createVolume({ name: `data-${i}`, labels: { app: 'bench' } });
  for (let i = 0; i < 3; i++) {
    const id = await engine.createContainer({ name: `app-${i}`, image: 'app:1', labels: { app: 'bench' } });
    await engine.startContainer(id);
  }
  return engine;
}

/** As a real worker does: a master that is unreachable, or no leader yet, is tried again (for a minute here). */
async function enrollRetrying(options: Parameters<typeof enrollWorker>[0]): Promise<WorkerIdentity> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await enrollWorker(options);
    } catch (error) {
      const appError = AppError.from(error);
      if (attempt >= 120 || (appError.code !== 'unavailable' && appError.code !== 'deadline_exceeded')) {
        throw appError;
      }
      if (attempt === 1) console.error(`${options.name}: ${appError.message}; trying again`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const identities: WorkerIdentity[] = [];
const started = Date.now();
for (let next = 0; next < total;) {
  const batch = Array.from({ length: Math.min(25, total - next) }, (_, k) => next + k);
  next += batch.length;
  identities.push(
    ...(await Promise.all(
      batch.map((i) =>
        enrollRetrying({
          masters,
          token,
          caHash,
          name: `sim-${process.pid}-${i}`,
          hostname: `sim-${i}`,
          labels: { bench: 'control-plane' },
          version: 'bench',
          logger,
        }),
      ),
    )),
  );
}
console.log(`enrolled ${total} in ${Date.now() - started} ms`);

let connected = 0;
await Promise.all(
  identities.map(async (identity, i) =>
    runControlLoop({
      identity,
      identityDir: join(dir, String(i)),
      engine: await fakeEngine(),
      hello: {
        name: `sim-${process.pid}-${i}`,
        hostname: `sim-${i}`,
        labels: {},
        version: 'bench',
        advertiseAddress: `127.0.0.1:${20000 + i}`,
      },
      logger,
      reconnectIntervalMs: Number(process.env.DM_SIM_RECONNECT_MS ?? 5_000),
      maxReconnectIntervalMs: Number(process.env.DM_SIM_MAX_RECONNECT_MS ?? 300_000),
      signal: stop.signal,
      onConnected: () => {
        connected += 1;
        if (connected === total) console.log(`connected ${total}`);
      },
    }).catch((error: unknown) => {
      console.error(`worker ${i} stopped: ${String(error)}`);
    }),
  ),
);
