// Turns a volume's directory into a verified tar byte stream and back, keeping owners, modes, mtimes, links and
// holes, streaming with backpressure so that memory stays flat whatever the volume's size.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
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
  readlink,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';

import tar from 'tar-stream';
import type { Extract, Header, Pack } from 'tar-stream';

import { AppError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';

/** What an archive held, so that both ends can report and compare what moved. */
export interface ArchiveStats {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** File content bytes (not tar bytes). */
  bytes: number;
  /** Entries left out: sockets (meaningless on another host), vanished files, devices we may not create. */
  skipped: number;
  /** Entries whose owner could not be set because we do not run as root (EPERM); their data is there. */
  ownershipNotRestored: number;
}

/** A volume being packed: the bytes to send and, once they are all read, what they were. */
export interface PackResult {
  stream: Readable;
  /** Resolves when the stream has ended: tar-byte SHA-256 (hex) and stats. Rejects if packing failed. */
  done: Promise<{ sha256: string; stats: ArchiveStats }>;
}

/** Runs of zeros this long, at this alignment, become holes on unpack (the usual filesystem block size). */
const HOLE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);
const READ_CHUNK = 256 * 1024;
/** Beyond this, ustar's 7 octal digits overflow and the value goes into a PAX record. */
const USTAR_MAX_ID = 0o7777777;
const END_OF_ARCHIVE = 1024;

/** tar-stream sets `pax` on extracted headers and reads it on packed ones (extra records such as uid). */
type EntryHeader = Omit<Partial<Header>, 'pax'> & { name: string; pax?: Record<string, string> | null };
type Sink = ReturnType<Pack['entry']>;
type Entry = Extract extends AsyncIterable<infer T> ? T : never;

function emptyStats(): ArchiveStats {
  return {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    bytes: 0,
    skipped: 0,
    ownershipNotRestored: 0,
  };
}

function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Translates a filesystem failure into our error codes, naming what we were doing. */
function fsError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  const errno = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  let code: ErrorCode = 'internal';
  if (errno === 'ENOENT' || errno === 'ENOTDIR') code = 'not_found';
  else if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') code = 'permission_denied';
  else if (errno === 'ENOSPC' || errno === 'EDQUOT') code = 'failed_precondition';
  return new AppError(code, `${what}: ${message}`, { cause: error });
}

function canceled(): AppError {
  return new AppError('canceled', 'the volume transfer was canceled');
}

/** Linux encoding of st_rdev (see sysmacros.h); numbers stay below 2^53 for any real device. */
function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev % 2 ** 32;
  return {
    devmajor: (((low >>> 8) & 0xfff) | (high & 0xfffff000)) >>> 0,
    devminor: ((low & 0xff) | ((low >>> 12) & 0xfff00) | ((high & 0xfff) << 20)) >>> 0,
  };
}

/** Waits until a streamx writable wants more data, or is gone. */
function writable(stream: Sink | Extract): Promise<void> {
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

async function sortedNames(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.sort();
}

/**
 * Packs a volume directory as a tar stream. Walking and reading follow the consumer's pace, so a multi-GB volume
 * never sits in memory; entries are sorted so that the same tree always yields the same bytes and digest.
 */
export function packDirectory(root: string, options: { signal?: AbortSignal } = {}): PackResult {
  const { signal } = options;
  const pack = tar.pack();
  const hash = createHash('sha256');
  const stats = emptyStats();
  const firstPathOfInode = new Map<string, string>();

  let resolveDone!: (value: { sha256: string; stats: ArchiveStats }) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<{ sha256: string; stats: ArchiveStats }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only reads the stream must not get an unhandled rejection from `done`.
  done.catch(() => undefined);

  let failure: AppError | undefined;
  function fail(error: AppError): void {
    failure ??= error;
    pack.destroy(failure);
  }

  async function addEntry(header: EntryHeader, fill?: (sink: Sink) => Promise<void>): Promise<void> {
    if (failure) throw failure;
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (error) => {
        if (error) reject(failure ?? error);
        else resolve();
      });
      if (fill) {
        fill(sink).then(
          () => sink.end(undefined),
          (error: unknown) => {
            sink.destroy(error instanceof Error ? error : new Error(String(error)));
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
    });
  }

  async function sendFile(absolute: string, header: EntryHeader, handle: FileHandle): Promise<void> {
    const size = header.size ?? 0;
    await addEntry(header, async (sink) => {
      let sent = 0;
      while (sent < size) {
        if (failure) throw failure;
        const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - sent));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, sent).catch((error: unknown) => {
          throw fsError(error, `cannot read ${absolute}`);
        });
        // A file that shrank while being read (a live volume) is padded with zeros to its announced size, as GNU
        // tar does: the header is already sent and the next pass of a warm migration picks up the change.
        const chunk =
          bytesRead === 0 ? Buffer.alloc(Math.min(READ_CHUNK, size - sent)) : buffer.subarray(0, bytesRead);
        sent += chunk.length;
        if (!sink.write(chunk)) await writable(sink);
      }
    });
  }

  async function visit(absolute: string, relative: string, known?: Stats): Promise<void> {
    if (signal?.aborted) throw canceled();
    let info: Stats;
    try {
      info = known ?? (await lstat(absolute));
    } catch (error) {
      if (relative !== '' && errnoOf(error) === 'ENOENT') {
        stats.skipped += 1; // deleted since readdir: a live volume, not a failure
        return;
      }
      throw fsError(error, `cannot read the volume directory ${absolute}`);
    }
    const name = relative === '' ? './' : `./${relative}`;
    const header: EntryHeader = {
      name,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtime: info.mtime,
    };
    if (info.uid > USTAR_MAX_ID || info.gid > USTAR_MAX_ID)
      header.pax = { uid: String(info.uid), gid: String(info.gid) };

    if (info.isDirectory()) {
      let names: string[];
      try {
        names = await sortedNames(absolute);
      } catch (error) {
        throw fsError(error, `cannot list ${absolute}`);
      }
      header.type = 'directory';
      if (relative !== '') header.name = `${name}/`;
      await addEntry(header);
      stats.directories += 1;
      for (const child of names) {
        await visit(join(absolute, child), relative === '' ? child : `${relative}/${child}`);
      }
      return;
    }
    if (info.isSymbolicLink()) {
      let target: string;
      try {
        target = await readlink(absolute);
      } catch (error) {
        throw fsError(error, `cannot read the symlink ${absolute}`);
      }
      await addEntry({ ...header, type: 'symlink', linkname: target });
      stats.symlinks += 1;
      return;
    }
    if (info.isFile()) {
      const inode = `${info.dev}:${info.ino}`;
      const first = info.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
      if (first !== undefined) {
        await addEntry({ ...header, type: 'link', linkname: first });
        stats.hardlinks += 1;
        return;
      }
      let handle: FileHandle;
      try {
        handle = await open(absolute, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') {
          stats.skipped += 1;
          return;
        }
        throw fsError(error, `cannot open ${absolute}`);
      }
      try {
        const current = await handle.stat();
        await sendFile(absolute, { ...header, type: 'file', size: current.size }, handle);
        if (info.nlink > 1) firstPathOfInode.set(inode, name);
        stats.files += 1;
        stats.bytes += current.size;
      } finally {
        await handle.close();
      }
      return;
    }
    if (info.isFIFO()) {
      await addEntry({ ...header, type: 'fifo' });
      return;
    }
    if (info.isCharacterDevice() || info.isBlockDevice()) {
      const type = info.isCharacterDevice() ? 'character-device' : 'block-device';
      await addEntry({ ...header, type, ...deviceNumbers(info.rdev) });
      return;
    }
    stats.skipped += 1; // sockets belong to a running process on this host
  }

  const onAbort = (): void => {
    fail(canceled());
    stream.destroy(canceled());
  };

  const walking = visit(root, '').then(
    () => {
      pack.finalize();
    },
    (error: unknown) => {
      fail(AppError.from(error));
    },
  );

  async function* emit(): AsyncGenerator<Buffer> {
    let finished = false;
    try {
      for await (const item of pack) {
        const chunk = item as Buffer;
        hash.update(chunk);
        yield chunk;
      }
      finished = true;
    } catch (error) {
      throw failure ?? AppError.from(error, 'internal');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!finished) {
        const reason = failure ?? new AppError('canceled', 'the volume stream was closed before the end');
        fail(reason);
        rejectDone(reason);
      }
    }
    await walking;
    if (failure) throw failure;
    resolveDone({ sha256: hash.digest('hex'), stats });
  }

  const stream = Readable.from(emit(), { objectMode: false });
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return { stream, done };
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

interface DirectoryMetadata {
  absolute: string;
  depth: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date;
}

async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/** Writes an entry's data, leaving aligned runs of zeros as holes, so a sparse source stays sparse. */
async function writeSparse(
  handle: FileHandle,
  source: AsyncIterable<unknown>,
  size: number,
  signal?: AbortSignal,
): Promise<void> {
  let position = 0; // file offset of pending[0]; always a multiple of HOLE_BLOCK
  let pending: Buffer = Buffer.alloc(0);
  let received = 0;

  async function flush(data: Buffer, final: boolean): Promise<number> {
    let consumed = 0;
    let runStart = -1;
    const whole = final ? data.length : data.length - (data.length % HOLE_BLOCK);
    for (let offset = 0; offset < whole; offset += HOLE_BLOCK) {
      const block = data.subarray(offset, Math.min(offset + HOLE_BLOCK, whole));
      const zero = block.length === HOLE_BLOCK ? block.equals(ZERO_BLOCK) : block.every((byte) => byte === 0);
      if (zero && runStart >= 0) {
        await writeAll(handle, data.subarray(runStart, offset), position + runStart);
        runStart = -1;
      } else if (!zero && runStart < 0) {
        runStart = offset;
      }
    }
    if (runStart >= 0) await writeAll(handle, data.subarray(runStart, whole), position + runStart);
    consumed = whole;
    position += consumed;
    return consumed;
  }

  for await (const item of source) {
    if (signal?.aborted) throw canceled();
    const chunk = item as Buffer;
    received += chunk.length;
    const data = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const used = await flush(data, false);
    pending = used === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(used));
  }
  if (pending.length > 0) await flush(pending, true);
  if (received !== size)
    throw new AppError('invalid_argument', 'the volume archive is corrupt: a file ends early');
  // Trailing holes are not written at all; ftruncate gives the file its full size.
  await handle.truncate(size);
}

/**
 * Unpacks a tar stream from packDirectory into `root`, restoring owners, modes, mtimes, links and holes. The archive
 * is treated as hostile: nothing it says can write outside `root`. Returns the SHA-256 of the bytes consumed, which
 * must equal the sender's for the transfer to count as intact.
 */
export async function unpackToDirectory(
  root: string,
  source: AsyncIterable<Uint8Array> | Readable,
  options: { signal?: AbortSignal } = {},
): Promise<{ sha256: string; stats: ArchiveStats }> {
  const { signal } = options;
  if (signal?.aborted) throw canceled();
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw fsError(error, `cannot create the volume directory ${root}`);
  }

  const extract = tar.extract();
  const hash = createHash('sha256');
  const stats = emptyStats();
  const directories = new Map<string, DirectoryMetadata>();
  const knownDirectories = new Set<string>(['']);
  const extracted = new Set<string>();
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
          chunk.length >= END_OF_ARCHIVE
            ? chunk.subarray(chunk.length - END_OF_ARCHIVE)
            : Buffer.concat([tail, chunk]).subarray(-END_OF_ARCHIVE);
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

  async function setOwner(action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (error) {
      if (errnoOf(error) !== 'EPERM') throw error;
      stats.ownershipNotRestored += 1; // not root: keep the data, report the owners we could not set
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
    const mtime = header.mtime ?? new Date(0);
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
        await clearPath(absolute, relative, raw);
        const flags =
          fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
        const handle = await open(absolute, flags, 0o600);
        try {
          await writeSparse(handle, entry, header.size ?? 0, signal);
          await setOwner(() => handle.chown(uid, gid));
          await handle.chmod(mode); // after chown, which clears setuid/setgid
          await handle.utimes(mtime, mtime);
        } finally {
          await handle.close();
        }
        extracted.add(relative);
        stats.files += 1;
        stats.bytes += header.size ?? 0;
        break;
      }
      case 'symlink': {
        await clearPath(absolute, relative, raw);
        await symlink(header.linkname ?? '', absolute);
        await setOwner(() => lchown(absolute, uid, gid));
        await lutimes(absolute, mtime, mtime);
        extracted.add(relative);
        stats.symlinks += 1;
        break;
      }
      case 'link': {
        const target = safeRelative(header.linkname ?? '', `the hard link target of '${raw}'`);
        if (!extracted.has(target)) {
          throw new AppError(
            'invalid_argument',
            `the volume archive entry '${raw}' is a hard link to '${header.linkname ?? ''}', which is not an earlier entry`,
          );
        }
        await clearPath(absolute, relative, raw);
        await link(join(root, target), absolute);
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
      try {
        await handleEntry(entry);
      } catch (error) {
        // No errno and not ours: the entry's data stream broke, which tar-stream reports for a damaged archive.
        if (!(error instanceof AppError) && errnoOf(error) === undefined) throw error;
        throw fsError(error, `cannot extract '${entry.header.name}'`);
      }
    }
  } catch (error) {
    failure = error;
    extract.destroy();
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  await feeding;
  if (signal?.aborted) throw canceled();
  if (sourceFailure) throw sourceFailure;
  if (failure !== undefined) {
    if (failure instanceof AppError) throw failure;
    throw new AppError('invalid_argument', `the volume archive is corrupt: ${(failure as Error).message}`, {
      cause: failure,
    });
  }
  if (tail.length < END_OF_ARCHIVE || !tail.equals(Buffer.alloc(END_OF_ARCHIVE))) {
    throw new AppError(
      'invalid_argument',
      'the volume archive is corrupt: it ends without the end-of-archive marker',
    );
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

async function fileSha256(absolute: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(absolute, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
  try {
    if ((await handle.stat()).size <= READ_CHUNK) return hash.update(await handle.readFile()).digest('hex');
    for await (const chunk of handle.createReadStream({ highWaterMark: READ_CHUNK, autoClose: false })) {
      hash.update(chunk as Buffer);
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
      const inode = `${info.dev}:${info.ino}`;
      const first = info.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
      if (first !== undefined) record = ['file', ...common, info.size, `same inode as ${first}`];
      else {
        if (info.nlink > 1) firstPathOfInode.set(inode, relative);
        record = ['file', ...common, info.size, await fileSha256(absolute)];
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
      for (const child of await sortedNames(absolute)) {
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
