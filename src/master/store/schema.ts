// The master's SQLite tables as Kysely sees them: snake_case columns, ISO 8601 times and JSON kept as TEXT.
// Rows never leave src/master/store: sqlite-master-store.ts maps them to the record types of src/core/workers.ts
// and src/core/migration.ts.
import type { Generated } from 'kysely';

import type {
  MigrationEventLevel,
  MigrationPhase,
  MigrationStatus,
  ResourceType,
} from '../../core/migration.js';

/** One row per enrolled worker; revoked workers keep their row (revoked_at set). */
export interface WorkersTable {
  id: string;
  name: string;
  hostname: string;
  /** JSON object of string labels. */
  labels_json: string;
  version: string;
  advertise_address: string;
  docker_version: string;
  enrolled_at: string;
  last_seen_at: string | null;
  /** JSON of WorkerSystem, written by each heartbeat. */
  system_json: string | null;
  active_tasks: number;
  revoked_at: string | null;
}

/** Certificates the master's CA issued; kept after revocation so that a revoked serial stays refused. */
export interface CertificatesTable {
  serial: string;
  worker_id: string;
  not_before: string;
  not_after: string;
  revoked_at: string | null;
}

/** The last inventory each worker reported; `sequence` orders snapshots that arrive out of order. */
export interface InventoriesTable {
  worker_id: string;
  sequence: number;
  /** JSON of Inventory. */
  inventory_json: string;
  updated_at: string;
}

/** Master-wide settings by key (e.g. the enrollment token: the reason the database file is mode 0600). */
export interface SettingsTable {
  key: string;
  value: string;
}

/** Mutating API calls, append-only; the AUTOINCREMENT id orders them and pages the audit view. */
export interface AuditLogTable {
  id: Generated<number>;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: 'ok' | 'error';
  status: number;
  /** JSON object. */
  details_json: string;
  remote_address: string | null;
  /** One line with names, for the audit page (migration 0006); null before it and for plain API calls. */
  summary: string | null;
}

/**
 * One row per migration, kept after it finishes. Status and phase carry no CHECK constraint: SQLite cannot
 * change one without rebuilding the table, and the mapper is the one place that writes them.
 */
export interface MigrationsTable {
  id: string;
  status: MigrationStatus;
  phase: MigrationPhase;
  /** JSON of MigrationRequest. */
  request_json: string;
  /** JSON of MigrationPlan. */
  plan_json: string;
  /** JSON of MigrationProgressState, rewritten after each step so that a restarted master can resume. */
  state_json: string;
  /** 0..1 */
  progress: number;
  bytes_transferred: number;
  total_bytes: number;
  rate_bytes_per_s: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  downtime_ms: number | null;
  /** JSON of MigrationTiming: the downtime's phases and the copy rounds (schema 0005; '{}' in older rows). */
  timing_json: Generated<string>;
  error: string | null;
  /** 0 or 1: SQLite has no boolean type. */
  cancel_requested: number;
}

/** What happened during a migration, append-only; the AUTOINCREMENT id orders them and pages incremental reads. */
export interface MigrationEventsTable {
  id: Generated<number>;
  migration_id: string;
  at: string;
  level: MigrationEventLevel;
  phase: MigrationPhase;
  message: string;
  /** Both set or both null: the resource the event is about, if any. */
  resource_type: ResourceType | null;
  resource_name: string | null;
}

/** Every table of the master's database, for `Kysely<Database>`. */
/** Browser sessions of the web UI, by the SHA-256 of their secret. */
export interface SessionsTable {
  id_hash: string;
  created_at: string;
  expires_at: string;
  admin_token_hash: string;
}

/** Resources held by unfinished migrations; released when a migration ends. */
export interface MigrationLocksTable {
  resource_key: string;
  migration_id: string;
}

/** The leader's lease: one row named 'leader'; `epoch` grows by one with every new holder (the fencing token). */
export interface MasterLeaseTable {
  name: string;
  /** The holding master's id ('' before anyone held it). */
  holder: string;
  epoch: number;
  /** On the database's clock, Unix ms. */
  expires_at_ms: number;
  /** Where workers reach the holder (host:port), and its HTTP API (URL) for standbys to forward to. */
  grpc_url: string;
  http_url: string;
  acquired_at: string | null;
}

/** The master's live events (what the SSE stream sends), in id order; old rows are pruned. */
export interface MasterEventsTable {
  id: Generated<number>;
  at: string;
  type: string;
  /** JSON of the event. */
  body_json: string;
}

/** Unused pairing codes by the SHA-256 of the code; a code is deleted when used. */
export interface PairingCodesTable {
  code_hash: string;
  expires_at: string;
}

export interface Database {
  workers: WorkersTable;
  certificates: CertificatesTable;
  inventories: InventoriesTable;
  settings: SettingsTable;
  audit_log: AuditLogTable;
  migrations: MigrationsTable;
  migration_events: MigrationEventsTable;
  sessions: SessionsTable;
  migration_locks: MigrationLocksTable;
  master_lease: MasterLeaseTable;
  master_events: MasterEventsTable;
  pairing_codes: PairingCodesTable;
}
