// Bodies and queries the REST API accepts. The master validates them with schemas (src/master/http/route-schemas.ts)
// that a compile-time check holds equal to these types.
import type {
  ConflictPolicy,
  MigrationMode,
  MigrationStrategy,
  SourcePolicy,
  TransferCompression,
  TransferMode,
} from './migrations.js';

/** Where a bind-mounted host path goes: `{ path }` or `{ skip: true }`, or as people write it, "/new/path" or "skip". */
export type BindMountRuleJson = { path: string } | { skip: true } | string;

/** The body of POST /api/migrations; absent fields take the defaults named on each. */
export interface MigrationRequestBody {
  /** Worker id or name. */
  source_worker_id: string;
  target_worker_id: string;
  /** Names, ids or unique id prefixes on the source. */
  container_ids?: string[];
  image_ids?: string[];
  volume_names?: string[];
  network_ids?: string[];
  compose_projects?: string[];
  /** Default `cold`. */
  mode?: MigrationMode;
  /** Default `full`. */
  strategy?: MigrationStrategy;
  /** Default `auto`. */
  transfer_mode?: TransferMode;
  /** Default `none`. */
  compression?: TransferCompression;
  /** Default `fail`. */
  conflict_policy?: ConflictPolicy;
  /** Default `keep_stopped`. */
  source_policy?: SourcePolicy;
  /** Source host path → rule; a bind mount without a rule is an error finding. */
  bind_mounts?: Record<string, BindMountRuleJson>;
  /** Codes of findings the user accepts, which then warn instead of blocking. */
  acknowledge?: string[];
  /** Warm only: "2s", "500ms" or milliseconds. */
  downtime_budget?: string | number;
  /** Warm only. */
  max_rounds?: number;
  /** Seconds each source container gets to exit on its stop signal (0–3600); absent: each container's own. */
  stop_timeout?: number;
  /** Default false: plan only, answer with the dry run. */
  dry_run?: boolean;
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

/** `?limit=&before=&status=` of GET /api/migrations. */
export interface MigrationListQuery {
  /** 1..500; default 50. */
  limit?: number;
  /** The id of the last migration of the previous page. */
  before?: string;
  /** Comma-separated statuses. */
  status?: string;
}
