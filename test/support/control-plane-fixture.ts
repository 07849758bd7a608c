// A master's control service and real workers in one process, for tests of the control and trust planes: mutual
// TLS on 127.0.0.1 port 0, SQLite in memory, the fake engine. Everything started is undone by `cleanUp()`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MasterStore } from '../../src/core/ports.js';
import { FakeDockerEngine } from '../../src/core/testing/fake-docker-engine.js';
import type { Welcome } from '../../src/gen/dockation/v1/control.js';
import { CommandDispatcher } from '../../src/master/command-dispatcher.js';
import {
  startControlServer,
  type ControlServer,
  type ControlServerOptions,
  type ControlTerm,
} from '../../src/master/grpc/control-server.js';
import { startBulkRelay } from '../../src/master/bulk-relay.js';
import { loadMasterTls, type MasterTls } from '../../src/master/master-identity.js';
import { openSqliteMasterStore, type SqlMasterStore } from '../../src/master/store/sql-master-store.js';
import { WorkerRegistry } from '../../src/master/worker-registry.js';
import { createLogger } from '../../src/platform/logger.js';
import { generateToken, tokenMatches } from '../../src/platform/secrets.js';
import { runWorker, type WorkerOptions } from '../../src/worker/start-worker.js';
import type { WorkerIdentity } from '../../src/worker/worker-identity.js';

export const TOKEN = generateToken('dm-enroll');
export const logger = createLogger({ level: 'silent', format: 'json' });

export interface Master {
  tls: MasterTls;
  store: SqlMasterStore;
  registry: WorkerRegistry;
  server: ControlServer;
  url: string;
  /** The transfer relay's port, when started with `relay`. */
  relayPort?: number;
}

export interface RunningWorker {
  controller: AbortController;
  /** Settles when runWorker does; never rejects (the outcome is the value). */
  outcome: Promise<{ ok: true } | { ok: false; error: unknown }>;
  /** The first session's welcome; rejects if the worker stops before one. */
  connected: Promise<{ welcome: Welcome; identity: WorkerIdentity }>;
}

const cleanups: (() => Promise<void> | void)[] = [];

/** Undoes everything started since the last call, newest first (workers, then servers, then stores and folders). */
export async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function startMaster(
  options: Partial<Omit<ControlServerOptions, 'tls' | 'store'>> & {
    storePath?: string;
    /** What the control service sees of the store (e.g. one that pauses a call), the registry gets the real one. */
    wrapStore?: (store: SqlMasterStore) => MasterStore;
    /** Serves the transfer relay beside the control service, as the master does. */
    relay?: boolean;
    /** Another master's CA and certificate, as masters sharing one database have (default: new ones). */
    tls?: MasterTls;
  } = {},
): Promise<Master> {
  const { storePath, wrapStore, relay, ...serverOptions } = options;
  const tls = options.tls ?? (await loadMasterTls({ dataDir: tempDir('dm-master-') }));
  const store = await openSqliteMasterStore({ path: storePath ?? ':memory:' });
  cleanups.push(() => store.close());
  const registry = await WorkerRegistry.load({ store, workerTimeoutMs: 10_000 });
  const transferRelay = relay
    ? await startBulkRelay({
        address: '127.0.0.1:0',
        caPem: tls.ca.certPem,
        certPem: tls.serverCertPem,
        keyPem: tls.serverKeyPem,
        store,
        logger,
      })
    : undefined;
  if (transferRelay) cleanups.push(() => transferRelay.close());
  const term: ControlTerm = {
    epoch: 0,
    registry,
    dispatcher: new CommandDispatcher(registry),
    acceptEnrollmentToken: (token) => Promise.resolve(tokenMatches(token, TOKEN)),
  };
  const server = await startControlServer({
    address: '127.0.0.1:0',
    tls,
    store: wrapStore ? wrapStore(store) : store,
    term: () => term,
    leaderAddress: () => undefined,
    logger,
    heartbeatIntervalMs: 200,
    inventoryIntervalMs: 60_000,
    ...serverOptions,
  });
  cleanups.push(() => server.close());
  return {
    tls,
    store,
    registry,
    server,
    url: `127.0.0.1:${server.port}`,
    ...(transferRelay ? { relayPort: transferRelay.port } : {}),
  };
}

export function newEngine(): FakeDockerEngine {
  return new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] });
}

export function startWorker(
  master: Master,
  options: { dataDir: string; engine?: FakeDockerEngine } & Partial<WorkerOptions>,
): RunningWorker {
  const controller = new AbortController();
  let onConnected: (value: { welcome: Welcome; identity: WorkerIdentity }) => void = () => undefined;
  const connected = new Promise<{ welcome: Welcome; identity: WorkerIdentity }>((resolve) => {
    onConnected = resolve;
  });
  const outcome = runWorker({
    masterUrl: master.url,
    token: TOKEN,
    caHash: master.tls.caHash,
    name: 'worker-one',
    hostname: 'worker-one.test',
    labels: { tier: 'test' },
    grpcAddr: '127.0.0.1:0',
    advertiseAddr: '127.0.0.1:0',
    reconnectIntervalMs: 100,
    maxReconnectIntervalMs: 500,
    engine: options.engine ?? newEngine(),
    logger,
    version: '0.0.0-test',
    signal: controller.signal,
    onConnected: (welcome, identity) => {
      onConnected({ welcome, identity });
    },
    ...options,
  }).then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  cleanups.push(async () => {
    controller.abort();
    await outcome;
  });
  const connectedOrStopped = Promise.race([
    connected,
    outcome.then((result) => {
      throw result.ok ? new Error('the worker stopped before it connected') : result.error;
    }),
  ]);
  // Tests of refusals look at `outcome` only; the rejection here must not count as unhandled.
  connectedOrStopped.catch(() => undefined);
  return { controller, outcome, connected: connectedOrStopped };
}
