// Encodes the tar headers packDirectory writes: POSIX ustar, with PAX records for what its fields cannot hold (long or
// non-ASCII paths, large ids and sizes, nanosecond times, extended attributes, GNU sparse 1.0), as GNU tar and Go read.

/** Tar works in blocks of this size: a header is one block, data is padded to a whole number of blocks. */
export const TAR_BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK);

export type EntryType =
  'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

/** One extended attribute: its full name ("user.x", "security.capability") and its raw value. */
export interface Xattr {
  name: string;
  value: Buffer;
}

/** The fields of one archive entry; numbers are what lstat gave, times in nanoseconds since the epoch. */
export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: bigint;
  atime?: bigint;
  /** Bytes of data that follow the header: for a sparse file, its map's blocks and its data regions. */
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Sorted by name; carried as "SCHILY.xattr.<name>" records, which GNU tar and Go's archive/tar read. */
  xattrs?: readonly Xattr[];
  /** A file sent in GNU sparse 1.0 form: `size` counts the map and the data, `realSize` the whole file. */
  sparse?: { realSize: number };
  /** PAX records of our own ("DOCKER_MIGRATE.*"): a sync round's patches and deletions (volume-sync-pack.ts). */
  records?: readonly { key: string; value: string }[];
}

const TYPEFLAG: Record<EntryType | 'pax', number> = {
  file: 0x30, // '0'
  link: 0x31,
  symlink: 0x32,
  'character-device': 0x33,
  'block-device': 0x34,
  directory: 0x35,
  fifo: 0x36,
  pax: 0x78, // 'x'
};

/** Largest values of the octal fields: 7 digits for mode/ids/devices, 11 for size and mtime. */
const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;
const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');

/** Bytes of padding after `size` bytes of data, up to the next block. */
export function paddingAfter(size: number): number {
  const rest = size % TAR_BLOCK;
  return rest === 0 ? 0 : TAR_BLOCK - rest;
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index += 1) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

/** Writes ASCII `text` (already known to fit) at `offset`; a JS loop beats a call into C++ for short strings. */
function writeAscii(block: Buffer, offset: number, text: string): void {
  for (let index = 0; index < text.length; index += 1) block[offset + index] = text.charCodeAt(index);
}

/** Zero-padded octal digits then a NUL, filling the field (POSIX; what GNU tar writes). */
function writeOctal(block: Buffer, offset: number, fieldLength: number, value: number): void {
  let rest = value;
  for (let index = offset + fieldLength - 2; index >= offset; index -= 1) {
    block[index] = 0x30 + (rest % 8);
    rest = Math.floor(rest / 8);
  }
  block[offset + fieldLength - 1] = 0;
}

/** Splits an ASCII path over ustar's prefix (155 bytes) and name (100 bytes) fields, or returns undefined. */
function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  if (!isAscii(path)) return undefined; // non-ASCII goes into PAX, as UTF-8
  if (path.length <= 100) return { prefix: '', name: path };
  // The cut must be at a '/', leaving at most 155 bytes before and 100 after it.
  for (let cut = path.indexOf('/'); cut !== -1 && cut <= 155; cut = path.indexOf('/', cut + 1)) {
    if (cut > 0 && path.length - cut - 1 <= 100)
      return { prefix: path.slice(0, cut), name: path.slice(cut + 1) };
  }
  return undefined;
}

/** One PAX record, "<length> <key>=<value>\n", whose length counts its own digits; the value's bytes as they are. */
function paxRecord(key: string, value: string | Buffer): Buffer {
  const valueBytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const keyBytes = Buffer.byteLength(key);
  const bodyLength = 1 + keyBytes + 1 + valueBytes.length + 1; // " key=value\n"
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length = bodyLength + String(length).length;
  const record = Buffer.allocUnsafe(length);
  let at = record.write(`${String(length)} ${key}=`, 0, 'utf8');
  at += valueBytes.copy(record, at);
  record[at] = 0x0a;
  return record;
}

const NS_PER_SECOND = 1_000_000_000n;

/** A time as PAX writes it: seconds with nine decimals ("1700000000.123456789"), or whole seconds. */
export function formatPaxTime(time: bigint): string {
  const sign = time < 0n ? '-' : '';
  const magnitude = time < 0n ? -time : time;
  const fraction = magnitude % NS_PER_SECOND;
  const seconds = String(magnitude / NS_PER_SECOND);
  return fraction === 0n ? `${sign}${seconds}` : `${sign}${seconds}.${String(fraction).padStart(9, '0')}`;
}

/** A PAX time ("-12.5", "1700000000.123456789123") in nanoseconds, digits past the ninth cut; undefined if garbled. */
export function parsePaxTime(text: string): bigint | undefined {
  const match = /^(-?)(\d{1,20})(?:\.(\d*))?$/.exec(text);
  if (!match) return undefined;
  const magnitude =
    BigInt(match[2] ?? '0') * NS_PER_SECOND + BigInt((match[3] ?? '').slice(0, 9).padEnd(9, '0'));
  return match[1] === '-' ? -magnitude : magnitude;
}

/** Whole seconds of a time, rounded down, as ustar's mtime field holds it. */
export function wholeSeconds(time: bigint): number {
  const seconds = time / NS_PER_SECOND;
  return Number(time < 0n && seconds * NS_PER_SECOND !== time ? seconds - 1n : seconds);
}

/**
 * The name a sparse file's ustar header carries, as GNU tar makes it ("dir/GNUSparseFile.<pid>/name", with 0 for
 * the pid so that the same tree gives the same bytes): a reader that knows no sparse files extracts it aside.
 */
function sparseStandIn(name: string): string {
  const slash = name.lastIndexOf('/', name.length - 1);
  return `${name.slice(0, slash + 1)}GNUSparseFile.0/${name.slice(slash + 1)}`;
}

/** The PAX records an entry needs, or an empty list when ustar holds it all. */
function paxRecords(
  header: TarHeader,
  path: string,
  pathFits: boolean,
  linkFits: boolean,
  size: number,
): Buffer[] {
  const records: Buffer[] = [];
  if (header.sparse) {
    records.push(
      paxRecord('GNU.sparse.major', '1'),
      paxRecord('GNU.sparse.minor', '0'),
      paxRecord('GNU.sparse.name', header.name),
      paxRecord('GNU.sparse.realsize', String(header.sparse.realSize)),
    );
  }
  if (!pathFits) records.push(paxRecord('path', path));
  if (!linkFits) records.push(paxRecord('linkpath', header.linkname ?? ''));
  if (header.uid > MAX_OCTAL_7) records.push(paxRecord('uid', String(header.uid)));
  if (header.gid > MAX_OCTAL_7) records.push(paxRecord('gid', String(header.gid)));
  if (size > MAX_OCTAL_11) records.push(paxRecord('size', String(size)));
  const seconds = wholeSeconds(header.mtime);
  if (header.mtime % NS_PER_SECOND !== 0n || seconds < 0 || seconds > MAX_OCTAL_11)
    records.push(paxRecord('mtime', formatPaxTime(header.mtime)));
  if (header.atime !== undefined) records.push(paxRecord('atime', formatPaxTime(header.atime)));
  for (const { name, value } of header.xattrs ?? []) records.push(paxRecord(`SCHILY.xattr.${name}`, value));
  for (const { key, value } of header.records ?? []) records.push(paxRecord(key, value));
  return records;
}

interface UstarFields {
  prefix: string;
  name: string;
  type: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

/** One ustar header block at `offset` of `block` (whose bytes there must be zero). */
function writeUstar(fields: UstarFields, block: Buffer, offset: number): void {
  writeAscii(block, offset, fields.name);
  writeOctal(block, offset + 100, 8, fields.mode);
  writeOctal(block, offset + 108, 8, fields.uid);
  writeOctal(block, offset + 116, 8, fields.gid);
  writeOctal(block, offset + 124, 12, fields.size);
  writeOctal(block, offset + 136, 12, fields.mtime);
  block[offset + 156] = fields.type;
  writeAscii(block, offset + 157, fields.linkname);
  USTAR_MAGIC.copy(block, offset + 257);
  writeOctal(block, offset + 329, 8, fields.devmajor);
  writeOctal(block, offset + 337, 8, fields.devminor);
  writeAscii(block, offset + 345, fields.prefix);
  // The checksum counts its own field as 8 spaces; it is written "%06o\0 ", as GNU tar does.
  let sum = 8 * 0x20;
  for (let index = offset; index < offset + 148; index += 1) sum += block[index] ?? 0;
  for (let index = offset + 156; index < offset + TAR_BLOCK; index += 1) sum += block[index] ?? 0;
  writeOctal(block, offset + 148, 7, sum);
  block[offset + 155] = 0x20;
}

/**
 * The header blocks of an entry: one ustar block, or a PAX header, its records and then the ustar block. `extra`
 * zero bytes are left after them, for the caller's data (a small file goes out in the same buffer as its header).
 */
export function encodeHeader(header: TarHeader, extra = 0): Buffer {
  const name = header.sparse ? sparseStandIn(header.name) : header.name;
  const path = splitUstarPath(name);
  const linkname = header.linkname ?? '';
  const linkFits = linkname.length <= 100 && isAscii(linkname);
  const size = header.type === 'file' ? (header.size ?? 0) : 0;

  const records = paxRecords(header, name, path !== undefined, linkFits, size);
  const pax = records.length === 0 ? undefined : Buffer.concat(records);
  const paxLength = pax === undefined ? 0 : TAR_BLOCK + pax.length + paddingAfter(pax.length);

  const clamp = (value: number, max: number): number => Math.min(Math.max(value, 0), max);
  const common = {
    mode: header.mode & 0o7777,
    uid: clamp(header.uid, MAX_OCTAL_7),
    gid: clamp(header.gid, MAX_OCTAL_7),
    mtime: clamp(wholeSeconds(header.mtime), MAX_OCTAL_11),
    devmajor: clamp(header.devmajor ?? 0, MAX_OCTAL_7),
    devminor: clamp(header.devminor ?? 0, MAX_OCTAL_7),
  };
  const block = Buffer.alloc(paxLength + TAR_BLOCK + extra);
  if (pax !== undefined) {
    writeUstar(
      { ...common, prefix: '', name: 'PaxHeader', type: TYPEFLAG.pax, size: pax.length, linkname: '' },
      block,
      0,
    );
    pax.copy(block, TAR_BLOCK);
  }
  writeUstar(
    {
      ...common,
      ...(path ?? { prefix: '', name: 'PaxPath' }),
      type: TYPEFLAG[header.type],
      size: clamp(size, MAX_OCTAL_11),
      linkname: linkFits ? linkname : '',
    },
    block,
    paxLength,
  );
  return block;
}

/**
 * The map that starts a GNU sparse 1.0 file's data: the number of regions, then each region's offset and length,
 * one decimal number a line, padded with zeros to whole blocks.
 */
export function encodeSparseMap(regions: readonly { offset: number; length: number }[]): Buffer {
  let text = `${String(regions.length)}\n`;
  for (const { offset, length } of regions) text += `${String(offset)}\n${String(length)}\n`;
  const map = Buffer.alloc(text.length + paddingAfter(text.length));
  map.write(text, 0, 'latin1');
  return map;
}
