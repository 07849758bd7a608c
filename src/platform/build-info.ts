// What this build is: version, git commit and build date, fixed at bundle time (scripts/build.mjs) or read in development.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BuildInfo {
  version: string;
  commit: string;
  date: string;
}

// Replaced by esbuild's `define` in the bundle; undeclared when running from source with tsx.
declare const __DOCKER_MIGRATE_BUILD__: BuildInfo | undefined;

function fromSource(): BuildInfo {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return { version: `${pkg.version ?? '0.0.0'}-dev`, commit: 'unknown (run from source)', date: '' };
  } catch {
    return { version: '0.0.0-dev', commit: 'unknown', date: '' };
  }
}

/** The build's identity, for `docker-migrate version`, logs and the worker's hello to its master. */
export function buildInfo(): BuildInfo {
  return typeof __DOCKER_MIGRATE_BUILD__ === 'undefined' ? fromSource() : __DOCKER_MIGRATE_BUILD__;
}

/** Whether this is the bundled binary (bin/docker-migrate) rather than the sources run by tsx or vitest. */
export function isBundled(): boolean {
  return typeof __DOCKER_MIGRATE_BUILD__ !== 'undefined';
}

/**
 * Where a master finds the release archives it serves new hosts, when not told: `dist/` of the source tree it runs
 * from (bin/docker-migrate or tsx), else the folder the release archive was unpacked in (beside the archives).
 */
export function defaultDownloadsDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (!isBundled()) return resolve(here, '..', '..', 'dist');
  // An unpacked release: <folder>/docker-migrate-<version>-<platform>/lib/docker-migrate, with release.json.
  if (existsSync(join(here, '..', 'release.json'))) return resolve(here, '..', '..');
  return resolve(here, '..', 'dist');
}

/** The worker install script the master serves at /install.sh: beside the binary, or in packaging/ of the sources. */
export function installScriptFile(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return isBundled()
    ? join(here, 'install-worker.sh')
    : resolve(here, '..', '..', 'packaging', 'install-worker.sh');
}

/** Whether this build can run a master: an unpacked release for another platform carries no SQLite add-on. */
export function masterAddonMissing(): boolean {
  return isBundled() && bundledAsset('better_sqlite3.node') === undefined;
}

/**
 * A file shipped beside the bundled binary (e.g. better-sqlite3's native add-on), or undefined when running from
 * source, where packages find their own files.
 */
export function bundledAsset(name: string): string | undefined {
  if (!isBundled()) return undefined;
  const path = join(dirname(fileURLToPath(import.meta.url)), name);
  return existsSync(path) ? path : undefined;
}
