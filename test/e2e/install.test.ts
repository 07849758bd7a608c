// Install and operate, end to end: the linux-x64 release archive (built by scripts/release.mjs as `make release`
// does) unpacked into an empty folder runs `version`, a master and a worker with no Node.js on PATH; the master
// serves /install.sh and the archive, and `curl …/install.sh | sh -s -- … --no-service` installs a worker that
// enrolls and is online, upgrades it in place with the same worker id, refuses a wrong token in words, and
// removes it (identity kept, then purged). The service units pass `systemd-analyze verify`.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { startProcess, startTestMaster, tempDir, type RunningProcess } from '../support/processes.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const NODE_VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'packaging', 'platforms.json'), 'utf8')) as { node: string }
).node;
const RELEASE = `docker-migrate-${VERSION}-linux-x64`;
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const id = newRunLabel().slice(-8);
const adminToken = `dm-admin-e2e-install-${id}`;
const execFileAsync = promisify(execFile);

/** A PATH with every command of /usr/bin but Node.js and its tools: what a host without Node.js has. */
function pathWithoutNode(): string {
  const dir = tempDir('no-node-bin');
  for (const name of readdirSync('/usr/bin')) {
    if (/^(node|nodejs|npm|npx|corepack)$/.test(name)) continue;
    symlinkSync(join('/usr/bin', name), join(dir, name));
  }
  return `${dir}:/usr/sbin:/sbin`;
}

let downloads = '';
let sumsTwice: string[] = [];
let unpacked = '';
let launcher = '';
let noNodePath = '';
let master: RunningProcess | undefined;
const processes: RunningProcess[] = [];
let apiUrl = '';
let httpBase = '';
let token = '';
let caHash = '';
const prefixes: string[] = [];

const { call: api, workerId } = masterApi(() => apiUrl, adminToken);

/** Runs the master's one-liner as a user would, with no Node.js on PATH; answers exit code and output. */
async function installWorker(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string; err: string }> {
  const quoted = args.map((arg) => `'${arg}'`).join(' ');
  try {
    const { stdout, stderr } = await execFileAsync(
      '/bin/sh',
      ['-c', `curl -fsSL ${httpBase}/install.sh | sh -s -- ${quoted}`],
      { env: { PATH: noNodePath, HOME: tempDir('install-home'), ...env }, timeout: 180_000 },
    );
    return { code: 0, out: stdout, err: stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, out: failed.stdout ?? '', err: failed.stderr ?? '' };
  }
}

function pidOf(prefix: string): number {
  return Number(readFileSync(join(prefix, 'run', 'worker.pid'), 'utf8').trim());
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface WorkerJson {
  id: string;
  name: string;
  status: string;
  version: string;
}

async function listedWorkers(name: string): Promise<WorkerJson[]> {
  const { json } = await api<{ workers: WorkerJson[] }>('GET', '/api/workers');
  return json.workers.filter((worker) => worker.name === name);
}

beforeAll(() => {
  noNodePath = pathWithoutNode();
  downloads = tempDir('downloads');
  // As `make release` builds it (bundle, web UI, archive), twice: the same sources must give the same bytes.
  const release = (out: string): void => {
    execFileSync(process.execPath, ['scripts/release.mjs', '--platforms', 'linux-x64', '--out', out], {
      cwd: ROOT,
      stdio: 'pipe',
    });
  };
  release(downloads);
  const again = tempDir('downloads-again');
  release(again);
  sumsTwice = [
    readFileSync(join(downloads, 'SHA256SUMS'), 'utf8'),
    readFileSync(join(again, 'SHA256SUMS'), 'utf8'),
  ];
  // As the README says: unpacked beside the archives, whence the master serves them without being told.
  unpacked = downloads;
  execFileSync('tar', ['-xzf', join(downloads, `${RELEASE}.tar.gz`), '-C', unpacked]);
  launcher = join(unpacked, RELEASE, 'docker-migrate');
}, 400_000);

afterAll(async () => {
  for (const prefix of prefixes) {
    if (existsSync(join(prefix, 'run', 'worker.pid')) && alive(pidOf(prefix)))
      process.kill(pidOf(prefix), 'SIGKILL');
  }
  await Promise.all(processes.map((p) => p.stop()));
  await master?.stop();
});

describe('the linux-x64 release archive, on a host without Node.js', () => {
  it('is reproducible: built twice from the same sources, the same SHA-256', () => {
    expect(sumsTwice[0]).toMatch(new RegExp(`^[0-9a-f]{64}  ${RELEASE}\\.tar\\.gz\\n$`));
    expect(sumsTwice[1]).toBe(sumsTwice[0]);
  });

  it('holds its own runtime and runs `version`', () => {
    expect(spawnSync('/bin/sh', ['-c', 'command -v node'], { env: { PATH: noNodePath } }).status).not.toBe(0);
    const result = spawnSync(launcher, ['version'], {
      env: { PATH: noNodePath, HOME: tempDir('home'), DOCKER_HOST: h1.socket },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(`docker-migrate ${VERSION}`);
    expect(result.stdout).toMatch(new RegExp(`node:\\s+v${NODE_VERSION.replace(/\./g, '\\.')}`));
    const about = JSON.parse(readFileSync(join(unpacked, RELEASE, 'release.json'), 'utf8')) as {
      roles: string[];
    };
    expect(about.roles).toEqual(['master', 'worker', 'cli']);
  });

  it("refuses to run a master in words when a build carries no SQLite add-on (the other platforms' archives)", () => {
    const copy = tempDir('no-sqlite');
    execFileSync('cp', ['-a', join(unpacked, RELEASE), copy]);
    rmSync(join(copy, RELEASE, 'lib', 'better_sqlite3.node'));
    const result = spawnSync(
      join(copy, RELEASE, 'docker-migrate'),
      ['master', '--data-dir', tempDir('no-sqlite-data')],
      {
        env: { PATH: noNodePath, HOME: tempDir('home') },
        encoding: 'utf8',
      },
    );
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('error: this build (linux-x64) carries no master');
    expect(result.stderr).toMatch(/hint: .*linux-x64 archive or the container image/);
  });

  it('runs a master (web UI included) and a worker that enrolls and is online', async () => {
    const started = await startTestMaster(
      'release',
      adminToken,
      ['--downloads-dir', downloads],
      {},
      {
        bin: launcher,
        path: noNodePath,
      },
    );
    master = started.master;
    apiUrl = started.apiUrl;
    httpBase = apiUrl;
    const install = await master.waitFor(/^\s+(curl -fsSL \S+\/install\.sh \| sudo sh -s -- .*)$/);
    token = /--token (\S+)/.exec(install[1]!)![1]!;
    caHash = /--ca-hash (\S+)/.exec(install[1]!)![1]!;
    expect(started.joinArgs).toContain(token);

    const page = await fetch(`${apiUrl}/`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');

    const worker = startProcess(
      [
        ...started.joinArgs,
        '--name',
        `rel-${id}`,
        '--data-dir',
        tempDir('rel-worker'),
        '--grpc-addr',
        '127.0.0.1:0',
      ],
      { DOCKER_HOST: h1.socket },
      { bin: launcher, path: noNodePath },
    );
    processes.push(worker);
    await workerId(`rel-${id}`);
    const [listed] = await listedWorkers(`rel-${id}`);
    expect(listed?.version).toBe(VERSION);
  });
});

describe('GET /install.sh and /downloads/', () => {
  it('serves the archives SHA256SUMS lists, and nothing else', async () => {
    const sums = await fetch(`${httpBase}/downloads/SHA256SUMS`);
    expect(sums.status).toBe(200);
    expect(await sums.text()).toBe(readFileSync(join(downloads, 'SHA256SUMS'), 'utf8'));
    const archive = await fetch(`${httpBase}/downloads/${RELEASE}.tar.gz`);
    expect(archive.status).toBe(200);
    expect(Number(archive.headers.get('content-length'))).toBe(
      statSync(join(downloads, `${RELEASE}.tar.gz`)).size,
    );
    await archive.arrayBuffer();

    writeFileSync(join(downloads, 'secret.txt'), 'not for download');
    for (const path of [
      '/downloads/secret.txt',
      '/downloads/..%2Fpackage.json',
      '/downloads/%2Fetc%2Fpasswd',
    ]) {
      const response = await fetch(`${httpBase}${path}`);
      expect(response.status).toBe(404);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('not_found');
      expect(body.error.message).toMatch(/serves no file/);
    }
  });

  it('serves an install script naming this master', async () => {
    const response = await fetch(`${httpBase}/install.sh`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/x-shellscript/);
    const script = await response.text();
    expect(script).toContain(`MASTER_HTTP='${httpBase}'`);
    expect(script).not.toContain('__DM_MASTER_HTTP__');
    expect(spawnSync('/bin/sh', ['-n', '-c', script]).status).toBe(0);
  });
});

describe('curl …/install.sh | sh -s -- --no-service', () => {
  const prefix = join(tempDir('prefix'), 'dm');
  const name = `inst-${id}`;
  const args = (): string[] => [
    '--token',
    token,
    '--ca-hash',
    caHash,
    '--name',
    name,
    '--labels',
    'region=eu,role=e2e',
    '--prefix',
    prefix,
    '--no-service',
    '--grpc-addr',
    '127.0.0.1:0',
  ];
  let installedId = '';
  prefixes.push(prefix);

  it('installs a worker that enrolls and is online; DOCKER_HOST goes into its config, the token does not stay', async () => {
    const installed = await installWorker(args(), { DOCKER_HOST: h2.socket });
    expect(installed.err).toBe('');
    expect(installed.code).toBe(0);
    expect(installed.out).toContain(`Installed docker-migrate ${VERSION}`);
    installedId = /worker id:\s+(\S+)/.exec(installed.out)?.[1] ?? '';
    expect(await workerId(name)).toBe(installedId);
    const [listed] = await listedWorkers(name);
    expect(listed?.version).toBe(VERSION);

    const configFile = join(prefix, 'etc', 'worker.json');
    expect(statSync(configFile).mode & 0o777).toBe(0o600);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as {
      docker?: { host?: string };
      worker: Record<string, unknown>;
    };
    expect(config.docker?.host).toBe(h2.socket);
    expect(config.worker).toMatchObject({ name, ca_hash: caHash, labels: 'region=eu,role=e2e' });
    expect(config.worker.token).toBeUndefined();
    expect(readFileSync(configFile, 'utf8')).not.toContain(token);
    expect(alive(pidOf(prefix))).toBe(true);
  });

  it('upgrades in place when run again: a new process, the same worker id, online again', async () => {
    const before = pidOf(prefix);
    const again = await installWorker(args(), { DOCKER_HOST: h2.socket });
    expect(again.err).toBe('');
    expect(again.code).toBe(0);
    expect(again.out).toContain(`Upgraded the worker to docker-migrate ${VERSION}`);
    expect(again.out).toContain(installedId);
    const after = pidOf(prefix);
    expect(after).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(alive(after)).toBe(true);
    await eventually('the upgraded worker online, still one worker of that name', async () => {
      const listed = await listedWorkers(name);
      return listed.length === 1 && listed[0]!.id === installedId && listed[0]!.status === 'online'
        ? true
        : undefined;
    });
    expect(existsSync(join(prefix, 'app.previous', 'docker-migrate'))).toBe(true);
  });

  it('says why in words when the master refuses the token, and leaves no worker running', async () => {
    const other = join(tempDir('prefix-bad'), 'dm');
    prefixes.push(other);
    const refused = await installWorker(
      ['--token', 'dm-enroll-not-this-one', '--ca-hash', caHash, '--prefix', other, '--no-service'],
      { DOCKER_HOST: h2.socket },
    );
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/token/i);
    expect(refused.err).toContain('install-worker: the worker stopped');
    expect(refused.err).not.toMatch(/\n\s+at /);
  });

  it('--uninstall stops and removes it but keeps its identity; --purge removes that too', async () => {
    const pid = pidOf(prefix);
    const removed = await installWorker(['--uninstall', '--prefix', prefix]);
    expect(removed.code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(existsSync(join(prefix, 'app'))).toBe(false);
    expect(existsSync(join(prefix, 'app.previous'))).toBe(false);
    expect(existsSync(join(prefix, 'data', 'worker', 'identity.json'))).toBe(true);
    await eventually('the removed worker offline', async () =>
      (await listedWorkers(name))[0]?.status === 'offline' ? true : undefined,
    );

    const purged = await installWorker(['--uninstall', '--purge', '--prefix', prefix]);
    expect(purged.code).toBe(0);
    expect(existsSync(prefix)).toBe(false);
  });
});

describe('service units', () => {
  const units = ['docker-migrate-master.service', 'docker-migrate-worker.service'];
  const hasSystemd = spawnSync('systemd-analyze', ['--version']).status === 0;

  /** The unit as an install writes it (paths pointing at the unpacked release), verified by systemd. */
  function verify(unit: string, edit: (text: string) => string = (text) => text): string {
    const dir = tempDir('units');
    mkdirSync(dir, { recursive: true });
    const text = readFileSync(join(ROOT, 'packaging', unit), 'utf8').replaceAll(
      '/opt/docker-migrate/app',
      join(unpacked, RELEASE),
    );
    writeFileSync(join(dir, unit), edit(text));
    const result = spawnSync('systemd-analyze', ['verify', join(dir, unit)], { encoding: 'utf8' });
    return `${result.status === 0 ? '' : `exit ${result.status}\n`}${result.stdout}${result.stderr}`.trim();
  }

  it.runIf(hasSystemd).each(units)('%s passes systemd-analyze verify with nothing to say', (unit) => {
    expect(verify(unit)).toBe('');
    // The check has teeth: a misspelt key is reported.
    expect(verify(unit, (text) => text.replace('NoNewPrivileges=', 'NoNewPrivilege='))).toMatch(
      /Unknown key/,
    );
  });
});
