// The REST API's JSON for one container looked at closely (GET /api/containers/:id): what `docker inspect` says of
// it, read live from its worker's engine, with the values of secret-looking environment variables hidden.
import type { ContainerState, ContainerSummary } from '../core/docker-resources.js';

/** A mount as the engine set it up; `volume_name` only for volume mounts. */
export interface ContainerMountJson {
  type: string;
  /** Host path (bind), the volume's folder on the host (volume), empty for tmpfs. */
  source: string;
  volume_name: string | null;
  destination: string;
  read_only: boolean;
}

/** One host binding of a container port; `host_port` is null while a stopped container's port is not bound yet. */
export interface ContainerPortJson {
  container_port: number;
  protocol: string;
  host_ip: string;
  host_port: number | null;
}

export interface ContainerHealthJson {
  /** The engine's word: `starting`, `healthy`, `unhealthy`. */
  status: string;
  failing_streak: number;
  /** Output of the last check, trimmed and cut to 500 characters; null before the first check. */
  last_output: string | null;
  last_exit_code: number | null;
  last_checked_at: string | null;
}

/**
 * One environment variable. `value` is "[redacted]" when the name looks like a secret (PASSWORD, SECRET, KEY,
 * TOKEN, CREDENTIAL or AUTH in any case — the rule the logs use), and null for a name set without a value.
 */
export interface ContainerEnvJson {
  name: string;
  value: string | null;
  redacted: boolean;
}

export interface ContainerNetworkJson {
  name: string;
  ip_address: string | null;
  ipv6_address: string | null;
  gateway: string | null;
  mac_address: string | null;
  aliases: string[];
}

export interface ContainerDetailsJson {
  id: string;
  name: string;
  /** The reference it was created from, and the image id that reference named then. */
  image: string;
  image_id: string;
  state: ContainerState;
  /** Exit code of the last run (0 while running). */
  exit_code: number;
  restart_count: number;
  created_at: string;
  /** Null when it never ran. */
  started_at: string | null;
  /** Null while it runs or when it never stopped. */
  finished_at: string | null;
  /** Arguments of Entrypoint and Cmd; an argument such as `--password=x` has its value hidden like env values. */
  entrypoint: string[];
  command: string[];
  /** `no`, `always`, `unless-stopped` or `on-failure` (with its retry count). */
  restart_policy: { name: string; maximum_retry_count: number };
  /** Null when the container has no healthcheck. */
  health: ContainerHealthJson | null;
  mounts: ContainerMountJson[];
  ports: ContainerPortJson[];
  labels: Record<string, string>;
  env: ContainerEnvJson[];
  networks: ContainerNetworkJson[];
}

/**
 * GET /api/containers/:id: the container as the worker's inventory lists it, with its worker, and its details from
 * a live inspect on that worker.
 */
export interface ContainerAnswerJson {
  container: ContainerSummary & { worker_id: string; worker_name: string };
  details: ContainerDetailsJson;
}
