// A digest of a volume folder's content and metadata, so that equal digests of source and target show that a volume
// moved intact: tests and benchmarks compare them; a transfer itself checks its bytes in the transport.
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { lstat, open, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';

import { xattrBinding } from '../platform/xattr-binding.js';

import { deviceNumbers, fsError } from './volume-archive-fs.js';

const DIGEST_READ = 1024 * 1024;

export interface DigestOptions {
  /**
   * How finely mtimes count: 'ns' where times are set to the nanosecond (file-times.ts `nanosecondTimes`), 'us'
   * where only to the microsecond, 's' for archives that carry whole seconds (Docker's GetArchive). Default 's'.
   */
  times?: 's' | 'us' | 'ns';
  /** Whether extended attributes (with ACLs and capabilities) count. Default true. */
  xattrs?: boolean;
  /** Whether the root folder's own metadata counts. Default true. */
  root?: boolean;
}

const DIVISOR = { s: 1_000_000_000n, us: 1000n, ns: 1n } as const;

/** SHA-256 of a file's content, read into `buffer` (one per digest: hash.update() keeps nothing). */
async function fileSha256(absolute: string, buffer: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(absolute, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** The entry's extended attributes as "name=hex" strings, sorted; symlinks' own. */
async function xattrsOf(absolute: string): Promise<string[]> {
  let names: string[];
  try {
    names = await xattrBinding().listAttributes(absolute);
  } catch {
    return []; // a filesystem without extended attributes
  }
  const values: string[] = [];
  for (const name of names.sort()) {
    const value = await xattrBinding().getAttribute(absolute, name);
    values.push(`${name}=${value === null ? '' : value.toString('hex')}`);
  }
  return values;
}

/** Floor division of a time by the unit that counts. */
function timeIn(time: bigint, unit: keyof typeof DIVISOR): string {
  const divisor = DIVISOR[unit];
  const quotient = time / divisor;
  return String(time < 0n && quotient * divisor !== time ? quotient - 1n : quotient);
}

/**
 * Digests a folder: for every entry its path, type, mode, owner, mtime (to `times`), size, link target, content
 * SHA-256, hard-link sharing and extended attributes, in sorted order. Sockets are left out, as packDirectory
 * leaves them out; atimes too, since reading a file may change them.
 */
export async function directoryDigest(root: string, options: DigestOptions = {}): Promise<string> {
  const { times = 's', xattrs = true, root: withRoot = true } = options;
  const hash = createHash('sha256');
  const firstPathOfInode = new Map<string, string>();
  const buffer = Buffer.allocUnsafe(DIGEST_READ);

  async function visit(absolute: string, relative: string): Promise<void> {
    const info: BigIntStats = await lstat(absolute, { bigint: true });
    const common = [
      relative === '' ? '.' : relative,
      Number(info.mode & 0o7777n),
      Number(info.uid),
      Number(info.gid),
      timeIn(info.mtimeNs, times),
      ...(xattrs ? [await xattrsOf(absolute)] : []),
    ];
    let record: unknown[];
    if (info.isDirectory()) record = ['directory', ...common];
    else if (info.isSymbolicLink()) record = ['symlink', ...common, await readlink(absolute)];
    else if (info.isFile()) {
      const inode = `${String(info.dev)}:${String(info.ino)}`;
      const first = info.nlink > 1n ? firstPathOfInode.get(inode) : undefined;
      const size = Number(info.size);
      if (first !== undefined) record = ['file', ...common, size, `same inode as ${first}`];
      else {
        if (info.nlink > 1n) firstPathOfInode.set(inode, relative);
        record = ['file', ...common, size, await fileSha256(absolute, buffer)];
      }
    } else if (info.isFIFO()) record = ['fifo', ...common];
    else if (info.isCharacterDevice() || info.isBlockDevice()) {
      const { devmajor, devminor } = deviceNumbers(Number(info.rdev));
      record = [
        info.isCharacterDevice() ? 'character-device' : 'block-device',
        ...common,
        devmajor,
        devminor,
      ];
    } else return;
    if (relative !== '' || withRoot) hash.update(`${JSON.stringify(record)}\n`);
    if (info.isDirectory()) {
      for (const child of (await readdir(absolute)).sort()) {
        await visit(join(absolute, child), relative === '' ? child : `${relative}/${child}`);
      }
    }
  }

  try {
    await visit(root, '');
  } catch (error) {
    throw fsError(error, `cannot digest the volume directory ${root}`);
  }
  return hash.digest('hex');
}
