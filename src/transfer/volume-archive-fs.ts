// What packing, unpacking and digesting a volume share: the statistics both ends report and the translation of
// filesystem failures into our error codes.
import { AppError } from '../core/errors.js';
import type { ErrorCode } from '../core/errors.js';

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
