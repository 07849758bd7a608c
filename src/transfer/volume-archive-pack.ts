// Packs a volume directory into a tar stream at the consumer's pace: entries go out in sorted order while the
// next ones are inspected (with their extended attributes) and small files read ahead in parallel; large files go
// out in 1 MiB reads, as GNU sparse files when they hold holes or blocks of zeros. The walk goes by open folder
// descriptors, so a container swapping a folder for a symlink cannot steer it outside the volume.
import { closeSync, constants as fsConstants, fstatSync, statSync } from 'node:fs';
import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { AppError } from '../core/errors.js';
import { openFile, readAt } from './volume-archive-fd.js';
import { canceled, deviceNumbers, emptyStats, errnoOf, fsError } from './volume-archive-fs.js';
import type { ArchiveStats } from './volume-archive-fs.js';
import { readExactly, scanForHoles } from './volume-archive-holes.js';
import type { DataPlan } from './volume-archive-holes.js';
import { HOLE_BLOCK } from './volume-archive-sparse.js';
import { END_OF_ARCHIVE, encodeHeader, encodeSparseMap, paddingAfter } from './volume-archive-tar.js';
import type { TarHeader, Xattr } from './volume-archive-tar.js';
import { XattrReader } from './volume-archive-xattr.js';

/** A volume being packed: the bytes to send and, once they are all read, what they were. */
export interface PackResult {
  stream: Readable;
  /** Resolves with the stats when the stream has ended; rejects if packing failed. */
  done: Promise<{ stats: ArchiveStats }>;
  /**
   * The volume's bytes covered so far: sizes of the files packed, holes included, and the part of the one going
   * out — what progress is told against the volume's measured (apparent) size, since holes travel as no bytes.
   */
  covered(): number;
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
 * Data of one large file that the hole scan keeps for its sending, instead of reading it again. Only the emitter
 * scans, one file at a time, so this is also the bound for the whole pack.
 */
const SCAN_BUDGET = 8 * MiB;
/** Opens read without touching atimes (which the archive carries); only the owner or CAP_FOWNER may ask for it. */
const O_NOATIME: number = fsConstants.O_NOATIME;

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
export const FOLDER_FDS = '/proc/self/fd';

/** An open folder of the volume: the descriptor its entries are reached through, and its path for messages. */
export interface Folder {
  fd: number;
  absolute: string;
}

/** The path of `name` in the open `folder`, resolved through its descriptor and not through the folder's path. */
export function entryIn(folder: Folder, name: string): string {
  return `${FOLDER_FDS}/${String(folder.fd)}/${name}`;
}

let folderFdsChecked = false;

/** Fails readably where the walk cannot be made safe (no /proc): packing by path could be steered outside. */
export function requireFolderFds(): void {
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
  info: BigIntStats;
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
export function entryName(relative: string, directory: boolean): string {
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
  // Whole blocks, so that each read's blocks of zeros lie at the file's block boundaries.
  const readSize =
    Math.ceil(Math.max(64 * 1024, options.readSize ?? DEFAULT_READ_SIZE) / HOLE_BLOCK) * HOLE_BLOCK;
  const stats = emptyStats();
  /** How far into the large file going out now the stream has got (holes included). */
  let coveredInFile = 0;
  const xattrReader = new XattrReader();
  let noAtime = O_NOATIME;
  const firstPathOfInode = new Map<string, string>();
  const slots = new Slots(LOOKAHEAD);
  const queue = new ItemQueue();
  /**
   * Read buffers of the hole scan that were not kept, free to be read into again: each fresh 1 MiB buffer counts
   * towards V8's next full collection (a process packing zeros spent ~0.9 CPU-seconds per GiB collecting without).
   */
  const spare: Buffer[] = [];

  let resolveDone!: (value: { stats: ArchiveStats }) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<{ stats: ArchiveStats }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A caller that only reads the stream must not get an unhandled rejection from `done`.
  done.catch(() => undefined);

  let failure: AppError | undefined;
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
    resolveDone({ stats });
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

  /** Sends a chunk, waiting while the consumer is behind. The transport checks the bytes; nothing is hashed here. */
  async function send(chunk: Buffer): Promise<void> {
    throwIfFailed();
    if (!stream.push(chunk)) await new Promise<void>((resolve) => (wakeProducer = resolve));
    throwIfFailed();
  }

  function baseHeader(name: string, info: BigIntStats, xattrs: Xattr[]): Omit<TarHeader, 'type'> {
    return {
      name,
      mode: Number(info.mode & 0o7777n),
      uid: Number(info.uid),
      gid: Number(info.gid),
      mtime: info.mtimeNs,
      atime: info.atimeNs,
      ...(xattrs.length > 0 ? { xattrs } : {}),
    };
  }

  /**
   * Opens for reading without changing the atime (O_NOATIME), so that packing leaves the volume as it was and
   * packing it twice gives the same bytes; where that is not allowed (not the owner, not root), opens plainly.
   */
  async function openForReading(path: string, flags: number): Promise<number> {
    if (noAtime !== 0) {
      try {
        return await openFile(path, flags | noAtime);
      } catch (error) {
        if (errnoOf(error) !== 'EPERM') throw error;
        noAtime = 0;
      }
    }
    return openFile(path, flags);
  }

  /** The extended attributes of the entry at `path` (through a folder descriptor: never a symlink's target). */
  function xattrsOf(path: string, info: BigIntStats, absolute: string): Promise<Xattr[]> {
    return xattrReader.read(path, info.dev, absolute);
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
      fd = await openForReading(
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
      const info = fstatSync(fd, { bigint: true });
      if (!info.isFile()) {
        open = false;
        closeSync(fd);
        return viaLstat ? { kind: 'skipped' } : await inspectEntry(parent, name, relative);
      }
      const size = Number(info.size);
      const header: TarHeader = {
        ...baseHeader(
          entryName(relative, false),
          info,
          await xattrsOf(entryIn(parent, name), info, absolute),
        ),
        type: 'file',
        size,
      };
      // A hard link's data goes out once, with its first path in the walk: only the emitter knows which that is.
      if (size > SMALL_FILE || info.nlink > 1n) {
        open = false; // the emitter closes it
        return { kind: 'file', header, info, absolute, fd };
      }
      const data = await readSmallFile(fd, header, size, absolute);
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
      const info = fstatSync(folder.fd, { bigint: true });
      // "N/." is the open folder itself: its attributes, whatever its path has become.
      const xattrs = await xattrsOf(`${FOLDER_FDS}/${String(folder.fd)}/.`, info, folder.absolute);
      const header: TarHeader = { ...baseHeader(entryName(relative, true), info, xattrs), type: 'directory' };
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
      fd = await openForReading(root, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
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
      fd = await openForReading(
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
    let info: BigIntStats;
    try {
      info = await lstat(path, { bigint: true });
    } catch (error) {
      // Deleted since readdir: a live volume, not a failure.
      if (errnoOf(error) === 'ENOENT') return { kind: 'skipped' };
      throw fsError(error, `cannot read ${absolute}`);
    }
    if (info.isFile()) return inspectFile(parent, name, relative, true);
    const base = baseHeader(
      entryName(relative, info.isDirectory()),
      info,
      await xattrsOf(path, info, absolute),
    );
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
    if (info.isFIFO()) return { kind: 'plain', header: { ...base, type: 'fifo' } };
    if (info.isCharacterDevice() || info.isBlockDevice()) {
      const type = info.isCharacterDevice() ? 'character-device' : 'block-device';
      return { kind: 'plain', header: { ...base, type, ...deviceNumbers(Number(info.rdev)) } };
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

  /**
   * Where a file's data lies: a large one is scanned for holes and blocks of zeros; a small one (sent in turn
   * because it has several links) is all data.
   */
  async function planData(item: RegularFile, fd: number, size: number): Promise<DataPlan> {
    if (size <= SMALL_FILE)
      return { runs: size > 0 ? [{ offset: 0, length: size }] : [], holes: false, kept: [] };
    return scanForHoles(fd, size, {
      chunk: readSize,
      budget: SCAN_BUDGET,
      parallel: READS_AHEAD + 1,
      spare,
      changed: () => changedWhileReading(fd, item.absolute, size),
      absolute: item.absolute,
    });
  }

  /**
   * Sends a large file (or one with several links): its header — in GNU sparse 1.0 form, with the map of its data
   * first, when it has holes or blocks of zeros — then its runs of data, from what the scan kept or read again with
   * reads running ahead of the sending. The file must end where it ended when it was inspected.
   */
  async function sendStreamed(item: RegularFile, fd: number): Promise<void> {
    const size = item.header.size ?? 0;
    const plan = await planData(item, fd, size);
    const dataBytes = plan.runs.reduce((sum, run) => sum + run.length, 0);
    const changed = (): AppError => changedWhileReading(fd, item.absolute, size);
    if (plan.holes) {
      // A file that ends in a hole ends its map with an empty region at its end, as GNU tar writes it.
      const last = plan.runs.at(-1);
      const endsInHole = last === undefined || last.offset + last.length < size;
      const map = encodeSparseMap(endsInHole ? [...plan.runs, { offset: size, length: 0 }] : plan.runs);
      await send(encodeHeader({ ...item.header, size: map.length + dataBytes, sparse: { realSize: size } }));
      await send(map);
    } else await send(encodeHeader(item.header));

    const kept = plan.kept;
    let keptIndex = 0;
    const pieces = (function* (): Generator<{ offset: number; length: number }> {
      for (const run of plan.runs) {
        const end = run.offset + run.length;
        for (let at = run.offset; at < end;) {
          const stop = Math.min(end, (Math.floor(at / readSize) + 1) * readSize);
          yield { offset: at, length: stop - at };
          at = stop;
        }
      }
    })();
    /** A piece from the chunks the scan kept, or read again. */
    const fetch = (offset: number, length: number): Promise<Buffer> => {
      for (let chunk = kept[keptIndex]; chunk !== undefined; chunk = kept[++keptIndex]) {
        if (chunk.offset + chunk.data.length <= offset) continue;
        if (chunk.offset <= offset && offset + length <= chunk.offset + chunk.data.length)
          return Promise.resolve(chunk.data.subarray(offset - chunk.offset, offset - chunk.offset + length));
        break;
      }
      return readExactly(fd, Buffer.allocUnsafe(length), length, offset, {
        changed,
        absolute: item.absolute,
      });
    };
    const reads: Promise<Buffer>[] = [];
    /** Where each read in `reads` ends in the file. */
    const ends: number[] = [];
    const startRead = (): boolean => {
      const next = pieces.next();
      if (next.done === true) return false;
      ends.push(next.value.offset + next.value.length);
      const reading = fetch(next.value.offset, next.value.length);
      reading.catch(() => undefined); // awaited in turn below, or settled when something failed first
      reads.push(reading);
      return true;
    };
    try {
      while (reads.length < READS_AHEAD + 1 && startRead());
      for (let reading = reads.shift(); reading !== undefined; reading = reads.shift()) {
        const chunk = await reading;
        const end = ends.shift() ?? 0;
        startRead();
        if (signal?.aborted) throw canceled();
        await send(chunk);
        coveredInFile = end;
      }
    } finally {
      await Promise.allSettled(reads);
    }
    // One byte past the end, to notice a file that grew since it was inspected.
    const grew = await readAt(fd, Buffer.allocUnsafe(1), 0, 1, size).catch((error: unknown) => {
      throw fsError(error, `cannot read ${item.absolute}`);
    });
    if (grew !== 0) throw changed();
    const padding = paddingAfter(dataBytes);
    if (padding > 0) await send(Buffer.alloc(padding));
  }

  async function emit(item: Item): Promise<void> {
    if (item.kind === 'skipped') {
      stats.skipped += 1;
      return;
    }
    if (item.kind === 'plain') {
      await send(encodeHeader(item.header));
      stats.xattrs += item.header.xattrs?.length ?? 0;
      if (item.header.type === 'directory') stats.directories += 1;
      else if (item.header.type === 'symlink') stats.symlinks += 1;
      return;
    }
    const { info, header } = item;
    const inode = `${String(info.dev)}:${String(info.ino)}`;
    const first = info.nlink > 1n ? firstPathOfInode.get(inode) : undefined;
    if (first !== undefined) {
      const { xattrs: _sameInode, ...linkHeader } = header; // the attributes went out with the first path
      await send(encodeHeader({ ...linkHeader, type: 'link', size: 0, linkname: first }));
      stats.hardlinks += 1;
      return;
    }
    if (item.data) await send(item.data);
    else if (item.fd !== undefined) await sendStreamed(item, item.fd);
    if (info.nlink > 1n) firstPathOfInode.set(inode, header.name);
    coveredInFile = 0;
    stats.files += 1;
    stats.bytes += header.size ?? 0;
    stats.xattrs += header.xattrs?.length ?? 0;
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
  return { stream, done, covered: () => stats.bytes + coveredInFile };
}
