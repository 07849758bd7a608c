// Vitest global setup of the fault-injection tier: its own engines (hosts 3, 4 and 5 of scripts/docker-hosts.sh),
// so that cutting links and filling disks never touches the hosts other tiers use; host 5's volumes are small.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import type { TestDockerHost } from '../support/docker-hosts.js';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/docker-hosts.sh', import.meta.url).pathname;

/** Source, target, and a target whose volumes filesystem is smaller than the volume that moves. */
export const FAULT_HOST_NUMBERS = ['3', '4', '5'] as const;
/** Size of host 5's volumes filesystem: less than the test volume (see fixture.ts), more than its small files. */
export const SMALL_VOLUMES_SIZE = '24M';

async function running(): Promise<string[]> {
  try {
    const { stdout } = await run('bash', [SCRIPT, 'list', '--json']);
    return (JSON.parse(stdout) as TestDockerHost[]).map((host) => host.name);
  } catch {
    return [];
  }
}

/** Starts the hosts when needed; stops those this run started, unless DM_KEEP_TEST_HOSTS=1. */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const before = await running();
  try {
    const { stdout } = await run('bash', [SCRIPT, 'start-hosts', ...FAULT_HOST_NUMBERS, '--json'], {
      maxBuffer: 1024 * 1024,
      env: { ...process.env, DM_HOST5_VOLUMES_SIZE: SMALL_VOLUMES_SIZE },
    });
    const hosts = JSON.parse(stdout) as TestDockerHost[];
    if (hosts.length !== FAULT_HOST_NUMBERS.length)
      throw new Error(`expected hosts ${FAULT_HOST_NUMBERS.join(', ')}, got: ${stdout}`);
    project.provide('dockerHosts', hosts);
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`the fault tier needs Docker hosts 3, 4 and 5 from scripts/docker-hosts.sh:\n${detail}`);
  }
  const started = FAULT_HOST_NUMBERS.filter((n) => !before.includes(`h${n}`));
  if (started.length === 0 || process.env.DM_KEEP_TEST_HOSTS === '1') return undefined;
  return async () => {
    await run('bash', [SCRIPT, 'stop-hosts', ...started]);
  };
}
