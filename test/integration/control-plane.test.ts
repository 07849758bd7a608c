// The control plane end to end in one process: a real control server over mutual TLS on 127.0.0.1, a real worker
// (enrollment, session, inventory, renewal) over the fake engine, and the master's registry and SQLite store
// (started by test/support/control-plane-fixture.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import { caFingerprint, certificateInfo, createCertificateAuthority } from '../../src/platform/pki.js';
import { generateToken } from '../../src/platform/secrets.js';
import {
  cleanUp,
  newEngine,
  startMaster,
  startWorker,
  tempDir,
  type RunningWorker,
} from '../support/control-plane-fixture.js';

afterEach(cleanUp);

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
    const worker = startWorker(master, {
      dataDir: tempDir('dm-worker-'),
      engine,
      advertiseAddr: '127.0.0.1:19090',
    });
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
