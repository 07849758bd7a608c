// Turns a volume's directory into a tar byte stream and back, keeping owners, modes, nanosecond times, extended
// attributes, links and holes, streaming with backpressure so that memory stays flat whatever the volume's size.
import { execFile } from 'node:child_process';
import { closeSync, constants as fsConstants, fchmodSync, fchownSync, fsyncSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { chmod, link, lchown, lstat, mkdir, readFile, rm, rmdir, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';

import { AppError } from '../core/errors.js';
import { openFile } from './volume-archive-fd.js';
import { canceled, emptyStats, errnoOf, fsError, setFileTimes, setPathTimes } from './volume-archive-fs.js';
import type { ArchiveStats } from './volume-archive-fs.js';
import { TarReader } from './volume-archive-reader.js';
import { applyDeletions, applyPatch, fsyncFolders } from './volume-sync-apply.js';
import type { SyncApplyStats } from './volume-sync-apply.js';
import type { ArchiveEntry } from './volume-archive-reader.js';
import { SparseFileWriter } from './volume-archive-sparse.js';
import { BlockDigester, SyncHasher, type Manifest } from './volume-manifest.js';
import type { Xattr } from './volume-archive-tar.js';
import { XattrWriter } from './volume-archive-xattr.js';

export type { ArchiveStats } from './volume-archive-fs.js';
export { directoryDigest } from './volume-archive-digest.js';
export type { DigestOptions } from './volume-archive-digest.js';
export { packDirectory } from './volume-archive-pack.js';
export type { PackOptions, PackResult } from './volume-archive-pack.js';

/**
 * Files up to this size are received whole, then created, written and finished in the background, several at a
 * time: creating a file is the slowest step of a volume of small files, and it waits on the disk, not on us.
 */
const SMALL_FILE = 256 * 1024;
/** Files in the background at once; what they keep of the stream is at most that many of its chunks. */
const BACKGROUND_FILES = 16;

export interface UnpackOptions {
  signal?: AbortSignal;
  /**
   * Bring an existing copy up to date with a stream of packChanges(): patches are applied to the files there, a
   * whole entry replaces whatever is at its path (a folder recursively), the deletions entry removes paths. Without
   * it, such entries are refused.
   */
  update?: boolean;
  /** fsync every file written and every folder of the stream before returning (a sync's final round). */
  fsync?: boolean;
  /**
   * A description of the copy follows (an incremental sync's final round): keep the digests of each file written
   * whole (as it is written) or patched (as its check reads it) in SyncApplyStats.verified, so that none is read
   * again.
   */
  describe?: boolean;
  /**
   * The receiver's description of the copy it holds (an incremental sync): a patched file whose stat still matches
   * its entry is checked by reading only the blocks the patch wrote.
   */
  described?: Manifest;
}

export type { SyncApplyStats } from './volume-sync-apply.js';

/** What is restored on an entry after its content: owner, mode, extended attributes, times (ns). */
interface EntryMetadata {
  uid: number;
  gid: number;
  mode: number;
  mtime: bigint;
  atime: bigint;
  xattrs: readonly Xattr[];
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

function corrupt(message: string): AppError {
  return new AppError('invalid_argument', `the volume archive is corrupt: ${message}`);
}

interface DirectoryMetadata extends EntryMetadata {
  absolute: string;
  depth: number;
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
 * Unpacks a tar stream from packDirectory (or GNU tar, or Docker's archive API) into `root`, restoring owners, modes,
 * nanosecond times, extended attributes, links and holes. The archive is treated as hostile: nothing it says can
 * write outside `root`. The bytes themselves are checked by the transport that carries them.
 */
export async function unpackToDirectory(
  root: string,
  source: AsyncIterable<Uint8Array> | Readable,
  options: UnpackOptions = {},
): Promise<{ stats: ArchiveStats; sync: SyncApplyStats }> {
  const { signal, update = false } = options;
  const sync: SyncApplyStats = {
    patched: 0,
    deleted: 0,
    mismatched: [],
    ...(options.describe === true ? { verified: new Map() } : {}),
  };
  // Sync entries (patches) are digested; they come only in an update, the one case that needs a hasher.
  const hasher = update ? await SyncHasher.create() : undefined;
  if (signal?.aborted) throw canceled();
  try {
    await mkdir(root, { recursive: true });
  } catch (error) {
    throw fsError(error, `cannot create the volume directory ${root}`);
  }

  const reader = new TarReader(source as AsyncIterable<Uint8Array>);
  const stats = emptyStats();
  const xattrWriter = new XattrWriter(stats);
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

  const onAbort = (): void => {
    reader.stop(canceled());
  };
  signal?.addEventListener('abort', onAbort, { once: true });

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
      if (info.isDirectory() && update) {
        // rm(2)'s recursion never follows a symlink: what is removed is inside this folder.
        await rm(absolute, { recursive: true, force: true });
      } else if (info.isDirectory()) {
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

  let lastCreation: Promise<unknown> = Promise.resolve();
  function oneAtATime<T>(make: () => Promise<T>): Promise<T> {
    const next = lastCreation.then(make, make);
    lastCreation = next.catch(() => undefined);
    return next;
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
      return await oneAtATime(make);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
    await clearPath(absolute, relative, raw);
    return oneAtATime(make);
  }

  /**
   * Owner, then mode (chown clears setuid/setgid), then extended attributes (chown clears security.capability),
   * then times, then close, whatever happens. All of them only change the inode in memory, so they are made
   * synchronously (see volume-archive-fd.ts).
   */
  function finishFile(
    fd: number,
    absolute: string,
    meta: EntryMetadata,
    raw: string,
    existing = false,
  ): void {
    let failure: { error: unknown } | undefined;
    try {
      try {
        fchownSync(fd, meta.uid, meta.gid);
      } catch (error) {
        if (!ownershipDenied(error)) throw error;
      }
      if (existing || !createdWithMode(meta.mode)) fchmodSync(fd, meta.mode);
      if (meta.xattrs.length > 0) xattrWriter.apply(absolute, meta.xattrs, `'${raw}'`);
      setFileTimes(fd, meta.atime, meta.mtime);
      if (options.fsync === true) fsyncSync(fd);
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
    try {
      for (const chunk of chunks) await writer.write(chunk);
      await writer.finish();
    } catch (error) {
      await writer.settle();
      throw error;
    }
  }

  /**
   * Writes a GNU sparse file's data regions, which the archive sends one after the other, each at its offset; the
   * writer leaves what lies between as holes, and finish() gives the file its whole size.
   */
  async function writeRegions(
    writer: SparseFileWriter,
    entry: ArchiveEntry,
    digester?: BlockDigester,
  ): Promise<void> {
    const regions = entry.sparse?.regions ?? [{ offset: 0, length: entry.size }];
    let index = 0;
    let left = regions[0]?.length ?? 0;
    let at = regions[0]?.offset ?? 0;
    await writer.seek(at);
    for await (const received of reader.body()) {
      if (signal?.aborted) throw canceled();
      let chunk = received;
      while (chunk.length > 0) {
        while (left === 0 && index + 1 < regions.length) {
          index += 1;
          left = regions[index]?.length ?? 0;
          at = regions[index]?.offset ?? 0;
          await writer.seek(at);
        }
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        digester?.feed(at, part);
        await writer.write(part);
        at += part.length;
        left -= part.length;
        chunk = chunk.subarray(part.length);
      }
    }
  }

  /** Receives a regular file: a small one whole, then in the background; a large or sparse one as it streams in. */
  async function receiveFile(
    entry: ArchiveEntry,
    absolute: string,
    relative: string,
    raw: string,
    meta: EntryMetadata,
  ): Promise<void> {
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const initialMode = createdWithMode(meta.mode) ? meta.mode : 0o600;
    const createFile = (): Promise<number> =>
      create(absolute, relative, raw, () => openFile(absolute, flags, initialMode));
    if (entry.size <= SMALL_FILE && entry.sparse === undefined) {
      if (knownDirectories.has(relative)) {
        throw new AppError('invalid_argument', `the volume archive entry '${raw}' would replace a directory`);
      }
      // Chunks of a small file are slices of the received buffers: keeping them costs no copy.
      const chunks: Buffer[] = [];
      let received = 0;
      for await (const chunk of reader.body()) {
        chunks.push(chunk);
        received += chunk.length;
      }
      if (received !== entry.size) throw corrupt('a file ends early');
      if (sync.verified && hasher) {
        const digester = new BlockDigester(hasher, entry.size);
        let at = 0;
        for (const chunk of chunks) {
          digester.feed(at, chunk);
          at += chunk.length;
        }
        sync.verified.set(relative, digester.finish());
      }
      const { ended } = await background.start(async () => {
        let fd: number;
        try {
          fd = await createFile();
        } catch (error) {
          throw fsError(error, `cannot extract '${raw}'`);
        }
        try {
          await writeData(fd, chunks, entry.size);
        } catch (error) {
          closeQuietly(fd);
          throw fsError(error, `cannot extract '${raw}'`);
        }
        finishFile(fd, absolute, meta, raw);
      });
      creating.set(relative, ended);
      void ended.then(() => {
        if (creating.get(relative) === ended) creating.delete(relative);
      });
      return;
    }
    const fd = await createFile();
    const size = entry.sparse?.realSize ?? entry.size;
    const writer = new SparseFileWriter(fd, size);
    const digester = sync.verified && hasher ? new BlockDigester(hasher, size) : undefined;
    try {
      await writeRegions(writer, entry, digester);
      if (writer.received !== entry.size) throw corrupt('a file ends early');
      await writer.finish();
      if (digester) sync.verified?.set(relative, digester.finish());
    } catch (error) {
      // No write may still be using the descriptor when it is closed (its number could be reused at once).
      await writer.settle();
      closeQuietly(fd);
      throw error;
    }
    finishFile(fd, absolute, meta, raw);
  }

  /** Extended attributes, then times, of an entry reached by path (a symlink's own, never its target's). */
  function finishByPath(absolute: string, meta: EntryMetadata, raw: string): void {
    if (meta.xattrs.length > 0) xattrWriter.apply(absolute, meta.xattrs, `'${raw}'`);
    setPathTimes(absolute, meta.atime, meta.mtime);
  }

  async function handleEntry(entry: ArchiveEntry): Promise<void> {
    const raw = entry.name;
    const relative = safeRelative(raw, 'entry');
    const absolute = relative === '' ? root : join(root, relative);
    const { mode, uid, gid, mtime, xattrs } = entry;
    const meta: EntryMetadata = { uid, gid, mode, mtime, atime: entry.atime ?? mtime, xattrs };
    await settled(relative);
    if (relative !== '') await ensureParents(relative, raw);
    if (entry.ours !== undefined) {
      await handleOurs(entry, absolute, relative, meta);
      return;
    }

    switch (entry.type) {
      case 'directory': {
        if (relative !== '' && !knownDirectories.has(relative)) {
          const info = await lstat(absolute).catch(() => undefined);
          if (info && !info.isDirectory()) await unlink(absolute);
          if (!info?.isDirectory()) await mkdir(absolute, { mode: 0o700 });
          knownDirectories.add(relative);
        }
        // Owner, mode, attributes and times are applied at the end, deepest first: writing inside would bump the
        // mtime, and a default ACL would be inherited by what is created inside (which has its own).
        directories.set(relative, {
          ...meta,
          absolute,
          depth: relative === '' ? 0 : relative.split('/').length,
        });
        stats.directories += 1;
        break;
      }
      case 'file': {
        await receiveFile(entry, absolute, relative, raw, meta);
        extracted.add(relative);
        stats.files += 1;
        stats.bytes += entry.sparse?.realSize ?? entry.size;
        break;
      }
      case 'symlink': {
        await create(absolute, relative, raw, () => symlink(entry.linkname, absolute));
        await setOwner(() => lchown(absolute, uid, gid));
        finishByPath(absolute, meta, raw);
        extracted.add(relative);
        stats.symlinks += 1;
        break;
      }
      case 'link': {
        const target = safeRelative(entry.linkname, `the hard link target of '${raw}'`);
        await settled(target);
        if (!extracted.has(target) && !(update && (await existingFile(target, raw)))) {
          throw new AppError(
            'invalid_argument',
            `the volume archive entry '${raw}' is a hard link to '${entry.linkname}', which is not an earlier entry`,
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
          entry.type === 'fifo'
            ? ['p']
            : [entry.type === 'character-device' ? 'c' : 'b', String(entry.devmajor), String(entry.devminor)];
        try {
          // Node has no mknod(2); coreutils' mknod is on every host that runs Docker.
          await promisify(execFile)('mknod', ['-m', mode.toString(8), absolute, ...kind]);
        } catch {
          stats.skipped += 1; // devices need CAP_MKNOD; the rest of the volume is still worth having
          break;
        }
        await setOwner(() => lchown(absolute, uid, gid));
        await chmod(absolute, mode);
        finishByPath(absolute, meta, raw);
        extracted.add(relative);
        break;
      }
      case 'other':
        stats.skipped += 1;
    }
  }

  /**
   * In update mode, a hard link may point at a file this stream did not send (its data did not change): it must be
   * a regular file inside root, reached through real folders only.
   */
  async function existingFile(target: string, raw: string): Promise<boolean> {
    await ensureParents(target, raw);
    const info = await lstat(join(root, target)).catch(() => undefined);
    return info?.isFile() === true;
  }

  /** An entry of packChanges(): a patch or the deletions; refused when not updating. */
  async function handleOurs(
    entry: ArchiveEntry,
    absolute: string,
    relative: string,
    meta: EntryMetadata,
  ): Promise<void> {
    if (hasher === undefined) {
      throw new AppError(
        'invalid_argument',
        `the volume archive entry '${entry.name}' is part of a sync round, which only updates an existing copy`,
      );
    }
    if (entry.ours?.get('deletions') === '1') {
      await background.settle();
      background.check();
      sync.deleted += await applyDeletions(root, reader.body(), (path) => safeRelative(path, 'a deletion'));
      return;
    }
    if (entry.ours?.get('patch') !== '1' || entry.type !== 'file')
      throw corrupt(`the entry '${entry.name}' carries sync records we do not know`);
    if (knownDirectories.has(relative))
      throw new AppError(
        'invalid_argument',
        `the volume archive entry '${entry.name}' would replace a directory`,
      );
    const patched = await applyPatch(absolute, entry, reader.body(), {
      raw: entry.name,
      hasher,
      described: options.described?.get(relative),
      finish: (fd) => {
        finishFile(fd, absolute, meta, entry.name, true);
      },
      pruneXattrs: () => {
        xattrWriter.prune(absolute, meta.xattrs, `'${entry.name}'`);
      },
      signal,
    });
    if (!patched.verified) sync.mismatched.push(relative);
    else {
      sync.verified?.set(relative, patched.known);
      extracted.add(relative);
      sync.patched += 1;
      stats.bytes += entry.size;
    }
  }

  let failure: unknown;
  try {
    for (let entry = await reader.next(); entry !== undefined; entry = await reader.next()) {
      if (signal?.aborted) throw canceled();
      background.check();
      try {
        await handleEntry(entry);
      } catch (error) {
        throw fsError(error, `cannot extract '${entry.name}'`);
      }
    }
    if (!(await reader.trailingZerosOnly())) throw corrupt('data follows the end-of-archive marker');
    await background.settle();
    background.check();
  } catch (error) {
    failure = error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.stop();
  }
  await background.settle();
  await reader.finished();
  if (signal?.aborted) throw canceled();
  if (failure !== undefined) throw AppError.from(failure);

  const ordered = [...directories.values()].sort((a, b) => b.depth - a.depth);
  for (const directory of ordered) {
    try {
      await setOwner(() => lchown(directory.absolute, directory.uid, directory.gid));
      await chmod(directory.absolute, directory.mode);
      if (update) xattrWriter.prune(directory.absolute, directory.xattrs, directory.absolute);
      finishByPath(directory.absolute, directory, directory.absolute);
    } catch (error) {
      throw fsError(error, `cannot restore the directory ${directory.absolute}`);
    }
  }
  if (options.fsync === true) await fsyncFolders(ordered.map((directory) => directory.absolute));
  return { stats, sync };
}
