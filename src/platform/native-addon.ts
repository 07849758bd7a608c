// Finds and loads the project's native add-on (native/fs-native.c: nanosecond file times, hole seeking), and turns
// its failures into errors shaped like Node's fs errors. Without it file-times.ts and file-extents.ts fall back.
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

import { bundledAsset, isBundled } from './build-info.js';
import type { Logger } from './logger.js';

/** The add-on's file name: beside bin/docker-migrate in a build, in native/build/ of the source tree. */
export const NATIVE_ADDON_FILE = 'fs_native.node';

/** What native/fs-native.c exports. Times are BigInt nanoseconds since the epoch. */
export interface NativeAddon {
  setTimesFd(fd: number, atime: bigint, mtime: bigint): void;
  setTimesPath(path: string, atime: bigint, mtime: bigint): void;
  /** The data runs within the first `size` bytes, flat: offset, length, offset, length, … */
  dataRegions(fd: number, size: number): number[];
}

export interface NativeAddonState {
  /** The loaded add-on, or undefined when it could not be loaded. */
  addon: NativeAddon | undefined;
  /** Where it was looked for. */
  path: string;
  /** Why it is not loaded, for the debug log. */
  problem: string | undefined;
}

function addonPath(): string {
  if (isBundled()) {
    return bundledAsset(NATIVE_ADDON_FILE) ?? fileURLToPath(new URL(NATIVE_ADDON_FILE, import.meta.url));
  }
  return fileURLToPath(new URL(`../../native/build/${NATIVE_ADDON_FILE}`, import.meta.url));
}

function isNativeAddon(value: unknown): value is NativeAddon {
  const candidate = value as Partial<Record<keyof NativeAddon, unknown>>;
  return (
    typeof candidate.setTimesFd === 'function' &&
    typeof candidate.setTimesPath === 'function' &&
    typeof candidate.dataRegions === 'function'
  );
}

/**
 * Loads the add-on once, at module load. Never throws: a platform it was not built for, or a clone where no C
 * compiler was found, still runs, with times to the µs and sparse files read whole.
 */
function load(): NativeAddonState {
  const path = addonPath();
  if (!existsSync(path)) {
    const problem = isBundled()
      ? `${NATIVE_ADDON_FILE} is not beside the binary`
      : `${path} is not built (node scripts/build-native.mjs; it needs a C compiler)`;
    return { addon: undefined, path, problem };
  }
  try {
    const module: { exports: unknown } = { exports: {} };
    // process.dlopen rather than require: esbuild leaves it alone, and the path is known exactly.
    process.dlopen(module, path, constants.dlopen.RTLD_NOW);
    if (!isNativeAddon(module.exports)) {
      return { addon: undefined, path, problem: `${path} lacks setTimesFd, setTimesPath or dataRegions` };
    }
    return { addon: module.exports, path, problem: undefined };
  } catch (error) {
    return { addon: undefined, path, problem: `${path} cannot be loaded: ${(error as Error).message}` };
  }
}

/** The add-on as loaded for this process. */
export const nativeAddon: NativeAddonState = load();

interface AddonSystemError extends Error {
  errno: number;
  syscall: string;
}

function isAddonSystemError(error: unknown): error is AddonSystemError {
  return (
    error instanceof Error &&
    typeof (error as Partial<AddonSystemError>).errno === 'number' &&
    typeof (error as Partial<AddonSystemError>).syscall === 'string'
  );
}

/**
 * Runs a call into the add-on, rethrowing a failed system call as Node's fs would (`ENOENT: no such file or
 * directory, utimensat '/x'` with code, errno, syscall and path), so that callers' errno handling works unchanged.
 */
export function callNative<T>(call: () => T, path?: string): T {
  try {
    return call();
  } catch (error) {
    if (!isAddonSystemError(error)) throw error;
    const code = getSystemErrorName(error.errno);
    const where = path === undefined ? error.syscall : `${error.syscall} '${path}'`;
    const failure: NodeJS.ErrnoException = new Error(`${code}: ${error.message}, ${where}`);
    failure.code = code;
    failure.errno = error.errno;
    failure.syscall = error.syscall;
    if (path !== undefined) failure.path = path;
    throw failure;
  }
}

let reported = false;

/**
 * Says once, at debug level, that the add-on is missing and what that costs: an operator comparing restored
 * times to the nanosecond, or wondering why sparse files are read whole, finds the reason in the log.
 */
export function logNativeAddon(log: Pick<Logger, 'debug'>): void {
  if (reported || nativeAddon.addon !== undefined) return;
  reported = true;
  log.debug(
    { addon: nativeAddon.path, problem: nativeAddon.problem },
    'native add-on not loaded: file times are set to the microsecond and sparse files are read whole',
  );
}
