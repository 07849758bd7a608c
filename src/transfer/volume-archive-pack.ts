// Packs a volume directory into a tar stream at the consumer's pace: entries go out in sorted order while the
// next ones are inspected and small files read ahead in parallel; large files go out in 1 MiB reads. The walk goes
// by open folder descriptors, so a container swapping a folder for a symlink cannot steer it outside the volume.
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, statSync } from 'node:fs';
import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { AppError } from '../core/errors.js';
import { openFile, readAt } from './volume-archive-fd.js';
import { canceled, deviceNumbers, emptyStats, errnoOf, fsError } from './volume-archive-fs.js';
import type { ArchiveStats } from './volume-archive-fs.js';
import { isZero } from './volume-archive-sparse.js';
import { END_OF_ARCHIVE, encodeHeader, paddingAfter } from './volume-archive-tar.js';
import type { TarHeader } from './volume-archive-tar.js';

/** A volume being packed: the bytes to send and, once they are all read, what they were. */
export interface PackResult {
  stream: Readable;
  /** Resolves when the stream has ended: tar-byte SHA-256 (hex) and stats. Rejects if packing failed. */
  done: Promise<{ sha256: string; stats: ArchiveStats }>;
}

export interface PackOptions {
  signal?: AbortSignal;
  /** Bytes per read of a large file, and so per chunk of the stream (default 1 MiB). */
  readSize?: number;
}

const MiB = 1024 * 1024;
const DEFAULT_READ_SIZE = MiB;
/** Files up to this size are read whole, ahead of their turn; larger ones are read in turn, chunk by chunk. */
const SMALL_FILE = 256 * 1024;
/** Entries inspected (and small files read) ahead of the one being sent: ≤ 8 MiB and 32 descriptors. */
const LOOKAHEAD = 32;
/** Reads of a large file in flight ahead of the chunk being sent. */
const READS_AHEAD = 2;

/**
 * Where every entry of the volume is reached: a path through the open descriptor of its folder. Node has no
 * openat(2), fstatat(2) or readlinkat(2), but Linux resolves /proc/self/fd/N to the very folder open as N — where it
 * is now, whatever its path became — so "/proc/self/fd/N/name" looks up one name in that folder, as openat(N, name)
 * would. With each folder opened O_NOFOLLOW|O_DIRECTORY by name in its already open parent, from the volume's root
 * down, no symlink is ever followed on the way to an entry, however the tree changes while it is packed: a folder
 * swapped for a symlink after its parent was listed is packed as that symlink, and a folder replaced half-way
 * through is read from the folder that was opened. Limits: what a folder holds is what it holds when read, so a
 * folder moved (not copied) into the volume from elsewhere on the same mount during the walk is packed; a container
 * cannot do that from outside the volume (rename(2) across its mounts fails with EXDEV), but a process on the host
 * can. Mount points inside the volume folder are crossed, as before. Needs /proc (Linux).
 */
const FOLDER_FDS = '/proc/self/fd';

/** An open folder of the volume: the descriptor its entries are reached through, and its path for messages. */
interface Folder {
  fd: number;
  absolute: string;
}

/** The path of `name` in the open `folder`, resolved through its descriptor and not through the folder's path. */
function entryIn(folder: Folder, name: string): string {
  return `${FOLDER_FDS}/${String(folder.fd)}/${name}`;
}

let folderFdsChecked = false;

/** Fails readably where the walk cannot be made safe (no /proc): packing by path could be steered outside. */
function requireFolderFds(): void {
  if (folderFdsChecked) return;
  try {
    if (!statSync(FOLDER_FDS).isDirectory()) throw new Error(`${FOLDER_FDS} is not a folder`);
  } catch (error) {
    throw new AppError(
      'failed_precondition',
      `cannot pack a volume safely without ${FOLDER_FDS}: ${(error as Error).message}`,
      { hint: 'run the worker on Linux with /proc mounted', cause: error },
    );
  }
  folderFdsChecked = true;
}

/** The entry is gone, or is a socket: counted as skipped, nothing sent. */
interface Skipped {
  kind: 'skipped';
}
/** Header only: a directory (with its sorted children and open descriptor, when it is walked), symlink, FIFO or device. */
interface Plain {
  kind: 'plain';
  header: TarHeader;
  children?: Dirent[];
  /** Open until the walk has inspected every child; the walk closes it. */
  folder?: Folder;
}
/** A regular file: its header and its content read ahead (`data`: header, data, padding), or an open descriptor. */
interface RegularFile {
  kind: 'file';
  header: TarHeader;
  info: Stats;
  absolute: string;
  data?: Buffer;
  fd?: number;
}
type Item = Skipped | Plain | RegularFile;

/**
 * The error for a file whose size changed between its header and the end of its data: the archive cannot hold it
 * truthfully, and padding or cutting it would deliver a file that never existed.
 */
export function changedWhileReading(fd: number, absolute: string, announced: number): AppError {
  let now: string;
  try {
    now = `${String(fstatSync(fd).size)} bytes now`;
  } catch {
    now = 'a different size now';
  }
  return new AppError(
    'failed_precondition',
    `${absolute} changed size while it was being packed (${String(announced)} bytes when packing began, ${now})`,
    { hint: 'stop the containers that write to this volume, then try again' },
  );
}

/**
 * Reads at `position` into buffer[offset…] until at least `least` bytes are in, asking for up to `most`; returns
 * how many came. A short read means the end of the file, so a file of exactly `least` bytes takes one read.
 */
async function readAtLeast(
  fd: number,
  buffer: Buffer,
  offset: number,
  least: number,
  most: number,
  position: number,
): Promise<number> {
  let got = 0;
  do {
    const bytesRead = await readAt(fd, buffer, offset + got, most - got, position + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  } while (got < least);
  return got;
}

/**
 * A small file as one buffer: header, `size` bytes of data, zero padding. One byte more than announced is asked
 * for, so that a file that grew since its stat is noticed as surely as one that shrank.
 */
export async function readSmallFile(
  fd: number,
  header: TarHeader,
  size: number,
  absolute: string,
): Promise<Buffer> {
  const room = size + paddingAfter(size) + 1; // zeros: the padding is there already
  const buffer = encodeHeader(header, room);
  const start = buffer.length - room;
  let got: number;
  try {
    got = await readAtLeast(fd, buffer, start, size, size + 1, 0);
  } catch (error) {
    throw fsError(error, `cannot read ${absolute}`);
  }
  if (got !== size) throw changedWhileReading(fd, absolute, size);
  return buffer.subarray(0, buffer.length - 1);
}

/** Entry names as tar writes them: "./" for the root, a trailing slash on directories. */
function entryName(relative: string, directory: boolean): string {
  if (relative === '') return './';
  return directory ? `./${relative}/` : `./${relative}`;
}

/** Hands out at most `limit` slots; waiters are let go (with false) once it is closed. */
class Slots {
  private used = 0;
  private waiting: ((granted: boolean) => void)[] = [];
  private closed = false;

  constructor(private readonly limit: number) {}

  acquire(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (this.used < this.limit) {
      this.used += 1;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next && !this.closed) next(true);
    else this.used -= 1;
  }

  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter(false);
  }
}

/** A FIFO of pending items that the consumer awaits; `end()` tells it nothing more comes. */
class ItemQueue {
  private items: Promise<Item>[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: Promise<Item>): void {
    item.catch(() => undefined); // seen by the consumer in its turn, or when draining
    this.items.push(item);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The next pending item, wrapped (an async function would wait for the item itself), or undefined at the end. */
  async next(): Promise<{ item: Promise<Item> } | undefined> {
    while (this.items.length === 0 && !this.ended)
      await new Promise<void>((resolve) => (this.wake = resolve));
    const item = this.items.shift();
    return item && { item };
  }

  drain(): Promise<Item>[] {
    return this.items.splice(0);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * Packs a volume directory as a tar stream. Walking and reading follow the consumer's pace, so a multi-GB volume
 * never sits in memory; entries are sorted so that the same tree always yields the same bytes and digest. A file
 * whose size changes while it is packed fails the stream (failed_precondition) rather than sending a wrong file.
 */
export function packDirectory(root: string, options: PackOptions = {}): PackResult {
  const { signal } = options;
  const readSize = Math.max(64 * 1024, options.readSize ?? DEFAULT_READ_SIZE);
  const hash = createHash('sha256');
  const stats = emptyStats();
  const firstPathOfInode = new Map<string, string>();
  const slots = new Slots(LOOKAHEAD);
  const queue = new ItemQueue();
  /**
   * Sent for every whole read of zeros (consumers only read chunks), so that the read buffer can be read into
   * again: each fresh 1 MiB buffer counts towards V8's next full collection (the benchmark's process spent ~0.9
   * CPU-seconds per GiB collecting before this).
   */
  const zeroChunk = Buffer.alloc(readSize);
  const spare: Buffer[] = [];

  let resolveDone!: (value: { sha256: string; stats: ArchiveStats }) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<{ sha256: string; stats: ArchiveStats }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only reads the stream must not get an unhandled rejection from `done`.
  done.catch(() => undefined);

  let failure: AppError | undefined;
  let sha256 = '';
  let wakeProducer: (() => void) | undefined;
  function wake(): void {
    const resume = wakeProducer;
    wakeProducer = undefined;
    resume?.();
  }

  const stream = new Readable({
    // About one chunk: a consumer that iterates gets chunks as they were sent, not several joined into a copy
    // (Readable.read() concatenates what is buffered). Reading ahead happens in READS_AHEAD and LOOKAHEAD instead.
    highWaterMark: readSize,
    read: wake,
    destroy(error, callback) {
      if (!stream.readableEnded) {
        failure ??= error
          ? AppError.from(error)
          : new AppError('canceled', 'the volume stream was closed before the end');
        rejectDone(failure);
      }
      slots.close();
      wake();
      callback(error);
    },
  });
  stream.once('end', () => {
    resolveDone({ sha256, stats });
  });
  // The failure reaches the caller through `done` (and any pipeline reading the stream); an abort that comes before
  // anyone listens must not end the worker process on an unhandled 'error' event.
  stream.on('error', () => undefined);

  function fail(error: unknown): void {
    failure ??= AppError.from(error);
    rejectDone(failure);
    slots.close();
    stream.destroy(failure);
  }

  /** Stops the producer once the stream has failed or been closed. */
  function throwIfFailed(): void {
    if (failure) throw failure;
  }

  /**
   * Hashes and sends a chunk, waiting while the consumer is behind. Hashing stays on this thread: a worker thread
   * would free it of ~0.8 s per GiB but cost more in all (a copy of every byte for the worker, its start), which a
   * host with two cores pays for in throughput.
   */
  async function send(chunk: Buffer): Promise<void> {
    throwIfFailed();
    hash.update(chunk);
    if (!stream.push(chunk)) await new Promise<void>((resolve) => (wakeProducer = resolve));
    throwIfFailed();
  }

  function baseHeader(name: string, info: Stats): Omit<TarHeader, 'type'> {
    return {
      name,
      mode: info.mode & 0o7777,
      uid: info.uid,
      gid: info.gid,
      mtime: Math.floor(info.mtimeMs / 1000),
    };
  }

  /**
   * A regular file, opened without an lstat first when readdir said what it is. Should it have changed since, it
   * goes the lstat way; when lstat said it (`viaLstat`) and it changed again, it counts as gone.
   */
  async function inspectFile(
    parent: Folder,
    name: string,
    relative: string,
    viaLstat: boolean,
  ): Promise<Item> {
    const absolute = join(parent.absolute, name);
    let fd: number;
    try {
      // O_NONBLOCK: should the file have become a FIFO meanwhile, opening it must not wait for a writer.
      fd = await openFile(
        entryIn(parent, name),
        fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
      );
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT') return { kind: 'skipped' };
      if (errno === 'ELOOP' || errno === 'ENXIO')
        return viaLstat ? { kind: 'skipped' } : inspectEntry(parent, name, relative);
      throw fsError(error, `cannot open ${absolute}`);
    }
    let open = true;
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) {
        open = false;
        closeSync(fd);
        return viaLstat ? { kind: 'skipped' } : await inspectEntry(parent, name, relative);
      }
      const header: TarHeader = {
        ...baseHeader(entryName(relative, false), info),
        type: 'file',
        size: info.size,
      };
      // A hard link's data goes out once, with its first path in the walk: only the emitter knows which that is.
      if (info.size > SMALL_FILE || info.nlink > 1) {
        open = false; // the emitter closes it
        return { kind: 'file', header, info, absolute, fd };
      }
      const data = await readSmallFile(fd, header, info.size, absolute);
      return { kind: 'file', header, info, absolute, data };
    } catch (error) {
      throw fsError(error, `cannot read ${absolute}`);
    } finally {
      if (open) closeSync(fd);
    }
  }

  /** The sorted children of an open folder, listed through its descriptor. */
  async function list(folder: Folder): Promise<Dirent[]> {
    let children: Dirent[];
    try {
      children = await readdir(`${FOLDER_FDS}/${String(folder.fd)}`, { withFileTypes: true });
    } catch (error) {
      throw fsError(error, `cannot list ${folder.absolute}`);
    }
    // UTF-16 order of the names, as sort() gives: the same tree always gives the same bytes.
    return children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** An opened folder as an item to walk: its header, children and descriptor (closed here if listing fails). */
  async function openedFolder(folder: Folder, relative: string): Promise<Item> {
    try {
      const info = fstatSync(folder.fd);
      const header: TarHeader = { ...baseHeader(entryName(relative, true), info), type: 'directory' };
      return { kind: 'plain', header, children: await list(folder), folder };
    } catch (error) {
      closeSync(folder.fd);
      throw fsError(error, `cannot read the volume directory ${folder.absolute}`);
    }
  }

  /** The volume's root folder, opened (following a symlink to it: the worker names it, not the volume). */
  async function inspectRoot(): Promise<Item> {
    let fd: number;
    try {
      requireFolderFds();
      fd = await openFile(root, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (error) {
      throw fsError(error, `cannot read the volume directory ${root}`);
    }
    return openedFolder({ fd, absolute: root }, '');
  }

  /** A folder the walk descends into, opened by name in its open parent; anything else it has become goes by lstat. */
  async function inspectFolder(parent: Folder, name: string, relative: string): Promise<Item> {
    const absolute = join(parent.absolute, name);
    let fd: number;
    try {
      fd = await openFile(
        entryIn(parent, name),
        fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW,
      );
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT') return { kind: 'skipped' };
      // Swapped for a symlink or something else since its parent was listed: packed as what it is now.
      if (errno === 'ELOOP' || errno === 'ENOTDIR') return inspectEntry(parent, name, relative);
      throw fsError(error, `cannot open ${absolute}`);
    }
    return openedFolder({ fd, absolute }, relative);
  }

  /**
   * Anything, by lstat in its open parent: what readdir did not call a regular file or a folder, or what changed
   * since. A folder found here (it was something else when listed) is sent as a header without its content.
   */
  async function inspectEntry(parent: Folder, name: string, relative: string): Promise<Item> {
    const absolute = join(parent.absolute, name);
    const path = entryIn(parent, name);
    let info: Stats;
    try {
      info = await lstat(path);
    } catch (error) {
      // Deleted since readdir: a live volume, not a failure.
      if (errnoOf(error) === 'ENOENT') return { kind: 'skipped' };
      throw fsError(error, `cannot read ${absolute}`);
    }
    const base = baseHeader(entryName(relative, info.isDirectory()), info);
    if (info.isDirectory()) return { kind: 'plain', header: { ...base, type: 'directory' } };
    if (info.isSymbolicLink()) {
      try {
        return { kind: 'plain', header: { ...base, type: 'symlink', linkname: await readlink(path) } };
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'ENOENT') return { kind: 'skipped' };
        // Replaced by something else between lstat and readlink: a live volume, packed as it was listed.
        if (errno === 'EINVAL') return { kind: 'skipped' };
        throw fsError(error, `cannot read the symlink ${absolute}`);
      }
    }
    if (info.isFile()) return inspectFile(parent, name, relative, true);
    if (info.isFIFO()) return { kind: 'plain', header: { ...base, type: 'fifo' } };
    if (info.isCharacterDevice() || info.isBlockDevice()) {
      const type = info.isCharacterDevice() ? 'character-device' : 'block-device';
      return { kind: 'plain', header: { ...base, type, ...deviceNumbers(info.rdev) } };
    }
    return { kind: 'skipped' }; // sockets belong to a running process on this host
  }

  /** Inspects one child of an open folder the way its dirent suggests. */
  function inspectChild(parent: Folder, child: Dirent, relative: string): Promise<Item> {
    if (child.isFile()) return inspectFile(parent, child.name, relative, false);
    if (child.isDirectory()) return inspectFolder(parent, child.name, relative);
    return inspectEntry(parent, child.name, relative);
  }

  /**
   * Walks a folder's children in archive order, queuing each entry's inspection, at most LOOKAHEAD ahead of the
   * emitter; descends into child folders in turn. The folder's descriptor is closed once every child's inspection
   * has settled, not before: a child's path goes through it, and a descriptor number closed early could be reused
   * by another open file. The walk itself goes on meanwhile, so inspections keep running ahead across folders.
   */
  async function walk(item: Promise<Item>, relative: string): Promise<void> {
    const found = await item.catch(() => undefined);
    if (found?.kind !== 'plain' || !found.folder) return;
    const folder = found.folder;
    const pending: Promise<Item>[] = [];
    try {
      for (const child of found.children ?? []) {
        if (failure || !(await slots.acquire())) return;
        const childRelative = relative === '' ? child.name : `${relative}/${child.name}`;
        const childItem = inspectChild(folder, child, childRelative);
        queue.push(childItem);
        pending.push(childItem);
        if (child.isDirectory()) await walk(childItem, childRelative);
      }
    } finally {
      void Promise.allSettled(pending).then(() => {
        try {
          closeSync(folder.fd);
        } catch {
          // a folder only read from: closing it cannot lose anything
        }
      });
    }
  }

  /** Sends a large file (or one with several links) in chunks, with reads running ahead of the sending. */
  async function sendStreamed(item: RegularFile, fd: number): Promise<void> {
    const size = item.header.size ?? 0;
    await send(encodeHeader(item.header));
    const reads: Promise<Buffer>[] = [];
    let next = 0;
    const startRead = (): void => {
      const position = next;
      const length = Math.min(readSize, size - position);
      const last = position + length === size;
      const padding = last ? paddingAfter(size) : 0;
      // The last read asks for one byte more than announced, to notice a file that grew.
      const buffer = (!last && spare.pop()) || Buffer.allocUnsafe(length + (last ? padding + 1 : 0));
      next += length;
      const reading = readAtLeast(fd, buffer, 0, length, length + (last ? 1 : 0), position).then(
        (got) => {
          if (got !== length) throw changedWhileReading(fd, item.absolute, size);
          if (!last && isZero(buffer, 0, length)) {
            // Not sent, so free to read into again: a file of zeros allocates (and leaves to the GC) nothing.
            spare.push(buffer);
            return zeroChunk;
          }
          if (!last) return buffer;
          buffer.fill(0, length, length + padding);
          return buffer.subarray(0, length + padding);
        },
        (error: unknown) => {
          throw fsError(error, `cannot read ${item.absolute}`);
        },
      );
      reading.catch(() => undefined); // awaited in turn below, or settled when something failed first
      reads.push(reading);
    };
    try {
      if (size === 0) {
        const got = await readAtLeast(fd, Buffer.allocUnsafe(1), 0, 0, 1, 0).catch((error: unknown) => {
          throw fsError(error, `cannot read ${item.absolute}`);
        });
        if (got !== 0) throw changedWhileReading(fd, item.absolute, 0);
        return;
      }
      while (next < size && reads.length < READS_AHEAD + 1) startRead();
      for (let reading = reads.shift(); reading !== undefined; reading = reads.shift()) {
        const chunk = await reading;
        if (next < size) startRead();
        if (signal?.aborted) throw canceled();
        await send(chunk);
      }
    } finally {
      await Promise.allSettled(reads);
    }
  }

  async function emit(item: Item): Promise<void> {
    if (item.kind === 'skipped') {
      stats.skipped += 1;
      return;
    }
    if (item.kind === 'plain') {
      await send(encodeHeader(item.header));
      if (item.header.type === 'directory') stats.directories += 1;
      else if (item.header.type === 'symlink') stats.symlinks += 1;
      return;
    }
    const { info, header } = item;
    const inode = `${String(info.dev)}:${String(info.ino)}`;
    const first = info.nlink > 1 ? firstPathOfInode.get(inode) : undefined;
    if (first !== undefined) {
      await send(encodeHeader({ ...header, type: 'link', size: 0, linkname: first }));
      stats.hardlinks += 1;
      return;
    }
    if (item.data) await send(item.data);
    else if (item.fd !== undefined) await sendStreamed(item, item.fd);
    if (info.nlink > 1) firstPathOfInode.set(inode, header.name);
    stats.files += 1;
    stats.bytes += header.size ?? 0;
  }

  /** Closes what an item holds open; only once nothing reads from it any more. */
  function closeItem(item: Item | undefined): void {
    if (item?.kind !== 'file' || item.fd === undefined) return;
    const { fd } = item;
    item.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // closing a descriptor that was only read from cannot lose anything
    }
  }

  async function produce(): Promise<void> {
    const walking = (async (): Promise<void> => {
      if (!(await slots.acquire())) return;
      const rootItem = inspectRoot();
      queue.push(rootItem);
      await walk(rootItem, '');
    })()
      .catch((error: unknown) => {
        fail(error);
      })
      .finally(() => {
        queue.end();
      });
    try {
      for (let next = await queue.next(); next !== undefined; next = await queue.next()) {
        const item = await next.item;
        try {
          if (signal?.aborted) throw canceled();
          await emit(item);
        } finally {
          closeItem(item);
          slots.release();
        }
      }
      throwIfFailed();
      await send(Buffer.alloc(END_OF_ARCHIVE.length));
      sha256 = hash.digest('hex');
      stream.push(null);
    } catch (error) {
      fail(error);
    } finally {
      await walking;
      const left = queue.drain();
      await Promise.all(left.map((item) => item.then(closeItem, () => undefined)));
    }
  }

  const onAbort = (): void => {
    fail(canceled());
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => signal?.removeEventListener('abort', onAbort));
  void produce();
  return { stream, done };
}
