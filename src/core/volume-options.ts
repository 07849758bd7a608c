// Where a local volume's content lives, read from its driver options: under the Docker root, in a host folder, on a
// network share, or in memory. Preflight warns from it and the worker picks how to reach the content by it.

/**
 * - `docker_root`: no options; the content is the folder under the Docker root.
 * - `host_path`: `o=bind` with `device=`: the content is a folder of the host, mounted while a container uses it.
 * - `network_share`: nfs/cifs (`type=` or `o=addr=`): the content stays on the share.
 * - `tmpfs`: memory only; nothing outlives the container using it.
 * - `device`: another mount (a block device, say): the content is on that device.
 */
export type VolumeContentKind = 'docker_root' | 'host_path' | 'network_share' | 'tmpfs' | 'device';

export interface VolumeContent {
  kind: VolumeContentKind;
  /** The `device` option (host folder, share address and path, device): where the content is. */
  device?: string;
}

const NETWORK_TYPES: ReadonlySet<string> = new Set(['nfs', 'nfs4', 'cifs', 'smb', 'smb3']);

/** Where the content of a volume of the `local` driver with these options lives. */
export function volumeContentOf(options: Record<string, string>): VolumeContent {
  if (Object.keys(options).length === 0) return { kind: 'docker_root' };
  const type = (options.type ?? '').toLowerCase();
  const mountOptions = (options.o ?? '').split(',').map((option) => option.trim());
  const device = options.device;
  const where = device === undefined || device === '' ? {} : { device };
  if (NETWORK_TYPES.has(type) || mountOptions.some((option) => option.startsWith('addr=')))
    return { kind: 'network_share', ...where };
  if (type === 'tmpfs') return { kind: 'tmpfs', ...where };
  if (mountOptions.includes('bind') && device) return { kind: 'host_path', device };
  return { kind: 'device', ...where };
}
