// Packs a volume directory into a tar stream at the consumer's pace: entries go out in sorted order while the
// next ones are inspected and small files read ahead in parallel; large files go out in 1 MiB reads.
import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync } from 'node:fs';
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

/** The entry is gone, or is a socket: counted as skipped, nothing sent. */
interface Skipped {
  kind: 'skipped';
}
/** Header only: a directory (with its sorted children), symlink, FIFO or device. */
interface Plain {
  kind: 'plain';
  header: TarHeader;
  children?: Dirent[];
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
  async function inspectFile(absolute: string, relative: string, viaLstat: boolean): Promise<Item> {
    let fd: number;
    try {
      // O_NONBLOCK: should the file have become a FIFO meanwhile, opening it must not wait for a writer.
      fd = await openFile(absolute, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT') return { kind: 'skipped' };
      if (errno === 'ELOOP' || errno === 'ENXIO')
        return viaLstat ? { kind: 'skipped' } : inspect(absolute, relative);
      throw fsError(error, `cannot open ${absolute}`);
    }
    let open = true;
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) {
        open = false;
        closeSync(fd);
        return viaLstat ? { kind: 'skipped' } : await inspect(absolute, relative);
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

  /** Anything, by lstat: the root, directories and what readdir did not call a regular file. */
  async function inspect(absolute: string, relative: string): Promise<Item> {
    let info: Stats;
    try {
      info = await lstat(absolute);
    } catch (error) {
      // Deleted since readdir: a live volume, not a failure.
      if (relative !== '' && errnoOf(error) === 'ENOENT') return { kind: 'skipped' };
      throw fsError(error, `cannot read the volume directory ${absolute}`);
    }
    const base = baseHeader(entryName(relative, info.isDirectory()), info);
    if (info.isDirectory()) {
      let children: Dirent[];
      try {
        children = await readdir(absolute, { withFileTypes: true });
      } catch (error) {
        throw fsError(error, `cannot list ${absolute}`);
      }
      // UTF-16 order of the names, as sort() gives: the same tree always gives the same bytes.
      children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { kind: 'plain', header: { ...base, type: 'directory' }, children };
    }
    if (info.isSymbolicLink()) {
      try {
        return { kind: 'plain', header: { ...base, type: 'symlink', linkname: await readlink(absolute) } };
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') return { kind: 'skipped' };
        throw fsError(error, `cannot read the symlink ${absolute}`);
      }
    }
    if (info.isFile()) return inspectFile(absolute, relative, true);
    if (info.isFIFO()) return { kind: 'plain', header: { ...base, type: 'fifo' } };
    if (info.isCharacterDevice() || info.isBlockDevice()) {
      const type = info.isCharacterDevice() ? 'character-device' : 'block-device';
      return { kind: 'plain', header: { ...base, type, ...deviceNumbers(info.rdev) } };
    }
    return { kind: 'skipped' }; // sockets belong to a running process on this host
  }

  /** Walks the tree in archive order, queuing each entry's inspection, at most LOOKAHEAD ahead of the emitter. */
  async function walk(absolute: string, relative: string, dirent?: Dirent): Promise<void> {
    if (!(await slots.acquire())) return;
    const item = dirent?.isFile() ? inspectFile(absolute, relative, false) : inspect(absolute, relative);
    queue.push(item);
    if (dirent !== undefined && !dirent.isDirectory()) return;
    const found = await item.catch(() => undefined);
    if (found?.kind !== 'plain' || found.header.type !== 'directory') return;
    for (const child of found.children ?? []) {
      if (failure) return;
      await walk(
        join(absolute, child.name),
        relative === '' ? child.name : `${relative}/${child.name}`,
        child,
      );
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
    const walking = walk(root, '')
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
