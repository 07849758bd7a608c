// Turns a volume's directory into a verified tar byte stream and back, keeping owners, modes, mtimes, links and
// holes, streaming with backpressure so that memory stays flat whatever the volume's size.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, fchmodSync, fchownSync, futimesSync } from 'node:fs';
import type { Stats } from 'node:fs';
import {
  chmod,
  link,
  lchown,
  lstat,
  lutimes,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

import tar from 'tar-stream';
import type { Extract, Header } from 'tar-stream';

import { AppError } from '../core/errors.js';
import { openFile } from './volume-archive-fd.js';
import { canceled, deviceNumbers, emptyStats, errnoOf, fsError } from './volume-archive-fs.js';
import type { ArchiveStats } from './volume-archive-fs.js';
import { SparseFileWriter } from './volume-archive-sparse.js';
import { END_OF_ARCHIVE } from './volume-archive-tar.js';

export type { ArchiveStats } from './volume-archive-fs.js';
export { packDirectory } from './volume-archive-pack.js';
export type { PackOptions, PackResult } from './volume-archive-pack.js';

const MiB = 1024 * 1024;
/**
 * Files up to this size are received whole, then created, written and finished in the background, several at a
 * time: creating a file is the slowest step of a volume of small files, and it waits on the disk, not on us.
 */
const SMALL_FILE = 256 * 1024;
/** Files in the background at once; what they keep of the stream is at most that many of its chunks. */
const BACKGROUND_FILES = 16;
/** tar-stream's parser takes this much ahead of the entry being written, so the sender need not wait. */
const EXTRACT_HIGH_WATER = MiB;
const DIGEST_READ = MiB;

/** tar-stream sets `pax` on extracted headers (extra records such as uid). */
type EntryHeader = Omit<Partial<Header>, 'pax'> & { name: string; pax?: Record<string, string> | null };
type Entry = Extract extends AsyncIterable<infer T> ? T : never;

export interface UnpackOptions {
  signal?: AbortSignal;
}

/** Waits until a streamx writable wants more data, or is gone. */
function writable(stream: Extract): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** The process's umask, read without changing it (process.umask() without an argument is deprecated). */
async function currentUmask(): Promise<number | undefined> {
  try {
    const status = await readFile('/proc/self/status', 'latin1');
    const match = /^Umask:\s*([0-7]+)$/m.exec(status);
    return match?.[1] === undefined ? undefined : parseInt(match[1], 8);
  } catch {
    return undefined; // not Linux: chmod every file
  }
}

/** Splits an archive path into safe components; '' is the root. Throws on anything that could leave the root. */
function safeRelative(raw: string, what: string): string {
  if (raw.startsWith('/')) {
    throw new AppError('invalid_argument', `the volume archive has an absolute path in ${what} '${raw}'`);
  }
  if (raw.includes('\0'))
    throw new AppError('invalid_argument', `the volume archive has a NUL byte in ${what}`);
  const parts = raw.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new AppError('invalid_argument', `the volume archive has a '..' component in ${what} '${raw}'`);
  }
  return parts.join('/');
}

/** An entry's mtime: the PAX record when there is one (it carries fractions and dates ustar cannot hold). */
function mtimeOf(header: EntryHeader): Date {
  const pax = header.pax?.mtime;
  if (pax !== undefined) {
    const date = new Date(Number(pax) * 1000);
    if (!Number.isNaN(date.getTime())) return date;
  }
  return header.mtime ?? new Date(0);
}

function corrupt(message: string): AppError {
  return new AppError('invalid_argument', `the volume archive is corrupt: ${message}`);
}

interface DirectoryMetadata {
  absolute: string;
  depth: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

/** At most `limit` tasks run at once; the first failure is kept and reported by check(). */
class BackgroundTasks {
  private running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(private readonly limit: number) {}

  /** Starts `task` once a place is free; `ended` never rejects (see check()). */
  async start(task: () => Promise<void>): Promise<{ ended: Promise<void> }> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    this.check();
    const running: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.running.delete(running));
    this.running.add(running);
    // Wrapped: an async function returning a promise would wait for it.
    return { ended: running };
  }

  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Waits for every task, whatever happens to the others. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

/**
 * Unpacks a tar stream from packDirectory into `root`, restoring owners, modes, mtimes, links and holes. The archive
 * is treated as hostile: nothing it says can write outside `root`. Returns the SHA-256 of the bytes consumed, which
 * must equal the sender's for the transfer to count as intact.
 */
export async function unpackToDirectory(
  root: string,
  source: AsyncIterable<Uint8Array> | Readable,
  options: UnpackOptions = {},
): Promise<{ sha256: string; stats: ArchiveStats }> {
  const { signal } = options;
  if (signal?.aborted) throw canceled();
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw fsError(error, `cannot create the volume directory ${root}`);
  }

  const extract = tar.extract({ highWaterMark: EXTRACT_HIGH_WATER });
  const hash = createHash('sha256');
  const stats = emptyStats();
  const directories = new Map<string, DirectoryMetadata>();
  const knownDirectories = new Set<string>(['']);
  const extracted = new Set<string>();
  const background = new BackgroundTasks(BACKGROUND_FILES);
  const umask = await currentUmask();
  /**
   * Whether a file created with `mode` ends up with exactly that mode, so that no chmod is needed: the umask takes
   * nothing away, and there is no setuid/setgid bit, which chown would clear (and which must not be there before).
   */
  const createdWithMode = (mode: number): boolean =>
    umask !== undefined && (mode & 0o7000) === 0 && (mode & umask) === 0;
  let tail: Buffer = Buffer.alloc(0);
  let sourceFailure: AppError | undefined;

  const onAbort = (): void => {
    extract.destroy(canceled());
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const feeding = (async (): Promise<void> => {
    try {
      for await (const raw of source as AsyncIterable<Uint8Array>) {
        if (extract.destroyed) return;
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        hash.update(chunk);
        tail =
          chunk.length >= END_OF_ARCHIVE.length
            ? chunk.subarray(chunk.length - END_OF_ARCHIVE.length)
            : Buffer.concat([tail, chunk]).subarray(-END_OF_ARCHIVE.length);
        if (!extract.write(chunk)) await writable(extract);
      }
      extract.end(undefined);
    } catch (error) {
      sourceFailure = new AppError('unavailable', `the volume stream failed: ${(error as Error).message}`, {
        cause: error,
      });
      extract.destroy(sourceFailure);
    }
  })();

  /** True when `error` only says we may not set owners (not root): the data stays, the owners are reported. */
  function ownershipDenied(error: unknown): boolean {
    if (errnoOf(error) !== 'EPERM') return false;
    stats.ownershipNotRestored += 1;
    return true;
  }

  async function setOwner(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (!ownershipDenied(error)) throw error;
    }
  }

  /** Makes sure every parent of `relative` is a real directory inside root (never a symlink). */
  async function ensureParents(relative: string, raw: string): Promise<void> {
    const parts = relative.split('/');
    let current = '';
    for (const part of parts.slice(0, -1)) {
      current = current === '' ? part : `${current}/${part}`;
      if (knownDirectories.has(current)) continue;
      const absolute = join(root, current);
      let info: Stats | undefined;
      try {
        info = await lstat(absolute);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
      }
      if (info === undefined) await mkdir(absolute, { mode: 0o755 });
      else if (info.isSymbolicLink()) {
        throw new AppError(
          'invalid_argument',
          `the volume archive entry '${raw}' goes through the symlink '${current}'`,
        );
      } else if (!info.isDirectory()) {
        throw new AppError(
          'invalid_argument',
          `the volume archive entry '${raw}' goes through the non-directory '${current}'`,
        );
      }
      knownDirectories.add(current);
    }
  }

  /** Clears the way for a non-directory entry; a directory in the way is a conflict we do not resolve. */
  async function clearPath(absolute: string, relative: string, raw: string): Promise<void> {
    if (knownDirectories.has(relative)) {
      throw new AppError('invalid_argument', `the volume archive entry '${raw}' would replace a directory`);
    }
    try {
      const info = await lstat(absolute);
      if (info.isDirectory()) {
        await rmdir(absolute).catch(() => {
          throw new AppError(
            'invalid_argument',
            `the volume archive entry '${raw}' would replace a directory`,
          );
        });
      } else await unlink(absolute);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
  }

  /**
   * Creates a non-directory entry with `make`, which must fail with EEXIST rather than follow or replace anything
   * (O_EXCL, symlink(2), link(2)); only then is the way cleared and `make` tried once more. In a fresh volume that
   * saves an lstat per entry.
   */
  async function create<T>(
    absolute: string,
    relative: string,
    raw: string,
    make: () => Promise<T>,
  ): Promise<T> {
    if (knownDirectories.has(relative)) {
      throw new AppError('invalid_argument', `the volume archive entry '${raw}' would replace a directory`);
    }
    try {
      return await make();
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    await clearPath(absolute, relative, raw);
    return make();
  }

  /**
   * Owner, then mode (chown clears setuid/setgid), then times, then close, whatever happens. All four only change
   * the inode in memory, so they are made synchronously (see volume-archive-fd.ts).
   */
  function finishFile(
    fd: number,
    meta: { uid: number; gid: number; mode: number; mtime: Date },
    raw: string,
  ): void {
    let failure: { error: unknown } | undefined;
    try {
      try {
        fchownSync(fd, meta.uid, meta.gid);
      } catch (error) {
        if (!ownershipDenied(error)) throw error;
      }
      if (!createdWithMode(meta.mode)) fchmodSync(fd, meta.mode);
      futimesSync(fd, meta.mtime, meta.mtime);
    } catch (error) {
      failure = { error };
    }
    try {
      closeSync(fd);
    } catch (error) {
      failure ??= { error };
    }
    if (failure) throw fsError(failure.error, `cannot extract '${raw}'`);
  }

  /** Closes a file that failed on its way in; its own error is the one to report. */
  function closeQuietly(fd: number): void {
    try {
      closeSync(fd);
    } catch {
      // the error that brought us here says more
    }
  }

  /**
   * Small files still being created in the background, by path. An entry waits for those at its own path and at
   * its parents' (and a hard link for its target), so that the archive's order still decides what happens there.
   */
  const creating = new Map<string, Promise<void>>();

  async function settled(relative: string): Promise<void> {
    if (creating.size === 0) return;
    let path = relative;
    for (;;) {
      const pending = creating.get(path);
      if (pending) await pending;
      const slash = path.lastIndexOf('/');
      if (slash < 0) return;
      path = path.slice(0, slash);
    }
  }

  /** Writes a new file's data; the descriptor stays open for finishFile(). */
  async function writeData(fd: number, chunks: Iterable<Buffer>, size: number): Promise<void> {
    const writer = new SparseFileWriter(fd, size);
    for (const chunk of chunks) await writer.write(chunk);
    await writer.finish();
  }

  /** Receives a regular file: a small one whole, then in the background; a large one as it streams in. */
  async function receiveFile(
    entry: Entry,
    absolute: string,
    relative: string,
    raw: string,
    meta: { size: number; uid: number; gid: number; mode: number; mtime: Date },
  ): Promise<void> {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const initialMode = createdWithMode(meta.mode) ? meta.mode : 0o600;
    const createFile = (): Promise<number> =>
      create(absolute, relative, raw, () => openFile(absolute, flags, initialMode));
    if (meta.size <= SMALL_FILE) {
      if (knownDirectories.has(relative)) {
        throw new AppError('invalid_argument', `the volume archive entry '${raw}' would replace a directory`);
      }
      // Chunks of a small file are slices of the received buffers: keeping them costs no copy.
      const chunks: Buffer[] = [];
      let received = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        received += chunk.length;
      }
      if (received !== meta.size) throw corrupt('a file ends early');
      const { ended } = await background.start(async () => {
        let fd: number;
        try {
          fd = await createFile();
        } catch (error) {
          throw fsError(error, `cannot extract '${raw}'`);
        }
        try {
          await writeData(fd, chunks, meta.size);
        } catch (error) {
          closeQuietly(fd);
          throw fsError(error, `cannot extract '${raw}'`);
        }
        finishFile(fd, meta, raw);
      });
      creating.set(relative, ended);
      void ended.then(() => {
        if (creating.get(relative) === ended) creating.delete(relative);
      });
      return;
    }
    const fd = await createFile();
    try {
      const writer = new SparseFileWriter(fd, meta.size);
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        if (signal?.aborted) throw canceled();
        await writer.write(chunk);
      }
      if (writer.received !== meta.size) throw corrupt('a file ends early');
      await writer.finish();
    } catch (error) {
      closeQuietly(fd);
      throw error;
    }
    finishFile(fd, meta, raw);
  }

  async function handleEntry(entry: Entry): Promise<void> {
    // Typed loosely on purpose: a hostile archive may leave out fields the typings call required.
    const header: EntryHeader = entry.header as EntryHeader;
    const pax = header.pax;
    const raw = header.name;
    const relative = safeRelative(raw, 'entry');
    const absolute = relative === '' ? root : join(root, relative);
    const mode = (header.mode ?? 0o644) & 0o7777;
    const uid = Number(pax?.uid ?? header.uid ?? 0);
    const gid = Number(pax?.gid ?? header.gid ?? 0);
    const mtime = mtimeOf(header);
    await settled(relative);
    if (relative !== '') await ensureParents(relative, raw);

    switch (header.type) {
      case 'directory': {
        if (relative !== '' && !knownDirectories.has(relative)) {
          const info = await lstat(absolute).catch(() => undefined);
          if (info && !info.isDirectory()) await unlink(absolute);
          if (!info?.isDirectory()) await mkdir(absolute, { mode: 0o700 });
          knownDirectories.add(relative);
        }
        // Owner, mode and mtime are applied at the end, deepest first: writing inside would bump the mtime.
        directories.set(relative, {
          absolute,
          depth: relative === '' ? 0 : relative.split('/').length,
          mode,
          uid,
          gid,
          mtime,
        });
        stats.directories += 1;
        break;
      }
      case 'file':
      case 'contiguous-file': {
        const size = header.size ?? 0;
        await receiveFile(entry, absolute, relative, raw, { size, uid, gid, mode, mtime });
        extracted.add(relative);
        stats.files += 1;
        stats.bytes += size;
        break;
      }
      case 'symlink': {
        await create(absolute, relative, raw, () => symlink(header.linkname ?? '', absolute));
        await setOwner(() => lchown(absolute, uid, gid));
        await lutimes(absolute, mtime, mtime);
        extracted.add(relative);
        stats.symlinks += 1;
        break;
      }
      case 'link': {
        const target = safeRelative(header.linkname ?? '', `the hard link target of '${raw}'`);
        await settled(target);
        if (!extracted.has(target)) {
          throw new AppError(
            'invalid_argument',
            `the volume archive entry '${raw}' is a hard link to '${header.linkname ?? ''}', which is not an earlier entry`,
          );
        }
        await create(absolute, relative, raw, () => link(join(root, target), absolute));
        extracted.add(relative);
        stats.hardlinks += 1;
        break;
      }
      case 'fifo':
      case 'character-device':
      case 'block-device': {
        await clearPath(absolute, relative, raw);
        const kind =
          header.type === 'fifo'
            ? ['p']
            : [
                header.type === 'character-device' ? 'c' : 'b',
                String(header.devmajor ?? 0),
                String(header.devminor ?? 0),
              ];
        try {
          // Node has no mknod(2); coreutils' mknod is on every host that runs Docker.
          await promisify(execFile)('mknod', ['-m', mode.toString(8), absolute, ...kind]);
        } catch {
          stats.skipped += 1; // devices need CAP_MKNOD; the rest of the volume is still worth having
          break;
        }
        await setOwner(() => lchown(absolute, uid, gid));
        await chmod(absolute, mode);
        await lutimes(absolute, mtime, mtime);
        extracted.add(relative);
        break;
      }
      case undefined:
      default:
        stats.skipped += 1;
    }
    // Whatever we did not read (a body on an entry type that has none) is drained so the archive can go on.
    entry.resume();
  }

  let failure: unknown;
  try {
    for await (const entry of extract) {
      if (signal?.aborted) throw canceled();
      background.check();
      try {
        await handleEntry(entry);
      } catch (error) {
        // No errno and not ours: the entry's data stream broke, which tar-stream reports for a damaged archive.
        if (!(error instanceof AppError) && errnoOf(error) === undefined) throw error;
        throw fsError(error, `cannot extract '${entry.header.name}'`);
      }
    }
    await background.settle();
    background.check();
  } catch (error) {
    failure = error;
    extract.destroy();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await background.settle();
  await feeding;
  if (signal?.aborted) throw canceled();
  if (sourceFailure) throw sourceFailure;
  if (failure !== undefined) {
    if (failure instanceof AppError) throw failure;
    throw new AppError('invalid_argument', `the volume archive is corrupt: ${(failure as Error).message}`, {
      cause: failure,
    });
  }
  if (tail.length < END_OF_ARCHIVE.length || !tail.equals(END_OF_ARCHIVE)) {
    throw corrupt('it ends without the end-of-archive marker');
  }

  const ordered = [...directories.values()].sort((a, b) => b.depth - a.depth);
  for (const directory of ordered) {
    try {
      await setOwner(() => lchown(directory.absolute, directory.uid, directory.gid));
      await chmod(directory.absolute, directory.mode);
      await lutimes(directory.absolute, directory.mtime, directory.mtime);
    } catch (error) {
      throw fsError(error, `cannot restore the directory ${directory.absolute}`);
    }
  }
  return { sha256: hash.digest('hex'), stats };
}

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

/**
 * Digests a directory's content and metadata (path, type, mode, owner, whole-second mtime, size, link targets,
 * file contents, hard-link sharing), so that equal digests of source and target prove the volume moved intact.
 * Sockets are left out, as packDirectory leaves them out.
 */
export async function directoryDigest(root: string): Promise<string> {
  const hash = createHash('sha256');
  const firstPathOfInode = new Map<string, string>();
  const buffer = Buffer.allocUnsafe(DIGEST_READ);

  async function visit(absolute: string, relative: string): Promise<void> {
    const info = await lstat(absolute);
    const common = [
      relative === '' ? '.' : relative,
      info.mode & 0o7777,
      info.uid,
      info.gid,
      Math.floor(info.mtimeMs / 1000),
    ];
    let record: unknown[];
    if (info.isDirectory()) record = ['directory', ...common];
    else if (info.isSymbolicLink()) record = ['symlink', ...common, await readlink(absolute)];
    else if (info.isFile()) {
      const inode = `${String(info.dev)}:${String(info.ino)}`;
      const first = info.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
      if (first !== undefined) record = ['file', ...common, info.size, `same inode as ${first}`];
      else {
        if (info.nlink > 1) firstPathOfInode.set(inode, relative);
        record = ['file', ...common, info.size, await fileSha256(absolute, buffer)];
      }
    } else if (info.isFIFO()) record = ['fifo', ...common];
    else if (info.isCharacterDevice() || info.isBlockDevice()) {
      const { devmajor, devminor } = deviceNumbers(info.rdev);
      record = [
        info.isCharacterDevice() ? 'character-device' : 'block-device',
        ...common,
        devmajor,
        devminor,
      ];
    } else return;
    hash.update(`${JSON.stringify(record)}\n`);
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
