// The built binary against real engines: what a person sees from `list`, `version`, `--help` and its errors.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import type { DockerodeEngine } from '../../src/docker/dockerode-engine.js';
import {
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';

const BIN = new URL('../../bin/docker-migrate', import.meta.url).pathname;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the binary with only the environment given (plus PATH and HOME), as a user's shell would. */
function cli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      args,
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function socketEnv(host: TestDockerHost): Record<string, string> {
  return { DOCKER_HOST: host.socket };
}

/** A TCP port on loopback where nothing listens. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const home = mkdtempSync(join(tmpdir(), 'dm-e2e-home-'));

describe('docker-migrate list (built binary, real engines)', () => {
  const h1 = testDockerHost(0);
  const h2 = testDockerHost(1);
  const runLabel = newRunLabel();
  const suffix = runLabel.slice(-8);
  let engine1: DockerodeEngine;
  let engine2: DockerodeEngine;
  let runningId: string;
  let stoppedId: string;

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run "make build" first`);
    engine1 = engineOverSocket(h1);
    engine2 = engineOverSocket(h2);
    const labels = { [runLabel]: '1' };
    await engine1.createVolume({ name: `e2e-data-${suffix}`, labels: { ...labels, owner: 'e2e' } });
    await engine1.createNetwork({
      name: `e2e-net-${suffix}`,
      labels,
      ipam: { config: [{ subnet: '10.248.7.0/24' }] },
    });
    runningId = await engine1.createContainer({
      name: `e2e-web-${suffix}`,
      image: h1.baseImage,
      cmd: ['sleep', '600'],
      labels,
      volumes: { [`e2e-data-${suffix}`]: '/data' },
      network: `e2e-net-${suffix}`,
    });
    await engine1.startContainer(runningId);
    stoppedId = await engine1.createContainer({
      name: `e2e-idle-${suffix}`,
      image: h1.baseImage,
      cmd: ['true'],
      labels,
    });
    await engine2.createVolume({ name: `e2e-only-on-h2-${suffix}`, labels });
  });

  afterAll(async () => {
    await removeLabelled(engine1, runLabel);
    await removeLabelled(engine2, runLabel);
  });

  it('lists the running containers of the engine named by DOCKER_HOST as an aligned table', async () => {
    const result = await cli(['list', 'containers'], socketEnv(h1));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+CONTAINER ID\s+IMAGE\s+STATE\s+STATUS\s+PORTS$/);
    const row = lines.find((line) => line.startsWith(`e2e-web-${suffix} `));
    expect(row).toBeDefined();
    expect(row).toContain(runningId.slice(0, 12));
    expect(row).toContain('running');
    // Columns line up: the id column starts at the same offset on every line.
    expect(row?.indexOf(runningId.slice(0, 12))).toBe(lines[0]?.indexOf('CONTAINER ID'));
    expect(result.stdout).not.toContain(`e2e-idle-${suffix}`);
  });

  it('includes stopped containers with --all, and --json carries ids, names, images and state', async () => {
    const result = await cli(['list', 'c', '--all', '--json'], socketEnv(h1));
    expect(result.code).toBe(0);
    const containers = JSON.parse(result.stdout) as {
      id: string;
      name: string;
      image: string;
      state: string;
    }[];
    expect(containers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: runningId,
          name: `e2e-web-${suffix}`,
          image: h1.baseImage,
          state: 'running',
        }),
        expect.objectContaining({ id: stoppedId, name: `e2e-idle-${suffix}`, state: 'created' }),
      ]),
    );
  });

  it('filters by label', async () => {
    const result = await cli(['list', 'containers', '--all', '--json', '--label', runLabel], socketEnv(h1));
    const names = (JSON.parse(result.stdout) as { name: string }[]).map((c) => c.name).sort();
    expect(names).toEqual([`e2e-idle-${suffix}`, `e2e-web-${suffix}`]);
  });

  it('lists images with their tags, ids and human sizes', async () => {
    const json = await cli(['list', 'images', '--json'], socketEnv(h1));
    const images = JSON.parse(json.stdout) as { id: string; tags: string[]; size: number }[];
    const base = images.find((image) => image.tags.includes(h1.baseImage));
    expect(base?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const table = await cli(['list', 'i'], socketEnv(h1));
    const [repo, tag] = h1.baseImage.split(':');
    expect(table.stdout).toMatch(
      new RegExp(`^${repo}\\s+${tag}\\s+${base?.id.slice(7, 19)}\\s+.+\\s+\\d+(\\.\\d+)? (?:[KMG]i)?B$`, 'm'),
    );
  });

  it('lists volumes, with sizes and users when asked', async () => {
    const json = await cli(['list', 'volumes', '--json', '--size'], socketEnv(h1));
    expect(json.code).toBe(0);
    const volumes = JSON.parse(json.stdout) as {
      name: string;
      driver: string;
      labels: object;
      refCount: number;
    }[];
    expect(volumes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: `e2e-data-${suffix}`,
          driver: 'local',
          labels: expect.objectContaining({ owner: 'e2e' }) as object,
          refCount: 1,
        }),
      ]),
    );
    const table = await cli(['list', 'v', '--size'], socketEnv(h1));
    expect(table.stdout.split('\n')[0]).toMatch(/^NAME\s+DRIVER\s+SIZE\s+USED BY\s+LABELS$/);
    expect(table.stdout).toMatch(new RegExp(`^e2e-data-${suffix}\\s+local\\s+\\S+ (?:Ki)?B\\s+1\\s+2$`, 'm'));
  });

  it('lists networks with their subnets and marks the built-in ones', async () => {
    const json = await cli(['list', 'networks', '--json'], socketEnv(h1));
    const networks = JSON.parse(json.stdout) as { id: string; name: string; builtIn: boolean }[];
    expect(networks.find((n) => n.name === `e2e-net-${suffix}`)).toMatchObject({ builtIn: false });
    expect(networks.find((n) => n.name === 'bridge')).toMatchObject({ builtIn: true });
    const table = await cli(['list', 'n'], socketEnv(h1));
    expect(table.stdout).toMatch(
      new RegExp(`^e2e-net-${suffix}\\s+[0-9a-f]{12}\\s+bridge\\s+local\\s+10\\.248\\.7\\.0/24$`, 'm'),
    );
    expect(table.stdout).toMatch(/^bridge\s+[0-9a-f]{12}\s+bridge\s+local\s+\S+\s+built-in$/m);
  });

  it('talks to an engine over TCP with mutual TLS from DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    if (!h2.tcp) throw new Error('host h2 has no TLS address (engines from DM_TEST_DOCKER_HOSTS have none)');
    const result = await cli(['list', 'volumes', '--json'], {
      DOCKER_HOST: h2.tcp,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: h2.certPath,
    });
    expect(result.code).toBe(0);
    const names = (JSON.parse(result.stdout) as { name: string }[]).map((v) => v.name);
    expect(names).toContain(`e2e-only-on-h2-${suffix}`);
    expect(names).not.toContain(`e2e-data-${suffix}`);
  });

  it('--docker-host wins over DOCKER_HOST', async () => {
    const result = await cli(['--docker-host', h2.socket, 'list', 'volumes', '--json'], socketEnv(h1));
    const names = (JSON.parse(result.stdout) as { name: string }[]).map((v) => v.name);
    expect(names).toContain(`e2e-only-on-h2-${suffix}`);
  });

  it('shows its version, commit, Node.js and the Docker API version', async () => {
    const result = await cli(['version'], socketEnv(h1));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^docker-migrate \d+\.\d+\.\d+/);
    expect(result.stdout).toMatch(/commit:\s+[0-9a-f]{7,}/);
    expect(result.stdout).toContain(`node:       ${process.version}`);
    expect(result.stdout).toMatch(/api:\s+1\.\d+/);
    const json = JSON.parse((await cli(['version', '--json'], socketEnv(h1))).stdout) as {
      client: { version: string };
      docker: { version: { apiVersion: string } };
    };
    expect(json.docker.version.apiVersion).toMatch(/^1\.\d+$/);
  });
});

describe('docker-migrate errors and help (built binary)', () => {
  it('says in one line that a missing engine cannot be reached, with a hint and no stack trace', async () => {
    const result = await cli(['list', 'containers'], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines[0]).toBe(
      'error: cannot reach the Docker engine at unix:///nonexistent/docker.sock: no such socket',
    );
    expect(lines[1]).toMatch(/^hint: /);
    expect(lines).toHaveLength(2);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('reports a refused TCP connection the same way', async () => {
    const port = await closedPort();
    const result = await cli(['list', 'images'], { DOCKER_HOST: `tcp://127.0.0.1:${port}` });
    expect(result.code).toBe(1);
    expect(result.stderr.split('\n')[0]).toBe(
      `error: cannot reach the Docker engine at tcp://127.0.0.1:${port}: connection refused`,
    );
  });

  it('shows the cause chain with --debug', async () => {
    const result = await cli(['--debug', 'list', 'volumes'], {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('caused by: Error: connect ENOENT /nonexistent/docker.sock');
  });

  it('rejects a bad config file before doing anything, listing every problem', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dm-e2e-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ log_level: 'loud', master: { worker_timeout: '5x' }, colour: 'red' }),
    );
    const result = await cli(['--config', file, 'list', 'volumes'], {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: invalid configuration/);
    expect(result.stderr).toContain('log_level');
    expect(result.stderr).toContain('master.worker_timeout');
    expect(result.stderr).toContain('colour');
    expect(result.stderr).not.toContain('cannot reach');
  });

  it('says when a named config file does not exist', async () => {
    const result = await cli(['--config', '/nonexistent/config.json', 'version']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('/nonexistent/config.json');
  });

  it.each([
    [[]],
    [['--help']],
    [['list', '--help']],
    [['list', 'containers', '--help']],
    [['list', 'volumes', '--help']],
    [['list', 'images', '--help']],
    [['list', 'networks', '--help']],
    [['version', '--help']],
  ])('prints usage for %j', async (args) => {
    const result = await cli(args);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: docker-migrate/);
  });

  it('refuses an unknown command with a suggestion and exit code 2', async () => {
    const result = await cli(['lsit']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/unknown command 'lsit'/);
    expect(result.stderr).toMatch(/Did you mean list\?/);
  });
});
