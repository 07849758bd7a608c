// Words and cross-references for a worker's Docker resources: ports, health, who uses a volume, filtering, totals.
import type { ContainerSummary, PortBinding, WorkerJson, WorkerResourcesJson } from '../api/worker-types';
import { plural, shortId } from './format';

/** A port as `docker ps` shows it: "0.0.0.0:8080→80/tcp", or "80/tcp" when not published. */
export function formatPort(port: PortBinding): string {
  const inside = `${port.privatePort}/${port.protocol}`;
  if (port.publicPort === undefined) return inside;
  const host = port.hostIp === undefined || port.hostIp === '' ? '' : `${hostAddress(port.hostIp)}:`;
  return `${host}${port.publicPort}→${inside}`;
}

function hostAddress(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

/** Each distinct port of a container once (the Engine lists IPv4 and IPv6 bindings separately). */
export function formatPorts(ports: readonly PortBinding[]): string[] {
  return [...new Set(ports.map(formatPort))];
}

export type Health = 'healthy' | 'unhealthy' | 'starting';

/** The health check's verdict as the Engine's status text says it ("Up 3 minutes (healthy)"), if it has one. */
export function containerHealth(status: string): Health | undefined {
  const match = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (match === null) return undefined;
  return match[1] === 'health: starting' ? 'starting' : (match[1] as Health);
}

/** Names of the containers that use each volume (or network), from the containers' own lists. */
export function usersBy(
  containers: readonly ContainerSummary[],
  pick: (container: ContainerSummary) => readonly string[],
): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const container of containers) {
    for (const name of new Set(pick(container))) {
      const list = users.get(name);
      if (list === undefined) users.set(name, [container.name]);
      else list.push(container.name);
    }
  }
  return users;
}

/**
 * Whether any of the names contains the filter text, ignoring case; an empty filter matches everything. Used by the
 * worker page's filter and the wizard's; a missing field (a container without a compose label) matches nothing.
 */
export function matchesFilter(filter: string, ...names: readonly (string | undefined)[]): boolean {
  const needle = filter.trim().toLowerCase();
  if (needle === '') return true;
  return names.some((name) => name?.toLowerCase().includes(needle) === true);
}

/** What the worker page's filter lets through: containers, volumes and networks by name, images by tag or id. */
export function shownResources(
  resources: WorkerResourcesJson,
  filter: string,
): Pick<WorkerResourcesJson, 'containers' | 'images' | 'volumes' | 'networks'> {
  return {
    containers: resources.containers.filter((container) => matchesFilter(filter, container.name)),
    images: resources.images.filter((image) => matchesFilter(filter, shortId(image.id), ...image.tags)),
    volumes: resources.volumes.filter((volume) => matchesFilter(filter, volume.name)),
    networks: resources.networks.filter((network) => matchesFilter(filter, network.name)),
  };
}

/** The filter's outcome in one sentence, for screen readers: "2 containers, 1 image, 0 volumes and 0 networks match." */
export function filterSummary(
  shown: Pick<WorkerResourcesJson, 'containers' | 'images' | 'volumes' | 'networks'>,
): string {
  return (
    `${plural(shown.containers.length, 'container')}, ${plural(shown.images.length, 'image')}, ` +
    `${plural(shown.volumes.length, 'volume')} and ${plural(shown.networks.length, 'network')} match.`
  );
}

export interface WorkerTotals {
  workers: number;
  online: number;
  containers: number;
  running: number;
  images: number;
  volumes: number;
  networks: number;
  /** Free bytes under Docker's root summed over the workers that reported it; null when none did. */
  freeBytes: number | null;
}

/** Sums across all workers, for the top of the dashboard. */
export function workerTotals(workers: readonly WorkerJson[]): WorkerTotals {
  const totals: WorkerTotals = {
    workers: workers.length,
    online: 0,
    containers: 0,
    running: 0,
    images: 0,
    volumes: 0,
    networks: 0,
    freeBytes: null,
  };
  for (const worker of workers) {
    if (worker.online) totals.online += 1;
    totals.containers += worker.counts.containers;
    totals.running += worker.counts.running_containers;
    totals.images += worker.counts.images;
    totals.volumes += worker.counts.volumes;
    totals.networks += worker.counts.networks;
    if (worker.system !== null)
      totals.freeBytes = (totals.freeBytes ?? 0) + worker.system.docker_root_free_bytes;
  }
  return totals;
}
