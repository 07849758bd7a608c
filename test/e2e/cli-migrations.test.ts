// `docker-migrate migrations list|show|watch|cancel` as the built binary against a real master, two workers and two
// Docker hosts: what a person reads and the exit codes, for a migration that completes, its move back
// (`migrate --reverse`), one that is cancelled, and names mistyped or given to the wrong worker.
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { BIN, masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-cli-migrations-${id}`;
const SOURCE = `cmsrc-${id}`;
const TARGET = `cmdst-${id}`;
const VOLUME_DONE = `cm-done-${id}`;
const VOLUME_CANCEL = `cm-cancel-${id}`;
/** A volume only the target's host has: naming it with the wrong source gets told where it is. */
const VOLUME_ON_TARGET = `cm-there-${id}`;

let master: RunningProcess;
let apiUrl = '';
const workers: RunningProcess[] = [];
const home = tempDir('cli-migrations-home');

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The binary with only the environment a user's shell would give it: the master named by DOCKER_MIGRATE_API_URL. */
function cli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(
      BIN,
      args,
      {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: home,
          DOCKER_MIGRATE_API_URL: apiUrl,
          DOCKER_MIGRATE_ADMIN_TOKEN: adminToken,
          ...env,
        },
        timeout: 180_000,
        maxBuffer: 8 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function onlineWorkers(): Promise<boolean> {
  const response = await fetch(`${apiUrl}/api/workers`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  const { workers: list } = (await response.json()) as { workers: { name: string; status: string }[] };
  return [SOURCE, TARGET].every((name) => list.some((w) => w.name === name && w.status === 'online'));
}

/** Starts a migration of one volume without following it; returns its id. */
async function startDetached(volume: string): Promise<string> {
  const result = await cli(['migrate', '--from', SOURCE, '--to', TARGET, '--volume', volume, '--detach']);
  expect(result.code, result.stderr).toBe(0);
  const migrationId = result.stdout.trim();
  expect(migrationId).toMatch(/^m-[0-9a-f]{12}$/);
  return migrationId;
}

beforeAll(async () => {
  // Every migration waits 4 s before creating anything on the target, so that one can be cancelled while it runs.
  master = startProcess(
    [
      'master',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      tempDir('cli-migrations-master'),
      '--admin-token',
      adminToken,
      '--heartbeat-interval',
      '1s',
    ],
    { DOCKER_MIGRATE_MASTER_FAILPOINTS: 'pause:create=4s' },
  );
  const addresses = await masterAddresses(master);
  apiUrl = addresses.apiUrl;
  for (const [name, host] of [
    [SOURCE, h1],
    [TARGET, h2],
  ] as const) {
    workers.push(
      startProcess(
        [
          ...addresses.joinArgs,
          '--name',
          name,
          '--data-dir',
          tempDir(name),
          '--grpc-addr',
          '127.0.0.1:0',
          '--reconnect-interval',
          '200ms',
        ],
        { DOCKER_HOST: host.socket },
      ),
    );
  }
  for (const volume of [VOLUME_DONE, VOLUME_CANCEL]) {
    await dockerCli(h1, 'volume', 'create', '--label', `${runLabel}=1`, volume);
    await dockerCli(
      h1,
      'run',
      '--rm',
      '-v',
      `${volume}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'echo hello > /data/f',
    );
  }
  await dockerCli(h2, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME_ON_TARGET);
  await eventually('both workers online', async () => ((await onlineWorkers()) ? true : undefined));
}, 120_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  for (const host of [h1, h2]) {
    const engine = engineOverSocket(host);
    await removeLabelled(engine, runLabel).catch(() => undefined);
    for (const volume of [VOLUME_DONE, VOLUME_CANCEL, VOLUME_ON_TARGET])
      await dockerCli(host, 'volume', 'rm', '-f', volume).catch(() => '');
  }
});

describe('docker-migrate migrations (built binary, two real Docker hosts)', () => {
  let doneId = '';
  let backId = '';
  let cancelId = '';

  it('watches a migration by an id prefix until it completes, with exit code 0', async () => {
    doneId = await startDetached(VOLUME_DONE);
    const watched = await cli(['migrations', 'watch', doneId.slice(0, 8)]);
    expect(watched.code, watched.stderr).toBe(0);
    expect(watched.stderr).toContain(`watching migration ${doneId}: ${SOURCE} to ${TARGET}`);
    expect(watched.stdout).toContain(`Migration ${doneId} completed\n  from:      ${SOURCE} to ${TARGET}\n`);
    expect(
      await dockerCli(h2, 'run', '--rm', '-v', `${VOLUME_DONE}:/data`, h2.baseImage, 'cat', '/data/f'),
    ).toBe('hello');
  }, 180_000);

  it('lists it, shows it with its event log, and refuses to cancel it since it has ended', async () => {
    const list = await cli(['migrations', 'list', '--status', 'completed']);
    expect(list.code, list.stderr).toBe(0);
    const row = list.stdout.split('\n').find((line) => line.startsWith(doneId));
    expect(row).toMatch(new RegExp(`^${doneId} +completed +cold +${SOURCE} → ${TARGET} +1 volume +\\d{4}-`));

    const show = await cli(['migrations', 'show', doneId]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`Migration ${doneId} completed\n`);
    expect(show.stdout).toMatch(/\nResources:\nTYPE +NAME +ON TARGET +STATUS +MOVED\nvolume +cm-done-/);
    expect(show.stdout).toMatch(/\nEvents \(UTC\):\n {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\S/);

    const cancel = await cli(['migrations', 'cancel', doneId]);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toContain(
      `error: migration ${doneId} has already ended (completed); there is nothing to cancel\n`,
    );
  }, 60_000);

  it('moves it back with --reverse and an id prefix, then shows both sides of the move', async () => {
    const back = await cli(['migrate', '--reverse', doneId.slice(0, 8)]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(new RegExp(`migration (m-[0-9a-f]{12}) started: ${TARGET} to ${SOURCE}`));
    backId = /migration (m-[0-9a-f]{12}) started/.exec(back.stderr)?.[1] ?? '';
    expect(back.stdout).toContain(`Migration ${backId} completed\n  from:      ${TARGET} to ${SOURCE}\n`);
    expect(back.stdout).toContain(`  moves back: migration ${doneId}\n`);
    const shown = await cli(['migrations', 'show', doneId]);
    expect(shown.stdout).toContain(`  moved back: by migration ${backId}\n`);
    expect(shown.stdout).not.toContain('--reverse');
    expect(
      await dockerCli(h1, 'run', '--rm', '-v', `${VOLUME_DONE}:/data`, h1.baseImage, 'cat', '/data/f'),
    ).toBe('hello');
    const again = await cli(['migrate', '--reverse', doneId]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`was already moved back by ${backId}`);
  }, 180_000);

  it('answers a typo with the near name, and a resource of another worker with that worker; nothing starts', async () => {
    const before = (await cli(['migrations', 'list', '--limit', '500'])).stdout;
    const typo = await cli(['migrate', '--from', SOURCE, '--to', TARGET, '--volume', `cm-dnoe-${id}`]);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain(
      `volume "cm-dnoe-${id}" not found on worker ${SOURCE}; did you mean "${VOLUME_DONE}"?\n`,
    );
    const elsewhere = await cli(['migrate', '--from', SOURCE, '--to', TARGET, '--volume', VOLUME_ON_TARGET]);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain(
      `a volume "${VOLUME_ON_TARGET}" is on worker ${TARGET} — migrate from that worker instead`,
    );
    const worker = await cli(['migrate', '--from', SOURCE, '--to', `cmdts-${id}`, '--volume', VOLUME_DONE]);
    expect(worker.code).not.toBe(0);
    expect(worker.stderr).toContain(
      `no worker is named "cmdts-${id}" or has that id; did you mean "${TARGET}"?`,
    );
    expect((await cli(['migrations', 'list', '--limit', '500'])).stdout).toBe(before);
  }, 60_000);

  it('cancels a running migration, which watch then reports with exit code 1', async () => {
    cancelId = await startDetached(VOLUME_CANCEL);
    const cancel = await cli(['migrations', 'cancel', cancelId.slice(2, 10)]);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(cancel.stdout).toBe(
      `cancel requested for migration ${cancelId}: the master stops it and rolls it back\n`,
    );
    const watched = await cli(['migrations', 'watch', cancelId]);
    expect(watched.code).toBe(1);
    expect(watched.stdout).toMatch(
      new RegExp(`Migration ${cancelId} (was cancelled|failed and was rolled back)`),
    );
    expect(await dockerCli(h2, 'volume', 'ls', '-q', '--filter', `name=${VOLUME_CANCEL}`)).toBe('');
  }, 180_000);

  it('has an audit log that names the migration of each start, move back, cancel and end', async () => {
    const response = await fetch(`${apiUrl}/api/audit?limit=500`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { entries } = (await response.json()) as {
      entries: { action: string; target: string | null; status: number; summary: string | null }[];
    };
    const row = (action: string, target: string) =>
      entries.find((entry) => entry.action === action && entry.target === target);

    expect(row('migration.start', doneId)?.summary).toBe(
      `${VOLUME_DONE} from ${SOURCE} to ${TARGET}: cold, full`,
    );
    expect(row('migration.reverse', backId)?.summary).toMatch(
      new RegExp(`^move back of ${doneId}: ${VOLUME_DONE} from ${TARGET} to ${SOURCE}: cold, \\w+$`),
    );
    expect(row('migration.cancel', cancelId)?.summary).toBe(
      `cancel of ${VOLUME_CANCEL} from ${SOURCE} to ${TARGET}`,
    );
    expect(row('migration.ended', doneId)?.summary).toBe(
      `completed: ${VOLUME_DONE} from ${SOURCE} to ${TARGET}`,
    );
    expect(row('migration.ended', backId)?.summary).toMatch(/^completed: /);
    expect(row('migration.ended', cancelId)?.summary).toMatch(
      new RegExp(`^(cancelled|rolled back): ${VOLUME_CANCEL} from ${SOURCE} to ${TARGET}`),
    );
  });

  it('says which address it wants when the old variable names the master, and still works', async () => {
    const result = await cli(['migrations', 'list', '--limit', '1'], {
      DOCKER_MIGRATE_API_URL: '',
      DOCKER_MIGRATE_MASTER_URL: apiUrl,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^note: DOCKER_MIGRATE_MASTER_URL is deprecated .*DOCKER_MIGRATE_API_URL/);
  });
});
