// Which changes of a container's writable layer hold data of its own: what a migration leaves behind, since only
// volumes move. The Engine also lists the parent folders of every change and the folders it made for mount points.
import type { ContainerDetails } from '../core/docker-resources.js';
import type { ContainerChange } from '../core/ports.js';

function within(path: string, folder: string): boolean {
  return folder === '/' || path === folder || path.startsWith(`${folder}/`);
}

/** Where the container mounts something: volumes, binds and tmpfs mounts (HostConfig.Tmpfs too). */
export function mountDestinations(details: Pick<ContainerDetails, 'mounts' | 'raw'>): string[] {
  const hostConfig = details.raw.HostConfig as { Tmpfs?: Record<string, unknown> | null } | undefined;
  return [...details.mounts.map((mount) => mount.destination), ...Object.keys(hostConfig?.Tmpfs ?? {})].map(
    (path) => (path.length > 1 ? path.replace(/\/+$/, '') : path),
  );
}

/**
 * The changes that are data: not at or below a mount point (that content is the mount's), not a folder the Engine
 * lists only because a change or a mount point lies below it. Sorted by path.
 */
export function ownChanges(changes: ContainerChange[], mounts: string[]): ContainerChange[] {
  const outside = changes.filter((change) => !mounts.some((mount) => within(change.path, mount)));
  const parentOf = (path: string, other: string): boolean => other !== path && other.startsWith(`${path}/`);
  return outside
    .filter(
      (change) =>
        change.kind === 'deleted' ||
        !(
          outside.some((other) => parentOf(change.path, other.path)) ||
          mounts.some((m) => parentOf(change.path, m))
        ),
    )
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
