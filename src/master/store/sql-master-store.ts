// The master's persistent state in one SQLite file (better-sqlite3 through Kysely): workers, certificates,
// inventories, settings, the audit log, migrations with their events and the master's live events, mapped to the
// record types of src/core/workers.ts, src/core/migration.ts and src/core/ports.ts.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresAdapter, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Insertable, Selectable, Transaction, Updateable } from 'kysely';

import { AppError } from '../../core/errors.js';
import type {
  MigrationEvent,
  MigrationPlan,
  MigrationProgressState,
  MigrationTiming,
  MigrationRecord,
  MigrationRequest,
  MigrationStatus,
  NewMigrationEvent,
} from '../../core/migration.js';
import type {
  LeaderLeaseStore,
  LeaseCandidate,
  LeaseState,
  MasterEventBounds,
  MasterEventRecord,
  MasterStore,
  NewMasterEventRecord,
} from '../../core/ports.js';
import type {
  AuditEntry,
  CertificateRecord,
  Inventory,
  InventoryRecord,
  NewAuditEntry,
  SessionRecord,
  WorkerRecord,
  WorkerSystem,
} from '../../core/workers.js';
import { migrateToLatest, migrationsFor } from './migrations.js';
import type {
  AuditLogTable,
  CertificatesTable,
  Database,
  InventoriesTable,
  MigrationEventsTable,
  MigrationsTable,
  WorkersTable,
} from './schema.js';

/** The path better-sqlite3 understands as a private, in-memory database (used by unit tests). */
export const IN_MEMORY = ':memory:';

/** Audit page size when none is asked for, and the most one call returns. */
export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

/** Migration page size when none is asked for, and the most one call returns. */
export const DEFAULT_MIGRATION_LIMIT = 50;
export const MAX_MIGRATION_LIMIT = 500;

/** Migration events one call returns when no limit is asked for; also the most it returns. */
export const MAX_MIGRATION_EVENT_LIMIT = 1000;

/** The master's live events one call returns when no limit is asked for; also the most it returns. */
export const MAX_MASTER_EVENT_LIMIT = 1000;

export interface SqliteMasterStoreOptions {
  /** File path of the database, or ':memory:'. */
  path: string;
  /**
   * Path of better-sqlite3's native add-on. The bundled binary ships it beside itself, where better-sqlite3's own
   * lookup (relative to its package folder) cannot find it; unset, the package's usual lookup is used.
   */
  nativeBinding?: string | undefined;
}

/**
 * Opens (creating it if need be) and migrates the master's database. The file holds secrets (settings keep the
 * enrollment token), so its folder is created 0700 and the file with its -wal/-shm companions are kept 0600.
 */
export async function openSqliteMasterStore(options: SqliteMasterStoreOptions): Promise<SqlMasterStore> {
  const { path } = options;
  const inMemory = path === IN_MEMORY;
  let database: BetterSqlite3.Database | undefined;
  try {
    if (!inMemory) createPrivateFile(path);
    database = new BetterSqlite3(path, options.nativeBinding ? { nativeBinding: options.nativeBinding } : {});
    // WAL lets readers run beside the one writer; NORMAL sync is durable across a crash of the process (not of
    // the machine) at a fraction of FULL's fsyncs, which matters with a heartbeat write per worker.
    if (!inMemory) database.pragma('journal_mode = WAL');
    database.pragma('foreign_keys = ON');
    database.pragma('busy_timeout = 5000');
    database.pragma('synchronous = NORMAL');
  } catch (error) {
    database?.close();
    throw new AppError('internal', `cannot open the database at ${path}: ${messageOf(error)}`, {
      hint: 'Check that the data directory exists, is writable by this user and holds a docker-migrate database.',
      details: { path },
      cause: error,
    });
  }

  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  try {
    await migrateToLatest(db, path);
    if (!inMemory) restrictFileModes(path);
  } catch (error) {
    await db.destroy();
    throw AppError.from(error);
  }
  return new SqlMasterStore(db, path);
}

export interface PostgresMasterStoreOptions {
  /** postgres://user:password@host:port/database (any libpq connection URL pg accepts). */
  url: string;
  /** Connections kept open at most (default 10). */
  maxConnections?: number;
}

/** The URL with its password left out, for messages and logs. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '[redacted]';
    return parsed.toString();
  } catch {
    return 'the PostgreSQL database (its URL does not parse)';
  }
}

/**
 * Opens the master's state in PostgreSQL (store_url) and brings its schema to the latest version, with the same
 * migrations as SQLite (types mapped per engine). Fails, naming the database without its password, when it
 * cannot be reached or migrated.
 */
export async function openPostgresMasterStore(options: PostgresMasterStoreOptions): Promise<SqlMasterStore> {
  const where = redactStoreUrl(options.url);
  // bigint (int8) columns hold our counters and ids: they are read as numbers (all stay far below 2^53).
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 10_000,
    types,
  });
  // An idle connection the server closes (restart, failover) must not crash the master: the pool replaces it.
  pool.on('error', () => undefined);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migrateToLatest(db, where, migrationsFor('postgres'));
  } catch (error) {
    await db.destroy();
    // The migrator's own errors name the database already; anything else is the driver's (unreachable, refused).
    if (error instanceof AppError) throw error;
    throw new AppError('unavailable', `cannot use the PostgreSQL database ${where}: ${messageOf(error)}`, {
      hint: 'Check store_url (--store-url): the server must be reachable and the user allowed to create tables.',
      details: { url: where },
      cause: error,
    });
  }
  return new SqlMasterStore(db, where);
}

/**
 * Creates the folder (0700) and an empty database file (0600) before SQLite opens it: SQLite would create the
 * file with the umask's mode (usually 0644), and it gives the -wal and -shm files the mode of the database file.
 */
function createPrivateFile(path: string): void {
  const folder = dirname(path);
  if (!existsSync(folder)) mkdirSync(folder, { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
}

/** Narrows the modes of a database that an older version or another tool created wider. */
function restrictFileModes(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/**
 * The MasterStore over SQLite. Get one from openSqliteMasterStore; the constructor takes a Kysely instance that
 * is already migrated, so that tests can reach the database underneath.
 */
export class SqlMasterStore implements MasterStore, LeaderLeaseStore {
  readonly path: string;
  readonly dialect: 'sqlite' | 'postgres';
  #db: Kysely<Database> | undefined;
  #fence: { holder: string; epoch: number } | undefined;

  constructor(db: Kysely<Database>, path: string) {
    this.#db = db;
    this.path = path;
    this.dialect = db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
  }

  /** The open database; a readable error rather than a driver one when used after close(). */
  #open(): Kysely<Database> {
    if (this.#db === undefined) {
      throw new AppError('failed_precondition', `the database at ${this.path} is closed`);
    }
    return this.#db;
  }

  /**
   * Runs a write; with a fence set, in a transaction that first checks the lease still names this master's epoch
   * (on PostgreSQL under a share lock, so that a new holder's takeover waits for this write to end, and a write
   * after the takeover sees the new epoch).
   */
  async #write<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const fence = this.#fence;
    if (fence === undefined) return work(this.#open());
    return this.#transaction(work);
  }

  /** Runs `work` in one transaction, checking the fence first when one is set. */
  async #transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    const fence = this.#fence;
    return this.#open()
      .transaction()
      .execute(async (trx) => {
        if (fence !== undefined) await this.#checkFence(trx, fence);
        return work(trx);
      });
  }

  async #checkFence(trx: Transaction<Database>, fence: { holder: string; epoch: number }): Promise<void> {
    let query = trx.selectFrom('master_lease').select(['holder', 'epoch']).where('name', '=', LEASE_NAME);
    if (this.dialect === 'postgres') query = query.forShare();
    const lease = await query.executeTakeFirst();
    if (lease?.holder === fence.holder && lease.epoch === fence.epoch) return;
    throw new AppError(
      'failed_precondition',
      `this master no longer leads (it held epoch ${fence.epoch}; the lease is at epoch ${lease?.epoch ?? 0}): its write is refused`,
      { reason: 'fenced', details: { epoch: fence.epoch, currentEpoch: lease?.epoch ?? 0 } },
    );
  }

  setFence(fence: { holder: string; epoch: number } | undefined): void {
    this.#fence = fence;
  }

  /** The database's clock in Unix ms: every master compares lease times on one clock. */
  #now(): ReturnType<typeof sql<number>> {
    return this.dialect === 'postgres'
      ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
      : sql<number>`cast(unixepoch('subsec') * 1000 as integer)`;
  }

  async tryAcquireLease(
    candidate: LeaseCandidate,
    ttlMs: number,
    options: { force?: boolean } = {},
  ): Promise<{ acquired: true; epoch: number } | { acquired: false; current: LeaseState }> {
    const db = this.#open();
    await db
      .insertInto('master_lease')
      .values({ name: LEASE_NAME, holder: '', epoch: 0, expires_at_ms: 0, grpc_url: '', http_url: '' })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    let update = db
      .updateTable('master_lease')
      .set((eb) => ({
        holder: candidate.holder,
        epoch: eb('epoch', '+', 1),
        expires_at_ms: sql<number>`${this.#now()} + ${ttlMs}`,
        grpc_url: candidate.grpcUrl,
        http_url: candidate.httpUrl,
        acquired_at: new Date().toISOString(),
      }))
      .where('name', '=', LEASE_NAME);
    if (options.force !== true) update = update.where(sql<boolean>`expires_at_ms < ${this.#now()}`);
    const taken = await update.returning('epoch').executeTakeFirst();
    if (taken !== undefined) return { acquired: true, epoch: taken.epoch };
    const current = await this.readLease();
    if (current === undefined) throw new AppError('internal', 'the lease row vanished while being taken');
    return { acquired: false, current };
  }

  async renewLease(holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    const renewed = await this.#open()
      .updateTable('master_lease')
      .set({ expires_at_ms: sql<number>`${this.#now()} + ${ttlMs}` })
      .where('name', '=', LEASE_NAME)
      .where('holder', '=', holder)
      .where('epoch', '=', epoch)
      .executeTakeFirst();
    return renewed.numUpdatedRows > 0n;
  }

  async releaseLease(holder: string, epoch: number): Promise<void> {
    await this.#open()
      .updateTable('master_lease')
      .set({ expires_at_ms: 0 })
      .where('name', '=', LEASE_NAME)
      .where('holder', '=', holder)
      .where('epoch', '=', epoch)
      .execute();
  }

  async readLease(): Promise<LeaseState | undefined> {
    const row = await this.#open()
      .selectFrom('master_lease')
      .select(['holder', 'epoch', 'expires_at_ms', 'grpc_url', 'http_url'])
      .select(this.#now().as('now_ms'))
      .where('name', '=', LEASE_NAME)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          holder: row.holder,
          epoch: row.epoch,
          expiresAtMs: row.expires_at_ms,
          grpcUrl: row.grpc_url,
          httpUrl: row.http_url,
          nowMs: row.now_ms,
        };
  }

  async insertWorker(worker: WorkerRecord): Promise<void> {
    try {
      await this.#write((db) => db.insertInto('workers').values(toWorkerRow(worker)).execute());
    } catch (error) {
      if (violated(error) === 'primary_key') {
        throw new AppError('conflict', `worker "${worker.id}" already exists`, { cause: error });
      }
      throw error;
    }
  }

  async getWorker(id: string): Promise<WorkerRecord | undefined> {
    const row = await this.#open().selectFrom('workers').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? undefined : fromWorkerRow(row);
  }

  async listWorkers(options: { includeRevoked?: boolean } = {}): Promise<WorkerRecord[]> {
    let query = this.#open().selectFrom('workers').selectAll();
    if (options.includeRevoked !== true) query = query.where('revoked_at', 'is', null);
    const rows = await query.orderBy('name').orderBy('id').execute();
    return rows.map(fromWorkerRow);
  }

  /** One UPDATE and no read back: heartbeats of every worker come through here. */
  async updateWorker(id: string, patch: Partial<Omit<WorkerRecord, 'id'>>): Promise<void> {
    const row = toWorkerPatch(patch);
    if (Object.keys(row).length === 0) {
      const found = await this.#open()
        .selectFrom('workers')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      if (found === undefined) throw workerNotFound(id);
      return;
    }
    const result = await this.#write((db) =>
      db.updateTable('workers').set(row).where('id', '=', id).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw workerNotFound(id);
  }

  /** Revoking again keeps the first revocation time, of the worker and of certificates already revoked. */
  async revokeWorker(id: string, at: string): Promise<void> {
    await this.#transaction(async (trx) => {
      const result = await trx
        .updateTable('workers')
        .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.val(at)) }))
        .where('id', '=', id)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw workerNotFound(id);
      await trx
        .updateTable('certificates')
        .set({ revoked_at: at })
        .where('worker_id', '=', id)
        .where('revoked_at', 'is', null)
        .execute();
    });
  }

  async insertCertificate(certificate: CertificateRecord): Promise<void> {
    try {
      await this.#write((db) =>
        db.insertInto('certificates').values(toCertificateRow(certificate)).execute(),
      );
    } catch (error) {
      const code = violated(error);
      if (code === 'primary_key') {
        throw new AppError('conflict', `certificate "${certificate.serial}" already exists`, {
          cause: error,
        });
      }
      if (code === 'foreign_key') throw workerNotFound(certificate.workerId, error);
      throw error;
    }
  }

  async getCertificate(serial: string): Promise<CertificateRecord | undefined> {
    const row = await this.#open()
      .selectFrom('certificates')
      .selectAll()
      .where('serial', '=', serial)
      .executeTakeFirst();
    return row === undefined ? undefined : fromCertificateRow(row);
  }

  /** Oldest first; an unknown worker has none. */
  async listCertificates(workerId: string): Promise<CertificateRecord[]> {
    const rows = await this.#open()
      .selectFrom('certificates')
      .selectAll()
      .where('worker_id', '=', workerId)
      .orderBy('not_before')
      .orderBy('serial')
      .execute();
    return rows.map(fromCertificateRow);
  }

  /**
   * One upsert whose update is guarded by the sequence: a snapshot that arrives after a newer one is dropped
   * by SQLite itself, with no read first. An equal sequence overwrites (the worker resent it).
   */
  async saveInventory(record: InventoryRecord): Promise<void> {
    try {
      await this.#write((db) =>
        db
          .insertInto('inventories')
          .values(toInventoryRow(record))
          .onConflict((oc) =>
            oc
              .column('worker_id')
              .doUpdateSet((eb) => ({
                sequence: eb.ref('excluded.sequence'),
                inventory_json: eb.ref('excluded.inventory_json'),
                updated_at: eb.ref('excluded.updated_at'),
              }))
              .whereRef('excluded.sequence', '>=', 'inventories.sequence'),
          )
          .execute(),
      );
    } catch (error) {
      if (violated(error) === 'foreign_key') throw workerNotFound(record.workerId, error);
      throw error;
    }
  }

  async getInventory(workerId: string): Promise<InventoryRecord | undefined> {
    const row = await this.#open()
      .selectFrom('inventories')
      .selectAll()
      .where('worker_id', '=', workerId)
      .executeTakeFirst();
    return row === undefined ? undefined : fromInventoryRow(row);
  }

  /** Ordered by worker id, so that callers get a stable order. */
  async listInventories(): Promise<InventoryRecord[]> {
    const rows = await this.#open().selectFrom('inventories').selectAll().orderBy('worker_id').execute();
    return rows.map(fromInventoryRow);
  }

  async getSetting(key: string): Promise<string | undefined> {
    const row = await this.#open()
      .selectFrom('settings')
      .select('value')
      .where('key', '=', key)
      .executeTakeFirst();
    return row?.value;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.#write((db) =>
      db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
        .execute(),
    );
  }

  async insertSettingIfAbsent(key: string, value: string): Promise<boolean> {
    const inserted = await this.#write((db) =>
      db
        .insertInto('settings')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doNothing())
        .returning('key')
        .executeTakeFirst(),
    );
    return inserted !== undefined;
  }

  async insertSession(session: SessionRecord): Promise<void> {
    await this.#write((db) =>
      db
        .insertInto('sessions')
        .values({
          id_hash: session.idHash,
          created_at: session.createdAt,
          expires_at: session.expiresAt,
          admin_token_hash: session.adminTokenHash,
        })
        .execute(),
    );
  }

  async getSession(idHash: string): Promise<SessionRecord | undefined> {
    const row = await this.#open()
      .selectFrom('sessions')
      .selectAll()
      .where('id_hash', '=', idHash)
      .executeTakeFirst();
    return row === undefined
      ? undefined
      : {
          idHash: row.id_hash,
          createdAt: row.created_at,
          expiresAt: row.expires_at,
          adminTokenHash: row.admin_token_hash,
        };
  }

  async deleteSession(idHash: string): Promise<void> {
    await this.#write((db) => db.deleteFrom('sessions').where('id_hash', '=', idHash).execute());
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    const result = await this.#write((db) =>
      db.deleteFrom('sessions').where('expires_at', '<', now).executeTakeFirst(),
    );
    return Number(result.numDeletedRows);
  }

  async insertPairingCode(codeHash: string, expiresAt: string): Promise<void> {
    await this.#write((db) =>
      db.insertInto('pairing_codes').values({ code_hash: codeHash, expires_at: expiresAt }).execute(),
    );
  }

  /**
   * One DELETE … RETURNING takes the code and every expired one: two masters given the same code cannot both see
   * it, since only one statement deletes the row. The code counts only when it was not expired.
   */
  async consumePairingCode(codeHash: string, now: string): Promise<boolean> {
    const deleted = await this.#write((db) =>
      db
        .deleteFrom('pairing_codes')
        .where((eb) => eb.or([eb('code_hash', '=', codeHash), eb('expires_at', '<=', now)]))
        .returning(['code_hash', 'expires_at'])
        .execute(),
    );
    return deleted.some((row) => row.code_hash === codeHash && row.expires_at > now);
  }

  async appendAudit(entry: NewAuditEntry): Promise<AuditEntry> {
    const { id } = await this.#write((db) =>
      db.insertInto('audit_log').values(toAuditRow(entry)).returning('id').executeTakeFirstOrThrow(),
    );
    return { ...entry, summary: entry.summary ?? null, id };
  }

  /**
   * Newest first by id (not by `at`: clocks may step back, ids do not). `limit` defaults to 100 and is capped at
   * 1000 so that one request cannot pull the whole log; anything but a positive integer is `invalid_argument`.
   */
  async listAudit(options: { limit?: number; beforeId?: number } = {}): Promise<AuditEntry[]> {
    const { limit = DEFAULT_AUDIT_LIMIT, beforeId } = options;
    checkLimit('audit', limit);
    let query = this.#open().selectFrom('audit_log').selectAll();
    if (beforeId !== undefined) query = query.where('id', '<', beforeId);
    const rows = await query.orderBy('id', 'desc').limit(Math.min(limit, MAX_AUDIT_LIMIT)).execute();
    return rows.map(fromAuditRow);
  }

  async insertMigration(migration: MigrationRecord, lockKeys: readonly string[] = []): Promise<void> {
    try {
      await this.#transaction(async (trx) => {
        if (lockKeys.length > 0) {
          const held = await trx
            .selectFrom('migration_locks')
            .select(['resource_key', 'migration_id'])
            .where('resource_key', 'in', [...lockKeys])
            .orderBy('resource_key')
            .executeTakeFirst();
          if (held !== undefined) throw lockConflict(held.resource_key, held.migration_id);
        }
        await trx.insertInto('migrations').values(toMigrationRow(migration)).execute();
        if (lockKeys.length > 0)
          await trx
            .insertInto('migration_locks')
            .values(lockKeys.map((key) => ({ resource_key: key, migration_id: migration.id })))
            .execute();
      });
    } catch (error) {
      if (error instanceof AppError) throw error;
      if (violated(error) === 'primary_key') {
        throw new AppError('conflict', `migration "${migration.id}" already exists`, { cause: error });
      }
      throw error;
    }
  }

  async releaseMigrationLocks(migrationId: string): Promise<void> {
    await this.#write((db) =>
      db.deleteFrom('migration_locks').where('migration_id', '=', migrationId).execute(),
    );
  }

  async getMigration(id: string): Promise<MigrationRecord | undefined> {
    const row = await this.#open()
      .selectFrom('migrations')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row === undefined ? undefined : fromMigrationRow(row);
  }

  /** One UPDATE and no read back: the executor reports progress through here many times a second. */
  async updateMigration(id: string, patch: Partial<Omit<MigrationRecord, 'id'>>): Promise<void> {
    const row = toMigrationPatch(patch);
    if (Object.keys(row).length === 0) {
      const found = await this.#open()
        .selectFrom('migrations')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      if (found === undefined) throw migrationNotFound(id);
      return;
    }
    const result = await this.#write((db) =>
      db.updateTable('migrations').set(row).where('id', '=', id).executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw migrationNotFound(id);
  }

  /**
   * Newest first by created_at, ties broken by ascending id (the order of the index that serves it). Keyset
   * paging: `before` names the last migration of the previous page and the page holds the rows after it in
   * that order, so rows inserted meanwhile neither repeat nor shift a page. An unknown `before` is
   * `invalid_argument`. `status` keeps only those statuses (an empty list keeps none). `limit` defaults to 50,
   * is capped at 500, and anything but a positive integer is `invalid_argument`.
   */
  async listMigrations(
    options: { limit?: number; before?: string; status?: MigrationStatus[] } = {},
  ): Promise<MigrationRecord[]> {
    const { limit = DEFAULT_MIGRATION_LIMIT, before, status } = options;
    checkLimit('migration', limit);
    const db = this.#open();
    if (status?.length === 0) return [];

    let query = db.selectFrom('migrations').selectAll();
    if (status !== undefined) query = query.where('status', 'in', status);
    if (before !== undefined) {
      const cursor = await db
        .selectFrom('migrations')
        .select('created_at')
        .where('id', '=', before)
        .executeTakeFirst();
      if (cursor === undefined) {
        const message = `cannot list migrations before "${before}": no such migration`;
        throw new AppError('invalid_argument', message, { details: { before } });
      }
      query = query.where((eb) =>
        eb.or([
          eb('created_at', '<', cursor.created_at),
          eb.and([eb('created_at', '=', cursor.created_at), eb('id', '>', before)]),
        ]),
      );
    }
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(Math.min(limit, MAX_MIGRATION_LIMIT))
      .execute();
    return rows.map(fromMigrationRow);
  }

  async appendMigrationEvent(event: NewMigrationEvent): Promise<MigrationEvent> {
    try {
      const { id } = await this.#write((db) =>
        db
          .insertInto('migration_events')
          .values(toMigrationEventRow(event))
          .returning('id')
          .executeTakeFirstOrThrow(),
      );
      return { ...event, id };
    } catch (error) {
      if (violated(error) === 'foreign_key') {
        throw migrationNotFound(event.migrationId, error);
      }
      throw error;
    }
  }

  /**
   * Oldest first by id; `afterId` (the id of the last event already read) returns only newer ones, for a
   * follower that polls. An unknown migration has none. `limit` defaults to and is capped at 1000.
   */
  async listMigrationEvents(
    migrationId: string,
    options: { limit?: number; afterId?: number } = {},
  ): Promise<MigrationEvent[]> {
    const { limit = MAX_MIGRATION_EVENT_LIMIT, afterId } = options;
    checkLimit('migration event', limit);
    let query = this.#open()
      .selectFrom('migration_events')
      .selectAll()
      .where('migration_id', '=', migrationId);
    if (afterId !== undefined) query = query.where('id', '>', afterId);
    const rows = await query.orderBy('id').limit(Math.min(limit, MAX_MIGRATION_EVENT_LIMIT)).execute();
    return rows.map(fromMigrationEventRow);
  }

  /**
   * Ids come from the engine (SQLite AUTOINCREMENT, a PostgreSQL sequence), so they never repeat, even after
   * every row was pruned; they may skip (a rolled-back insert on PostgreSQL).
   */
  async appendMasterEvent(event: NewMasterEventRecord): Promise<number> {
    const { id } = await this.#write((db) =>
      db
        .insertInto('master_events')
        .values({ at: event.at, type: event.type, body_json: JSON.stringify(event.body) })
        .returning('id')
        .executeTakeFirstOrThrow(),
    );
    return id;
  }

  /** Oldest first by id; `limit` defaults to and is capped at 1000. */
  async listMasterEvents(afterId: number, limit = MAX_MASTER_EVENT_LIMIT): Promise<MasterEventRecord[]> {
    checkLimit('master event', limit);
    const rows = await this.#open()
      .selectFrom('master_events')
      .selectAll()
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(Math.min(limit, MAX_MASTER_EVENT_LIMIT))
      .execute();
    return rows.map((row) => ({
      id: row.id,
      at: row.at,
      type: row.type,
      body: JSON.parse(row.body_json) as unknown,
    }));
  }

  async masterEventBounds(): Promise<MasterEventBounds> {
    const row = await this.#open()
      .selectFrom('master_events')
      .select((eb) => [eb.fn.min('id').as('oldest'), eb.fn.max('id').as('latest')])
      .executeTakeFirst();
    return { oldest: row?.oldest ?? undefined, latest: row?.latest ?? undefined };
  }

  /** Both rules in one write; the newest row stays whatever they say. */
  async pruneMasterEvents(options: { keepNewest?: number; olderThan?: string }): Promise<number> {
    const { keepNewest, olderThan } = options;
    if (keepNewest !== undefined && (!Number.isInteger(keepNewest) || keepNewest < 1)) {
      throw new AppError(
        'invalid_argument',
        `the events kept must be a positive integer, not ${String(keepNewest)}`,
      );
    }
    return this.#write(async (db) => {
      let deleted = 0n;
      if (keepNewest !== undefined) {
        const result = await db
          .deleteFrom('master_events')
          .where('id', '<=', (eb) =>
            eb.selectFrom('master_events').select('id').orderBy('id', 'desc').limit(1).offset(keepNewest),
          )
          .executeTakeFirst();
        deleted += result.numDeletedRows;
      }
      if (olderThan !== undefined) {
        const result = await db
          .deleteFrom('master_events')
          .where('at', '<', olderThan)
          .where('id', '<', (eb) =>
            eb.selectFrom('master_events').select((inner) => inner.fn.max('id').as('id')),
          )
          .executeTakeFirst();
        deleted += result.numDeletedRows;
      }
      return Number(deleted);
    });
  }

  /** Closes the database (checkpointing the WAL); later calls do nothing. */
  async close(): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    await db.destroy();
  }
}

/** The one lease row's name. */
const LEASE_NAME = 'leader';

function workerNotFound(id: string, cause?: unknown): AppError {
  return new AppError('not_found', `worker "${id}" not found`, cause === undefined ? {} : { cause });
}

function migrationNotFound(id: string, cause?: unknown): AppError {
  return new AppError('not_found', `migration "${id}" not found`, cause === undefined ? {} : { cause });
}

/** A page size must be a positive integer; `what` names the list in the message. */
function checkLimit(what: string, limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new AppError('invalid_argument', `${what} limit must be a positive integer, not ${String(limit)}`);
  }
}

/**
 * Which constraint a write broke, whatever the engine: better-sqlite3's SqliteError carries the extended result
 * code ("SQLITE_CONSTRAINT_PRIMARYKEY"), pg's DatabaseError the SQLSTATE (23505 unique, 23503 foreign key) and
 * the constraint's name (a primary key's ends in "_pkey").
 */
function violated(error: unknown): 'primary_key' | 'foreign_key' | undefined {
  if (error instanceof BetterSqlite3.SqliteError) {
    if (error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return 'primary_key';
    if (error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'foreign_key';
    return undefined;
  }
  if (error instanceof pg.DatabaseError) {
    if (error.code === '23505' && error.constraint?.endsWith('_pkey') === true) return 'primary_key';
    if (error.code === '23503') return 'foreign_key';
  }
  return undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toWorkerRow(worker: WorkerRecord): Insertable<WorkersTable> {
  return {
    id: worker.id,
    name: worker.name,
    hostname: worker.hostname,
    labels_json: JSON.stringify(worker.labels),
    version: worker.version,
    advertise_address: worker.advertiseAddress,
    docker_version: worker.dockerVersion,
    enrolled_at: worker.enrolledAt,
    last_seen_at: worker.lastSeenAt,
    system_json: worker.system === null ? null : JSON.stringify(worker.system),
    active_tasks: worker.activeTasks,
    revoked_at: worker.revokedAt,
  };
}

/** Only the fields present in the patch; `undefined` means "leave it", `null` clears a nullable field. */
function toWorkerPatch(patch: Partial<Omit<WorkerRecord, 'id'>>): Updateable<WorkersTable> {
  const row: Updateable<WorkersTable> = {};
  if (patch.name !== undefined) row.name = patch.name;
  if (patch.hostname !== undefined) row.hostname = patch.hostname;
  if (patch.labels !== undefined) row.labels_json = JSON.stringify(patch.labels);
  if (patch.version !== undefined) row.version = patch.version;
  if (patch.advertiseAddress !== undefined) row.advertise_address = patch.advertiseAddress;
  if (patch.dockerVersion !== undefined) row.docker_version = patch.dockerVersion;
  if (patch.enrolledAt !== undefined) row.enrolled_at = patch.enrolledAt;
  if (patch.lastSeenAt !== undefined) row.last_seen_at = patch.lastSeenAt;
  if (patch.system !== undefined)
    row.system_json = patch.system === null ? null : JSON.stringify(patch.system);
  if (patch.activeTasks !== undefined) row.active_tasks = patch.activeTasks;
  if (patch.revokedAt !== undefined) row.revoked_at = patch.revokedAt;
  return row;
}

function fromWorkerRow(row: Selectable<WorkersTable>): WorkerRecord {
  return {
    id: row.id,
    name: row.name,
    hostname: row.hostname,
    labels: JSON.parse(row.labels_json) as Record<string, string>,
    version: row.version,
    advertiseAddress: row.advertise_address,
    dockerVersion: row.docker_version,
    enrolledAt: row.enrolled_at,
    lastSeenAt: row.last_seen_at,
    system: row.system_json === null ? null : (JSON.parse(row.system_json) as WorkerSystem),
    activeTasks: row.active_tasks,
    revokedAt: row.revoked_at,
  };
}

function toCertificateRow(certificate: CertificateRecord): Insertable<CertificatesTable> {
  return {
    serial: certificate.serial,
    worker_id: certificate.workerId,
    not_before: certificate.notBefore,
    not_after: certificate.notAfter,
    revoked_at: certificate.revokedAt,
  };
}

function fromCertificateRow(row: Selectable<CertificatesTable>): CertificateRecord {
  return {
    serial: row.serial,
    workerId: row.worker_id,
    notBefore: row.not_before,
    notAfter: row.not_after,
    revokedAt: row.revoked_at,
  };
}

function toInventoryRow(record: InventoryRecord): Insertable<InventoriesTable> {
  return {
    worker_id: record.workerId,
    sequence: record.sequence,
    inventory_json: JSON.stringify(record.inventory),
    updated_at: record.updatedAt,
  };
}

function fromInventoryRow(row: Selectable<InventoriesTable>): InventoryRecord {
  return {
    workerId: row.worker_id,
    inventory: JSON.parse(row.inventory_json) as Inventory,
    sequence: row.sequence,
    updatedAt: row.updated_at,
  };
}

function toAuditRow(entry: NewAuditEntry): Insertable<AuditLogTable> {
  return {
    at: entry.at,
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    status: entry.status,
    details_json: JSON.stringify(entry.details),
    remote_address: entry.remoteAddress,
    summary: entry.summary ?? null,
  };
}

function fromAuditRow(row: Selectable<AuditLogTable>): AuditEntry {
  return {
    id: row.id,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    status: row.status,
    details: JSON.parse(row.details_json) as Record<string, unknown>,
    remoteAddress: row.remote_address,
    summary: row.summary,
  };
}

/** "worker-id/volume/data" → what a person reads: the volume "data". */
function lockConflict(key: string, holder: string): AppError {
  const [, type = 'resource', ...name] = key.split('/');
  return new AppError(
    'conflict',
    `the ${type} "${name.join('/')}" is part of migration ${holder}, which has not finished; wait for it or cancel it`,
    { details: { migrationId: holder, resource: key } },
  );
}

function toMigrationRow(migration: MigrationRecord): Insertable<MigrationsTable> {
  return {
    id: migration.id,
    status: migration.status,
    phase: migration.phase,
    request_json: JSON.stringify(migration.request),
    plan_json: JSON.stringify(migration.plan),
    state_json: JSON.stringify(migration.state),
    progress: migration.progress,
    bytes_transferred: migration.bytesTransferred,
    total_bytes: migration.totalBytes,
    rate_bytes_per_s: migration.rateBytesPerSecond,
    created_at: migration.createdAt,
    started_at: migration.startedAt,
    completed_at: migration.completedAt,
    downtime_ms: migration.downtimeMs,
    timing_json: JSON.stringify(migration.timing),
    error: migration.error,
    cancel_requested: migration.cancelRequested ? 1 : 0,
  };
}

/** Only the fields present in the patch; `undefined` means "leave it", `null` clears a nullable field. */
function toMigrationPatch(patch: Partial<Omit<MigrationRecord, 'id'>>): Updateable<MigrationsTable> {
  const row: Updateable<MigrationsTable> = {};
  if (patch.status !== undefined) row.status = patch.status;
  if (patch.phase !== undefined) row.phase = patch.phase;
  if (patch.request !== undefined) row.request_json = JSON.stringify(patch.request);
  if (patch.plan !== undefined) row.plan_json = JSON.stringify(patch.plan);
  if (patch.state !== undefined) row.state_json = JSON.stringify(patch.state);
  if (patch.progress !== undefined) row.progress = patch.progress;
  if (patch.bytesTransferred !== undefined) row.bytes_transferred = patch.bytesTransferred;
  if (patch.totalBytes !== undefined) row.total_bytes = patch.totalBytes;
  if (patch.rateBytesPerSecond !== undefined) row.rate_bytes_per_s = patch.rateBytesPerSecond;
  if (patch.createdAt !== undefined) row.created_at = patch.createdAt;
  if (patch.startedAt !== undefined) row.started_at = patch.startedAt;
  if (patch.completedAt !== undefined) row.completed_at = patch.completedAt;
  if (patch.downtimeMs !== undefined) row.downtime_ms = patch.downtimeMs;
  if (patch.timing !== undefined) row.timing_json = JSON.stringify(patch.timing);
  if (patch.error !== undefined) row.error = patch.error;
  if (patch.cancelRequested !== undefined) row.cancel_requested = patch.cancelRequested ? 1 : 0;
  return row;
}

/** A row's timing; rows written before schema 0005 hold '{}'. */
function parseTiming(json: string): MigrationTiming {
  const parsed = JSON.parse(json) as Partial<MigrationTiming>;
  return { downtime: parsed.downtime ?? null, rounds: parsed.rounds ?? [] };
}

function fromMigrationRow(row: Selectable<MigrationsTable>): MigrationRecord {
  return {
    id: row.id,
    status: row.status,
    phase: row.phase,
    request: JSON.parse(row.request_json) as MigrationRequest,
    plan: JSON.parse(row.plan_json) as MigrationPlan,
    progress: row.progress,
    bytesTransferred: row.bytes_transferred,
    totalBytes: row.total_bytes,
    rateBytesPerSecond: row.rate_bytes_per_s,
    createdAt: row.created_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    downtimeMs: row.downtime_ms,
    timing: parseTiming(row.timing_json),
    error: row.error,
    cancelRequested: row.cancel_requested === 1,
    state: JSON.parse(row.state_json) as MigrationProgressState,
  };
}

function toMigrationEventRow(event: NewMigrationEvent): Insertable<MigrationEventsTable> {
  return {
    migration_id: event.migrationId,
    at: event.at,
    level: event.level,
    phase: event.phase,
    message: event.message,
    resource_type: event.resource?.type ?? null,
    resource_name: event.resource?.name ?? null,
  };
}

/** `resource` is left out, not undefined, when the event has none, so that it equals what was appended. */
function fromMigrationEventRow(row: Selectable<MigrationEventsTable>): MigrationEvent {
  const event: MigrationEvent = {
    id: row.id,
    migrationId: row.migration_id,
    at: row.at,
    level: row.level,
    phase: row.phase,
    message: row.message,
  };
  if (row.resource_type !== null && row.resource_name !== null) {
    event.resource = { type: row.resource_type, name: row.resource_name };
  }
  return event;
}
