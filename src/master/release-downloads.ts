// The release archives a master offers its workers (GET /downloads/<file>) and the install script that fetches
// them (GET /install.sh): read from the downloads folder at each request, so that a `make release` is served at once.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The list of archives and their SHA-256, as `make release` writes it beside them. */
export const SUMS_FILE = 'SHA256SUMS';

/** Names the folder may serve: release archives only, never a path. */
const ARCHIVE_NAME = /^docker-migrate-[0-9A-Za-z.+-]+\.tar\.gz$/;

/** What a downloads folder serves; every read is fresh, and a folder without SHA256SUMS serves nothing. */
export interface ReleaseDownloads {
  /** Archive name → SHA-256 (hex), as SHA256SUMS lists them; empty when there is nothing to serve. */
  archives(): Map<string, string>;
  /** The file to send for a name, or undefined when that name is not served (not listed, or missing). */
  file(name: string): { path: string; size: number } | undefined;
}

/** Parses SHA256SUMS ("<hex>  <name>" lines), keeping only lines that name a release archive. */
export function parseSums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, hash, name] = /^([0-9a-f]{64}) [ *]?(\S+)$/.exec(line.trim()) ?? [];
    if (hash !== undefined && name !== undefined && ARCHIVE_NAME.test(name)) sums.set(name, hash);
  }
  return sums;
}

export function createReleaseDownloads(dir: string | undefined): ReleaseDownloads {
  const archives = (): Map<string, string> => {
    if (dir === undefined) return new Map();
    try {
      return parseSums(readFileSync(join(dir, SUMS_FILE), 'utf8'));
    } catch {
      // No SHA256SUMS (no `make release` here): nothing is offered.
      return new Map();
    }
  };
  const file = (name: string): { path: string; size: number } | undefined => {
    if (dir === undefined) return undefined;
    const listed = name === SUMS_FILE ? archives().size > 0 : archives().has(name);
    if (!listed) return undefined;
    const path = join(dir, name);
    try {
      const stat = statSync(path);
      return stat.isFile() ? { path, size: stat.size } : undefined;
    } catch {
      return undefined;
    }
  };
  return { archives, file };
}

/** Characters a URL or host:port may hold in the script: no quote, space, `$` or backslash can reach the shell. */
const SAFE_IN_SCRIPT = /^[0-9A-Za-z.:/[\]_-]+$/;

/** The install script with this master's addresses filled in; an address unsafe to embed is left out. */
export function renderInstallScript(template: string, masterHttp: string, masterGrpc: string): string {
  return template
    .replace('__DM_MASTER_HTTP__', SAFE_IN_SCRIPT.test(masterHttp) ? masterHttp : '')
    .replace('__DM_MASTER_GRPC__', SAFE_IN_SCRIPT.test(masterGrpc) ? masterGrpc : '');
}

/**
 * The one line that installs a worker as a service on a new host, from the master at `masterHttp`; undefined when
 * this master could not serve it (no install script in this build, or no archives to install from).
 */
export function offeredInstallCommand(
  master: { installScript: string | undefined; releases: ReleaseDownloads },
  masterHttp: string,
  token: string,
  caHash: string,
): string | undefined {
  if (master.installScript === undefined || master.releases.archives().size === 0) return undefined;
  return `curl -fsSL ${masterHttp}/install.sh | sudo sh -s -- --token ${token} --ca-hash ${caHash}`;
}
