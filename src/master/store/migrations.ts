// Schema migrations of the master's database, as a static list run by Kysely's Migrator on open.
// Static because the app is bundled with esbuild: there is no migrations folder to read at run time.
import { DEFAULT_MIGRATION_TABLE, Migrator, sql } from 'kysely';
import type { ColumnDefinitionBuilder, Kysely, Migration, MigrationProvider } from 'kysely';

import { AppError } from '../../core/errors.js';
import type { Database } from './schema.js';

/** The SQL engines the master's state can live in. */
export type StoreDialect = 'sqlite' | 'postgres';

/**
 * Column types per engine. SQLite's are the ones its migrations shipped with and never change; PostgreSQL needs
 * 64-bit integers where SQLite's integer already is one, double precision where SQLite's real already is, and a
 * sequence for generated ids.
 */
interface ColumnTypes {
  integer: 'integer' | 'bigint';
  real: 'real' | 'double precision';
  /** A generated id column's type and its key. */
  id: 'integer' | 'bigserial';
  generatedKey: (col: ColumnDefinitionBuilder) => ColumnDefinitionBuilder;
}

function columnTypes(dialect: StoreDialect): ColumnTypes {
  return dialect === 'sqlite'
    ? {
        integer: 'integer',
        real: 'real',
        id: 'integer',
        generatedKey: (col) => col.primaryKey().autoIncrement(),
      }
    : {
        integer: 'bigint',
        real: 'double precision',
        id: 'bigserial',
        generatedKey: (col) => col.primaryKey(),
      };
}

/**
 * Runs a migration's body in one transaction. Kysely's SQLite adapter reports no transactional DDL, so the
 * Migrator would run it bare and a failure halfway would leave tables that make every later attempt fail.
 */
function inTransaction(
  up: (db: Kysely<unknown>, types: ColumnTypes) => Promise<void>,
  types: ColumnTypes,
  dialect: StoreDialect,
): Migration['up'] {
  // PostgreSQL has transactional DDL, and Kysely's Migrator already runs each migration in a transaction there.
  if (dialect === 'postgres') return (db: Kysely<unknown>) => up(db, types);
  return (db: Kysely<unknown>) => db.transaction().execute((trx) => up(trx, types));
}

async function createInitialSchema(db: Kysely<unknown>, types: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('workers')
    .addColumn('id', 'text', (col) => col.primaryKey().notNull())
    .addColumn('name', 'text', (col) => col.notNull())
    .addColumn('hostname', 'text', (col) => col.notNull())
    .addColumn('labels_json', 'text', (col) => col.notNull())
    .addColumn('version', 'text', (col) => col.notNull())
    .addColumn('advertise_address', 'text', (col) => col.notNull())
    .addColumn('docker_version', 'text', (col) => col.notNull())
    .addColumn('enrolled_at', 'text', (col) => col.notNull())
    .addColumn('last_seen_at', 'text')
    .addColumn('system_json', 'text')
    .addColumn('active_tasks', types.integer, (col) => col.notNull().defaultTo(0))
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('workers_name_idx').on('workers').column('name').execute();

  await db.schema
    .createTable('certificates')
    .addColumn('serial', 'text', (col) => col.primaryKey().notNull())
    .addColumn('worker_id', 'text', (col) => col.notNull().references('workers.id'))
    .addColumn('not_before', 'text', (col) => col.notNull())
    .addColumn('not_after', 'text', (col) => col.notNull())
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('certificates_worker_id_idx').on('certificates').column('worker_id').execute();

  await db.schema
    .createTable('inventories')
    .addColumn('worker_id', 'text', (col) => col.primaryKey().notNull().references('workers.id'))
    .addColumn('sequence', types.integer, (col) => col.notNull())
    .addColumn('inventory_json', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('settings')
    .addColumn('key', 'text', (col) => col.primaryKey().notNull())
    .addColumn('value', 'text', (col) => col.notNull())
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', types.id, types.generatedKey)
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('actor', 'text', (col) => col.notNull())
    .addColumn('action', 'text', (col) => col.notNull())
    .addColumn('target', 'text')
    .addColumn('outcome', 'text', (col) => col.notNull().check(sql`outcome in ('ok', 'error')`))
    .addColumn('status', types.integer, (col) => col.notNull())
    .addColumn('details_json', 'text', (col) => col.notNull())
    .addColumn('remote_address', 'text')
    .execute();
  await db.schema.createIndex('audit_log_at_idx').on('audit_log').column('at').execute();
}

/** Web UI sessions; the expiry index serves the periodic sweep of expired ones. */
async function createSessionTable(db: Kysely<unknown>, _types: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id_hash', 'text', (col) => col.primaryKey().notNull())
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .addColumn('admin_token_hash', 'text', (col) => col.notNull())
    .execute();
  await db.schema.createIndex('sessions_expires_at_idx').on('sessions').column('expires_at').execute();
}

/**
 * One row per resource a migration holds (see lockKeys in core/migration-journal.ts): a second migration that
 * asks for a held key is refused, so two migrations never move, overwrite or roll back the same thing at once.
 */
async function createMigrationLockTable(db: Kysely<unknown>, _types: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('migration_locks')
    .addColumn('resource_key', 'text', (col) => col.primaryKey().notNull())
    .addColumn('migration_id', 'text', (col) => col.notNull().references('migrations.id'))
    .execute();
  await db.schema
    .createIndex('migration_locks_migration_id_idx')
    .on('migration_locks')
    .column('migration_id')
    .execute();
}

/**
 * Migrations of workloads and their event log. The (created_at desc, id) index serves the newest-first listing
 * and its keyset paging without a sort; the `status` index serves the filter by status.
 */
async function createMigrationTables(db: Kysely<unknown>, types: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('migrations')
    .addColumn('id', 'text', (col) => col.primaryKey().notNull())
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('phase', 'text', (col) => col.notNull())
    .addColumn('request_json', 'text', (col) => col.notNull())
    .addColumn('plan_json', 'text', (col) => col.notNull())
    .addColumn('state_json', 'text', (col) => col.notNull())
    .addColumn('progress', types.real, (col) => col.notNull().defaultTo(0))
    .addColumn('bytes_transferred', types.integer, (col) => col.notNull().defaultTo(0))
    .addColumn('total_bytes', types.integer, (col) => col.notNull().defaultTo(0))
    .addColumn('rate_bytes_per_s', types.real, (col) => col.notNull().defaultTo(0))
    .addColumn('created_at', 'text', (col) => col.notNull())
    .addColumn('started_at', 'text')
    .addColumn('completed_at', 'text')
    .addColumn('downtime_ms', types.integer)
    .addColumn('error', 'text')
    .addColumn('cancel_requested', types.integer, (col) =>
      col
        .notNull()
        .defaultTo(0)
        .check(sql`cancel_requested in (0, 1)`),
    )
    .execute();
  await db.schema
    .createIndex('migrations_created_at_id_idx')
    .on('migrations')
    .columns(['created_at desc', 'id'])
    .execute();
  await db.schema.createIndex('migrations_status_idx').on('migrations').column('status').execute();

  await db.schema
    .createTable('migration_events')
    .addColumn('id', types.id, types.generatedKey)
    .addColumn('migration_id', 'text', (col) => col.notNull().references('migrations.id'))
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('level', 'text', (col) => col.notNull())
    .addColumn('phase', 'text', (col) => col.notNull())
    .addColumn('message', 'text', (col) => col.notNull())
    .addColumn('resource_type', 'text')
    .addColumn('resource_name', 'text')
    .addCheckConstraint(
      'migration_events_resource_check',
      sql`(resource_type is null) = (resource_name is null)`,
    )
    .execute();
  // The id is the rowid, which every SQLite index carries: this one also serves `id > ?` and `order by id`.
  await db.schema
    .createIndex('migration_events_migration_id_idx')
    .on('migration_events')
    .column('migration_id')
    .execute();
}

/** Where a migration's downtime went, and its copy rounds: one JSON column, read whole with the migration. */
async function addMigrationTiming(db: Kysely<unknown>, _types: ColumnTypes): Promise<void> {
  await db.schema
    .alterTable('migrations')
    .addColumn('timing_json', 'text', (col) => col.notNull().defaultTo('{}'))
    .execute();
}

/** The audit log's one-line summary ("who moved what where"); older rows have none. */
async function addAuditSummary(db: Kysely<unknown>, _types: ColumnTypes): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('summary', 'text').execute();
}

/**
 * What several masters on one database share (schema 0007): the leader's lease (one row, its epoch the fencing
 * token every write checks), the master's live events with increasing ids (the SSE stream's `id:`), and pairing
 * codes (by their SHA-256, single use).
 */
async function createHighAvailabilityTables(db: Kysely<unknown>, types: ColumnTypes): Promise<void> {
  await db.schema
    .createTable('master_lease')
    .addColumn('name', 'text', (col) => col.primaryKey().notNull())
    .addColumn('holder', 'text', (col) => col.notNull())
    .addColumn('epoch', types.integer, (col) => col.notNull())
    .addColumn('expires_at_ms', types.integer, (col) => col.notNull())
    .addColumn('grpc_url', 'text', (col) => col.notNull())
    .addColumn('http_url', 'text', (col) => col.notNull())
    .addColumn('acquired_at', 'text')
    .execute();
  await db.schema
    .createTable('master_events')
    .addColumn('id', types.id, (col) => types.generatedKey(col).notNull())
    .addColumn('at', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('body_json', 'text', (col) => col.notNull())
    .execute();
  await db.schema
    .createTable('pairing_codes')
    .addColumn('code_hash', 'text', (col) => col.primaryKey().notNull())
    .addColumn('expires_at', 'text', (col) => col.notNull())
    .execute();
}

/**
 * Every migration of the schema by name; names sort in the order they run. Never rename or edit one that
 * has shipped: add a new one (`0002_…`), since databases in the field record the names they have applied.
 */
export function migrationsFor(dialect: StoreDialect): Readonly<Record<string, Migration>> {
  const types = columnTypes(dialect);
  return {
    '0001_initial': { up: inTransaction(createInitialSchema, types, dialect) },
    '0002_migrations': { up: inTransaction(createMigrationTables, types, dialect) },
    '0003_sessions': { up: inTransaction(createSessionTable, types, dialect) },
    '0004_migration_locks': { up: inTransaction(createMigrationLockTable, types, dialect) },
    '0005_migration_timing': { up: inTransaction(addMigrationTiming, types, dialect) },
    '0006_audit_summary': { up: inTransaction(addAuditSummary, types, dialect) },
    '0007_high_availability': { up: inTransaction(createHighAvailabilityTables, types, dialect) },
  };
}

/** The schema's migrations on SQLite, the default store. */
export const MIGRATIONS = migrationsFor('sqlite');

/** Hands Kysely's Migrator the in-code list, in place of its FileMigrationProvider. */
export function createStaticMigrationProvider(
  migrations: Readonly<Record<string, Migration>> = MIGRATIONS,
): MigrationProvider {
  return { getMigrations: () => Promise.resolve({ ...migrations }) };
}

/** Applied migrations this code does not know: the database was last used by a newer docker-migrate. */
async function findUnknownMigrations(db: Kysely<Database>, known: readonly string[]): Promise<string[]> {
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  if (!tables.some((table) => table.name === DEFAULT_MIGRATION_TABLE)) return [];
  const applied = await sql<{ name: string }>`select name from ${sql.table(DEFAULT_MIGRATION_TABLE)}`.execute(
    db,
  );
  return applied.rows.map((row) => row.name).filter((name) => !known.includes(name));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const NEWER_DATABASE_HINT =
  'Run the docker-migrate version that last used this database, or point the master at another data directory.';

/**
 * Brings the database up to the latest schema, so that the store's queries can rely on it. Refuses a database
 * that has applied a migration this code does not know rather than run against a schema it cannot read.
 * `path` only names the database in messages.
 */
export async function migrateToLatest(
  db: Kysely<Database>,
  path: string,
  migrations: Readonly<Record<string, Migration>> = MIGRATIONS,
): Promise<void> {
  const unknown = await findUnknownMigrations(db, Object.keys(migrations));
  if (unknown.length > 0) {
    throw new AppError(
      'failed_precondition',
      `the database at ${path} was written by a newer docker-migrate: it has applied migration ${unknown.join(', ')}, which this version does not know`,
      { hint: NEWER_DATABASE_HINT, details: { path, unknownMigrations: unknown } },
    );
  }

  // allowUnorderedMigrations stays false: a migration that sorts before one already applied is a packaging
  // mistake, and Kysely reports it as "corrupted migrations" instead of applying it out of order.
  const migrator = new Migrator({ db, provider: createStaticMigrationProvider(migrations) });
  const { error, results } = await migrator.migrateToLatest();
  if (error === undefined) return;

  const message = messageOf(error);
  if (message.startsWith('corrupted migrations')) {
    throw new AppError(
      'failed_precondition',
      `the migrations applied to the database at ${path} do not match this docker-migrate: ${message}`,
      {
        hint: NEWER_DATABASE_HINT,
        details: { path },
        cause: error,
      },
    );
  }
  const failed = results?.find((result) => result.status === 'Error');
  const which = failed === undefined ? '' : `migration ${failed.migrationName} failed: `;
  throw new AppError('internal', `cannot migrate the database at ${path}: ${which}${message}`, {
    details: { path },
    cause: error,
  });
}
