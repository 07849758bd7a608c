// Packs what changed in a volume since a manifest, for warm migrations (rounds while the source runs, a last one
// with it stopped) and incremental syncs: a tar stream that unpackToDirectory(…, { update: true }) applies.
//
// Format: the tar of packDirectory (ustar + PAX, GNU sparse 1.0), walked the same way (by folder descriptors, never
// following a symlink), with two entries of our own, told by PAX records the receiver must understand:
//   - a patch: a regular file in GNU sparse 1.0 form whose data regions are the blocks that changed (SYNC_BLOCK
//     bytes each, against the base manifest's block digests), whose realsize is the file's new size (a truncation or
//     an extension), with `DOCKER_MIGRATE.patch=1` and `DOCKER_MIGRATE.digest=<the new file's content digest>`
//     (XXH3-128 of its size and block digests, see SyncHasher.content).
//     The receiver writes the regions into the file it has, sets the size and attributes, then re-reads the file and
//     reports a digest mismatch (the caller resends those paths whole). No regions: metadata only.
//   - deletions: the last entry, a file with `DOCKER_MIGRATE.deletions=1` whose data is the paths (NUL-separated,
//     deepest first) that the base holds and the volume no longer does.
// Every other entry is a whole entry: it replaces what the target has at its path, whatever its type. Directories
// always go (their attributes are set deepest first at the end); files, symlinks, devices and FIFOs only when new
// or changed; a hard-link group that changed goes whole, its data once and its other paths as links.
//
// Candidate rule for a regular file (re-read, compared block by block): no base entry or another type (sent whole);
// `resend` (whole); stat differs from the base (size, mtime, ctime, inode, links, mode, owner); the base marks it
// dirty (its size or ctime moved while it was read); racily clean (its mtime ≥ the start of the round that read it
// − 2 s: written in the same clock tick as that read, it may have changed without its stat showing it); or `hot`.
// Anything else is taken from the base without reading it.
//
// The new manifest describes what the receiver holds once it applied the whole stream: an entry that vanished or
// changed type while it was walked is left out (and so deleted there, and sent next round). Should a round fail,
// the next one goes from the previous manifest: what the failed round wrote differs from it only where the source
// did, so it is sent again. For an incremental sync the target's own manifest (manifestOf) is the base: stats never
// match across hosts, so every file is compared by content and only differing blocks travel.
import { closeSync, constants as fsConstants, fstatSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { AppError } from '../core/errors.js';
import { dataRegions } from '../platform/file-extents.js';
import { openFile, readFully } from './volume-archive-fd.js';
import { canceled, deviceNumbers, errnoOf, fsError } from './volume-archive-fs.js';
import { FOLDER_FDS, entryIn, entryName, requireFolderFds } from './volume-archive-pack.js';
import type { Folder } from './volume-archive-pack.js';
import type { SparseRegion } from './volume-archive-reader.js';
import { END_OF_ARCHIVE, encodeHeader, encodeSparseMap, paddingAfter } from './volume-archive-tar.js';
import type { TarHeader, Xattr } from './volume-archive-tar.js';
import { XattrReader } from './volume-archive-xattr.js';
import { BLOCK_DIGEST, RACY_NS, SYNC_BLOCK, SyncHasher, blockCount, statDiffers } from './volume-manifest.js';
import type { Manifest, ManifestEntry, ManifestType } from './volume-manifest.js';

export interface SyncPackOptions {
  /** What the receiver holds; none: everything is sent whole. */
  base?: Manifest;
  /** Paths to re-check by content even when their stat is unchanged (the final round's hot files). */
  hot?: ReadonlySet<string>;
  /** Paths to send whole (a patch the receiver could not verify). */
  resend?: ReadonlySet<string>;
  /**
   * Regular files whose content digests are already known (a receiver describing what it just wrote or verified):
   * recorded from their stat and those digests without being read, and nothing of them sent. For describing a copy
   * only: the stream then does not carry them.
   */
  known?: ReadonlyMap<string, { blockSize: number; blocks: Buffer; digest: Buffer }>;
  /**
   * When this round started (ns since the epoch), recorded as each entry's readStartNs: the caller's own mark, so
   * that what it later compares with (the first round's start, for the hot rule) is the very same time.
   */
  roundStartNs?: bigint;
  signal?: AbortSignal;
}

/** What a round did, for progress, tests and the decision to stop iterating. */
export interface SyncStats {
  /** Entries seen by the walk. */
  walked: number;
  /** Regular files read (whole sends and candidates). */
  reread: number;
  /** Bytes of the files read (their sizes when the read began). */
  bytesRead: number;
  whole: number;
  patched: number;
  metadataOnly: number;
  /** Candidates read and found equal in content and attributes: nothing sent. */
  unchangedCandidates: number;
  directories: number;
  /** Symlinks, devices and FIFOs sent. */
  others: number;
  hardlinks: number;
  /** Blocks (SYNC_BLOCK) of patches sent, and file data bytes sent (whole files and patches). */
  blocksSent: number;
  dataBytes: number;
  deletions: number;
  /** Files that changed while they were read (sent anyway, re-read next round). */
  dirty: number;
  /** Bytes of the tar stream. */
  wireBytes: number;
}

export interface SyncPackResult {
  stream: Readable;
  /** Resolves with the new manifest (what the receiver holds once it applied the stream) when the stream ended. */
  done: Promise<{ manifest: Manifest; stats: SyncStats }>;
  /** Bytes of regular files covered so far (whether sent or found unchanged): progress against the volume's size. */
  covered(): number;
}

const MiB = 1024 * 1024;
const READ_SIZE = MiB;
/** Reads of a file in flight ahead of the chunk being hashed and sent. */
const READS_AHEAD = 2;
/** Changed blocks of one file kept from the compare pass for sending; past this they are read again. */
const KEEP_BUDGET = 32 * MiB;
const O_NOATIME: number = fsConstants.O_NOATIME;
const ZEROS = Buffer.alloc(READ_SIZE);
/** Name of the deletions entry: a plain file to a reader that knows nothing of it. */
const DELETIONS_NAME = './.docker-migrate-deletions';

function emptySyncStats(): SyncStats {
  return {
    walked: 0,
    reread: 0,
    bytesRead: 0,
    whole: 0,
    patched: 0,
    metadataOnly: 0,
    unchangedCandidates: 0,
    directories: 0,
    others: 0,
    hardlinks: 0,
    blocksSent: 0,
    dataBytes: 0,
    deletions: 0,
    dirty: 0,
    wireBytes: 0,
  };
}

function typeOf(info: BigIntStats): ManifestType | undefined {
  if (info.isFile()) return 'file';
  if (info.isDirectory()) return 'directory';
  if (info.isSymbolicLink()) return 'symlink';
  if (info.isFIFO()) return 'fifo';
  if (info.isCharacterDevice()) return 'character-device';
  if (info.isBlockDevice()) return 'block-device';
  return undefined; // sockets belong to a running process on this host
}

/** Reads up to `length` bytes at `position`; what the file no longer holds (it shrank) is left as zeros. */
async function readFilled(
  fd: number,
  buffer: Buffer,
  length: number,
  position: number,
  absolute: string,
): Promise<{ data: Buffer; short: boolean }> {
  let got: number;
  try {
    got = await readFully(fd, buffer, 0, length, position);
  } catch (error) {
    throw fsError(error, `cannot read ${absolute}`);
  }
  if (got < length) buffer.fill(0, got, length);
  return { data: buffer.subarray(0, length), short: got < length };
}

/** Runs of consecutive block indexes as byte regions of a file of `size` bytes. */
function blockRuns(indexes: readonly number[], blockSize: number, size: number): SparseRegion[] {
  const runs: SparseRegion[] = [];
  for (const index of indexes) {
    const offset = index * blockSize;
    const length = Math.min(blockSize, size - offset);
    const last = runs.at(-1);
    if (last !== undefined && last.offset + last.length === offset) last.length += length;
    else runs.push({ offset, length });
  }
  return runs;
}

/** A chunk of a file, on the READ_SIZE grid; `short` when the file ended before it (the rest reads as zeros). */
interface FileChunk {
  at: number;
  data: Buffer;
  short: boolean;
}

/**
 * A file's chunks in order, READS_AHEAD reads in flight while the caller hashes and sends. Chunks that no data
 * region touches are zeros, not read. With `fresh`, each chunk has a buffer of its own (it goes into the stream);
 * otherwise a chunk's buffer is read into again once the caller asks for the next one.
 */
async function* fileChunks(
  fd: number,
  size: number,
  absolute: string,
  options: { regions?: readonly SparseRegion[]; fresh: boolean },
): AsyncGenerator<FileChunk> {
  const { regions, fresh } = options;
  const pool: Buffer[] = [];
  const reads: { at: number; buffer?: Buffer; reading: Promise<{ data: Buffer; short: boolean }> }[] = [];
  let next = 0;
  let region = 0;
  const touched = (at: number, length: number): boolean => {
    if (regions === undefined) return true;
    while (region < regions.length && (regions[region]?.offset ?? 0) + (regions[region]?.length ?? 0) <= at)
      region += 1;
    const first = regions[region];
    return first !== undefined && first.offset < at + length;
  };
  const start = (): void => {
    if (next >= size) return;
    const at = next;
    const length = Math.min(READ_SIZE, size - at);
    next += length;
    if (!touched(at, length)) {
      reads.push({ at, reading: Promise.resolve({ data: ZEROS.subarray(0, length), short: false }) });
      return;
    }
    const buffer = fresh ? Buffer.allocUnsafe(length) : (pool.pop() ?? Buffer.allocUnsafe(READ_SIZE));
    const reading = readFilled(fd, buffer, length, at, absolute);
    reading.catch(() => undefined); // awaited in turn below, or settled when something failed first
    reads.push({ at, buffer, reading });
  };
  try {
    while (reads.length < READS_AHEAD + 1 && next < size) start();
    for (let read = reads.shift(); read !== undefined; read = reads.shift()) {
      const chunk = await read.reading;
      start();
      yield { at: read.at, ...chunk };
      if (!fresh && read.buffer !== undefined) pool.push(read.buffer);
    }
  } finally {
    await Promise.allSettled(reads.map((read) => read.reading));
  }
}

/** The header and map of a GNU sparse 1.0 entry whose data are `runs` of a file of `size` bytes. */
function sparseHeader(header: TarHeader, runs: readonly SparseRegion[], size: number): Buffer[] {
  const last = runs.at(-1);
  const endsInHole = last === undefined || last.offset + last.length < size;
  const map = encodeSparseMap(endsInHole ? [...runs, { offset: size, length: 0 }] : runs);
  const dataBytes = runs.reduce((sum, run) => sum + run.length, 0);
  return [encodeHeader({ ...header, size: map.length + dataBytes, sparse: { realSize: size } }), map];
}

/** One round of the walk: what it found, what it sent, the manifest it builds. */
class ChangePacker {
  readonly manifest: Manifest = new Map();
  readonly stats = emptySyncStats();
  coveredBytes = 0;
  private readonly roundStartNs: bigint;
  private readonly xattrReader = new XattrReader();
  /** Hard-link groups met this round, by "dev:ino": the path their data went out with, if it did. */
  private readonly inodes = new Map<string, { record: ManifestEntry; sentAs?: string }>();
  private noAtime = O_NOATIME;

  constructor(
    private readonly root: string,
    private readonly options: SyncPackOptions,
    private readonly hasher: SyncHasher,
  ) {
    this.roundStartNs = options.roundStartNs ?? BigInt(Date.now()) * 1_000_000n;
  }

  async *run(): AsyncGenerator<Buffer> {
    let fd: number;
    try {
      requireFolderFds();
      fd = await this.open(this.root, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (error) {
      throw fsError(error, `cannot read the volume directory ${this.root}`);
    }
    yield* this.folder({ fd, absolute: this.root }, '');
    yield* this.deletions();
    yield Buffer.alloc(END_OF_ARCHIVE.length);
  }

  private checkAbort(): void {
    if (this.options.signal?.aborted) throw canceled();
  }

  /** Opens without touching atimes where allowed (owner or CAP_FOWNER), as packDirectory does. */
  private async open(path: string, flags: number): Promise<number> {
    if (this.noAtime !== 0) {
      try {
        return await openFile(path, flags | this.noAtime);
      } catch (error) {
        if (errnoOf(error) !== 'EPERM') throw error;
        this.noAtime = 0;
      }
    }
    return openFile(path, flags);
  }

  private header(relative: string, info: BigIntStats, xattrs: readonly Xattr[]): Omit<TarHeader, 'type'> {
    return {
      name: entryName(relative, info.isDirectory()),
      mode: Number(info.mode & 0o7777n),
      uid: Number(info.uid),
      gid: Number(info.gid),
      mtime: info.mtimeNs,
      atime: info.atimeNs,
      ...(xattrs.length > 0 ? { xattrs } : {}),
    };
  }

  private record(info: BigIntStats, type: ManifestType, xattrs: readonly Xattr[]): ManifestEntry {
    return {
      type,
      mode: Number(info.mode & 0o7777n),
      uid: Number(info.uid),
      gid: Number(info.gid),
      size: type === 'file' ? Number(info.size) : 0,
      mtimeNs: info.mtimeNs,
      ctimeNs: info.ctimeNs,
      dev: info.dev,
      ino: info.ino,
      nlink: Number(info.nlink),
      rdev: info.rdev,
      xattrDigest: this.hasher.xattrs(xattrs),
      dirty: false,
      readStartNs: this.roundStartNs,
    };
  }

  /** An open folder: its header, then its children in sorted order; closed when done. */
  private async *folder(folder: Folder, relative: string): AsyncGenerator<Buffer> {
    try {
      const info = fstatSync(folder.fd, { bigint: true });
      const xattrs = await this.xattrReader.read(
        `${FOLDER_FDS}/${String(folder.fd)}/.`,
        info.dev,
        folder.absolute,
      );
      this.stats.walked += 1;
      this.stats.directories += 1;
      this.manifest.set(relative, this.record(info, 'directory', xattrs));
      yield encodeHeader({ ...this.header(relative, info, xattrs), type: 'directory' });
      let names: string[];
      try {
        names = (await readdir(`${FOLDER_FDS}/${String(folder.fd)}`)).sort();
      } catch (error) {
        throw fsError(error, `cannot list ${folder.absolute}`);
      }
      for (const name of names) {
        this.checkAbort();
        yield* this.child(folder, name, relative === '' ? name : `${relative}/${name}`);
      }
    } finally {
      closeSync(folder.fd);
    }
  }

  /** One child of an open folder, by lstat through the folder's descriptor. */
  private async *child(parent: Folder, name: string, relative: string): AsyncGenerator<Buffer> {
    const path = entryIn(parent, name);
    const absolute = join(parent.absolute, name);
    let info: BigIntStats;
    try {
      info = await lstat(path, { bigint: true });
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return; // deleted since the listing: a live volume
      throw fsError(error, `cannot read ${absolute}`);
    }
    const type = typeOf(info);
    if (type === undefined) return;
    if (type === 'directory') {
      let fd: number;
      try {
        fd = await this.open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
      } catch (error) {
        const errno = errnoOf(error);
        // Gone or swapped for something else since its lstat: the next round sees what it is now.
        if (errno === 'ENOENT' || errno === 'ELOOP' || errno === 'ENOTDIR') return;
        throw fsError(error, `cannot open ${absolute}`);
      }
      yield* this.folder({ fd, absolute }, relative);
      return;
    }
    this.stats.walked += 1;
    if (type === 'file') yield* this.file(parent, name, relative, info);
    else yield* this.special(path, absolute, relative, info, type);
  }

  /** A symlink, device or FIFO: sent when new or when its stat moved. */
  private async *special(
    path: string,
    absolute: string,
    relative: string,
    info: BigIntStats,
    type: ManifestType,
  ): AsyncGenerator<Buffer> {
    const base = this.options.base?.get(relative);
    if (base?.type === type && !statDiffers(base, info) && !this.options.resend?.has(relative)) {
      this.manifest.set(relative, base);
      return;
    }
    const xattrs = await this.xattrReader.read(path, info.dev, absolute);
    const record = this.record(info, type, xattrs);
    const header = this.header(relative, info, xattrs);
    if (type === 'symlink') {
      let target: string;
      try {
        target = await readlink(path);
      } catch (error) {
        const errno = errnoOf(error);
        if (errno === 'ENOENT' || errno === 'EINVAL') return; // replaced meanwhile: the next round sees it
        throw fsError(error, `cannot read the symlink ${absolute}`);
      }
      record.linkTarget = target;
      yield encodeHeader({ ...header, type: 'symlink', linkname: target });
    } else if (type === 'fifo') yield encodeHeader({ ...header, type: 'fifo' });
    else yield encodeHeader({ ...header, type, ...deviceNumbers(Number(info.rdev)) });
    this.manifest.set(relative, record);
    this.stats.others += 1;
  }

  /** Whether a regular file must be read this round: 'whole', 'patch', or 'skip' (taken from the base). */
  private decide(relative: string, info: BigIntStats): 'whole' | 'patch' | 'skip' {
    const base = this.options.base?.get(relative);
    if (base?.type !== 'file' || base.blocks === undefined || base.blockSize !== SYNC_BLOCK) return 'whole';
    if (this.options.resend?.has(relative)) return 'whole';
    const candidate =
      statDiffers(base, info) ||
      base.dirty ||
      info.mtimeNs >= base.readStartNs - RACY_NS ||
      this.options.hot?.has(relative) === true;
    if (!candidate) return 'skip';
    // A hard-link group that changed is resent whole: its data once, its other paths as links.
    return info.nlink > 1n ? 'whole' : 'patch';
  }

  private async *file(
    parent: Folder,
    name: string,
    relative: string,
    info: BigIntStats,
  ): AsyncGenerator<Buffer> {
    const inodeKey = `${String(info.dev)}:${String(info.ino)}`;
    const group = info.nlink > 1n ? this.inodes.get(inodeKey) : undefined;
    if (group?.sentAs !== undefined) {
      this.manifest.set(relative, { ...group.record });
      const { xattrs: _sameInode, ...header } = this.header(relative, info, []);
      yield encodeHeader({ ...header, type: 'link', linkname: group.sentAs });
      this.stats.hardlinks += 1;
      return;
    }
    const known = this.options.known?.get(relative);
    if (known !== undefined) {
      const xattrs = await this.xattrReader.read(
        entryIn(parent, name),
        info.dev,
        join(parent.absolute, name),
      );
      const record = { ...this.record(info, 'file', xattrs), ...known };
      this.manifest.set(relative, record);
      if (info.nlink > 1n) this.inodes.set(inodeKey, { record });
      this.coveredBytes += Number(info.size);
      return;
    }
    const decision = this.decide(relative, info);
    if (decision === 'skip') {
      const base = this.options.base?.get(relative);
      if (base) {
        this.manifest.set(relative, base);
        if (info.nlink > 1n) this.inodes.set(inodeKey, { record: base });
      }
      this.coveredBytes += Number(info.size);
      return;
    }
    const absolute = join(parent.absolute, name);
    let fd: number;
    try {
      // O_NONBLOCK: should the file have become a FIFO meanwhile, opening it must not wait for a writer.
      fd = await this.open(
        entryIn(parent, name),
        fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK,
      );
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === 'ENOENT' || errno === 'ELOOP' || errno === 'ENXIO') return; // replaced: seen next round
      throw fsError(error, `cannot open ${absolute}`);
    }
    try {
      const opened = fstatSync(fd, { bigint: true });
      if (!opened.isFile()) return;
      const xattrs = await this.xattrReader.read(entryIn(parent, name), opened.dev, absolute);
      const record = this.record(opened, 'file', xattrs);
      const base = this.options.base?.get(relative);
      this.stats.reread += 1;
      this.stats.bytesRead += Number(opened.size);
      if (decision === 'patch' && base !== undefined)
        yield* this.patch(fd, absolute, relative, opened, xattrs, record, base);
      else yield* this.whole(fd, absolute, relative, opened, xattrs, record);
      const after = fstatSync(fd, { bigint: true });
      if (after.size !== opened.size || after.ctimeNs !== opened.ctimeNs) record.dirty = true;
      if (record.dirty) this.stats.dirty += 1;
      this.manifest.set(relative, record);
      if (opened.nlink > 1n) this.inodes.set(inodeKey, { record, sentAs: entryName(relative, false) });
    } finally {
      closeSync(fd);
    }
  }

  /** A file sent whole (filesystem holes skipped, GNU sparse form), its digests computed from what is sent. */
  private async *whole(
    fd: number,
    absolute: string,
    relative: string,
    info: BigIntStats,
    xattrs: readonly Xattr[],
    record: ManifestEntry,
  ): AsyncGenerator<Buffer> {
    const size = Number(info.size);
    const regions = dataRegions(fd, size);
    const sparse =
      size > 0 && !(regions.length === 1 && regions[0]?.offset === 0 && regions[0].length === size);
    const header: TarHeader = { ...this.header(relative, info, xattrs), type: 'file', size };
    if (sparse) yield* sparseHeader(header, regions, size);
    else yield encodeHeader(header);
    const blocks = Buffer.alloc(blockCount(size, SYNC_BLOCK) * BLOCK_DIGEST);
    let dataBytes = 0;
    let region = 0;
    // Fresh buffers: the stream's consumer may still hold the previous chunk.
    for await (const { at, data, short } of fileChunks(fd, size, absolute, { regions, fresh: true })) {
      this.checkAbort();
      const length = data.length;
      if (short) record.dirty = true;
      while (region < regions.length && (regions[region]?.offset ?? 0) + (regions[region]?.length ?? 0) <= at)
        region += 1;
      this.hasher.blocks(data, SYNC_BLOCK, blocks, at / SYNC_BLOCK);
      for (let index = region; index < regions.length; index += 1) {
        const run = regions[index];
        if (run === undefined || run.offset >= at + length) break;
        const from = Math.max(run.offset, at);
        const to = Math.min(run.offset + run.length, at + length);
        if (to > from) {
          yield data.subarray(from - at, to - at);
          dataBytes += to - from;
        }
      }
      this.coveredBytes += length;
    }
    const padding = paddingAfter(dataBytes);
    if (padding > 0) yield Buffer.alloc(padding);
    record.blockSize = SYNC_BLOCK;
    record.blocks = blocks;
    record.digest = this.hasher.content(blocks, size);
    this.stats.whole += 1;
    this.stats.dataBytes += dataBytes;
  }

  /**
   * Reads a candidate once: its block digests and whole digest go into `record`; the blocks that differ from the
   * base's are listed, and kept (copied) while they fit KEEP_BUDGET.
   */
  private async compare(
    fd: number,
    absolute: string,
    size: number,
    record: ManifestEntry,
    base: ManifestEntry,
  ): Promise<{ changed: number[]; kept: Map<number, Buffer> }> {
    const blocks = Buffer.alloc(blockCount(size, SYNC_BLOCK) * BLOCK_DIGEST);
    const baseBlocks = base.blocks ?? Buffer.alloc(0);
    const changed: number[] = [];
    const kept = new Map<number, Buffer>();
    let keptBytes = 0;
    for await (const { at, data, short } of fileChunks(fd, size, absolute, { fresh: false })) {
      this.checkAbort();
      if (short) record.dirty = true;
      const firstBlock = at / SYNC_BLOCK;
      this.hasher.blocks(data, SYNC_BLOCK, blocks, firstBlock);
      for (let offset = 0, index = firstBlock; offset < data.length; offset += SYNC_BLOCK, index += 1) {
        const from = index * BLOCK_DIGEST;
        const to = from + BLOCK_DIGEST;
        if (to <= baseBlocks.length && blocks.compare(baseBlocks, from, to, from, to) === 0) continue;
        changed.push(index);
        const end = Math.min(offset + SYNC_BLOCK, data.length);
        if (keptBytes + (end - offset) <= KEEP_BUDGET) {
          kept.set(index, Buffer.from(data.subarray(offset, end)));
          keptBytes += end - offset;
        }
      }
    }
    record.blockSize = SYNC_BLOCK;
    record.blocks = blocks;
    record.digest = this.hasher.content(blocks, size);
    return { changed, kept };
  }

  /**
   * A candidate file, compared with the base, then sent as a patch of its changed blocks, as metadata only, or not
   * at all when neither its content nor its attributes differ.
   */
  private async *patch(
    fd: number,
    absolute: string,
    relative: string,
    info: BigIntStats,
    xattrs: readonly Xattr[],
    record: ManifestEntry,
    base: ManifestEntry,
  ): AsyncGenerator<Buffer> {
    const size = Number(info.size);
    const { changed, kept } = await this.compare(fd, absolute, size, record, base);
    const blocks = record.blocks ?? Buffer.alloc(0);
    const metadataChanged =
      base.mode !== record.mode ||
      base.uid !== record.uid ||
      base.gid !== record.gid ||
      base.mtimeNs !== record.mtimeNs ||
      !base.xattrDigest.equals(record.xattrDigest);
    this.coveredBytes += size;
    if (changed.length === 0 && size === base.size && !metadataChanged) {
      this.stats.unchangedCandidates += 1;
      return;
    }
    const runs = blockRuns(changed, SYNC_BLOCK, size);
    const header: TarHeader = {
      ...this.header(relative, info, xattrs),
      type: 'file',
      records: [
        { key: 'DOCKER_MIGRATE.patch', value: '1' },
        { key: 'DOCKER_MIGRATE.digest', value: (record.digest ?? Buffer.alloc(0)).toString('hex') },
      ],
    };
    yield* sparseHeader(header, runs, size);
    let dataBytes = 0;
    for (const index of changed) {
      this.checkAbort();
      const offset = index * SYNC_BLOCK;
      const length = Math.min(SYNC_BLOCK, size - offset);
      let data = kept.get(index);
      if (data === undefined) {
        // Read again: should it differ from the compare pass, the file changed meanwhile; the manifest describes
        // what is sent, the file is dirty, and the receiver's whole-file check reports the mix for a resend.
        data = (await readFilled(fd, Buffer.allocUnsafe(length), length, offset, absolute)).data;
        const digest = Buffer.alloc(BLOCK_DIGEST);
        this.hasher.blocks(data, SYNC_BLOCK, digest, 0);
        if (!digest.equals(blocks.subarray(index * BLOCK_DIGEST, (index + 1) * BLOCK_DIGEST))) {
          digest.copy(blocks, index * BLOCK_DIGEST);
          record.dirty = true;
        }
      }
      yield data;
      dataBytes += length;
    }
    const padding = paddingAfter(dataBytes);
    if (padding > 0) yield Buffer.alloc(padding);
    this.stats.blocksSent += changed.length;
    this.stats.dataBytes += dataBytes;
    if (runs.length === 0) this.stats.metadataOnly += 1;
    else this.stats.patched += 1;
  }

  /** Paths of the base that the walk did not find, deepest first, as one entry of our own. */
  private *deletions(): Generator<Buffer> {
    const base = this.options.base;
    if (base === undefined) return;
    const gone = [...base.keys()].filter((path) => path !== '' && !this.manifest.has(path));
    if (gone.length === 0) return;
    const depth = (path: string): number => path.split('/').length;
    gone.sort((a, b) => depth(b) - depth(a) || (a < b ? 1 : a > b ? -1 : 0));
    const data = Buffer.from(gone.join('\0'), 'utf8');
    const extra = data.length + paddingAfter(data.length);
    const entry = encodeHeader(
      {
        name: DELETIONS_NAME,
        type: 'file',
        mode: 0o600,
        uid: 0,
        gid: 0,
        mtime: 0n,
        size: data.length,
        records: [{ key: 'DOCKER_MIGRATE.deletions', value: '1' }],
      },
      extra,
    );
    data.copy(entry, entry.length - extra);
    yield entry;
    this.stats.deletions = gone.length;
  }
}

/**
 * Packs what changed in `root` since `options.base` (everything, without a base) as a tar stream for
 * unpackToDirectory(…, { update: true }); `done` gives the manifest the receiver then holds. A file that changes
 * while it is read is still sent and marked dirty in the manifest, for the next round to read again.
 */
export function packChanges(root: string, options: SyncPackOptions = {}): SyncPackResult {
  let packer: ChangePacker | undefined;
  let resolveDone!: (value: { manifest: Manifest; stats: SyncStats }) => void;
  let rejectDone!: (error: unknown) => void;
  const done = new Promise<{ manifest: Manifest; stats: SyncStats }>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => undefined); // a caller that only reads the stream must not get an unhandled rejection

  async function* produce(): AsyncGenerator<Buffer> {
    if (options.signal?.aborted) throw canceled();
    packer = new ChangePacker(root, options, await SyncHasher.create());
    for await (const chunk of packer.run()) {
      packer.stats.wireBytes += chunk.length;
      yield chunk;
    }
  }

  const stream = Readable.from(produce(), { objectMode: false, highWaterMark: READ_SIZE });
  stream.once('end', () => {
    if (packer) resolveDone({ manifest: packer.manifest, stats: packer.stats });
  });
  stream.once('error', (error) => {
    rejectDone(AppError.from(error));
  });
  stream.once('close', () => {
    if (!stream.readableEnded)
      rejectDone(new AppError('canceled', 'the volume stream was closed before the end'));
  });
  // The failure reaches the caller through `done`: an unread stream must not crash on an 'error' event.
  stream.on('error', () => undefined);
  const onAbort = (): void => {
    stream.destroy(canceled());
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => options.signal?.removeEventListener('abort', onAbort));
  return { stream, done, covered: () => packer?.coveredBytes ?? 0 };
}

/**
 * The manifest of a folder as a full round would record it, without sending anything: what the target of an
 * incremental sync hands to the source as its base (every file read once, its stream discarded).
 */
export async function manifestOf(root: string, signal?: AbortSignal): Promise<Manifest> {
  const { stream, done } = packChanges(root, signal === undefined ? {} : { signal });
  stream.resume();
  return (await done).manifest;
}
