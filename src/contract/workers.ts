// The REST API's JSON for workers, their Docker resources, the audit log, enrollment and sessions. Docker resources
// are sent as the domain keeps them (src/core/docker-resources.ts, plain values without imports), so their types
// are re-exported from there rather than copied.
import type {
  ContainerSummary,
  ImageSummary,
  NetworkSummary,
  VolumeSummary,
} from '../core/docker-resources.js';

export type {
  ContainerState,
  ContainerSummary,
  IpamConfig,
  NetworkSummary,
  PortBinding,
  VolumeSummary,
} from '../core/docker-resources.js';

/** An image as a worker reported it; `layers` (diff ids) when it sent image details rather than summaries. */
export type ImageJson = ImageSummary & { layers?: string[] };

export interface CountsJson {
  containers: number;
  running_containers: number;
  images: number;
  volumes: number;
  networks: number;
}

export interface SystemJson {
  cpu_percent: number;
  cpus: number;
  memory_total_bytes: number;
  memory_used_bytes: number;
  docker_root_free_bytes: number;
}

export type WorkerStatus = 'online' | 'offline';

export interface WorkerJson {
  id: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  status: WorkerStatus;
  online: boolean;
  last_heartbeat: string | null;
  enrolled_at: string;
  grpc_address: string;
  docker_version: string;
  active_tasks: number;
  counts: CountsJson;
  system: SystemJson | null;
}

/** GET /api/workers. */
export interface WorkerListJson {
  workers: WorkerJson[];
}

/** GET /api/workers/:id. */
export interface WorkerAnswerJson {
  worker: WorkerJson;
}

/** Where a completed migration took the resource a worker still holds (its source policy left it there). */
export interface MigratedToJson {
  migration_id: string;
  worker_id: string;
  /** Null when the worker was removed since. */
  worker_name: string | null;
  /** Its name on that worker. */
  name: string;
  /** Containers: left stopped (keep_stopped) or running (keep_running); the rest is kept as it was. */
  state: 'stopped' | 'running' | 'kept';
}

/** A resource as a worker's list shows it: marked when a completed migration left it behind, until moved back. */
export type Marked<T> = T & { migrated_to?: MigratedToJson };

/** GET /api/workers/:id/resources: the worker's inventory as it last reported it. */
export interface WorkerResourcesJson {
  worker_id: string;
  containers: Marked<ContainerSummary>[];
  images: Marked<ImageJson>[];
  volumes: Marked<VolumeSummary>[];
  networks: Marked<NetworkSummary>[];
}

export interface AuditEntryJson {
  id: number;
  at: string;
  /** Who: "admin" (admin token), "session:<id>", or "worker:<id>". */
  actor: string;
  /** What, e.g. "DELETE /api/workers/:id", "worker.enroll", "migration.start", "migration.dry_run". */
  action: string;
  target: string | null;
  outcome: 'ok' | 'error';
  /** HTTP status (0 for actions that are not HTTP requests). */
  status: number;
  details: Record<string, unknown>;
  remote_address: string | null;
  /** One line with names: who moved what where, a dry run's verdict, an enrolment's outcome. */
  summary: string | null;
}

/** GET /api/audit: newest first. */
export interface AuditListJson {
  entries: AuditEntryJson[];
}

/** GET /api/enrollment-token: the token and the command that uses it, for the "add a worker" page. */
export interface EnrollmentJson {
  token: string;
  ca_hash: string;
  master_url: string;
  join_command: string;
  /** The one line that installs the worker as a service (curl …/install.sh | sudo sh …); null when this master
   * serves no release archives. */
  install_command: string | null;
}

/** POST /api/pairing-codes: a single-use code another host joins with, until it expires. */
export interface PairingCodeJson {
  code: string;
  expires_at: string;
  join_command: string;
  /** As EnrollmentJson.install_command, with this code as the token. */
  install_command: string | null;
}

/** GET /api/session and the sign-in answer. */
export interface SessionJson {
  authenticated: boolean;
  via: 'session' | 'token' | null;
  expires_at: string | null;
}
