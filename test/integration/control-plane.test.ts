// The control plane end to end in one process: a real control server over mutual TLS on 127.0.0.1, a real worker
// (enrollment, session, inventory, renewal) over the fake engine, and the master's registry and SQLite store.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { FakeDockerEngine } from '../../src/core/testing/fake-docker-engine.js';
import type { Welcome } from '../../src/gen/dockation/v1/control.js';
import { CommandDispatcher } from '../../src/master/command-dispatcher.js';
import { startControlServer, type ControlServer } from '../../src/master/grpc/control-server.js';
import { loadMasterTls, type MasterTls } from '../../src/master/master-identity.js';
import { openSqliteMasterStore, type SqliteMasterStore } from '../../src/master/store/sqlite-master-store.js';
import { WorkerRegistry } from '../../src/master/worker-registry.js';
import { createLogger } from '../../src/platform/logger.js';
import { caFingerprint, certificateInfo, createCertificateAuthority } from '../../src/platform/pki.js';
import { generateToken, tokenMatches } from '../../src/platform/secrets.js';
import { runWorker, type WorkerOptions } from '../../src/worker/start-worker.js';
import type { WorkerIdentity } from '../../src/worker/worker-identity.js';

const TOKEN = generateToken('dm-enroll');
const logger = createLogger({ level: 'silent', format: 'json' });

interface Master {
  tls: MasterTls;
  store: SqliteMasterStore;
  registry: WorkerRegistry;
  server: ControlServer;
  url: string;
}

interface RunningWorker {
  controller: AbortController;
  /** Settles when runWorker does; never rejects (the outcome is the value). */
  outcome: Promise<{ ok: true } | { ok: false; error: unknown }>;
  /** The first session's welcome; rejects if the worker stops before one. */
  connected: Promise<{ welcome: Welcome; identity: WorkerIdentity }>;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  // Workers first (newest first), then the server, then the store and folders.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

async function startMaster(options: { certificateValidityDays?: number } = {}): Promise<Master> {
  const tls = await loadMasterTls(tempDir('dm-master-'));
  const store = await openSqliteMasterStore({ path: ':memory:' });
  cleanups.push(() => store.close());
  const registry = await WorkerRegistry.load({ store, workerTimeoutMs: 10_000 });
  const server = await startControlServer({
    address: '127.0.0.1:0',
    tls,
    store,
    registry,
    dispatcher: new CommandDispatcher(registry),
    logger,
    acceptEnrollmentToken: (token) => tokenMatches(token, TOKEN),
    heartbeatIntervalMs: 200,
    inventoryIntervalMs: 60_000,
    ...(options.certificateValidityDays === undefined
      ? {}
      : { certificateValidityDays: options.certificateValidityDays }),
  });
  cleanups.push(() => server.close());
  return { tls, store, registry, server, url: `127.0.0.1:${server.port}` };
}

function newEngine(): FakeDockerEngine {
  return new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] });
}

function startWorker(
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
    advertiseAddr: '127.0.0.1:19090',
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

/** Runs a worker that must be refused, and returns why. */
async function refusal(worker: RunningWorker): Promise<AppError> {
  const result = await worker.outcome;
  if (result.ok) throw new Error('the worker was not refused');
  expect(result.error).toBeInstanceOf(AppError);
  return result.error as AppError;
}

describe('control plane', () => {
  it('enrolls a worker, brings it online and mirrors its engine in the registry', async () => {
    const master = await startMaster();
    const engine = newEngine();
    const worker = startWorker(master, { dataDir: tempDir('dm-worker-'), engine });
    const { welcome, identity } = await worker.connected;

    expect(welcome.workerId).toBe(identity.workerId);
    expect(identity.workerId).toMatch(/^w-[0-9a-f]{12}$/);
    expect(master.registry.require(identity.workerId)).toMatchObject({
      name: 'worker-one',
      hostname: 'worker-one.test',
      labels: { tier: 'test' },
      advertiseAddress: '127.0.0.1:19090',
      dockerVersion: '20.10.24',
      online: true,
    });

    const [images, networks] = await Promise.all([engine.listImages(), engine.listNetworks()]);
    await vi.waitFor(
      () => {
        expect(master.registry.require(identity.workerId).counts).toEqual({
          containers: 0,
          runningContainers: 0,
          images: images.length,
          volumes: 0,
          networks: networks.length,
        });
      },
      { timeout: 5_000 },
    );

    await engine.createVolume({ name: 'app-data', labels: { app: 'web' } });
    await vi.waitFor(
      () => {
        expect(master.registry.inventory(identity.workerId).volumes).toEqual([
          expect.objectContaining({ name: 'app-data', labels: { app: 'web' } }),
        ]);
      },
      { timeout: 5_000 },
    );

    // Heartbeats arrive (every second at the least) and carry the system figures.
    await vi.waitFor(
      () => {
        expect(master.registry.require(identity.workerId).system).not.toBeNull();
      },
      { timeout: 5_000 },
    );

    worker.controller.abort();
    expect(await worker.outcome).toEqual({ ok: true });
    await vi.waitFor(() => {
      expect(master.registry.require(identity.workerId).online).toBe(false);
    });
  });

  it('renews a certificate that is near its end, and reconnects with the renewed one', async () => {
    // ≈2.2 min of lifetime after a 5 min back-dated start: less than a third is left from the first moment.
    const master = await startMaster({ certificateValidityDays: 0.0015 });
    const dataDir = tempDir('dm-worker-');
    const worker = startWorker(master, { dataDir });
    const { identity } = await worker.connected;
    const enrolledSerial = certificateInfo(identity.certPem).serial;

    await vi.waitFor(
      async () => {
        expect(await master.store.listCertificates(identity.workerId)).toHaveLength(2);
      },
      { timeout: 10_000 },
    );
    const certificates = await master.store.listCertificates(identity.workerId);
    const renewedSerial = certificates.map((c) => c.serial).find((serial) => serial !== enrolledSerial);
    expect(renewedSerial).toBeDefined();
    await vi.waitFor(() => {
      const onDisk = certificateInfo(readFileSync(join(dataDir, 'worker', 'worker.crt'), 'utf8'));
      expect(onDisk.serial).toBe(renewedSerial);
      expect(onDisk.commonName).toBe(identity.workerId);
    });

    // The key saved with the renewed certificate is the one that goes with it: the next start connects.
    worker.controller.abort();
    expect(await worker.outcome).toEqual({ ok: true });
    const restarted = startWorker(master, { dataDir });
    expect((await restarted.connected).identity.workerId).toBe(identity.workerId);
  });

  it('keeps its identity across a worker restart without enrolling again', async () => {
    const master = await startMaster();
    const dataDir = tempDir('dm-worker-');
    const first = startWorker(master, { dataDir });
    const { identity } = await first.connected;
    first.controller.abort();
    expect(await first.outcome).toEqual({ ok: true });

    const second = startWorker(master, { dataDir });
    const again = await second.connected;

    expect(again.identity.workerId).toBe(identity.workerId);
    expect(again.welcome.workerId).toBe(identity.workerId);
    expect((await master.store.listWorkers()).map((w) => w.id)).toEqual([identity.workerId]);
    expect(await master.store.listCertificates(identity.workerId)).toHaveLength(1);
    expect(master.registry.require(identity.workerId).online).toBe(true);
  });

  it('refuses a wrong enrollment token at once', async () => {
    const master = await startMaster();
    const started = Date.now();
    const error = await refusal(
      startWorker(master, { dataDir: tempDir('dm-worker-'), token: generateToken('dm-enroll') }),
    );

    expect(error.code).toBe('permission_denied');
    expect(error.message).toMatch(/enrollment token is not valid/);
    expect(error.hint).toMatch(/join command/);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await master.store.listWorkers()).toEqual([]);
  });

  it('refuses a master whose CA does not match --ca-hash', async () => {
    const master = await startMaster();
    const otherCa = await createCertificateAuthority({ commonName: 'someone else CA' });
    const error = await refusal(
      startWorker(master, { dataDir: tempDir('dm-worker-'), caHash: caFingerprint(otherCa.certPem) }),
    );

    expect(error.code).toBe('permission_denied');
    expect(error.message).toContain('--ca-hash');
    expect(await master.store.listWorkers()).toEqual([]);
  });

  it('stops a connected worker for good when the master removes it', async () => {
    const master = await startMaster();
    const worker = startWorker(master, { dataDir: tempDir('dm-worker-') });
    const { identity } = await worker.connected;

    await master.registry.remove(identity.workerId);
    const error = await refusal(worker);

    expect(error.code).toBe('permission_denied');
    expect(error.message).toMatch(/removed/);
    expect(await master.store.listWorkers()).toEqual([]);
  });
});
