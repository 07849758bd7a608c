// Writes a file's data as it arrives, leaving aligned runs of zeros as holes so that a sparse source stays sparse.
// The received buffers are written where they are (vectored writes of about 1 MiB), never copied or joined.
import { ftruncateSync } from 'node:fs';

import { writeAt } from './volume-archive-fd.js';

/** Runs of zeros this long, at this alignment, become holes (the usual filesystem block size). */
export const HOLE_BLOCK = 4096;
const ZERO_BLOCK = Buffer.alloc(HOLE_BLOCK);
/** Data is written once this much has arrived: few system calls, little memory held. */
export const WRITE_BATCH = 1024 * 1024;
/** writev(2) takes at most IOV_MAX (1024 on Linux) buffers; a batch is written before it holds more than this. */
const MAX_SEGMENTS = 256;
/** A remainder left in more pieces than this (tiny chunks from the network) is joined: it is under one block. */
const MAX_CARRIED_SEGMENTS = 16;
/** Batches written at once while more data arrives: the disk and the network work side by side. */
const WRITES_AHEAD = 4;

/** True when buffer[start, end) holds only zeros; random data is told apart by its first byte, almost always. */
export function isZero(buffer: Buffer, start: number, end: number): boolean {
  if (start >= end) return true;
  if (buffer[start] !== 0 || buffer[end - 1] !== 0) return false;
  for (let at = start; at < end; at += HOLE_BLOCK) {
    const stop = Math.min(at + HOLE_BLOCK, end);
    if (buffer.compare(ZERO_BLOCK, 0, stop - at, at, stop) !== 0) return false;
  }
  return true;
}

/** Writes all of `buffers` at `position`, going on after a partial write. */
async function writeAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const bytesWritten = await writeAt(fd, rest, at);
    if (bytesWritten <= 0) throw new Error('the file system accepted no data');
    at += bytesWritten;
    let skip = bytesWritten;
    while (skip > 0) {
      const first = rest[0];
      if (first === undefined) break;
      if (first.length <= skip) {
        skip -= first.length;
        rest = rest.slice(1);
      } else {
        rest = [first.subarray(skip), ...rest.slice(1)];
        skip = 0;
      }
    }
  }
}

/**
 * Writes one file's data into a new, empty file. Blocks of zeros at HOLE_BLOCK-aligned file offsets are skipped;
 * finish() gives the file its full size, so that skipped blocks read back as zeros without taking space.
 */
export class SparseFileWriter {
  /** Received, not yet written, in order; the first starts at file offset `position`. */
  private segments: Buffer[] = [];
  private buffered = 0;
  /** File offset of the first buffered byte: a multiple of HOLE_BLOCK until the last batch or a seek(). */
  private position = 0;
  /** File offset after the last byte written to disk. */
  private written = 0;
  /** Bytes taken so far, to compare with the size the archive announced. */
  received = 0;
  /** Writes on their way to the disk (disjoint ranges, so their order does not matter), and the first failure. */
  private inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly fd: number,
    private readonly size: number,
  ) {}

  /** Takes the next chunk of data; the writer keeps a reference to it until it is on disk. */
  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.segments.push(chunk);
    this.buffered += chunk.length;
    this.received += chunk.length;
    if (this.buffered >= WRITE_BATCH || this.segments.length >= MAX_SEGMENTS) await this.flush(false);
  }

  /**
   * Goes on at file offset `offset` (not before what was written): what lies between stays a hole. A GNU sparse file
   * arrives as its data regions, each with the offset it starts at.
   */
  async seek(offset: number): Promise<void> {
    if (offset === this.position + this.buffered) return;
    if (offset < this.position + this.buffered)
      throw new Error('a sparse region starts before the previous one ends');
    await this.flush(true);
    this.position = offset;
  }

  /** Writes what is left and sets the file's size (trailing holes are not written at all). */
  async finish(): Promise<void> {
    await this.flush(true);
    await this.drain();
    // Growing a file with ftruncate only changes its inode: no reason to go through the thread pool.
    if (this.written < this.size) ftruncateSync(this.fd, this.size);
  }

  /** Writes the whole blocks buffered (all of them when `final`), skipping those that are all zeros. */
  private async flush(final: boolean): Promise<void> {
    const limit = final ? this.buffered : this.buffered - (this.buffered % HOLE_BLOCK);
    let runStart = -1; // offset (from this.position) where the current run of non-zero blocks began
    let segment = 0;
    let segmentStart = 0; // offset of segments[segment][0]
    for (let block = 0; block < limit; block += HOLE_BLOCK) {
      const blockEnd = Math.min(block + HOLE_BLOCK, limit);
      let zero = true;
      // A block may span several segments (chunks are not aligned with file blocks).
      for (let at = block; at < blockEnd && zero;) {
        let current = this.segments[segment];
        while (current !== undefined && segmentStart + current.length <= at) {
          segmentStart += current.length;
          segment += 1;
          current = this.segments[segment];
        }
        if (current === undefined) break;
        const stop = Math.min(blockEnd, segmentStart + current.length);
        zero = isZero(current, at - segmentStart, stop - segmentStart);
        at = stop;
      }
      if (zero && runStart >= 0) {
        await this.writeRange(runStart, block);
        runStart = -1;
      } else if (!zero && runStart < 0) runStart = block;
    }
    if (runStart >= 0) await this.writeRange(runStart, limit);
    this.consume(limit);
  }

  /** Writes buffered bytes [start, end) (offsets from this.position), as slices of the segments. */
  private async writeRange(start: number, end: number): Promise<void> {
    const parts: Buffer[] = [];
    let segmentStart = 0;
    for (const segment of this.segments) {
      const segmentEnd = segmentStart + segment.length;
      if (segmentEnd > start && segmentStart < end) {
        const from = Math.max(start, segmentStart) - segmentStart;
        const to = Math.min(end, segmentEnd) - segmentStart;
        parts.push(from === 0 && to === segment.length ? segment : segment.subarray(from, to));
      }
      if (segmentEnd >= end) break;
      segmentStart = segmentEnd;
    }
    while (this.inFlight.size >= WRITES_AHEAD) await Promise.race(this.inFlight);
    this.check();
    const writing: Promise<void> = writeAll(this.fd, parts, this.position + start)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => this.inFlight.delete(writing));
    this.inFlight.add(writing);
    this.written = Math.max(this.written, this.position + end);
  }

  /** Waits for every write started, then reports the first that failed. */
  async drain(): Promise<void> {
    await this.settle();
    this.check();
  }

  /** Waits for every write started, whatever their outcome: before the descriptor is closed after a failure. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private check(): void {
    if (this.failure) throw this.failure.error;
  }

  /** Drops the first `length` buffered bytes, which are written or skipped. */
  private consume(length: number): void {
    let rest = length;
    let index = 0;
    while (rest > 0) {
      const segment = this.segments[index];
      if (segment === undefined) break;
      if (segment.length <= rest) {
        rest -= segment.length;
        index += 1;
      } else {
        this.segments[index] = segment.subarray(rest);
        rest = 0;
      }
    }
    this.segments = index === 0 ? this.segments : this.segments.slice(index);
    this.position += length;
    this.buffered -= length;
    if (this.segments.length > MAX_CARRIED_SEGMENTS) this.segments = [Buffer.concat(this.segments)];
  }
}
