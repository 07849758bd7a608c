// Integration tests of the SQLite master store on real files: restarts, migrations, file modes, WAL, newer databases,
// and upgrades of databases that older versions left behind.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AppError } from '../../core/errors.js';
import type { MigrationRecord } from '../../core/migration.js';
import { sampleWorker } from '../../core/testing/sample-resources.js';
import type { WorkerRecord } from '../../core/workers.js';
import { MIGRATIONS, migrateToLatest } from './migrations.js';
import type { Database } from './schema.js';
import { openSqliteMasterStore } from './sql-master-store.js';

function worker(id: string, name: string): WorkerRecord {
  return sampleWorker({ id, name, hostname: `${name}.example.internal` });
}

function migration(id: string, createdAt: string): MigrationRecord {
  return {
    id,
    status: 'completed',
    phase: 'done',
    request: {
      sourceWorkerId: 'w-1',
      targetWorkerId: 'w-2',
      containers: ['web'],
      images: [],
      volumes: ['data'],
      networks: [],
      composeProjects: [],
      mode: 'cold',
      strategy: 'full',
      transferMode: 'direct',
      conflictPolicy: 'fail',
      sourcePolicy: 'keep_stopped',
      bindMounts: { '/srv/www': { skip: true } },
    },
    plan: {
      resources: [
        {
          type: 'volume',
          name: 'data',
          sourceId: 'data',
          targetName: 'data',
          reason: 'dependency',
          action: 'create',
          estimatedBytes: 4096,
          status: 'done',
          bytes: 4096,
        },
      ],
      findings: [{ severity: 'info', code: 'bind_mount_skipped', message: '/srv/www stays behind' }],
      totalBytes: 4096,
    },
    progress: 1,
    bytesTransferred: 4096,
    totalBytes: 4096,
    rateBytesPerSecond: 2048.5,
    createdAt,
    startedAt: createdAt,
    completedAt: '2025-01-02T03:10:00.000Z',
    downtimeMs: 2500,
    timing: { downtime: null, rounds: [] },
    error: null,
    cancelRequested: false,
    state: {
      sourceRunning: ['web'],
      sourceStopped: ['web'],
      created: [{ type: 'container', ref: 'web' }],
      completedSteps: ['volume:data'],
      downtimeStartedAt: 1735787045000,
    },
  };
}

/** Creates the database as the version that shipped only the named migrations left it. */
async function createDatabaseAt(file: string, names: string[]): Promise<void> {
  const migrations = Object.fromEntries(names.map((name) => [name, MIGRATIONS[name]!]));
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  try {
    await migrateToLatest(db, file, migrations);
  } finally {
    await db.destroy();
  }
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/** Reads the file with a plain connection, as an operator with the sqlite3 shell would. */
function query<T>(path: string, statement: string): T[] {
  const database = new BetterSqlite3(path, { readonly: true });
  try {
    return database.prepare(statement).all() as T[];
  } finally {
    database.close();
  }
}

let folder: string;
let path: string;

beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'dm-store-'));
  path = join(folder, 'master.db');
});

afterEach(() => {
  rmSync(folder, { recursive: true, force: true });
});

describe('SqlMasterStore on a file', () => {
  it('keeps a worker, its id and its settings across a close and reopen, without duplicating it', async () => {
    const first = await openSqliteMasterStore({ path });
    await first.insertWorker(worker('w-3f2a9c0d1e4b', 'alpha'));
    await first.setSetting('enrollment.token', 'secret-token');
    await first.appendAudit({
      at: '2025-01-02T03:04:05.000Z',
      actor: 'admin',
      action: 'worker.enroll',
      target: 'w-3f2a9c0d1e4b',
      outcome: 'ok',
      status: 0,
      details: {},
      remoteAddress: null,
    });
    await first.close();

    const second = await openSqliteMasterStore({ path });
    try {
      expect(await second.listWorkers()).toEqual([worker('w-3f2a9c0d1e4b', 'alpha')]);
      expect(await second.getSetting('enrollment.token')).toBe('secret-token');
      expect(await second.listAudit()).toHaveLength(1);
      await expect(second.insertWorker(worker('w-3f2a9c0d1e4b', 'alpha'))).rejects.toMatchObject({
        code: 'conflict',
      });
    } finally {
      await second.close();
    }
  });

  it('keeps migrations, their updates and their events across a close and reopen', async () => {
    const first = await openSqliteMasterStore({ path });
    await first.insertMigration(migration('m-1', '2025-01-02T03:04:05.000Z'));
    await first.insertMigration(migration('m-2', '2025-01-02T03:04:06.000Z'));
    await first.updateMigration('m-2', {
      status: 'failed',
      error: 'target unreachable',
      cancelRequested: true,
    });
    const events = [
      await first.appendMigrationEvent({
        migrationId: 'm-2',
        at: '2025-01-02T03:04:07.000Z',
        level: 'info',
        phase: 'transfer',
        message: 'copying volume "data"',
        resource: { type: 'volume', name: 'data' },
      }),
      await first.appendMigrationEvent({
        migrationId: 'm-2',
        at: '2025-01-02T03:04:08.000Z',
        level: 'error',
        phase: 'rollback',
        message: 'target unreachable',
      }),
    ];
    await first.close();

    const second = await openSqliteMasterStore({ path });
    try {
      expect(await second.listMigrations()).toEqual([
        {
          ...migration('m-2', '2025-01-02T03:04:06.000Z'),
          status: 'failed',
          error: 'target unreachable',
          cancelRequested: true,
        },
        migration('m-1', '2025-01-02T03:04:05.000Z'),
      ]);
      expect(await second.listMigrationEvents('m-2')).toEqual(events);
      const next = await second.appendMigrationEvent({ ...events[1]!, message: 'rolled back' });
      expect(next.id).toBeGreaterThan(events[1]!.id);
    } finally {
      await second.close();
    }
  });

  it('adds the migration tables to a database that the first schema version created, keeping its data', async () => {
    await createDatabaseAt(path, ['0001_initial']);
    const old = new BetterSqlite3(path);
    old.prepare('insert into settings (key, value) values (?, ?)').run('enrollment.token', 'secret-token');
    old.close();
    expect(query<{ name: string }>(path, 'select name from kysely_migration')).toEqual([
      { name: '0001_initial' },
    ]);

    const store = await openSqliteMasterStore({ path });
    try {
      expect(await store.getSetting('enrollment.token')).toBe('secret-token');
      await store.insertMigration(migration('m-1', '2025-01-02T03:04:05.000Z'));
      await store.appendMigrationEvent({
        migrationId: 'm-1',
        at: '2025-01-02T03:04:07.000Z',
        level: 'info',
        phase: 'preflight',
        message: 'checked',
      });
      expect(await store.getMigration('m-1')).toEqual(migration('m-1', '2025-01-02T03:04:05.000Z'));
      expect(await store.listMigrationEvents('m-1')).toHaveLength(1);
    } finally {
      await store.close();
    }
    expect(query<{ name: string }>(path, 'select name from kysely_migration').map((row) => row.name)).toEqual(
      Object.keys(MIGRATIONS),
    );
  });

  it('runs each migration once, however often the database is reopened', async () => {
    await (await openSqliteMasterStore({ path })).close();
    const applied = query<{ name: string; timestamp: string }>(
      path,
      'select name, timestamp from kysely_migration',
    );
    expect(applied.map((row) => row.name)).toEqual(Object.keys(MIGRATIONS));

    await (await openSqliteMasterStore({ path })).close();
    await (await openSqliteMasterStore({ path })).close();

    expect(query(path, 'select name, timestamp from kysely_migration')).toEqual(applied);
  });

  it('creates a missing data folder 0700 and keeps the database and its WAL files 0600', async () => {
    const nested = join(folder, 'data', 'master');
    const file = join(nested, 'master.db');
    const store = await openSqliteMasterStore({ path: file });
    try {
      // A write through the open connection: in WAL mode SQLite has made the -wal and -shm files by now, and
      // they hold the secret until the next checkpoint.
      await store.setSetting('enrollment.token', 'secret-token');

      expect(modeOf(nested)).toBe(0o700);
      expect(modeOf(join(folder, 'data'))).toBe(0o700);
      expect(modeOf(file)).toBe(0o600);
      for (const companion of [`${file}-wal`, `${file}-shm`]) {
        expect(existsSync(companion), companion).toBe(true);
        expect(modeOf(companion), companion).toBe(0o600);
      }
    } finally {
      await store.close();
    }
  });

  it('narrows a database file that was left readable by others to 0600', async () => {
    await (await openSqliteMasterStore({ path })).close();
    chmodSync(path, 0o644);

    await (await openSqliteMasterStore({ path })).close();

    expect(modeOf(path)).toBe(0o600);
  });

  it('puts the database in WAL mode', async () => {
    const store = await openSqliteMasterStore({ path });
    try {
      await store.insertWorker(worker('w-1', 'alpha'));
      expect(existsSync(`${path}-wal`)).toBe(true);
    } finally {
      await store.close();
    }
    expect(query<{ journal_mode: string }>(path, 'pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
  });

  it('refuses, with a readable error, a database that a newer version has migrated', async () => {
    await (await openSqliteMasterStore({ path })).close();
    const database = new BetterSqlite3(path);
    database
      .prepare('insert into kysely_migration (name, timestamp) values (?, ?)')
      .run('0099_from_the_future', new Date().toISOString());
    database.close();

    const error: unknown = await openSqliteMasterStore({ path }).then(
      () => undefined,
      (rejection: unknown) => rejection,
    );

    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      code: 'failed_precondition',
      message: `the database at ${path} was written by a newer docker-migrate: it has applied migration 0099_from_the_future, which this version does not know`,
    });
    expect((error as AppError).hint).toMatch(/docker-migrate version that last used this database/);
  });

  it('refuses a file that is not a database with an error naming it', async () => {
    writeFileSync(
      path,
      'this is not a database, just some text that is long enough to have a header\n'.repeat(20),
    );

    await expect(openSqliteMasterStore({ path })).rejects.toMatchObject({
      code: 'internal',
      message: `cannot open the database at ${path}: file is not a database`,
    });
  });

  it('takes 1,000 heartbeat updates, one per worker, and keeps every one of them', async () => {
    const store = await openSqliteMasterStore({ path });
    try {
      const ids = Array.from({ length: 1000 }, (_, index) => `w-${String(index).padStart(4, '0')}`);
      for (const id of ids) await store.insertWorker(worker(id, id));

      await Promise.all(
        ids.map((id, index) =>
          store.updateWorker(id, {
            lastSeenAt: `2025-01-02T03:04:05.${String(index % 1000).padStart(3, '0')}Z`,
            system: {
              cpuPercent: index % 100,
              cpus: 4,
              memoryTotalBytes: 8 * 2 ** 30,
              memoryUsedBytes: index * 2 ** 20,
              dockerRootFreeBytes: 2 ** 40,
            },
          }),
        ),
      );

      const workers = await store.listWorkers();
      expect(workers).toHaveLength(1000);
      expect(workers[999]).toMatchObject({
        id: 'w-0999',
        lastSeenAt: '2025-01-02T03:04:05.999Z',
        system: { cpuPercent: 99, memoryUsedBytes: 999 * 2 ** 20 },
      });
      expect(workers.every((w) => w.lastSeenAt !== null && w.system !== null)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
