// A container's Engine inspect document turned into the API's details: mounts, ports, restart policy, health, env
// (secret values hidden), command, networks and times. The worker sends the document as the Engine wrote it.
import type {
  ContainerDetailsJson,
  ContainerEnvJson,
  ContainerHealthJson,
  ContainerMountJson,
  ContainerNetworkJson,
  ContainerPortJson,
} from '../../contract/index.js';
import type { ContainerDetails } from '../../core/docker-resources.js';
import { REDACTED, isSecretName, redactInlineSecrets, redactString } from '../../platform/redact.js';

type Json = Record<string, unknown>;

/** Longest health check output sent: enough for a line or two of a failing check, never a whole page. */
export const HEALTH_OUTPUT_LIMIT = 500;

/** The Engine's time for "never" (StartedAt of a container that never ran, FinishedAt of one still running). */
const ZERO_TIME = '0001-01-01T00:00:00Z';

function record(value: unknown): Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : {};
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** A string the Engine leaves empty (or at its zero time) when there is nothing to say. */
function optional(value: unknown): string | null {
  const found = text(value);
  return found === '' || found.startsWith('0001-01-01') ? null : found;
}

/** `NAME=value` entries of Config.Env; a value is hidden when its name looks like a secret. */
export function envJson(entries: readonly string[]): ContainerEnvJson[] {
  return entries.map((entry) => {
    const equals = entry.indexOf('=');
    const name = equals === -1 ? entry : entry.slice(0, equals);
    const value = equals === -1 ? null : entry.slice(equals + 1);
    const redacted = value !== null && isSecretName(name);
    return { name, value: redacted ? REDACTED : value, redacted };
  });
}

/** Output of the last health check: whitespace trimmed, inline secrets hidden, at most HEALTH_OUTPUT_LIMIT long. */
export function healthOutput(output: string): string {
  const trimmed = redactInlineSecrets(output.trim());
  return trimmed.length > HEALTH_OUTPUT_LIMIT ? `${trimmed.slice(0, HEALTH_OUTPUT_LIMIT - 1)}…` : trimmed;
}

function healthJson(state: Json): ContainerHealthJson | null {
  const health = record(state.Health);
  const status = text(health.Status);
  // A container without a healthcheck has no Health, or (some Engine versions) Status "none".
  if (status === '' || status === 'none') return null;
  const log = Array.isArray(health.Log) ? health.Log.map(record) : [];
  const last = log.at(-1);
  return {
    status,
    failing_streak: count(health.FailingStreak),
    last_output: last === undefined ? null : healthOutput(text(last.Output)),
    last_exit_code: last === undefined || typeof last.ExitCode !== 'number' ? null : last.ExitCode,
    last_checked_at: last === undefined ? null : (optional(last.End) ?? optional(last.Start)),
  };
}

function mountJson(mount: Json): ContainerMountJson {
  const type = text(mount.Type);
  return {
    type,
    source: text(mount.Source),
    volume_name: type === 'volume' ? optional(mount.Name) : null,
    destination: text(mount.Destination),
    // RW is false for a read-only mount; an Engine that leaves it out mounts read-write.
    read_only: mount.RW === false,
  };
}

/** "8080/tcp" → [8080, "tcp"]; the Engine omits "/tcp" nowhere, but a bare number is read as tcp. */
function portKey(key: string): [number, string] {
  const [port = '', protocol = 'tcp'] = key.split('/');
  return [Number(port), protocol];
}

/**
 * Published ports: what the Engine bound (NetworkSettings.Ports) while the container runs, else what it will bind
 * when started (HostConfig.PortBindings, where an empty host port means one the Engine picks then).
 */
function portsJson(raw: Json): ContainerPortJson[] {
  const bound = record(record(raw.NetworkSettings).Ports);
  const configured = record(record(raw.HostConfig).PortBindings);
  const hasBinding = Object.values(bound).some((bindings) => Array.isArray(bindings) && bindings.length > 0);
  const source = hasBinding ? bound : configured;
  return Object.entries(source).flatMap(([key, bindings]) => {
    if (!Array.isArray(bindings)) return [];
    const [containerPort, protocol] = portKey(key);
    return bindings.map(record).map((binding) => {
      const hostPort = Number.parseInt(text(binding.HostPort), 10);
      return {
        container_port: containerPort,
        protocol,
        host_ip: text(binding.HostIp),
        host_port: Number.isNaN(hostPort) ? null : hostPort,
      };
    });
  });
}

function networksJson(raw: Json): ContainerNetworkJson[] {
  const networks = record(record(raw.NetworkSettings).Networks);
  return Object.entries(networks)
    .map(([name, value]) => {
      const endpoint = record(value);
      return {
        name,
        ip_address: optional(endpoint.IPAddress),
        ipv6_address: optional(endpoint.GlobalIPv6Address),
        gateway: optional(endpoint.Gateway),
        mac_address: optional(endpoint.MacAddress),
        aliases: texts(endpoint.Aliases),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The API's details of a container from its inspect document. Environment values are hidden by name, and command
 * arguments of the form `--password=x` by the same rule, so a page or a script that shows them leaks no secret.
 * Labels are sent as they are: the container lists send them too.
 */
export function containerDetailsJson(details: ContainerDetails): ContainerDetailsJson {
  const raw = details.raw;
  const config = record(raw.Config);
  const state = record(raw.State);
  const policy = record(record(raw.HostConfig).RestartPolicy);
  const finished = text(state.FinishedAt);
  return {
    id: details.id,
    name: details.name,
    image: text(config.Image) || details.image,
    image_id: details.imageId,
    state: details.state,
    exit_code: count(state.ExitCode),
    restart_count: count(raw.RestartCount),
    created_at: text(raw.Created),
    started_at: optional(state.StartedAt),
    finished_at: details.state === 'running' || finished === ZERO_TIME ? null : optional(finished),
    entrypoint: texts(config.Entrypoint).map(redactString),
    command: texts(config.Cmd).map(redactString),
    restart_policy: {
      name: text(policy.Name) || 'no',
      maximum_retry_count: count(policy.MaximumRetryCount),
    },
    health: healthJson(state),
    mounts: (Array.isArray(raw.Mounts) ? raw.Mounts : []).map(record).map(mountJson),
    ports: portsJson(raw),
    labels: details.labels,
    env: envJson(texts(config.Env)),
    networks: networksJson(raw),
  };
}
