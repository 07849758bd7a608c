// Vitest global setup: makes sure real Docker engines run (scripts/docker-hosts.sh) and hands their addresses to tests.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import type { TestDockerHost } from './docker-hosts.js';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/docker-hosts.sh', import.meta.url).pathname;
const HOST_COUNT = 2;

declare module 'vitest' {
  export interface ProvidedContext {
    dockerHosts: TestDockerHost[];
  }
}

/** Engines named in DM_TEST_DOCKER_HOSTS (comma-separated unix:// or tcp:// addresses) are used as they are. */
function hostsFromEnv(value: string): TestDockerHost[] {
  return value
    .split(',')
    .map((address) => address.trim())
    .filter(Boolean)
    .map((address, index) => ({
      name: `h${index + 1}`,
      socket: address,
      tcp: '',
      certPath: '',
      ip: '',
      netns: '',
      baseImage: process.env.DM_BASE_IMAGE ?? 'docker-migrate-test/base:latest',
    }));
}

async function runningHosts(): Promise<TestDockerHost[]> {
  try {
    const { stdout } = await run('bash', [SCRIPT, 'list', '--json']);
    return JSON.parse(stdout) as TestDockerHost[];
  } catch {
    return [];
  }
}

/**
 * Starts the hosts when needed. Hosts this run started are stopped at the end (unless DM_KEEP_TEST_HOSTS=1);
 * hosts that already ran are left running, so repeated local runs stay fast.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const fromEnv = process.env.DM_TEST_DOCKER_HOSTS;
  if (fromEnv) {
    project.provide('dockerHosts', hostsFromEnv(fromEnv));
    return undefined;
  }
  const before = await runningHosts();
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start', String(HOST_COUNT), '--json'], {
      maxBuffer: 1024 * 1024,
    });
    const hosts = JSON.parse(stdout) as TestDockerHost[];
    if (hosts.length < HOST_COUNT) throw new Error(`expected ${HOST_COUNT} hosts, got: ${stdout}`);
    project.provide('dockerHosts', hosts);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr ?? String(error);
    // Never skip silently: integration tests need real engines.
    throw new Error(
      `integration tests need real Docker engines and none could be started by scripts/docker-hosts.sh:\n${detail}`,
    );
  }
  if (before.length >= HOST_COUNT || process.env.DM_KEEP_TEST_HOSTS === '1') return undefined;
  return async () => {
    await run('bash', [SCRIPT, 'stop']);
  };
}
