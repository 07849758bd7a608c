// The master store's contract: every MasterStore behaviour, run against SQLite (private in-memory databases, unit
// tier: sql-master-store.test.ts) and PostgreSQL (a fresh database per test on a server the tests start,
// integration tier: postgres-master-store.integration.test.ts). A few checks reach SQLite itself and run there only.
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AppError } from '../../core/errors.js';
import type { MigrationRecord, NewMigrationEvent } from '../../core/migration.js';
import {
  sampleContainer,
  sampleImage,
  sampleNetwork,
  sampleVolume,
  sampleWorker,
} from '../../core/testing/sample-resources.js';
import type { CertificateRecord, InventoryRecord, NewAuditEntry, WorkerRecord } from '../../core/workers.js';
import { MIGRATIONS, migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import { SqlMasterStore } from './sql-master-store.js';

function worker(overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return sampleWorker({ labels: { zone: 'eu-west-1a', 'disk.type': 'ssd' }, ...overrides });
}

function certificate(overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    serial: '0a1b2c3d',
    workerId: 'w-000000000001',
    notBefore: '2025-01-02T03:04:05.000Z',
    notAfter: '2026-01-02T03:04:05.000Z',
    revokedAt: null,
    ...overrides,
  };
}

function audit(overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    at: '2025-01-02T03:04:05.000Z',
    actor: 'admin',
    action: 'DELETE /api/workers/:id',
    target: 'w-000000000001',
    outcome: 'ok',
    status: 204,
    details: {},
    remoteAddress: '192.0.2.10',
    summary: null,
    ...overrides,
  };
}

// Optional fields set or null, labels and options not empty, quotes in text: a round trip covers every column.
const container = sampleContainer({
  command: 'nginx -g "daemon off;"',
  labels: { 'com.docker.compose.project': 'shop' },
  ports: [
    { privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' },
    { privatePort: 443, protocol: 'tcp' },
  ],
});

const image = sampleImage({ digests: ['nginx@sha256:2222'], containers: -1 });

const volume = sampleVolume({
  labels: { 'com.docker.compose.volume': 'data' },
  createdAt: '2025-01-02T03:04:05Z',
  size: null,
  refCount: 1,
});

const network = sampleNetwork({
  attachable: true,
  options: { 'com.docker.network.bridge.enable_icc': 'true' },
  ipam: { driver: 'default', config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }], options: {} },
  builtIn: false,
  created: '2025-01-02T03:04:05.123456789Z',
});

function inventoryRecord(sequence: number, overrides: Partial<InventoryRecord> = {}): InventoryRecord {
  return {
    workerId: 'w-000000000001',
    inventory: { containers: [container], images: [image], volumes: [volume], networks: [network] },
    sequence,
    updatedAt: `2025-01-02T03:04:${String(sequence % 60).padStart(2, '0')}.000Z`,
    ...overrides,
  };
}

/** A migration midway through its transfer: every field set, no optional JSON left out. */
function migration(overrides: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    id: 'm-000000000001',
    status: 'running',
    phase: 'transfer',
    request: {
      sourceWorkerId: 'w-000000000001',
      targetWorkerId: 'w-000000000002',
      containers: ['web'],
      images: ['nginx:1.27'],
      volumes: ['data'],
      networks: ['shop_default'],
      composeProjects: ['shop'],
      mode: 'warm',
      strategy: 'incremental',
      transferMode: 'auto',
      conflictPolicy: 'rename',
      sourcePolicy: 'keep_stopped',
      bindMounts: { '/srv/www': { path: '/srv/www' }, '/var/cache/nginx': { skip: true } },
    },
    plan: {
      resources: [
        {
          type: 'volume',
          name: 'data',
          sourceId: 'data',
          targetName: 'data-1',
          reason: 'dependency',
          action: 'create',
          estimatedBytes: 5 * 2 ** 30,
          status: 'running',
          bytes: 2 ** 30,
        },
      ],
      findings: [
        { severity: 'warning', code: 'name_conflict', message: 'volume "data" exists on the target' },
        {
          severity: 'info',
          code: 'already_present',
          message: 'volume "data" was renamed',
          resource: { type: 'volume', name: 'data' },
        },
      ],
      totalBytes: 5 * 2 ** 30,
    },
    progress: 0.2,
    bytesTransferred: 2 ** 30,
    totalBytes: 5 * 2 ** 30,
    rateBytesPerSecond: 104857600.5,
    createdAt: '2025-01-02T03:04:05.000Z',
    startedAt: '2025-01-02T03:04:06.000Z',
    completedAt: null,
    downtimeMs: null,
    timing: {
      downtime: { stopMs: 120, finalSyncMs: 840, applyMs: 95, startMs: 310, readyMs: null },
      rounds: [
        { round: 1, final: false, bytes: 5 * 2 ** 30, durationMs: 41_000, files: 1200 },
        { round: 2, final: true, bytes: 3_500_000, durationMs: 840, files: 7 },
      ],
    },
    error: null,
    cancelRequested: false,
    state: {
      sourceRunning: ['web'],
      sourceStopped: ['web'],
      created: [{ type: 'volume', ref: 'data-1' }],
      completedSteps: ['image:nginx:1.27'],
      downtimeStartedAt: 1735787046000,
    },
    ...overrides,
  };
}

function migrationEvent(overrides: Partial<NewMigrationEvent> = {}): NewMigrationEvent {
  return {
    migrationId: 'm-000000000001',
    at: '2025-01-02T03:04:07.000Z',
    level: 'info',
    phase: 'transfer',
    message: 'copying volume "data"',
    resource: { type: 'volume', name: 'data' },
    ...overrides,
  };
}

/** Catches what a promise rejects with, for assertions on the AppError's code and message. */
async function rejectionOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected the promise to reject');
}

/** The item at `index` (negative counts from the end); a test fails plainly when there is none. */
function itemAt<T>(items: readonly T[], index: number): T {
  const item = items.at(index);
  if (item === undefined) throw new Error(`no item at ${index} of ${items.length}`);
  return item;
}

/** An engine the contract runs on: `open` gives a fresh, migrated store and the Kysely instance under it. */
export interface MasterStoreEngine {
  name: 'sqlite' | 'postgres';
  open(): Promise<{ store: SqlMasterStore; db: Kysely<Database> }>;
}

/** A private in-memory SQLite database, migrated, with the Kysely instance the test keeps. */
export async function openInMemorySqlite(): Promise<{ store: SqlMasterStore; db: Kysely<Database> }> {
  const database = new BetterSqlite3(':memory:');
  database.pragma('foreign_keys = ON');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  await migrateToLatest(db, ':memory:');
  return { store: new SqlMasterStore(db, ':memory:'), db };
}

/** Registers the contract's tests against one engine. */
export function masterStoreContract(engine: MasterStoreEngine): void {
  // Checks that reach SQLite itself (its triggers, older schemas built by hand) run on SQLite only.
  const sqliteOnly = it.runIf(engine.name === 'sqlite');

  let store: SqlMasterStore;

  beforeEach(async () => {
    ({ store } = await engine.open());
  });

  afterEach(async () => {
    await store.close();
  });

  describe('workers', () => {
    it('returns an inserted worker as it was given, labels and system included', async () => {
      const system = {
        cpuPercent: 12.5,
        cpus: 8,
        memoryTotalBytes: 16 * 2 ** 30,
        memoryUsedBytes: 3 * 2 ** 30,
        dockerRootFreeBytes: 2 ** 40,
      };
      const record = worker({ system, lastSeenAt: '2025-01-02T04:00:00.000Z', activeTasks: 2 });
      await store.insertWorker(record);

      expect(await store.getWorker(record.id)).toEqual(record);
    });

    it('returns undefined for a worker it does not know', async () => {
      expect(await store.getWorker('w-unknown')).toBeUndefined();
    });

    it('refuses a second worker with the same id as a conflict', async () => {
      await store.insertWorker(worker());

      const error = await rejectionOf(store.insertWorker(worker({ name: 'other' })));
      expect(error.code).toBe('conflict');
      expect(error.message).toBe('worker "w-000000000001" already exists');
      expect((await store.getWorker('w-000000000001'))?.name).toBe('alpha');
    });

    it('lists workers by name then id, leaving revoked ones out unless asked', async () => {
      await store.insertWorker(worker({ id: 'w-3', name: 'beta' }));
      await store.insertWorker(worker({ id: 'w-2', name: 'alpha' }));
      await store.insertWorker(worker({ id: 'w-1', name: 'beta' }));
      await store.insertWorker(
        worker({ id: 'w-0', name: 'aardvark', revokedAt: '2025-02-01T00:00:00.000Z' }),
      );

      expect((await store.listWorkers()).map((w) => w.id)).toEqual(['w-2', 'w-1', 'w-3']);
      expect((await store.listWorkers({ includeRevoked: true })).map((w) => w.id)).toEqual([
        'w-0',
        'w-2',
        'w-1',
        'w-3',
      ]);
    });

    it('changes only the fields given in a patch', async () => {
      const record = worker();
      await store.insertWorker(record);
      const system = {
        cpuPercent: 50,
        cpus: 4,
        memoryTotalBytes: 1000,
        memoryUsedBytes: 500,
        dockerRootFreeBytes: 42,
      };

      await store.updateWorker(record.id, { lastSeenAt: '2025-01-03T00:00:00.000Z', system, activeTasks: 3 });

      expect(await store.getWorker(record.id)).toEqual({
        ...record,
        lastSeenAt: '2025-01-03T00:00:00.000Z',
        system,
        activeTasks: 3,
      });
    });

    it('updates every field a patch may carry, labels included', async () => {
      await store.insertWorker(worker());
      const patch = {
        name: 'renamed',
        hostname: 'renamed.example.internal',
        labels: { role: 'db' },
        version: '0.2.0',
        advertiseAddress: '10.0.0.9:7443',
        dockerVersion: '28.0.0',
        enrolledAt: '2025-03-01T00:00:00.000Z',
      };

      await store.updateWorker('w-000000000001', patch);

      expect(await store.getWorker('w-000000000001')).toEqual({ ...worker(), ...patch });
    });

    it('clears a nullable field patched with null and leaves fields patched with undefined alone', async () => {
      const system = {
        cpuPercent: 1,
        cpus: 1,
        memoryTotalBytes: 1,
        memoryUsedBytes: 1,
        dockerRootFreeBytes: 1,
      };
      await store.insertWorker(worker({ system, lastSeenAt: '2025-01-03T00:00:00.000Z' }));

      await store.updateWorker('w-000000000001', { system: null, lastSeenAt: undefined });

      const updated = await store.getWorker('w-000000000001');
      expect(updated?.system).toBeNull();
      expect(updated?.lastSeenAt).toBe('2025-01-03T00:00:00.000Z');
    });

    it('reports not_found when updating a worker it does not know, even with an empty patch', async () => {
      const error = await rejectionOf(store.updateWorker('w-missing', { activeTasks: 1 }));
      expect(error.code).toBe('not_found');
      expect(error.message).toBe('worker "w-missing" not found');

      expect((await rejectionOf(store.updateWorker('w-missing', {}))).code).toBe('not_found');
    });

    it('accepts an empty patch for a known worker and changes nothing', async () => {
      await store.insertWorker(worker());
      await store.updateWorker('w-000000000001', {});
      expect(await store.getWorker('w-000000000001')).toEqual(worker());
    });
  });

  describe('revokeWorker', () => {
    beforeEach(async () => {
      await store.insertWorker(worker());
      await store.insertWorker(worker({ id: 'w-other', name: 'other' }));
      await store.insertCertificate(certificate({ serial: '01' }));
      await store.insertCertificate(certificate({ serial: '02', revokedAt: '2025-01-10T00:00:00.000Z' }));
      await store.insertCertificate(certificate({ serial: '03', workerId: 'w-other' }));
    });

    it('revokes the worker and every certificate of it not yet revoked', async () => {
      await store.revokeWorker('w-000000000001', '2025-02-01T00:00:00.000Z');

      expect((await store.getWorker('w-000000000001'))?.revokedAt).toBe('2025-02-01T00:00:00.000Z');
      expect(await store.listCertificates('w-000000000001')).toEqual([
        certificate({ serial: '01', revokedAt: '2025-02-01T00:00:00.000Z' }),
        certificate({ serial: '02', revokedAt: '2025-01-10T00:00:00.000Z' }),
      ]);
      expect((await store.getCertificate('03'))?.revokedAt).toBeNull();
      expect((await store.listWorkers()).map((w) => w.id)).toEqual(['w-other']);
    });

    it('keeps the first revocation time when a worker is revoked twice', async () => {
      await store.revokeWorker('w-000000000001', '2025-02-01T00:00:00.000Z');
      await store.revokeWorker('w-000000000001', '2025-03-01T00:00:00.000Z');

      expect((await store.getWorker('w-000000000001'))?.revokedAt).toBe('2025-02-01T00:00:00.000Z');
      expect((await store.getCertificate('01'))?.revokedAt).toBe('2025-02-01T00:00:00.000Z');
    });

    it('reports not_found when revoking a worker it does not know', async () => {
      const error = await rejectionOf(store.revokeWorker('w-missing', '2025-02-01T00:00:00.000Z'));
      expect(error.code).toBe('not_found');
      expect(error.message).toBe('worker "w-missing" not found');
    });

    sqliteOnly(
      'leaves the worker unrevoked when revoking its certificates fails, as one transaction',
      async () => {
        const { store: own, db } = await engine.open();
        try {
          await own.insertWorker(worker());
          await own.insertCertificate(certificate());
          await sql`create trigger refuse_revocation before update on certificates
                begin select raise(abort, 'certificates are read-only'); end`.execute(db);

          await expect(own.revokeWorker('w-000000000001', '2025-02-01T00:00:00.000Z')).rejects.toThrow(
            'certificates are read-only',
          );

          expect((await own.getWorker('w-000000000001'))?.revokedAt).toBeNull();
          expect((await own.getCertificate(certificate().serial))?.revokedAt).toBeNull();
        } finally {
          await own.close();
        }
      },
    );
  });

  describe('certificates', () => {
    beforeEach(async () => {
      await store.insertWorker(worker());
    });

    it('returns an inserted certificate as it was given', async () => {
      await store.insertCertificate(certificate());
      expect(await store.getCertificate('0a1b2c3d')).toEqual(certificate());
      expect(await store.getCertificate('ffff')).toBeUndefined();
    });

    it('lists the certificates of one worker, oldest first', async () => {
      await store.insertWorker(worker({ id: 'w-other', name: 'other' }));
      await store.insertCertificate(certificate({ serial: 'bb', notBefore: '2025-06-01T00:00:00.000Z' }));
      await store.insertCertificate(certificate({ serial: 'aa', notBefore: '2025-01-01T00:00:00.000Z' }));
      await store.insertCertificate(certificate({ serial: 'cc', workerId: 'w-other' }));

      expect((await store.listCertificates('w-000000000001')).map((c) => c.serial)).toEqual(['aa', 'bb']);
      expect(await store.listCertificates('w-missing')).toEqual([]);
    });

    it('refuses a second certificate with the same serial as a conflict', async () => {
      await store.insertCertificate(certificate());
      const error = await rejectionOf(
        store.insertCertificate(certificate({ notAfter: '2030-01-01T00:00:00.000Z' })),
      );
      expect(error.code).toBe('conflict');
      expect(error.message).toBe('certificate "0a1b2c3d" already exists');
    });

    it('refuses a certificate for a worker it does not know as not_found', async () => {
      const error = await rejectionOf(store.insertCertificate(certificate({ workerId: 'w-missing' })));
      expect(error.code).toBe('not_found');
      expect(error.message).toBe('worker "w-missing" not found');
    });
  });

  describe('inventories', () => {
    beforeEach(async () => {
      await store.insertWorker(worker());
    });

    it('returns a saved inventory with its container, image, volume and network intact', async () => {
      const record = inventoryRecord(1);
      await store.saveInventory(record);

      const saved = await store.getInventory('w-000000000001');
      expect(saved).toEqual(record);
      expect(saved?.inventory.containers[0]?.ports[1]).toEqual({ privatePort: 443, protocol: 'tcp' });
      expect(saved?.inventory.volumes[0]?.size).toBeNull();
    });

    it('returns undefined for a worker that has reported no inventory', async () => {
      expect(await store.getInventory('w-000000000001')).toBeUndefined();
    });

    it('replaces the inventory with one of a higher sequence', async () => {
      await store.saveInventory(inventoryRecord(1));
      const newer = inventoryRecord(2, {
        inventory: { containers: [], images: [image], volumes: [], networks: [] },
      });
      await store.saveInventory(newer);

      expect(await store.getInventory('w-000000000001')).toEqual(newer);
    });

    it('ignores an inventory that arrives late with a lower sequence', async () => {
      const newer = inventoryRecord(7);
      await store.saveInventory(newer);
      await store.saveInventory(
        inventoryRecord(6, { inventory: { containers: [], images: [], volumes: [], networks: [] } }),
      );

      expect(await store.getInventory('w-000000000001')).toEqual(newer);
    });

    it('overwrites the inventory when the sequence is equal', async () => {
      await store.saveInventory(inventoryRecord(3));
      const resent = inventoryRecord(3, {
        inventory: { containers: [], images: [], volumes: [volume], networks: [] },
        updatedAt: '2025-01-02T05:00:00.000Z',
      });
      await store.saveInventory(resent);

      expect(await store.getInventory('w-000000000001')).toEqual(resent);
    });

    it('lists the inventories of every worker by worker id', async () => {
      await store.insertWorker(worker({ id: 'w-0', name: 'zulu' }));
      await store.saveInventory(inventoryRecord(1));
      await store.saveInventory(inventoryRecord(4, { workerId: 'w-0' }));

      expect(await store.listInventories()).toEqual([
        inventoryRecord(4, { workerId: 'w-0' }),
        inventoryRecord(1),
      ]);
    });

    it('refuses an inventory of a worker it does not know as not_found', async () => {
      const error = await rejectionOf(store.saveInventory(inventoryRecord(1, { workerId: 'w-missing' })));
      expect(error.code).toBe('not_found');
    });
  });

  describe('settings', () => {
    it('returns undefined for a setting never set', async () => {
      expect(await store.getSetting('enrollment.token')).toBeUndefined();
    });

    it('returns the last value set for a key', async () => {
      await store.setSetting('enrollment.token', 'first');
      await store.setSetting('enrollment.token', 'second');
      await store.setSetting('other', 'x');

      expect(await store.getSetting('enrollment.token')).toBe('second');
      expect(await store.getSetting('other')).toBe('x');
    });

    it('inserts a setting only when absent, telling exactly one of racing callers it stored its value', async () => {
      const answers = await Promise.all(
        ['a', 'b', 'c', 'd'].map((value) => store.insertSettingIfAbsent('ca_certificate', value)),
      );
      expect(answers.filter(Boolean)).toHaveLength(1);
      const stored = ['a', 'b', 'c', 'd'][answers.indexOf(true)];
      expect(await store.getSetting('ca_certificate')).toBe(stored);

      await store.setSetting('other', 'kept');
      expect(await store.insertSettingIfAbsent('other', 'replaced?')).toBe(false);
      expect(await store.getSetting('other')).toBe('kept');
    });
  });

  describe('pairing codes', () => {
    const now = '2026-03-01T12:00:00.000Z';

    it('spends a live code once, whichever caller asks', async () => {
      await store.insertPairingCode('hash-live', '2026-03-01T12:10:00.000Z');
      const answers = await Promise.all([
        store.consumePairingCode('hash-live', now),
        store.consumePairingCode('hash-live', now),
        store.consumePairingCode('hash-live', now),
      ]);
      expect(answers.filter(Boolean)).toHaveLength(1);
      expect(await store.consumePairingCode('hash-live', now)).toBe(false);
    });

    it('refuses a code it does not know and one that expired, deleting expired codes on the way', async () => {
      await store.insertPairingCode('hash-expired', '2026-03-01T11:59:59.999Z');
      await store.insertPairingCode('hash-at-now', now);
      await store.insertPairingCode('hash-later', '2026-03-01T12:10:00.000Z');

      expect(await store.consumePairingCode('hash-unknown', now)).toBe(false);
      expect(await store.consumePairingCode('hash-expired', now)).toBe(false);
      expect(await store.consumePairingCode('hash-at-now', now)).toBe(false);
      expect(await store.consumePairingCode('hash-later', now)).toBe(true);
    });

    it('deletes expired codes when any code is spent, so none is left to try later', async () => {
      await store.insertPairingCode('hash-old', '2026-03-01T11:00:00.000Z');
      await store.consumePairingCode('hash-unknown', now);
      // Were it still kept, an earlier "now" would accept it.
      expect(await store.consumePairingCode('hash-old', '2026-03-01T10:00:00.000Z')).toBe(false);
    });
  });

  describe('audit log', () => {
    it('returns each appended entry with a new, increasing id', async () => {
      const first = await store.appendAudit(audit());
      const second = await store.appendAudit(audit({ outcome: 'error', status: 404 }));

      expect(first).toEqual({ ...audit(), id: first.id });
      expect(second.id).toBeGreaterThan(first.id);
    });

    it('lists entries newest first, with details and nulls intact', async () => {
      const details = { reason: 'host decommissioned', force: true, counts: { certificates: 2 } };
      const first = await store.appendAudit(audit({ details }));
      const second = await store.appendAudit(
        audit({ actor: 'worker:w-1', action: 'worker.enroll', target: null, status: 0, remoteAddress: null }),
      );

      expect(await store.listAudit()).toEqual([second, first]);
      expect((await store.listAudit())[1]?.details).toEqual(details);
    });

    it('keeps the summary of an entry, and stores one left out as none', async () => {
      const summary = 'web, data (+2) from hosta to hostb: cold, full';
      const { summary: _none, ...withoutSummary } = audit({ action: 'worker.enroll', status: 0 });
      await store.appendAudit(audit({ action: 'migration.start', target: 'm-1', status: 201, summary }));
      const appended = await store.appendAudit(withoutSummary);

      expect(appended.summary).toBeNull();
      expect((await store.listAudit()).map((entry) => [entry.action, entry.summary])).toEqual([
        ['worker.enroll', null],
        ['migration.start', summary],
      ]);
    });

    sqliteOnly('reads an entry written before the summary column as one without a summary', async () => {
      const database = new BetterSqlite3(':memory:');
      const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
      const { '0006_audit_summary': _summary, '0007_high_availability': _ha, ...before } = MIGRATIONS;
      await migrateToLatest(db, ':memory:', before);
      database
        .prepare(
          `insert into audit_log (at, actor, action, target, outcome, status, details_json, remote_address)
         values (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run('2025-01-02T03:04:05.000Z', 'admin', 'POST /api/migrations', null, 'ok', 201, '{}', null);
      await migrateToLatest(db, ':memory:');
      const old = new SqlMasterStore(db, ':memory:');
      try {
        expect(await old.listAudit()).toEqual([
          expect.objectContaining({ action: 'POST /api/migrations', summary: null }),
        ]);
      } finally {
        await old.close();
      }
    });

    it('pages back with beforeId and limit', async () => {
      const ids: number[] = [];
      for (let index = 0; index < 7; index += 1)
        ids.push((await store.appendAudit(audit({ status: index }))).id);

      const page1 = await store.listAudit({ limit: 3 });
      const page2 = await store.listAudit({ limit: 3, beforeId: itemAt(page1, -1).id });
      const page3 = await store.listAudit({ limit: 3, beforeId: itemAt(page2, -1).id });

      expect([...page1, ...page2, ...page3].map((entry) => entry.id)).toEqual([...ids].reverse());
      expect(page3).toHaveLength(1);
      expect(await store.listAudit({ beforeId: itemAt(ids, 0) })).toEqual([]);
    });

    it('returns 100 entries by default and never more than 1000', async () => {
      for (let index = 0; index < 1005; index += 1) await store.appendAudit(audit({ status: index }));

      expect(await store.listAudit()).toHaveLength(100);
      expect(await store.listAudit({ limit: 5000 })).toHaveLength(1000);
    });

    it('refuses a limit that is not a positive integer', async () => {
      for (const limit of [0, -1, 2.5, Number.NaN]) {
        expect((await rejectionOf(store.listAudit({ limit }))).code).toBe('invalid_argument');
      }
    });
  });

  describe('migrations', () => {
    it('returns an inserted migration as it was given, request, plan and state included', async () => {
      await store.insertMigration(migration());

      expect(await store.getMigration('m-000000000001')).toEqual(migration());
    });

    sqliteOnly(
      'reads a migration written before the timing column as one with no downtime phases and no rounds',
      async () => {
        const database = new BetterSqlite3(':memory:');
        const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
        const {
          '0005_migration_timing': _timing,
          '0006_audit_summary': _summary,
          '0007_high_availability': _ha,
          ...before
        } = MIGRATIONS;
        await migrateToLatest(db, ':memory:', before);
        const row = { ...migration(), timing: undefined };
        database
          .prepare(
            `insert into migrations (id, status, phase, request_json, plan_json, state_json, created_at)
         values (?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(
            row.id,
            row.status,
            row.phase,
            JSON.stringify(row.request),
            JSON.stringify(row.plan),
            '{}',
            row.createdAt,
          );
        await migrateToLatest(db, ':memory:');
        const old = new SqlMasterStore(db, ':memory:');
        try {
          expect((await old.getMigration(row.id))?.timing).toEqual({ downtime: null, rounds: [] });
        } finally {
          await old.close();
        }
      },
    );

    it('returns a finished migration with its times, downtime, error and cancel flag', async () => {
      const record = migration({
        status: 'rolled_back',
        phase: 'done',
        progress: 1,
        completedAt: '2025-01-02T04:00:00.000Z',
        downtimeMs: 1234,
        error: 'target disk full: "data" needs 5 GiB',
        cancelRequested: true,
        state: { sourceRunning: [], sourceStopped: [], created: [], completedSteps: [] },
      });
      await store.insertMigration(record);

      expect(await store.getMigration(record.id)).toEqual(record);
    });

    it('holds the keys a migration locks, refusing another migration that asks for one of them', async () => {
      await store.insertMigration(migration(), ['w-a/container/web', 'w-b/volume/data']);

      const error = await rejectionOf(
        store.insertMigration(migration({ id: 'm-000000000002' }), ['w-b/network/net', 'w-b/volume/data']),
      );
      expect(error.code).toBe('conflict');
      expect(error.message).toBe(
        'the volume "data" is part of migration m-000000000001, which has not finished; wait for it or cancel it',
      );
      expect(error.details).toEqual({ migrationId: 'm-000000000001', resource: 'w-b/volume/data' });
      // Nothing of the refused migration was stored, not even the keys it could have had.
      expect(await store.getMigration('m-000000000002')).toBeUndefined();

      await store.releaseMigrationLocks('m-000000000001');
      await store.insertMigration(migration({ id: 'm-000000000002' }), [
        'w-b/network/net',
        'w-b/volume/data',
      ]);
      expect((await store.getMigration('m-000000000002'))?.id).toBe('m-000000000002');
    });

    it('returns undefined for a migration it does not know', async () => {
      expect(await store.getMigration('m-unknown')).toBeUndefined();
    });

    it('refuses a second migration with the same id as a conflict', async () => {
      await store.insertMigration(migration());

      const error = await rejectionOf(store.insertMigration(migration({ status: 'pending' })));
      expect(error.code).toBe('conflict');
      expect(error.message).toBe('migration "m-000000000001" already exists');
      expect((await store.getMigration('m-000000000001'))?.status).toBe('running');
    });

    it('changes only the fields given in a patch', async () => {
      await store.insertMigration(migration());
      const state = { ...migration().state, completedSteps: ['image:nginx:1.27', 'volume:data'] };

      await store.updateMigration('m-000000000001', {
        progress: 0.6,
        bytesTransferred: 3 * 2 ** 30,
        state,
        cancelRequested: true,
      });

      expect(await store.getMigration('m-000000000001')).toEqual(
        migration({ progress: 0.6, bytesTransferred: 3 * 2 ** 30, state, cancelRequested: true }),
      );
    });

    it('updates every field a patch may carry', async () => {
      await store.insertMigration(migration());
      const { id: _id, ...patch } = migration({
        id: 'ignored',
        status: 'failed',
        phase: 'rollback',
        request: { ...migration().request, containers: ['api'], mode: 'cold' },
        plan: { resources: [], findings: [], totalBytes: 0 },
        progress: 0.9,
        bytesTransferred: 7,
        totalBytes: 8,
        rateBytesPerSecond: 1.5,
        createdAt: '2025-02-01T00:00:00.000Z',
        startedAt: '2025-02-01T00:00:01.000Z',
        completedAt: '2025-02-01T00:00:02.000Z',
        downtimeMs: 900,
        error: 'image pull failed',
        cancelRequested: true,
        state: { sourceRunning: ['api'], sourceStopped: [], created: [], completedSteps: [] },
      });

      await store.updateMigration('m-000000000001', patch);

      expect(await store.getMigration('m-000000000001')).toEqual({ ...patch, id: 'm-000000000001' });
    });

    it('clears a nullable field patched with null and leaves fields patched with undefined alone', async () => {
      await store.insertMigration(migration({ error: 'transient', downtimeMs: 10 }));

      await store.updateMigration('m-000000000001', { error: null, downtimeMs: undefined, startedAt: null });

      expect(await store.getMigration('m-000000000001')).toEqual(
        migration({ error: null, downtimeMs: 10, startedAt: null }),
      );
    });

    it('reports not_found when updating a migration it does not know, even with an empty patch', async () => {
      const error = await rejectionOf(store.updateMigration('m-missing', { progress: 1 }));
      expect(error.code).toBe('not_found');
      expect(error.message).toBe('migration "m-missing" not found');

      expect((await rejectionOf(store.updateMigration('m-missing', {}))).code).toBe('not_found');
    });

    it('accepts an empty patch for a known migration and changes nothing', async () => {
      await store.insertMigration(migration());
      await store.updateMigration('m-000000000001', {});
      expect(await store.getMigration('m-000000000001')).toEqual(migration());
    });
  });

  describe('listMigrations', () => {
    /** Inserts in the order given: the tests choose one unlike the order of the listing. */
    async function insertAll(records: MigrationRecord[]): Promise<void> {
      for (const record of records) await store.insertMigration(record);
    }

    it('lists newest first by createdAt, then by id', async () => {
      await insertAll([
        migration({ id: 'm-b', createdAt: '2025-01-02T00:00:00.000Z' }),
        migration({ id: 'm-old', createdAt: '2025-01-01T00:00:00.000Z' }),
        migration({ id: 'm-new', createdAt: '2025-01-03T00:00:00.000Z' }),
        migration({ id: 'm-a', createdAt: '2025-01-02T00:00:00.000Z' }),
      ]);

      expect((await store.listMigrations()).map((m) => m.id)).toEqual(['m-new', 'm-a', 'm-b', 'm-old']);
      expect((await store.listMigrations())[0]).toEqual(
        migration({ id: 'm-new', createdAt: '2025-01-03T00:00:00.000Z' }),
      );
    });

    it('pages through migrations that share a createdAt with `before`, each once', async () => {
      const createdAt = '2025-01-02T03:04:05.000Z';
      const ids = ['m-07', 'm-03', 'm-01', 'm-06', 'm-02', 'm-05', 'm-04'];
      await insertAll(ids.map((id) => migration({ id, createdAt })));
      await store.insertMigration(migration({ id: 'm-00', createdAt: '2025-01-01T00:00:00.000Z' }));

      const page1 = await store.listMigrations({ limit: 3 });
      const page2 = await store.listMigrations({ limit: 3, before: itemAt(page1, -1).id });
      const page3 = await store.listMigrations({ limit: 3, before: itemAt(page2, -1).id });

      expect(page1.map((m) => m.id)).toEqual(['m-01', 'm-02', 'm-03']);
      expect(page2.map((m) => m.id)).toEqual(['m-04', 'm-05', 'm-06']);
      expect(page3.map((m) => m.id)).toEqual(['m-07', 'm-00']);
      expect(await store.listMigrations({ before: 'm-00' })).toEqual([]);
    });

    it('keeps a page stable when a newer migration arrives between two reads', async () => {
      await insertAll(
        ['m-1', 'm-2', 'm-3', 'm-4'].map((id, index) =>
          migration({ id, createdAt: `2025-01-0${index + 1}T00:00:00.000Z` }),
        ),
      );

      const page1 = await store.listMigrations({ limit: 2 });
      await store.insertMigration(migration({ id: 'm-5', createdAt: '2025-01-05T00:00:00.000Z' }));
      const page2 = await store.listMigrations({ limit: 2, before: itemAt(page1, -1).id });

      expect(page1.map((m) => m.id)).toEqual(['m-4', 'm-3']);
      expect(page2.map((m) => m.id)).toEqual(['m-2', 'm-1']);
    });

    it('keeps only the statuses asked for, also across pages', async () => {
      await insertAll([
        migration({ id: 'm-1', status: 'running', createdAt: '2025-01-01T00:00:00.000Z' }),
        migration({ id: 'm-2', status: 'completed', createdAt: '2025-01-02T00:00:00.000Z' }),
        migration({ id: 'm-3', status: 'pending', createdAt: '2025-01-03T00:00:00.000Z' }),
        migration({ id: 'm-4', status: 'failed', createdAt: '2025-01-04T00:00:00.000Z' }),
        migration({ id: 'm-5', status: 'running', createdAt: '2025-01-05T00:00:00.000Z' }),
      ]);

      const unfinished = await store.listMigrations({ status: ['pending', 'running'] });
      expect(unfinished.map((m) => m.id)).toEqual(['m-5', 'm-3', 'm-1']);
      expect((await store.listMigrations({ status: ['completed'] })).map((m) => m.id)).toEqual(['m-2']);
      const page2 = await store.listMigrations({ status: ['pending', 'running'], before: 'm-5', limit: 1 });
      expect(page2.map((m) => m.id)).toEqual(['m-3']);
      expect(await store.listMigrations({ status: [] })).toEqual([]);
    });

    it('returns 50 migrations by default and never more than 500', async () => {
      for (let index = 0; index < 505; index += 1) {
        await store.insertMigration(migration({ id: `m-${String(index).padStart(4, '0')}` }));
      }

      expect(await store.listMigrations()).toHaveLength(50);
      expect(await store.listMigrations({ limit: 5000 })).toHaveLength(500);
    });

    it('refuses a limit that is not a positive integer', async () => {
      for (const limit of [0, -1, 2.5, Number.NaN]) {
        expect((await rejectionOf(store.listMigrations({ limit }))).code).toBe('invalid_argument');
      }
    });

    it('refuses to page before a migration it does not know', async () => {
      await store.insertMigration(migration());

      const error = await rejectionOf(store.listMigrations({ before: 'm-missing' }));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toBe('cannot list migrations before "m-missing": no such migration');
    });
  });

  describe('migration events', () => {
    beforeEach(async () => {
      await store.insertMigration(migration());
      await store.insertMigration(migration({ id: 'm-other' }));
    });

    it('returns each appended event with a new, increasing id', async () => {
      const first = await store.appendMigrationEvent(migrationEvent());
      const second = await store.appendMigrationEvent(migrationEvent({ level: 'warning' }));

      expect(first).toEqual({ ...migrationEvent(), id: first.id });
      expect(second.id).toBeGreaterThan(first.id);
    });

    it('lists the events of one migration oldest first, with and without a resource', async () => {
      const { resource: _resource, ...withoutResource } = migrationEvent({
        phase: 'preflight',
        message: 'checked',
      });
      const first = await store.appendMigrationEvent(withoutResource);
      await store.appendMigrationEvent(migrationEvent({ migrationId: 'm-other' }));
      const second = await store.appendMigrationEvent(
        migrationEvent({ level: 'error', message: 'disk full' }),
      );

      const events = await store.listMigrationEvents('m-000000000001');
      expect(events).toEqual([first, second]);
      expect(events[0]).not.toHaveProperty('resource');
      expect(await store.listMigrationEvents('m-missing')).toEqual([]);
    });

    it('returns only the events after `afterId`, for a reader that follows the log', async () => {
      const events = [];
      for (let index = 0; index < 5; index += 1) {
        events.push(await store.appendMigrationEvent(migrationEvent({ message: `step ${index}` })));
      }

      expect(await store.listMigrationEvents('m-000000000001', { afterId: itemAt(events, 1).id })).toEqual(
        events.slice(2),
      );
      expect(
        await store.listMigrationEvents('m-000000000001', { afterId: itemAt(events, 1).id, limit: 2 }),
      ).toEqual(events.slice(2, 4));
      expect(await store.listMigrationEvents('m-000000000001', { afterId: itemAt(events, 4).id })).toEqual(
        [],
      );
    });

    it('returns 1000 events by default and never more', async () => {
      for (let index = 0; index < 1005; index += 1) {
        await store.appendMigrationEvent(migrationEvent({ message: `step ${index}` }));
      }

      const events = await store.listMigrationEvents('m-000000000001');
      expect(events).toHaveLength(1000);
      expect(events[0]?.message).toBe('step 0');
      expect(await store.listMigrationEvents('m-000000000001', { limit: 5000 })).toHaveLength(1000);
    });

    it('refuses a limit that is not a positive integer', async () => {
      for (const limit of [0, -1, 2.5, Number.NaN]) {
        const error = await rejectionOf(store.listMigrationEvents('m-000000000001', { limit }));
        expect(error.code).toBe('invalid_argument');
      }
    });

    it('refuses an event of a migration it does not know as not_found', async () => {
      const error = await rejectionOf(
        store.appendMigrationEvent(migrationEvent({ migrationId: 'm-missing' })),
      );
      expect(error.code).toBe('not_found');
      expect(error.message).toBe('migration "m-missing" not found');
    });
  });

  describe('master events', () => {
    /** Appends `count` events whose bodies number them, `at` one second apart from `start`; answers their ids. */
    async function appendEvents(count: number, start = Date.parse('2025-01-02T03:04:05.000Z')) {
      const ids: number[] = [];
      for (let index = 0; index < count; index += 1) {
        ids.push(
          await store.appendMasterEvent({
            at: new Date(start + index * 1000).toISOString(),
            type: 'migration.updated',
            body: { index },
          }),
        );
      }
      return ids;
    }

    it('gives each appended event an id greater than every one before', async () => {
      const ids = await appendEvents(5);
      for (let index = 1; index < ids.length; index += 1) {
        expect(itemAt(ids, index)).toBeGreaterThan(itemAt(ids, index - 1));
      }
    });

    it('returns the events after an id, oldest first, as they were appended', async () => {
      const body = { worker: { id: 'w-1', labels: { zone: 'a "quoted" \n zone' } }, reason: null, n: 2.5 };
      const first = await store.appendMasterEvent({ at: '2025-01-02T03:04:05.000Z', type: 'hello', body });
      const second = await store.appendMasterEvent({ at: '2025-01-02T03:04:06.000Z', type: 'x', body: [1] });

      expect(await store.listMasterEvents(0)).toEqual([
        { id: first, at: '2025-01-02T03:04:05.000Z', type: 'hello', body },
        { id: second, at: '2025-01-02T03:04:06.000Z', type: 'x', body: [1] },
      ]);
      expect((await store.listMasterEvents(first)).map((event) => event.id)).toEqual([second]);
      expect(await store.listMasterEvents(second)).toEqual([]);
    });

    it('pages with afterId and limit, each event once, and returns 1000 at most', async () => {
      const ids = await appendEvents(1003);
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await store.listMasterEvents(after, 400);
        if (page.length === 0) break;
        seen.push(...page.map((event) => event.id));
        after = itemAt(page, -1).id;
      }
      expect(seen).toEqual(ids);
      expect(await store.listMasterEvents(0)).toHaveLength(1000);
      expect(await store.listMasterEvents(0, 5000)).toHaveLength(1000);
      for (const limit of [0, -1, 2.5, Number.NaN]) {
        expect((await rejectionOf(store.listMasterEvents(0, limit))).code).toBe('invalid_argument');
      }
    });

    it('reports the oldest and latest ids kept, none before the first event', async () => {
      expect(await store.masterEventBounds()).toEqual({ oldest: undefined, latest: undefined });
      const ids = await appendEvents(3);
      expect(await store.masterEventBounds()).toEqual({ oldest: ids[0], latest: ids[2] });
    });

    it('prunes all but the newest events, and never reuses an id', async () => {
      const ids = await appendEvents(10);
      expect(await store.pruneMasterEvents({ keepNewest: 4 })).toBe(6);
      expect((await store.listMasterEvents(0)).map((event) => event.id)).toEqual(ids.slice(6));
      expect(await store.masterEventBounds()).toEqual({ oldest: ids[6], latest: ids[9] });
      expect(await store.pruneMasterEvents({ keepNewest: 4 })).toBe(0);

      expect(await store.pruneMasterEvents({ keepNewest: 1 })).toBe(3);
      const [next] = await appendEvents(1);
      expect(next).toBeGreaterThan(itemAt(ids, -1));
      expect((await rejectionOf(store.pruneMasterEvents({ keepNewest: 0 }))).code).toBe('invalid_argument');
    });

    it('prunes events older than a time but keeps the newest, so that the latest id stays known', async () => {
      const ids = await appendEvents(5);
      // Events at :05 … :09; those before :07 go.
      expect(await store.pruneMasterEvents({ olderThan: '2025-01-02T03:04:07.000Z' })).toBe(2);
      expect(await store.masterEventBounds()).toEqual({ oldest: ids[2], latest: ids[4] });
      expect(await store.pruneMasterEvents({ olderThan: '2030-01-01T00:00:00.000Z' })).toBe(2);
      expect(await store.masterEventBounds()).toEqual({ oldest: ids[4], latest: ids[4] });
      expect(await store.pruneMasterEvents({ olderThan: '2030-01-01T00:00:00.000Z', keepNewest: 1 })).toBe(0);
    });
  });

  describe('leader lease', () => {
    const alpha = { holder: 'm-alpha', grpcUrl: 'alpha:9090', httpUrl: 'http://alpha:8080' };
    const beta = { holder: 'm-beta', grpcUrl: 'beta:9090', httpUrl: 'http://beta:8080' };
    const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

    it('goes to the first candidate with epoch 1; another is told who holds it and until when', async () => {
      expect(await store.readLease()).toBeUndefined();
      expect(await store.tryAcquireLease(alpha, 10_000)).toEqual({ acquired: true, epoch: 1 });
      const refused = await store.tryAcquireLease(beta, 10_000);
      if (refused.acquired) throw new Error('beta took a held lease');
      expect(refused.current).toMatchObject({ ...alpha, epoch: 1 });
      expect(refused.current.expiresAtMs - refused.current.nowMs).toBeGreaterThan(9_000);
      expect(refused.current.expiresAtMs - refused.current.nowMs).toBeLessThanOrEqual(10_000);
    });

    it('is renewed only by its holder at its epoch', async () => {
      await store.tryAcquireLease(alpha, 10_000);
      expect(await store.renewLease('m-alpha', 1, 10_000)).toBe(true);
      expect(await store.renewLease('m-alpha', 2, 10_000)).toBe(false);
      expect(await store.renewLease('m-beta', 1, 10_000)).toBe(false);
    });

    it('passes to another candidate once expired, with the next epoch; the old holder cannot renew', async () => {
      await store.tryAcquireLease(alpha, 1);
      await pause(20);
      expect(await store.tryAcquireLease(beta, 10_000)).toEqual({ acquired: true, epoch: 2 });
      expect(await store.renewLease('m-alpha', 1, 10_000)).toBe(false);
      expect(await store.readLease()).toMatchObject({ ...beta, epoch: 2 });
    });

    it('is free at once after a release, and a forced take needs no expiry', async () => {
      await store.tryAcquireLease(alpha, 60_000);
      await store.releaseLease('m-beta', 1);
      expect((await store.tryAcquireLease(beta, 60_000)).acquired).toBe(false);
      await store.releaseLease('m-alpha', 1);
      expect(await store.tryAcquireLease(beta, 60_000)).toEqual({ acquired: true, epoch: 2 });
      expect(await store.tryAcquireLease(alpha, 60_000, { force: true })).toEqual({
        acquired: true,
        epoch: 3,
      });
    });

    it('fences writes: once another master holds the lease, a write of the old epoch is refused and lands nowhere', async () => {
      await store.tryAcquireLease(alpha, 1);
      store.setFence({ holder: 'm-alpha', epoch: 1 });
      await store.insertWorker(worker({ id: 'w-1', name: 'one' }));
      await store.updateWorker('w-1', { activeTasks: 3 });
      await pause(20);
      await store.tryAcquireLease(beta, 10_000);

      const writes: Array<[string, () => Promise<unknown>]> = [
        ['insertWorker', () => store.insertWorker(worker({ id: 'w-2', name: 'two' }))],
        ['updateWorker', () => store.updateWorker('w-1', { activeTasks: 9 })],
        ['setSetting', () => store.setSetting('k', 'v')],
        ['insertSettingIfAbsent', () => store.insertSettingIfAbsent('k', 'v')],
        ['insertPairingCode', () => store.insertPairingCode('hash', '2026-01-01T00:00:00.000Z')],
        ['insertMigration', () => store.insertMigration(migration({ id: 'm-1' }), ['volume:w-1:data'])],
        ['revokeWorker', () => store.revokeWorker('w-1', '2026-01-01T00:00:00.000Z')],
        ['appendAudit', () => store.appendAudit(audit())],
        [
          'appendMasterEvent',
          () => store.appendMasterEvent({ at: '2026-01-01T00:00:00.000Z', type: 'x', body: {} }),
        ],
        ['pruneMasterEvents', () => store.pruneMasterEvents({ keepNewest: 1 })],
      ];
      for (const [name, write] of writes) {
        const error = await rejectionOf(write());
        expect(error.reason, name).toBe('fenced');
        expect(error.code, name).toBe('failed_precondition');
        expect(error.message, name).toBe(
          'this master no longer leads (it held epoch 1; the lease is at epoch 2): its write is refused',
        );
      }
      // Reads still work, and nothing of the refused writes is there.
      expect((await store.listWorkers()).map((w) => [w.id, w.activeTasks, w.revokedAt])).toEqual([
        ['w-1', 3, null],
      ]);
      expect(await store.getSetting('k')).toBeUndefined();
      expect(await store.getMigration('m-1')).toBeUndefined();
      expect(await store.listAudit()).toEqual([]);
      expect(await store.masterEventBounds()).toEqual({ oldest: undefined, latest: undefined });

      store.setFence({ holder: 'm-beta', epoch: 2 });
      await store.setSetting('k', 'v');
      expect(await store.getSetting('k')).toBe('v');
    });
  });

  describe('close', () => {
    it('can be called twice', async () => {
      await store.close();
      await store.close();
    });

    it('makes later calls fail with a readable error', async () => {
      await store.close();
      const error = await rejectionOf(store.getWorker('w-1'));
      expect(error.code).toBe('failed_precondition');
      expect(error.message).toBe(`the database at ${store.path} is closed`);
    });
  });

  describe('migrations', () => {
    sqliteOnly('names the database and the migration that failed', async () => {
      const db = new Kysely<Database>({
        dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
      });
      try {
        const error = await rejectionOf(
          migrateToLatest(db, '/data/master.db', {
            ...MIGRATIONS,
            '0900_broken': { up: () => Promise.reject(new Error('no such column: nope')) },
          }),
        );
        expect(error.code).toBe('internal');
        expect(error.message).toBe(
          'cannot migrate the database at /data/master.db: migration 0900_broken failed: no such column: nope',
        );
      } finally {
        await db.destroy();
      }
    });

    sqliteOnly('refuses a database whose applied migrations are out of order with the code', async () => {
      const db = new Kysely<Database>({
        dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
      });
      try {
        const later = { up: () => Promise.resolve() };
        await migrateToLatest(db, 'master.db', { ...MIGRATIONS, '0901_later': later });

        const error = await rejectionOf(
          migrateToLatest(db, 'master.db', { ...MIGRATIONS, '0900_inserted': later, '0901_later': later }),
        );
        expect(error.code).toBe('failed_precondition');
        expect(error.message).toMatch(/^the migrations applied to the database at master\.db do not match/);
      } finally {
        await db.destroy();
      }
    });

    it('applies no migration twice', async () => {
      const { store: own, db } = await engine.open();
      try {
        await migrateToLatest(db, ':memory:');
        const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(db);
        expect(applied.rows.map((row) => row.name)).toEqual(Object.keys(MIGRATIONS));
      } finally {
        await own.close();
      }
    });
  });
}
