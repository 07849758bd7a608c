// Reads a tar stream entry by entry for unpackToDirectory: ustar, PAX (with binary-safe values, as extended attributes
// need), GNU long names and GNU sparse 1.0, as packDirectory, GNU tar and Docker's archive API write them.
import { AppError } from '../core/errors.js';
import { TAR_BLOCK, paddingAfter, parsePaxTime } from './volume-archive-tar.js';
import type { EntryType, Xattr } from './volume-archive-tar.js';

/** One region of a sparse file that holds data; the rest of the file is holes. */
export interface SparseRegion {
  offset: number;
  length: number;
}

/** An entry as the archive describes it, PAX records applied. */
export interface ArchiveEntry {
  name: string;
  /** 'other': a kind we do not extract (GNU volume labels, old GNU sparse files, …); its data is skipped. */
  type: EntryType | 'other';
  mode: number;
  uid: number;
  gid: number;
  mtime: bigint;
  atime?: bigint;
  /** Bytes of file content that body() yields: for a sparse file, its data regions one after the other. */
  size: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Xattr[];
  /** For a GNU sparse 1.0 file: its full size and where body()'s bytes go. */
  sparse?: { realSize: number; regions: SparseRegion[] };
  /** PAX records of our own ("DOCKER_MIGRATE.*", the prefix cut), when there are any: see volume-sync-pack.ts. */
  ours?: Map<string, string>;
}

/** The prefix of the PAX records a sync round adds (patches, deletions); other readers ignore them. */
export const OUR_RECORDS = 'DOCKER_MIGRATE.';

/** What the reader keeps buffered ahead of the entry being written, so that the sender need not wait for the disk. */
const READ_AHEAD = 1024 * 1024;
/** Limits on header data, which a hostile archive could otherwise make us hold in memory. */
const MAX_PAX_BYTES = 8 * 1024 * 1024;
const MAX_LONG_NAME = 64 * 1024;
const MAX_SPARSE_MAP = 64 * 1024 * 1024;

function corrupt(message: string): AppError {
  return new AppError('invalid_argument', `the volume archive is corrupt: ${message}`);
}

/** Chunks of the source, read ahead up to READ_AHEAD while the consumer is busy. */
class ByteQueue {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private failure: Error | undefined;
  private stopped = false;
  private wakeConsumer: (() => void) | undefined;
  private wakePump: (() => void) | undefined;
  readonly pumping: Promise<void>;

  constructor(private readonly source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.pumping = this.pump(source);
  }

  private async pump(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    try {
      for await (const raw of source) {
        if (this.isStopped()) break;
        const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
        if (chunk.length === 0) continue;
        this.chunks.push(chunk);
        this.buffered += chunk.length;
        this.notifyConsumer();
        while (this.buffered >= READ_AHEAD && !this.isStopped())
          await new Promise<void>((resolve) => (this.wakePump = resolve));
        if (this.isStopped()) break;
      }
    } catch (error) {
      this.failure ??= new AppError('unavailable', `the volume stream failed: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      this.ended = true;
      this.notifyConsumer();
    }
  }

  /** Read through a method: the pump's awaits let stop() change it, which narrowing would not see. */
  private isStopped(): boolean {
    return this.stopped;
  }

  /** Stops reading the source (which a for-await loop then closes); waiting consumers get `reason`. */
  stop(reason?: Error): void {
    if (reason !== undefined) this.failure ??= reason;
    this.stopped = true;
    this.notifyPump();
    this.notifyConsumer();
    // A stream that sends nothing more would keep the pump waiting in for-await for ever: a stream is destroyed
    // (which ends that wait); a generator ends when it next yields.
    const stream = this.source as { destroy?: unknown; readableEnded?: boolean };
    if (typeof stream.destroy === 'function' && stream.readableEnded !== true)
      (stream.destroy as () => void).call(stream);
  }

  /** Waits until `least` bytes are buffered, or the source ended; returns how many are. */
  async fill(least: number): Promise<number> {
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (this.buffered >= least || this.ended) return this.buffered;
      await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }

  /** Exactly `length` bytes (joined when they span chunks), or a corrupt-archive error at the end of the source. */
  async take(length: number): Promise<Buffer> {
    if ((await this.fill(length)) < length) throw corrupt('it ends in the middle of an entry');
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) return this.sliceFirst(length);
    const parts: Buffer[] = [];
    let left = length;
    while (left > 0) {
      const part = this.sliceFirst(Math.min(left, this.chunks[0]?.length ?? 0));
      parts.push(part);
      left -= part.length;
    }
    return Buffer.concat(parts, length);
  }

  /** Up to `most` bytes from the first chunk, without copying (at least one, unless the source ended). */
  async takeSome(most: number): Promise<Buffer> {
    if ((await this.fill(1)) === 0) throw corrupt('it ends in the middle of an entry');
    return this.sliceFirst(Math.min(most, this.chunks[0]?.length ?? 0));
  }

  /** True when the source has nothing more. */
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  private sliceFirst(length: number): Buffer {
    const first = this.chunks[0] ?? Buffer.alloc(0);
    let part: Buffer;
    if (length >= first.length) {
      part = first;
      this.chunks.shift();
    } else {
      part = first.subarray(0, length);
      this.chunks[0] = first.subarray(length);
    }
    this.buffered -= part.length;
    if (this.buffered < READ_AHEAD) this.notifyPump();
    return part;
  }

  private notifyConsumer(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = undefined;
    wake?.();
  }

  private notifyPump(): void {
    const wake = this.wakePump;
    this.wakePump = undefined;
    wake?.();
  }
}

/** A NUL-terminated text field. */
function text(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? length : end).toString('utf8');
}

/** A numeric field: octal digits (space or NUL padded), or GNU's base-256 for numbers octal cannot hold. */
function numeric(block: Buffer, offset: number, length: number, what: string): number {
  const first = block[offset] ?? 0;
  if (first & 0x80) {
    if (first === 0xff) throw corrupt(`a header has a negative ${what}`);
    let value = first & 0x7f;
    for (let index = offset + 1; index < offset + length; index += 1)
      value = value * 256 + (block[index] ?? 0);
    if (!Number.isSafeInteger(value)) throw corrupt(`a header's ${what} is too large`);
    return value;
  }
  const digits = block
    .subarray(offset, offset + length)
    .toString('latin1')
    .replace(/[\0 ]+/g, ' ')
    .trim();
  if (digits === '') return 0;
  if (!/^[0-7]+$/.test(digits)) throw corrupt(`a header's ${what} is not a number`);
  return parseInt(digits, 8);
}

/** Whether a header block's checksum is right (unsigned, as POSIX says, or signed, as old tars wrote it). */
function checksumMatches(block: Buffer): boolean {
  const stored = numeric(block, 148, 8, 'checksum');
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let index = 0; index < TAR_BLOCK; index += 1) {
    if (index >= 148 && index < 156) continue;
    const byte = block[index] ?? 0;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Buffer): boolean {
  for (let index = 0; index < TAR_BLOCK; index += 1) if (block[index] !== 0) return false;
  return true;
}

/** PAX records, "<length> <key>=<value>\n" each; values stay bytes, since extended attributes are binary. */
function parsePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let at = 0;
  while (at < data.length) {
    if (data[at] === 0) break; // padding some writers leave
    const space = data.indexOf(0x20, at);
    const length = space === -1 ? NaN : Number(data.subarray(at, space).toString('latin1'));
    if (!Number.isSafeInteger(length) || length <= space - at + 1 || at + length > data.length)
      throw corrupt('a PAX header is garbled');
    const record = data.subarray(space + 1, at + length);
    const equals = record.indexOf(0x3d);
    if (equals <= 0 || record[record.length - 1] !== 0x0a) throw corrupt('a PAX record is garbled');
    records.set(record.subarray(0, equals).toString('utf8'), record.subarray(equals + 1, record.length - 1));
    at += length;
  }
  return records;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

function decimal(value: Buffer | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = /^\d{1,16}$/.test(value.toString('latin1')) ? Number(value.toString('latin1')) : NaN;
  if (!Number.isSafeInteger(parsed)) throw corrupt(`the PAX ${what} is not a number`);
  return parsed;
}

/**
 * Reads entries in order: next() gives the next entry's header (skipping what is left of the previous one's data),
 * body() its content. Ends at the end-of-archive marker; a source that stops before it is a corrupt archive.
 */
export class TarReader {
  private readonly bytes: ByteQueue;
  /** Data bytes of the current entry not yet read, and the padding after them. */
  private left = 0;
  private padding = 0;
  private global = new Map<string, Buffer>();

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    this.bytes = new ByteQueue(source);
  }

  /** Stops reading the source; a consumer waiting for bytes gets `reason`. */
  stop(reason?: Error): void {
    this.bytes.stop(reason);
  }

  /** Settles once the source is no longer read. */
  finished(): Promise<void> {
    return this.bytes.pumping;
  }

  async next(): Promise<ArchiveEntry | undefined> {
    await this.skipRest();
    let pax: Map<string, Buffer> | undefined;
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = await this.headerBlock();
      if (block === undefined) return undefined;
      const typeflag = String.fromCharCode(block[156] ?? 0);
      const size = numeric(block, 124, 12, 'size');
      if (typeflag === 'x' || typeflag === 'g') {
        if (size > MAX_PAX_BYTES) throw corrupt('a PAX header is too large');
        const records = parsePax(await this.data(size));
        if (typeflag === 'g') for (const [key, value] of records) this.global.set(key, value);
        else pax = records;
        continue;
      }
      if (typeflag === 'L' || typeflag === 'K') {
        if (size > MAX_LONG_NAME) throw corrupt('a GNU long name is too long');
        const value = text(await this.data(size), 0, size);
        if (typeflag === 'L') longName = value;
        else longLink = value;
        continue;
      }
      const records = new Map([...this.global, ...(pax ?? [])]);
      return this.entry(block, typeflag, size, records, longName, longLink);
    }
  }

  /** The current entry's data, as slices of the received chunks (nothing copied). */
  async *body(): AsyncGenerator<Buffer> {
    while (this.left > 0) {
      const chunk = await this.bytes.takeSome(this.left);
      this.left -= chunk.length;
      yield chunk;
    }
  }

  /** Whether the source holds nothing past the end-of-archive marker but zeros (GNU tar pads to whole records). */
  async trailingZerosOnly(): Promise<boolean> {
    while (!(await this.bytes.atEnd())) {
      const chunk = await this.bytes.takeSome(Number.MAX_SAFE_INTEGER);
      for (const byte of chunk) if (byte !== 0) return false;
    }
    return true;
  }

  private async entry(
    block: Buffer,
    typeflag: string,
    storedSize: number,
    records: Map<string, Buffer>,
    longName: string | undefined,
    longLink: string | undefined,
  ): Promise<ArchiveEntry> {
    const record = (key: string): string | undefined => records.get(key)?.toString('utf8');
    const ustar = block.subarray(257, 265).toString('latin1') === 'ustar\u000000';
    const prefix = ustar ? text(block, 345, 155) : '';
    let name = longName ?? (prefix === '' ? text(block, 0, 100) : `${prefix}/${text(block, 0, 100)}`);
    name = record('path') ?? name;
    let type: ArchiveEntry['type'] = TYPES[typeflag] ?? 'other';
    if (type === 'file' && typeflag !== '7' && name.endsWith('/')) type = 'directory'; // pre-POSIX tars
    const size = decimal(records.get('size'), 'size') ?? storedSize;
    const mtimeRecord = record('mtime');
    const atimeRecord = record('atime');
    const entry: ArchiveEntry = {
      name,
      type,
      mode: numeric(block, 100, 8, 'mode') & 0o7777,
      uid: decimal(records.get('uid'), 'uid') ?? numeric(block, 108, 8, 'uid'),
      gid: decimal(records.get('gid'), 'gid') ?? numeric(block, 116, 8, 'gid'),
      mtime:
        (mtimeRecord === undefined ? undefined : parsePaxTime(mtimeRecord)) ??
        BigInt(numeric(block, 136, 12, 'mtime')) * 1_000_000_000n,
      ...(atimeRecord !== undefined && parsePaxTime(atimeRecord) !== undefined
        ? { atime: parsePaxTime(atimeRecord) }
        : {}),
      size: type === 'file' || type === 'other' ? size : 0,
      linkname: record('linkpath') ?? longLink ?? text(block, 157, 100),
      devmajor: numeric(block, 329, 8, 'device number'),
      devminor: numeric(block, 337, 8, 'device number'),
      xattrs: [],
    };
    for (const [key, value] of records)
      if (key.startsWith('SCHILY.xattr.')) entry.xattrs.push({ name: key.slice(13), value });
      else if (key.startsWith(OUR_RECORDS))
        (entry.ours ??= new Map()).set(key.slice(OUR_RECORDS.length), value.toString('utf8'));
    // Entries other than files may carry a size (hard links in some tars): their data is skipped, never used.
    this.left = size;
    this.padding = paddingAfter(size);
    if (type !== 'file') {
      entry.size = 0;
      return entry;
    }
    const major = record('GNU.sparse.major');
    if (major !== undefined || records.has('GNU.sparse.map') || records.has('GNU.sparse.offset')) {
      if (major !== '1' || record('GNU.sparse.minor') !== '0')
        throw new AppError(
          'invalid_argument',
          `the volume archive holds '${name}' in a GNU sparse format other than 1.0, which we do not read`,
          { hint: 'make the archive with GNU tar 1.27 or later (--format=posix --sparse)' },
        );
      entry.name = record('GNU.sparse.name') ?? name;
      const realSize = decimal(records.get('GNU.sparse.realsize'), 'sparse file size');
      if (realSize === undefined) throw corrupt(`the sparse file '${entry.name}' has no size`);
      const regions = await this.sparseMap(entry.name, realSize);
      entry.size = this.left;
      entry.sparse = { realSize, regions };
    }
    return entry;
  }

  /** Reads the map at the start of a sparse file's data and checks that its regions fit the file and the data. */
  private async sparseMap(name: string, realSize: number): Promise<SparseRegion[]> {
    const numbers: number[] = [];
    let expected: number | undefined;
    let line = '';
    let mapBytes = 0;
    while (expected === undefined || numbers.length < 1 + 2 * expected) {
      if (this.left < TAR_BLOCK || mapBytes >= MAX_SPARSE_MAP)
        throw corrupt(`the sparse map of '${name}' is garbled`);
      const block = await this.bytes.take(TAR_BLOCK);
      this.left -= TAR_BLOCK;
      mapBytes += TAR_BLOCK;
      for (const byte of block) {
        if (expected !== undefined && numbers.length >= 1 + 2 * expected) break;
        if (byte === 0x0a) {
          if (!/^\d{1,16}$/.test(line)) throw corrupt(`the sparse map of '${name}' is garbled`);
          numbers.push(Number(line));
          line = '';
          if (numbers.length === 1) expected = numbers[0];
        } else line += String.fromCharCode(byte);
      }
    }
    const regions: SparseRegion[] = [];
    let end = 0;
    let data = 0;
    for (let index = 1; index < numbers.length; index += 2) {
      const region = { offset: numbers[index] ?? 0, length: numbers[index + 1] ?? 0 };
      if (region.offset < end || region.offset + region.length > realSize)
        throw corrupt(`the sparse map of '${name}' has regions out of order or past the file's end`);
      end = region.offset + region.length;
      data += region.length;
      regions.push(region);
    }
    if (data !== this.left) throw corrupt(`the sparse map of '${name}' does not match its data`);
    return regions;
  }

  /** The next header block, or undefined at the end-of-archive marker (two zero blocks). */
  private async headerBlock(): Promise<Buffer | undefined> {
    if (await this.bytes.atEnd()) throw corrupt('it ends without the end-of-archive marker');
    const block = await this.bytes.take(TAR_BLOCK);
    if (isZeroBlock(block)) {
      if (await this.bytes.atEnd()) throw corrupt('it ends without the end-of-archive marker');
      if (!isZeroBlock(await this.bytes.take(TAR_BLOCK))) throw corrupt('a header block is empty');
      return undefined;
    }
    if (!checksumMatches(block)) throw corrupt("a header's checksum does not match");
    return block;
  }

  /** The whole data of a header-like entry (PAX records, long names), with its padding. */
  private async data(size: number): Promise<Buffer> {
    const data = await this.bytes.take(size);
    if (paddingAfter(size) > 0) await this.bytes.take(paddingAfter(size));
    return data;
  }

  private async skipRest(): Promise<void> {
    let rest = this.left + this.padding;
    this.left = 0;
    this.padding = 0;
    while (rest > 0) rest -= (await this.bytes.takeSome(rest)).length;
  }
}
