// The master's JSON for workers, their Docker resources, the audit log and enrollment, as the UI reads it.
// Copied from src/master/http/api-json.ts and src/core/docker-resources.ts: the UI never imports server code.

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

export interface AuditEntryJson {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  outcome: 'ok' | 'error';
  status: number;
  details: Record<string, unknown>;
  remote_address: string | null;
  /** One line with names: who moved what where, a dry run's verdict, an enrolment's outcome; absent on older entries. */
  summary?: string | null;
}

export interface EnrollmentJson {
  token: string;
  ca_hash: string;
  master_url: string;
  join_command: string;
}

/** POST /api/pairing-codes: a single-use code another host joins with, until it expires. */
export interface PairingCodeJson {
  code: string;
  expires_at: string;
  join_command: string;
}

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface PortBinding {
  /** Port inside the container. */
  privatePort: number;
  /** Host port, when published. */
  publicPort?: number;
  /** Host address the port is bound on, when published. */
  hostIp?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface ContainerSummary {
  id: string;
  name: string;
  image: string;
  imageId: string;
  command: string;
  state: ContainerState;
  /** The Engine's human status, e.g. "Up 3 minutes (healthy)". */
  status: string;
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
  ports: PortBinding[];
  volumeNames: string[];
  networkNames: string[];
}

export interface ImageSummary {
  id: string;
  /** "repo:tag" references; empty for dangling images. */
  tags: string[];
  digests: string[];
  /** Bytes. */
  size: number;
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
  /** Containers using it, when the Engine reports it (-1 otherwise). */
  containers: number;
  /** Layer diff ids; only when the worker sent image details rather than summaries. */
  layers?: string[];
}

export interface VolumeSummary {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  scope: 'local' | 'global';
  createdAt?: string;
  /** Bytes on disk, when the worker measured it (null when the Engine cannot tell). */
  size?: number | null;
  refCount?: number | null;
}

export interface IpamConfig {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  attachable: boolean;
  ipv6: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam: { driver: string; config: IpamConfig[]; options: Record<string, string> };
  /** Created by the Engine itself (bridge, host, none): never migrated or removed. */
  builtIn: boolean;
  created?: string;
}

/** GET /api/workers/:id/resources: the worker's inventory as it last reported it. */
export interface WorkerResourcesJson {
  worker_id: string;
  containers: ContainerSummary[];
  images: ImageSummary[];
  volumes: VolumeSummary[];
  networks: NetworkSummary[];
}
