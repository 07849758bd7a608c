// What packing, unpacking and digesting a volume share: the statistics both ends report, the translation of
// filesystem failures into our error codes, and the times handed to file-times.ts.
import { AppError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';
import { futimesSync, lutimesSync } from 'node:fs';

import { nanosecondTimes, setTimesByFd, setTimesByPath } from '../platform/file-times.js';

/** What an archive held, so that both ends can report and compare what moved. */
export interface ArchiveStats {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  /** File content bytes (not tar bytes). */
  bytes: number;
  /** Entries left out: sockets (meaningless on another host), vanished files, devices we may not create. */
  skipped: number;
  /** Entries whose owner could not be set because we do not run as root (EPERM); their data is there. */
  ownershipNotRestored: number;
  /** Extended attributes sent (packing) or set (unpacking). */
  xattrs: number;
  /** Extended attributes the target refused (see XattrWriter): a warning, the entries themselves are there. */
  xattrsNotRestored: number;
}

export function emptyStats(): ArchiveStats {
  return {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    bytes: 0,
    skipped: 0,
    ownershipNotRestored: 0,
    xattrs: 0,
    xattrsNotRestored: 0,
  };
}

export function errnoOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
}

/** Translates a filesystem failure into our error codes, naming what we were doing. */
export function fsError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  const errno = errnoOf(error);
  const message = error instanceof Error ? error.message : String(error);
  let code: ErrorCode = 'internal';
  if (errno === 'ENOENT' || errno === 'ENOTDIR') code = 'not_found';
  else if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') code = 'permission_denied';
  else if (errno === 'ENOSPC' || errno === 'EDQUOT') code = 'failed_precondition';
  return new AppError(code, `${what}: ${message}`, { cause: error });
}

export function canceled(): AppError {
  return new AppError('canceled', 'the volume transfer was canceled');
}

/** Linux encoding of st_rdev (see sysmacros.h); numbers stay below 2^53 for any real device. */
export function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev % 2 ** 32;
  return {
    devmajor: (((low >>> 8) & 0xfff) | (high & 0xfffff000)) >>> 0,
    devminor: ((low & 0xff) | ((low >>> 12) & 0xfff00) | ((high & 0xfff) << 20)) >>> 0,
  };
}

/** Typed as what it may be on another build (the native add-on loaded), not as this build's literal. */
const exactTimes: boolean = nanosecondTimes;

/**
 * The time to hand to file-times.ts for `time` (ns). Where it sets times only to the microsecond, through Node's
 * double seconds, which are ~240 ns coarse near today's dates and which libuv truncates to whole microseconds, the
 * middle of the microsecond is aimed at: the rounding then cannot cross into the one before, and every time arrives
 * with the source's microsecond.
 */
function timeToSet(time: bigint): bigint {
  if (exactTimes) return time;
  const rest = ((time % 1000n) + 1000n) % 1000n;
  return time - rest + 500n;
}

/**
 * Node's utimes family takes a negative number of seconds for "now" (a Date it takes as it is), so file-times.ts's
 * fallback, which passes numbers, would date a file from before 1970 today: such times go as Dates, to the
 * millisecond, until times are set natively.
 */
function beforeEpoch(atime: bigint, mtime: bigint): boolean {
  return !exactTimes && (atime < 0n || mtime < 0n);
}

function dateOf(time: bigint): Date {
  return new Date(Number(time / 1_000_000n));
}

/** Sets an open file's times (ns), as finely as this platform can. */
export function setFileTimes(fd: number, atime: bigint, mtime: bigint): void {
  if (beforeEpoch(atime, mtime)) futimesSync(fd, dateOf(atime), dateOf(mtime));
  else setTimesByFd(fd, timeToSet(atime), timeToSet(mtime));
}

/** Sets the times (ns) of `path` itself, a symlink's own, as finely as this platform can. */
export function setPathTimes(path: string, atime: bigint, mtime: bigint): void {
  if (beforeEpoch(atime, mtime)) lutimesSync(path, dateOf(atime), dateOf(mtime));
  else setTimesByPath(path, timeToSet(atime), timeToSet(mtime));
}
