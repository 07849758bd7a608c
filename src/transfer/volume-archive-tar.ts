// Encodes the tar headers packDirectory writes: POSIX ustar, with a PAX record for whatever does not fit its fields
// (long or non-ASCII paths and link targets, large owner ids, sizes or times), as tar, Docker and tar-stream read.

/** Tar works in blocks of this size: a header is one block, data is padded to a whole number of blocks. */
export const TAR_BLOCK = 512;
/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * TAR_BLOCK);

export type EntryType =
  'file' | 'link' | 'symlink' | 'character-device' | 'block-device' | 'directory' | 'fifo';

/** The fields of one archive entry; numbers are what lstat gave, mtime in whole seconds. */
export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  size?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
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

/** One PAX record, "<length> <key>=<value>\n", whose length counts its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) length = bodyLength + String(length).length;
  return `${String(length)}${body}`;
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
  const path = splitUstarPath(header.name);
  const linkname = header.linkname ?? '';
  const linkFits = linkname.length <= 100 && isAscii(linkname);
  const size = header.type === 'file' ? (header.size ?? 0) : 0;

  let records = '';
  if (path === undefined) records += paxRecord('path', header.name);
  if (!linkFits) records += paxRecord('linkpath', linkname);
  if (header.uid > MAX_OCTAL_7) records += paxRecord('uid', String(header.uid));
  if (header.gid > MAX_OCTAL_7) records += paxRecord('gid', String(header.gid));
  if (size > MAX_OCTAL_11) records += paxRecord('size', String(size));
  if (header.mtime < 0 || header.mtime > MAX_OCTAL_11) records += paxRecord('mtime', String(header.mtime));
  const pax = records === '' ? undefined : Buffer.from(records, 'utf8');
  const paxLength = pax === undefined ? 0 : TAR_BLOCK + pax.length + paddingAfter(pax.length);

  const clamp = (value: number, max: number): number => Math.min(Math.max(value, 0), max);
  const common = {
    mode: header.mode & 0o7777,
    uid: clamp(header.uid, MAX_OCTAL_7),
    gid: clamp(header.gid, MAX_OCTAL_7),
    mtime: clamp(header.mtime, MAX_OCTAL_11),
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
