// Extended attributes of a volume's entries (user.*, trusted.*, security.* such as file capabilities, POSIX ACLs as
// system.posix_acl_*): read when packing, set when unpacking, on the entry itself and never through a symlink.
import { constants as osConstants } from 'node:os';

import { xattrBinding } from '../platform/xattr-binding.js';

import { AppError } from '../core/errors.js';
import { fsError } from './volume-archive-fs.js';
import type { ArchiveStats } from './volume-archive-fs.js';
import type { Xattr } from './volume-archive-tar.js';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, number]) => [number, name]),
);

/**
 * The errno name of a failure of @napi-rs/xattr, whose errors carry only a message ending in "(os error N)".
 * EOPNOTSUPP and ENOTSUP are one number on Linux: it is named ENOTSUP here.
 */
export function xattrErrno(error: unknown): string | undefined {
  const match = /\(os error (\d+)\)/.exec(error instanceof Error ? error.message : String(error));
  if (!match) return undefined;
  const number = Number(match[1]);
  return number === osConstants.errno.ENOTSUP ? 'ENOTSUP' : ERRNO_NAMES.get(number);
}

/** An xattr error in the shape fsError() translates (it reads `code`). */
function withErrno(error: unknown): unknown {
  const code = xattrErrno(error);
  return code === undefined ? error : Object.assign(new Error((error as Error).message), { code });
}

/**
 * Reads extended attributes for the packer. A filesystem that does not support them (ENOTSUP) is remembered by its
 * device number and not asked again. Calls are asynchronous: the packer makes them in its look-ahead, where the
 * ~4 µs a listxattr(2) costs overlaps with the sending of earlier entries.
 */
export class XattrReader {
  private readonly unsupported = new Set<bigint>();

  /**
   * The attributes of the entry at `path` (a symlink's own), sorted by name; none when the filesystem has none or
   * the entry has gone meanwhile.
   */
  async read(path: string, device: bigint, what: string): Promise<Xattr[]> {
    if (this.unsupported.has(device)) return [];
    let names: string[];
    try {
      names = await xattrBinding().listAttributes(path);
    } catch (error) {
      const errno = xattrErrno(error);
      if (errno === 'ENOTSUP') {
        this.unsupported.add(device);
        return [];
      }
      if (errno === 'ENOENT') return [];
      throw fsError(withErrno(error), `cannot list the extended attributes of ${what}`);
    }
    if (names.length === 0) return [];
    const xattrs: Xattr[] = [];
    for (const name of names.sort()) {
      let value: Buffer | null;
      try {
        value = await xattrBinding().getAttribute(path, name);
      } catch (error) {
        const errno = xattrErrno(error);
        if (errno === 'ENOENT' || errno === 'ENODATA') continue; // removed since it was listed
        throw fsError(withErrno(error), `cannot read the extended attribute ${name} of ${what}`);
      }
      if (value !== null) xattrs.push({ name, value });
    }
    return xattrs;
  }
}

/**
 * Attributes that decide who may do what: a file capability (security.capability) that cannot be set would leave a
 * program that runs but fails (ping, a web server on port 80), and a POSIX ACL that cannot be set changes who may
 * read or write. Failing to set one of these fails the unpack; any other attribute the target refuses is counted.
 */
function mustBeSet(name: string): boolean {
  return name === 'security.capability' || name.startsWith('system.posix_acl_');
}

/** The namespace of an attribute name ("user", "trusted", "security", "system"). */
function namespaceOf(name: string): string {
  const dot = name.indexOf('.');
  return dot === -1 ? name : name.slice(0, dot);
}

/**
 * Sets extended attributes for the unpacker, after the owner (chown clears security.capability) and the mode (a
 * POSIX ACL and the mode share the group bits, and the ACL, set last, is what the source had) and before the times.
 * Refusals (EPERM, EACCES: trusted.* without CAP_SYS_ADMIN, security.selinux where an LSM says no; ENOTSUP: a
 * filesystem or namespace without support, remembered and not tried again) count in stats.xattrsNotRestored,
 * except for the attributes mustBeSet() names, whose refusal fails the unpack.
 */
export class XattrWriter {
  private readonly unsupported = new Set<string>();

  constructor(private readonly stats: ArchiveStats) {}

  /**
   * Removes the attributes of the entry at `path` that are not in `keep`, so that an updated entry has exactly the
   * set the source has. security.selinux is left alone (the target's policy labels it); refusals are counted.
   */
  prune(path: string, keep: readonly Xattr[], what: string): void {
    const binding = xattrBinding();
    let names: string[];
    try {
      names = binding.listAttributesSync(path);
    } catch {
      return; // no attributes here (ENOTSUP), or the entry is gone
    }
    const wanted = new Set(keep.map((xattr) => xattr.name));
    for (const name of names) {
      if (wanted.has(name) || name === 'security.selinux') continue;
      try {
        binding.removeAttributeSync(path, name);
      } catch (error) {
        const errno = xattrErrno(error);
        if (errno === 'ENODATA') continue;
        if (errno === 'EPERM' || errno === 'EACCES' || errno === 'ENOTSUP') {
          this.stats.xattrsNotRestored += 1;
          continue;
        }
        throw fsError(withErrno(error), `cannot remove the extended attribute ${name} of ${what}`);
      }
    }
  }

  /** Sets `xattrs` on the entry at `path` itself (a symlink's own attributes, never its target's). */
  apply(path: string, xattrs: readonly Xattr[], what: string): void {
    for (const { name, value } of xattrs) {
      const namespace = namespaceOf(name);
      if (this.unsupported.has(namespace) && !mustBeSet(name)) {
        this.stats.xattrsNotRestored += 1;
        continue;
      }
      try {
        xattrBinding().setAttributeSync(path, name, value);
        this.stats.xattrs += 1;
      } catch (error) {
        const errno = xattrErrno(error);
        const refused = errno === 'EPERM' || errno === 'EACCES' || errno === 'ENOTSUP';
        if (refused && mustBeSet(name)) {
          throw new AppError(
            errno === 'ENOTSUP' ? 'failed_precondition' : 'permission_denied',
            `cannot set ${name === 'security.capability' ? 'the file capability' : 'the POSIX ACL'} (${name}) ` +
              `of ${what}: ${(error as Error).message}`,
            {
              hint:
                errno === 'ENOTSUP'
                  ? 'the target filesystem does not support it (for ACLs: mount it with the acl option)'
                  : 'run the worker as root on the target host',
              cause: error,
            },
          );
        }
        if (!refused) throw fsError(withErrno(error), `cannot set the extended attribute ${name} of ${what}`);
        if (errno === 'ENOTSUP') this.unsupported.add(namespace);
        this.stats.xattrsNotRestored += 1;
      }
    }
  }
}
