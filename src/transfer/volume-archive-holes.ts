// Where a large file's data lies, for sending it as a GNU sparse file: the filesystem's holes (file-extents.ts, no
// reading) and, inside its data regions, aligned blocks of zeros (as dd writes them), which need not be sent either.
import { dataRegions } from '../platform/file-extents.js';
import { readAt } from './volume-archive-fd.js';
import { fsError } from './volume-archive-fs.js';
import type { SparseRegion } from './volume-archive-reader.js';
import { HOLE_BLOCK, isZero } from './volume-archive-sparse.js';

/** What the scan of a file found: the runs to send, and the chunks it read that are kept for sending them. */
export interface DataPlan {
  /** Runs of data in file order, merged; everything else reads as zeros. */
  runs: SparseRegion[];
  /** Whether anything but one run over the whole file was found: the file then goes out in sparse form. */
  holes: boolean;
  /** Chunks read by the scan and kept, in file order, so that they need not be read again. */
  kept: { offset: number; data: Buffer }[];
}

export interface ScanOptions {
  /** Bytes per read (a multiple of HOLE_BLOCK). */
  chunk: number;
  /** Data bytes the scan may keep in memory for the sending. */
  budget: number;
  /** Reads in flight at once. */
  parallel: number;
  /** Buffers free to read into; buffers not kept are given back. */
  spare: Buffer[];
  /** The error for a file that turns out shorter than its size. */
  changed: () => Error;
  absolute: string;
}

/** Pieces of the regions on the chunk grid: [offset, offset + length), never across a multiple of `chunk`. */
function* pieces(regions: readonly SparseRegion[], chunk: number): Generator<SparseRegion> {
  for (const region of regions) {
    const end = region.offset + region.length;
    for (let at = region.offset; at < end;) {
      const stop = Math.min(end, (Math.floor(at / chunk) + 1) * chunk);
      yield { offset: at, length: stop - at };
      at = stop;
    }
  }
}

/** Appends the data runs of `buffer` (holding the file's bytes from `offset`) to `runs`, a block at a time. */
function addRuns(runs: SparseRegion[], buffer: Buffer, offset: number, length: number): boolean {
  let any = false;
  for (let at = 0; at < length;) {
    const blockEnd = Math.min(length, (Math.floor((offset + at) / HOLE_BLOCK) + 1) * HOLE_BLOCK - offset);
    if (!isZero(buffer, at, blockEnd)) {
      any = true;
      const last = runs[runs.length - 1];
      if (last !== undefined && last.offset + last.length === offset + at) last.length += blockEnd - at;
      else runs.push({ offset: offset + at, length: blockEnd - at });
    }
    at = blockEnd;
  }
  return any;
}

/** Reads exactly `length` bytes at `position` into `buffer`, or fails with `changed()` at an early end. */
export async function readExactly(
  fd: number,
  buffer: Buffer,
  length: number,
  position: number,
  options: Pick<ScanOptions, 'changed' | 'absolute'>,
): Promise<Buffer> {
  let got = 0;
  while (got < length) {
    let bytesRead: number;
    try {
      bytesRead = await readAt(fd, buffer, got, length - got, position + got);
    } catch (error) {
      throw fsError(error, `cannot read ${options.absolute}`);
    }
    if (bytesRead === 0) throw options.changed();
    got += bytesRead;
  }
  return buffer.subarray(0, length);
}

/**
 * Reads a file once to find its runs of data. Chunks with data are kept while they fit the budget; what does not fit
 * is read again when it is sent, since the archive's header, which comes first, must already say where the data
 * lies. For a file larger than the budget that is a second read of everything past its first `budget` bytes of data
 * (usually from the page cache, a memory copy: ~0.1–0.2 s per GiB here), the price of sending neither holes nor
 * zeros. Reads run `parallel` at a time, so that a disk works on the next while this thread looks at the last.
 */
export async function scanForHoles(fd: number, size: number, options: ScanOptions): Promise<DataPlan> {
  const runs: SparseRegion[] = [];
  const kept: DataPlan['kept'] = [];
  let keptBytes = 0;
  const queue = pieces(dataRegions(fd, size), options.chunk);
  const reads: { piece: SparseRegion; buffer: Buffer; reading: Promise<Buffer> }[] = [];
  const start = (): boolean => {
    const next = queue.next();
    if (next.done === true) return false;
    const piece = next.value;
    const buffer = options.spare.pop() ?? Buffer.allocUnsafe(options.chunk);
    const reading = readExactly(fd, buffer, piece.length, piece.offset, options);
    reading.catch(() => undefined); // awaited in turn below, or settled when something failed first
    reads.push({ piece, buffer, reading });
    return true;
  };
  try {
    while (reads.length < options.parallel && start());
    for (let read = reads.shift(); read !== undefined; read = reads.shift()) {
      const data = await read.reading;
      start();
      const { offset, length } = read.piece;
      if (addRuns(runs, data, offset, length) && keptBytes + length <= options.budget) {
        kept.push({ offset, data });
        keptBytes += length;
      } else options.spare.push(read.buffer); // not kept: free to read into again
    }
  } finally {
    await Promise.allSettled(reads.map((read) => read.reading));
  }
  const whole = runs.length === 1 && runs[0]?.offset === 0 && runs[0].length === size;
  return { runs, holes: size > 0 && !whole, kept };
}
