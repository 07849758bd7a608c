// The master's migration JSON (src/master/http/migration-json.ts), as the UI reads it. Workers and their Docker
// resources are in worker-types.ts, the one description of GET /api/workers and /api/workers/:id/resources.

export type MigrationStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'rolled_back';
export type MigrationPhase =
  | 'preflight'
  | 'prepare'
  | 'transfer'
  | 'stop_source'
  | 'create'
  | 'start'
  | 'finalize'
  | 'rollback'
  | 'done';
export type MigrationMode = 'cold' | 'warm' | 'live';
/** How volumes are copied: whole, or only what differs from the copy an earlier migration left on the target. */
export type MigrationStrategy = 'full' | 'incremental';
export type TransferMode = 'direct' | 'proxy' | 'auto';
export type TransferCompression = 'none' | 'zstd';
export type ConflictPolicy = 'fail' | 'skip' | 'rename' | 'overwrite';
export type SourcePolicy = 'keep_stopped' | 'remove' | 'keep_running';
export type ResourceType = 'container' | 'image' | 'volume' | 'network';
export type ResourceStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'rolled_back';

export interface FindingJson {
  severity: 'error' | 'warning' | 'info';
  code: string;
  message: string;
  resource?: { type: string; name: string };
}

export interface ResourceJson {
  type: ResourceType;
  name: string;
  source_id: string;
  target_name: string;
  reason: 'requested' | 'dependency' | 'compose';
  action: 'create' | 'skip' | 'overwrite' | 'update';
  status: ResourceStatus;
  /** Bytes moved so far. */
  bytes: number;
  /** The plan's estimate (a volume's measured bytes, an image's size); null when the volume could not be measured. */
  estimated_bytes: number | null;
  /**
   * What the resource counts for in the migration's total: what it moved once done, nothing when skipped, else its
   * estimate raised to the bytes moved. Absent from masters older than the field.
   */
  total_bytes?: number;
}

export interface MigrationEventJson {
  id: number;
  at: string;
  level: 'info' | 'warning' | 'error';
  phase: MigrationPhase;
  message: string;
  resource?: { type: string; name: string };
}

export interface DowntimePhasesJson {
  stop_ms: number | null;
  final_sync_ms: number | null;
  apply_ms: number | null;
  start_ms: number | null;
  ready_ms: number | null;
}

export interface SyncRoundJson {
  round: number;
  final: boolean;
  bytes: number;
  duration_ms: number;
  files: number;
}

export interface MigrationJson {
  id: string;
  status: MigrationStatus;
  phase: MigrationPhase;
  progress: number;
  bytes_transferred: number;
  total_bytes: number;
  rate_bytes_per_s: number;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  downtime_ms: number | null;
  /**
   * When the master asked the first source container to stop; null when none was stopped (absent from older
   * masters). While the migration runs and `downtime_ms` is null, the downtime so far is now − this.
   */
  downtime_started_at?: string | null;
  /** Where the downtime went (ms; null: not reached); null when nothing was stopped. */
  downtime_phases: DowntimePhasesJson | null;
  /** Copies of the volumes: pre-copy rounds while the source ran (warm), then the one with it stopped. */
  rounds: SyncRoundJson[];
  error: string | null;
  cancel_requested: boolean;
  source_worker_id: string;
  target_worker_id: string;
  mode: MigrationMode;
  strategy: MigrationStrategy;
  transfer_mode: TransferMode;
  compression: TransferCompression;
  conflict_policy: ConflictPolicy;
  source_policy: SourcePolicy;
  resources: ResourceJson[];
  /** Absent on live updates from the event stream. */
  findings?: FindingJson[];
  /** Only on GET /api/migrations/:id. */
  events?: MigrationEventJson[];
  /** What a completed migration left on its source (its source policy kept them there). */
  left_on_source?: LeftoverJson[];
  /** The migration this one moves back, and the one that moved this one back. */
  reverse_of?: string | null;
  reversed_by?: string | null;
}

/** Something a completed migration left on its source worker. */
export interface LeftoverJson {
  type: ResourceType;
  name: string;
  source_id: string;
  /** Containers: stopped (keep_stopped) or running (keep_running); everything else is kept as it was. */
  state: 'stopped' | 'running' | 'kept';
}

/** The body of POST /api/migrations/:id/reverse: what a move back may choose; the rest follows the migration. */
export interface ReverseRequestBody {
  mode?: MigrationMode;
  strategy?: MigrationStrategy;
  transfer_mode?: TransferMode;
  compression?: TransferCompression;
  stop_timeout?: number;
  dry_run?: boolean;
}

/** The body of POST /api/migrations; bind mount rules map a source host path to a target path or "skip". */
export interface MigrationRequestBody {
  source_worker_id: string;
  target_worker_id: string;
  container_ids: string[];
  image_ids: string[];
  volume_names: string[];
  network_ids: string[];
  compose_projects: string[];
  mode: MigrationMode;
  strategy: MigrationStrategy;
  transfer_mode: TransferMode;
  compression: TransferCompression;
  conflict_policy: ConflictPolicy;
  source_policy: SourcePolicy;
  bind_mounts: Record<string, string>;
  /** Codes of findings the user accepts, which then warn instead of blocking. */
  acknowledge: string[];
  dry_run: boolean;
}

/** The answer to a dry run: what would move, and what preflight thinks of it. */
export interface DryRunJson {
  dry_run: true;
  plan: { resources: ResourceJson[]; total_bytes: number; findings: FindingJson[] };
  findings: FindingJson[];
  blocked: boolean;
}

export interface MigrationListJson {
  migrations: MigrationJson[];
  next_before: string | null;
}
