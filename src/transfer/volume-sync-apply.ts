// What unpackToDirectory(…, { update: true }) does with the entries of our own that packChanges() sends: a patch is
// written into the file the target has and verified whole; the deletions entry removes paths, never through a symlink.
import { closeSync, constants as fsConstants, fstatSync, fsyncSync, ftruncateSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import { lstat, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';

import { AppError } from '../core/errors.js';
import { openFile, readFully, writeAt } from './volume-archive-fd.js';
import { canceled, errnoOf, fsError } from './volume-archive-fs.js';
import type { ArchiveEntry } from './volume-archive-reader.js';
import type { SparseRegion } from './volume-archive-reader.js';
import {
  BLOCK_DIGEST,
  RACY_NS,
  SYNC_BLOCK,
  blockCount,
  statDiffers,
  type ManifestEntry,
  type SyncHasher,
} from './volume-manifest.js';

/** What an update did besides the entries counted in ArchiveStats. */
export interface SyncApplyStats {
  /** Patches (and metadata-only entries) applied and verified. */
  patched: number;
  /** Paths removed by the deletions entry. */
  deleted: number;
  /**
   * Paths whose patch could not be verified (the target's file differed from the base, or was missing, or was not a
   * regular file): to be sent whole in another round. Their content is not to be trusted until then.
   */
  mismatched: string[];
  /**
   * With `describe`: the content digests of each file the round wrote whole (as it was written) or patched (as its
   * check read it), so that a description of the copy need not read them again.
   */
  verified?: Map<string, KnownContent>;
}

/** A regular file's content digests, as a manifest keeps them. */
export interface KnownContent {
  blockSize: number;
  blocks: Buffer;
  digest: Buffer;
}

/** A deletions entry larger than this is refused: a hostile sender could otherwise make us hold any amount. */
const MAX_DELETIONS_BYTES = 256 * 1024 * 1024;
const VERIFY_READ = 1024 * 1024;

export interface PatchOptions {
  raw: string;
  /** Owner, mode, attributes, times, close (the unpacker's finishFile); takes the descriptor over. */
  finish: (fd: number) => void;
  /** Removes the attributes the source no longer has. */
  pruneXattrs: () => void;
  hasher: SyncHasher;
  /**
   * The receiver's description of this file (an incremental sync): when the file's stat still matches it, the patch
   * is checked by reading only the blocks it wrote.
   */
  described?: ManifestEntry | undefined;
  signal?: AbortSignal | undefined;
}

/** Writes all of `data` at `position`, going on after a partial write. */
async function writeFully(fd: number, data: Buffer, position: number): Promise<void> {
  for (let done = 0; done < data.length;) {
    const written = await writeAt(fd, [data.subarray(done)], position + done);
    if (written <= 0) throw new Error('the file system accepted no data');
    done += written;
  }
}

/** The open file's block digests and content digest (SyncHasher.content), from one read of all of it. */
async function readContent(fd: number, size: number, hasher: SyncHasher): Promise<KnownContent> {
  const blocks = Buffer.alloc(blockCount(size, SYNC_BLOCK) * BLOCK_DIGEST);
  const buffer = Buffer.allocUnsafe(VERIFY_READ);
  for (let position = 0; position < size;) {
    // Filled whole before hashing, so that a block never straddles two reads.
    const got = await readFully(fd, buffer, 0, buffer.length, position);
    if (got === 0) break;
    hasher.blocks(buffer.subarray(0, got), SYNC_BLOCK, blocks, position / SYNC_BLOCK);
    position += got;
    if (got < buffer.length) break;
  }
  return { blockSize: SYNC_BLOCK, blocks, digest: hasher.content(blocks, size) };
}

/**
 * The patched file's digests, reading only the blocks the patch wrote (and the last one): the others are as
 * `described` says, since the file's stat has not moved since that description read them, nor was it racily clean.
 */
async function patchedContent(
  fd: number,
  size: number,
  described: KnownContent,
  written: readonly SparseRegion[],
  hasher: SyncHasher,
): Promise<KnownContent> {
  const count = blockCount(size, SYNC_BLOCK);
  const blocks = Buffer.alloc(count * BLOCK_DIGEST);
  described.blocks.copy(blocks, 0, 0, Math.min(described.blocks.length, blocks.length));
  const touched = new Set<number>();
  for (const region of written)
    for (
      let index = Math.floor(region.offset / SYNC_BLOCK);
      index * SYNC_BLOCK < region.offset + region.length;
      index++
    )
      touched.add(index);
  if (count > 0) touched.add(count - 1);
  for (let index = described.blocks.length / BLOCK_DIGEST; index < count; index++) touched.add(index);
  const buffer = Buffer.allocUnsafe(SYNC_BLOCK);
  for (const index of touched) {
    if (index >= count) continue;
    const length = Math.min(SYNC_BLOCK, size - index * SYNC_BLOCK);
    const got = await readFully(fd, buffer, 0, length, index * SYNC_BLOCK);
    buffer.fill(0, got, length);
    hasher.blocks(buffer.subarray(0, length), SYNC_BLOCK, blocks, index);
  }
  return { blockSize: SYNC_BLOCK, blocks, digest: hasher.content(blocks, size) };
}

/** Whether a file's description can stand for its unpatched blocks: same stat, not racily clean, digests kept. */
function describes(
  entry: ManifestEntry | undefined,
  info: BigIntStats,
): entry is ManifestEntry & KnownContent {
  return (
    entry !== undefined &&
    entry.type === 'file' &&
    !entry.dirty &&
    entry.blockSize === SYNC_BLOCK &&
    entry.blocks !== undefined &&
    entry.digest !== undefined &&
    !statDiffers(entry, info) &&
    info.mtimeNs < entry.readStartNs - RACY_NS
  );
}

/**
 * Applies a patch entry to the file at `absolute`: its data regions written in place, its size set, its whole
 * content checked against the sender's digest, then its attributes. Returns false (nothing written) when there is
 * no regular file there — a symlink is never written through — and false when the digest differs.
 */
export async function applyPatch(
  absolute: string,
  entry: ArchiveEntry,
  body: AsyncIterable<Buffer>,
  options: PatchOptions,
): Promise<{ verified: false } | { verified: true; known: KnownContent }> {
  const expected = entry.ours?.get('digest');
  if (expected === undefined || !/^[0-9a-f]{32}$/.test(expected))
    throw new AppError(
      'invalid_argument',
      `the volume archive's patch of '${options.raw}' has no valid digest`,
    );
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink put in the file's place fails with ELOOP; O_NONBLOCK: a FIFO does not wait.
    fd = await openFile(absolute, fsConstants.O_RDWR | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  } catch (error) {
    const errno = errnoOf(error);
    if (errno === 'ENOENT' || errno === 'ELOOP' || errno === 'ENXIO' || errno === 'EISDIR')
      return { verified: false };
    throw fsError(error, `cannot open '${options.raw}' to patch it`);
  }
  let open = true;
  try {
    const before = fstatSync(fd, { bigint: true });
    // A file hard-linked here is never patched: the write would reach its other names too. Sent whole instead, it
    // replaces this name only.
    if (!before.isFile() || before.nlink > 1n) return { verified: false };
    const described = describes(options.described, before) ? options.described : undefined;
    const regions = entry.sparse?.regions ?? [{ offset: 0, length: entry.size }];
    let index = 0;
    let offset = regions[0]?.offset ?? 0;
    let left = regions[0]?.length ?? 0;
    let received = 0;
    for await (const chunk of body) {
      if (options.signal?.aborted) throw canceled();
      received += chunk.length;
      for (let rest = chunk; rest.length > 0;) {
        while (left === 0 && index + 1 < regions.length) {
          index += 1;
          offset = regions[index]?.offset ?? 0;
          left = regions[index]?.length ?? 0;
        }
        if (left === 0)
          throw new AppError('invalid_argument', `the patch of '${options.raw}' has too much data`);
        const part = rest.subarray(0, Math.min(left, rest.length));
        await writeFully(fd, part, offset);
        offset += part.length;
        left -= part.length;
        rest = rest.subarray(part.length);
      }
    }
    if (received !== entry.size)
      throw new AppError(
        'invalid_argument',
        `the volume archive is corrupt: the patch of '${options.raw}' ends early`,
      );
    const size = entry.sparse?.realSize ?? entry.size;
    ftruncateSync(fd, size);
    const known = described
      ? await patchedContent(fd, size, described, regions, options.hasher)
      : await readContent(fd, size, options.hasher);
    options.pruneXattrs();
    open = false;
    options.finish(fd);
    if (known.digest.toString('hex') !== expected) return { verified: false };
    return { verified: true, known };
  } finally {
    if (open) closeSync(fd);
  }
}

/** Whether every folder on the way to `relative` (not itself) is a real folder: never a symlink, never missing. */
async function throughRealFolders(root: string, relative: string): Promise<boolean> {
  const parts = relative.split('/');
  let current = root;
  for (const part of parts.slice(0, -1)) {
    current = join(current, part);
    const info = await lstat(current).catch(() => undefined);
    if (info?.isDirectory() !== true) return false;
  }
  return true;
}

/**
 * Removes the paths of a deletions entry (NUL-separated, deepest first); a path that is gone, or whose folder is gone
 * or was replaced by something else, is already deleted. `safe` turns each into a relative path inside root (it
 * throws on '..' and absolute paths). Returns how many were removed.
 */
export async function applyDeletions(
  root: string,
  body: AsyncIterable<Buffer>,
  safe: (path: string) => string,
): Promise<number> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > MAX_DELETIONS_BYTES)
      throw new AppError('invalid_argument', 'the volume archive lists too many deletions');
    chunks.push(chunk);
  }
  let removed = 0;
  for (const raw of Buffer.concat(chunks).toString('utf8').split('\0')) {
    if (raw === '') continue;
    const relative = safe(raw);
    if (relative === '') throw new AppError('invalid_argument', 'the volume archive deletes the volume root');
    if (!(await throughRealFolders(root, relative))) continue;
    const absolute = join(root, relative);
    const info = await lstat(absolute).catch(() => undefined);
    if (info === undefined) continue;
    try {
      // rm's recursion never follows a symlink; unlink removes a symlink itself.
      if (info.isDirectory()) await rm(absolute, { recursive: true, force: true });
      else await unlink(absolute);
      removed += 1;
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw fsError(error, `cannot delete '${raw}'`);
    }
  }
  return removed;
}

/** fsyncs folders, so that the entries created, renamed or removed in them are on disk. */
export async function fsyncFolders(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    let fd: number;
    try {
      fd = await openFile(path, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    } catch (error) {
      throw fsError(error, `cannot open ${path} to flush it`);
    }
    try {
      fsyncSync(fd);
    } catch (error) {
      throw fsError(error, `cannot flush ${path}`);
    } finally {
      closeSync(fd);
    }
  }
}
