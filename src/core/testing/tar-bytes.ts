// A tiny in-memory tar writer and reader for the fake engine and the contract suite (the core may not use node:*).
// Enough for small test archives: regular files and directories, ustar names, PAX and GNU long names on read.

export interface TarEntry {
  /** Path inside the archive; directories end without a slash here. */
  name: string;
  type: 'file' | 'directory' | 'other';
  data: Uint8Array;
}

const BLOCK = 512;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function writeString(block: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeString(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function readString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return decoder.decode(end < 0 ? field : field.subarray(0, end));
}

function readOctal(block: Uint8Array, offset: number, length: number): number {
  const text = readString(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`not a tar archive: bad number "${text}"`);
  return text === '' ? 0 : parseInt(text, 8);
}

function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : (block[i] ?? 0);
  return sum;
}

/** Splits a long name into ustar's prefix (155 bytes) and name (100 bytes) at a slash. */
function splitName(name: string): { prefix: string; name: string } {
  if (encoder.encode(name).length <= 100) return { prefix: '', name };
  const cut = name.lastIndexOf('/', name.length - 1);
  const head = name.slice(0, cut);
  const tail = name.slice(cut + 1);
  if (cut <= 0 || encoder.encode(head).length > 155 || encoder.encode(tail).length > 100) {
    throw new Error(`tar name too long for ustar: ${name}`);
  }
  return { prefix: head, name: tail };
}

function header(name: string, type: 'file' | 'directory', size: number, mode: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const parts = splitName(type === 'directory' ? `${name}/` : name);
  writeString(block, 0, 100, parts.name);
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 1_700_000_000);
  writeString(block, 156, 1, type === 'directory' ? '5' : '0');
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 345, 155, parts.prefix);
  writeString(block, 148, 8, `${checksum(block).toString(8).padStart(6, '0')}\0 `);
  return block;
}

export type TarContent = string | Uint8Array | null;

/** A tar of the given entries, in order: a string or bytes is a file, `null` a directory. */
export function tarOf(entries: Record<string, TarContent> | [string, TarContent][]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const [name, content] of Array.isArray(entries) ? entries : Object.entries(entries)) {
    if (content === null) {
      blocks.push(header(name, 'directory', 0, 0o755));
      continue;
    }
    const data = typeof content === 'string' ? encoder.encode(content) : content;
    blocks.push(header(name, 'file', data.length, 0o644));
    const padded = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
    padded.set(data);
    blocks.push(padded);
  }
  blocks.push(new Uint8Array(2 * BLOCK));
  return concatBytes(blocks);
}

function paxRecords(data: Uint8Array): Record<string, string> {
  const records: Record<string, string> = {};
  for (const line of decoder.decode(data).split('\n')) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined) records[match[1]] = match[2];
  }
  return records;
}

/** The entries of a tar; throws an Error saying why when the bytes are not a tar archive. */
export function entriesOf(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let longName: string | undefined;
  let ended = false;
  while (offset + BLOCK <= tar.length) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((byte) => byte === 0)) {
      ended = true;
      break;
    }
    if (readOctal(block, 148, 8) !== checksum(block))
      throw new Error('not a tar archive: bad header checksum');
    const size = readOctal(block, 124, 12);
    const flag = readString(block, 156, 1);
    const data = tar.subarray(offset + BLOCK, offset + BLOCK + size);
    if (data.length < size) throw new Error('not a tar archive: unexpected end of data');
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'x' || flag === 'L') {
      longName = flag === 'x' ? paxRecords(data).path : readString(data, 0, data.length);
      continue;
    }
    if (flag === 'g') continue;
    const prefix = readString(block, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${readString(block, 0, 100)}` : readString(block, 0, 100));
    longName = undefined;
    const type = flag === '5' ? 'directory' : flag === '0' || flag === '' ? 'file' : 'other';
    entries.push({ name: name.replace(/\/+$/, ''), type, data: new Uint8Array(data) });
  }
  if (!ended) throw new Error('not a tar archive: unexpected end of archive');
  return entries;
}

export function concatBytes(chunks: Uint8Array[]): Uint8Array {
  const result = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

/**
 * Where two byte arrays first differ (the shorter length when one is a prefix of the other), or undefined when
 * equal. Tests compare bytes with it: `toEqual` on typed arrays takes seconds for a few hundred kilobytes.
 */
export function firstDifference(a: Uint8Array, b: Uint8Array): number | undefined {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? undefined : length;
}

/** Reads a whole byte stream; only for the small archives of tests and the fake. */
export async function bytesOf(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return concatBytes(chunks);
}

/** Bytes as a stream of chunks of at most `chunkSize`, as a port's stream arrives. */
export async function* streamOf(bytes: Uint8Array | string, chunkSize = 4096): AsyncIterable<Uint8Array> {
  const data = typeof bytes === 'string' ? encoder.encode(bytes) : bytes;
  for (let offset = 0; offset < data.length; offset += chunkSize) {
    await Promise.resolve();
    yield data.slice(offset, offset + chunkSize);
  }
}
