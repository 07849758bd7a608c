// The REST API's JSON (snake_case) for migrations, their plans, findings and events, as the master sends it and the
// CLI and the web UI read it. Fields marked "absent from older masters" may be missing from an answer.
import type { BindMountDetails, FindingCode } from './codes.js';

export const MIGRATION_STATUSES = [
  'pending',
  'running',
  'completed',
  'failed',
  'cancelled',
  'rolled_back',
] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/** Steps in the order they run; `rollback` only after a failure or a cancel. */
export const MIGRATION_PHASES = [
  'preflight',
  'prepare',
  'transfer',
  'stop_source',
  'create',
  'start',
  'finalize',
  'rollback',
  'done',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

export const MIGRATION_MODES = ['cold', 'warm', 'live'] as const;
export type MigrationMode = (typeof MIGRATION_MODES)[number];
/** How volumes are copied: whole, or only what differs from the copy an earlier migration left on the target. */
export const MIGRATION_STRATEGIES = ['full', 'incremental'] as const;
export type MigrationStrategy = (typeof MIGRATION_STRATEGIES)[number];
export const TRANSFER_MODES = ['direct', 'proxy', 'auto'] as const;
export type TransferMode = (typeof TRANSFER_MODES)[number];
export const TRANSFER_COMPRESSIONS = ['none', 'zstd'] as const;
export type TransferCompression = (typeof TRANSFER_COMPRESSIONS)[number];
export const CONFLICT_POLICIES = ['fail', 'skip', 'rename', 'overwrite'] as const;
export type ConflictPolicy = (typeof CONFLICT_POLICIES)[number];
export const SOURCE_POLICIES = ['keep_stopped', 'remove', 'keep_running'] as const;
export type SourcePolicy = (typeof SOURCE_POLICIES)[number];
export const RESOURCE_TYPES = ['container', 'image', 'volume', 'network'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];
export type ResourceStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'rolled_back';
export type ResourceReason = 'requested' | 'dependency' | 'compose';
export type ResourceAction = 'create' | 'skip' | 'overwrite' | 'update';
export type Severity = 'error' | 'warning' | 'info';

/** The resource a finding or an event is about. */
export interface ResourceRefJson {
  type: ResourceType;
  name: string;
}

/** One thing preflight noticed. Errors block the migration; warnings are shown and allowed. */
export interface FindingJson {
  severity: Severity;
  code: FindingCode;
  message: string;
  resource?: ResourceRefJson;
  /** Structured facts of the finding: bind mount findings carry the mount (`BindMountDetails`). */
  details?: BindMountDetails;
}

export interface ResourceJson {
  type: ResourceType;
  name: string;
  source_id: string;
  target_name: string;
  reason: ResourceReason;
  action: ResourceAction;
  status: ResourceStatus;
  /** Bytes moved so far. */
  bytes: number;
  /** The plan's estimate: a volume's measured apparent bytes, an image's size; null when it could not be measured. */
  estimated_bytes: number | null;
  /**
   * What the resource counts for in the migration's total: what it moved once done, nothing when skipped, else its
   * estimate raised to the bytes moved so far. Never less than `bytes`. Absent from older masters.
   */
  total_bytes?: number;
  /** Volumes: bytes the content takes on disk, as measured on the source; null when unknown. */
  allocated_bytes?: number | null;
  /** Images: the tags the image carries on the target. */
  target_tags?: string[];
  /** Volumes: false when only the volume is created, its content not copied. */
  copy_content?: boolean;
}

export interface MigrationEventJson {
  id: number;
  at: string;
  level: Severity;
  phase: MigrationPhase;
  message: string;
  resource?: ResourceRefJson;
}

/** Where the downtime went, in milliseconds (null: not reached). */
export interface DowntimePhasesJson {
  stop_ms: number | null;
  final_sync_ms: number | null;
  apply_ms: number | null;
  start_ms: number | null;
  ready_ms: number | null;
}

/** One copy of the volumes: a pre-copy round while the source ran (warm), or the one with it stopped. */
export interface SyncRoundJson {
  round: number;
  final: boolean;
  bytes: number;
  duration_ms: number;
  files: number;
}

/** Something a completed migration left on its source (its source_policy kept it there). */
export interface LeftOnSourceJson {
  type: ResourceType;
  name: string;
  source_id: string;
  state: 'stopped' | 'running' | 'kept';
}

export interface MigrationJson {
  id: string;
  status: MigrationStatus;
  phase: MigrationPhase;
  /** 0..1 */
  progress: number;
  bytes_transferred: number;
  total_bytes: number;
  rate_bytes_per_s: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  downtime_ms: number | null;
  /** Where the downtime went; null when nothing was stopped. */
  downtime_phases: DowntimePhasesJson | null;
  /** Copies of the volumes. */
  rounds: SyncRoundJson[];
  error: string | null;
  /** Whether someone asked to cancel it. */
  cancel_requested: boolean;
  source_worker_id: string;
  target_worker_id: string;
  mode: MigrationMode;
  strategy: MigrationStrategy;
  transfer_mode: TransferMode;
  compression: TransferCompression;
  conflict_policy: ConflictPolicy;
  source_policy: SourcePolicy;
  /** Codes of findings the request accepted. */
  acknowledge: string[];
  /** Warm only. */
  downtime_budget_ms?: number;
  /** Warm only. */
  max_rounds?: number;
  /** When the migration switched to the target (the source's data stopped changing). */
  switched_over_at?: string | null;
  /** When the first source container was asked to stop; while downtime_ms is null, the downtime runs from it. */
  downtime_started_at?: string | null;
  /** What a completed migration left on the source; empty otherwise. Absent from older masters. */
  left_on_source?: LeftOnSourceJson[];
  /** The migration this one moves back. */
  reverse_of?: string | null;
  /** The migration that moved this one back. */
  reversed_by?: string | null;
  resources: ResourceJson[];
  /** Absent on live updates from the event stream. */
  findings?: FindingJson[];
  /** Only on GET /api/migrations/:id. */
  events?: MigrationEventJson[];
}

/** What a migration would do: its resources, the bytes to move and what the planner noticed. */
export interface PlanJson {
  resources: ResourceJson[];
  total_bytes: number;
  findings: FindingJson[];
}

/** The answer to a dry run (POST /api/migrations or …/reverse with dry_run): what would move, and preflight's view. */
export interface DryRunJson {
  dry_run: true;
  plan: PlanJson;
  findings: FindingJson[];
  blocked: boolean;
}

/** POST /api/migrations (201), …/reverse (201), …/cancel and GET /api/migrations/:id. */
export interface MigrationAnswerJson {
  migration: MigrationJson;
}

/** GET /api/migrations: newest first, without events; `next_before` pages back, null on the last page. */
export interface MigrationListJson {
  migrations: MigrationJson[];
  next_before: string | null;
}
