// `docker-migrate migrations list|show|watch|cancel` against a scripted master on 127.0.0.1: the texts a person
// reads, exit codes, id prefixes, a cancel of a migration that already ended, and where the master's URL comes from.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../core/errors.js';
import type { Interrupts } from './follow-migration.js';
import { createMasterClient, type MigrationJson, type WorkerRef } from './master-client.js';
import { runWatch, showText, type MigrationsDeps } from './migrations-command.js';
import { runCli } from './program.js';

const TOKEN = 'dm-admin-test';

const WORKERS: WorkerRef[] = [
  { id: 'a1b2c3d4e5f6a7b8', name: 'alpha', status: 'online' },
  { id: 'b9c8d7e6f5a4b3c2', name: 'beta', status: 'online' },
];

function capture(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { text: () => string };
  stream.text = () => chunks.join('');
  return stream;
}

function migration(overrides: Partial<MigrationJson> = {}): MigrationJson {
  return {
    id: 'm-1a2b3c4d5e6f',
    status: 'completed',
    phase: 'done',
    progress: 1,
    bytes_transferred: 2_000_000,
    total_bytes: 2_000_000,
    rate_bytes_per_s: 0,
    created_at: '2026-01-02T10:00:00.000Z',
    started_at: '2026-01-02T10:00:01.000Z',
    completed_at: '2026-01-02T10:00:13.000Z',
    downtime_ms: 2_500,
    error: null,
    cancel_requested: false,
    source_worker_id: WORKERS[0]!.id,
    target_worker_id: WORKERS[1]!.id,
    mode: 'cold',
    strategy: 'full',
    transfer_mode: 'auto',
    compression: 'none',
    conflict_policy: 'fail',
    source_policy: 'keep_stopped',
    acknowledge: [],
    resources: [],
    findings: [],
    events: [],
    ...overrides,
  };
}

const VOLUME = {
  type: 'volume',
  name: 'data',
  target_name: 'data',
  source_id: 'id-data',
  reason: 'requested',
  action: 'create',
  status: 'done',
  bytes: 2_000_000,
  estimated_bytes: 2_000_000,
} as const;
const CONTAINER = { ...VOLUME, type: 'container', name: 'web', target_name: 'web', bytes: 0 } as const;

const WARM = migration({
  id: 'm-1a2b3c4d5e6f',
  mode: 'warm',
  strategy: 'incremental',
  downtime_phases: { stop_ms: 300, final_sync_ms: 1_800, apply_ms: 40, start_ms: 260, ready_ms: 100 },
  rounds: [
    { round: 1, final: false, bytes: 2_000_000, duration_ms: 4_100, files: 10 },
    { round: 2, final: true, bytes: 3_000, duration_ms: 820, files: 1 },
  ],
  resources: [CONTAINER, VOLUME],
  events: [
    { id: 2, at: '2026-01-02T10:00:12.000Z', level: 'warning', phase: 'start', message: 'slow to get ready' },
    { id: 1, at: '2026-01-02T10:00:01.000Z', level: 'info', phase: 'prepare', message: 'started' },
  ],
});
const RUNNING = migration({
  id: 'm-1a2b99999999',
  status: 'running',
  phase: 'transfer',
  progress: 0.5,
  bytes_transferred: 1_000_000,
  completed_at: null,
  downtime_ms: null,
  cancel_requested: true,
  source_worker_id: 'c0ffee00c0ffee00',
  resources: [VOLUME],
});
const FAILED = migration({
  id: 'm-7f0000000000',
  status: 'rolled_back',
  phase: 'rollback',
  error: 'the target ran out of disk space',
  downtime_ms: null,
  started_at: null,
  resources: [CONTAINER, VOLUME, { ...VOLUME, name: 'logs' }],
});

interface Seen {
  method: string;
  url: string;
}

interface Script {
  /** Newest first, as GET /api/migrations answers. */
  migrations?: MigrationJson[];
  /** Successive answers of GET /api/migrations/:id for one id (the last one repeats). */
  states?: Record<string, MigrationJson[]>;
  /** How POST …/cancel answers: the migration with cancel_requested (default), or an error answer. */
  cancel?: (current: MigrationJson) => [number, unknown];
  nextBefore?: string | null;
}

let server: Server | undefined;
let seen: Seen[] = [];

async function startMaster(script: Script): Promise<string> {
  seen = [];
  const list = script.migrations ?? [WARM, RUNNING, FAILED];
  const polls = new Map<string, number>();
  const current = (id: string): MigrationJson | undefined => {
    const states = script.states?.[id];
    if (states === undefined) return list.find((m) => m.id === id);
    const index = polls.get(id) ?? 0;
    polls.set(id, index + 1);
    return states[Math.min(index, states.length - 1)];
  };
  server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://master');
      seen.push({ method: request.method ?? '', url: request.url ?? '' });
      const answer = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.headers.authorization !== `Bearer ${TOKEN}`) {
        answer(401, { error: { code: 'unauthenticated', message: 'the admin token is not valid' } });
        return;
      }
      const route = `${request.method ?? ''} ${url.pathname}`;
      const one = /^(GET|POST) \/api\/migrations\/([^/]+)(\/cancel)?$/.exec(route);
      if (route === 'GET /api/workers') {
        answer(200, { workers: WORKERS });
      } else if (route === 'GET /api/migrations') {
        const statuses = url.searchParams.get('status')?.split(',');
        const limit = Number(url.searchParams.get('limit') ?? 50);
        const found = list
          .filter((m) => statuses === undefined || statuses.includes(m.status))
          .slice(0, limit)
          .map(({ events: _events, ...rest }) => rest);
        answer(200, { migrations: found, next_before: script.nextBefore ?? null });
      } else if (one !== null) {
        const found = current(decodeURIComponent(one[2] ?? ''));
        if (found === undefined)
          answer(404, { error: { code: 'not_found', message: 'migration not found' } });
        else if (one[3] === undefined) answer(200, { migration: found });
        else if (script.cancel !== undefined) answer(...script.cancel(found));
        else answer(200, { migration: { ...found, cancel_requested: true } });
      } else {
        answer(404, { error: { code: 'not_found', message: `no route ${route}` } });
      }
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) resolve();
    else
      server.close(() => {
        resolve();
      });
  });
  server = undefined;
});

let dir = '';
let configFile = '';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'migrations-command-'));
  configFile = join(dir, 'config.json');
  writeFileSync(configFile, '{}');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  vi.stubEnv('DOCKER_MIGRATE_API_URL', '');
  vi.stubEnv('DOCKER_MIGRATE_MASTER_URL', '');
  vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', '');
});

afterEach(() => {
  vi.unstubAllEnvs();
});

async function cli(url: string | undefined, args: string[]) {
  const out = capture();
  const err = capture();
  const master = url === undefined ? [] : ['--master-url', url, '--admin-token', TOKEN];
  const [command, ...rest] = args;
  const code = await runCli(
    ['node', 'docker-migrate', '--config', configFile, 'migrations', command ?? '', ...master, ...rest],
    { out, err },
  );
  return { code, out: out.text(), err: err.text() };
}

describe('migrations list', () => {
  it('prints a table newest first with workers by name, resources in short, start in UTC and downtime', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['list']);
    expect(result.code).toBe(0);
    expect(result.out.split('\n')).toEqual([
      'ID               STATUS                 MODE                SOURCE → TARGET       RESOURCES                STARTED (UTC)         DOWNTIME',
      'm-1a2b3c4d5e6f   completed              warm, incremental   alpha → beta          1 container, 1 volume    2026-01-02 10:00:01   2.5s',
      'm-1a2b99999999   running (cancelling)   cold                c0ffee00c0ff → beta   1 volume                 2026-01-02 10:00:01   -',
      'm-7f0000000000   rolled back            cold                alpha → beta          1 container, 2 volumes   2026-01-02 10:00:00   -',
      '',
    ]);
    expect(seen[0]?.url).toBe('/api/migrations?limit=20');
  });

  it('passes --status and --limit to the master, and says when there is nothing', async () => {
    const url = await startMaster({});
    const result = await cli(url, [
      'list',
      '--status',
      'failed',
      '--status',
      'cancelled,pending',
      '--limit',
      '5',
    ]);
    expect(result.code).toBe(0);
    expect(result.out).toBe('no migrations with status failed or cancelled or pending\n');
    expect(seen[0]?.url).toBe('/api/migrations?limit=5&status=failed%2Ccancelled%2Cpending');
  });

  it('rejects an unknown status with exit code 2 before asking the master', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['list', '--status', 'done']);
    expect(result.code).toBe(2);
    expect(result.err).toBe(
      'error: unknown --status "done"\nhint: one of pending, running, completed, failed, cancelled, rolled_back (repeatable, or comma-separated)\n',
    );
    expect(seen).toEqual([]);
  });

  it("prints the master's page as JSON with --json, and notes on stderr that there are more", async () => {
    const url = await startMaster({ nextBefore: 'm-7f0000000000' });
    const json = await cli(url, ['list', '--json']);
    expect(json.code).toBe(0);
    const page = JSON.parse(json.out) as { migrations: MigrationJson[]; next_before: string | null };
    expect(page.migrations.map((m) => m.id)).toEqual(['m-1a2b3c4d5e6f', 'm-1a2b99999999', 'm-7f0000000000']);
    expect(page.next_before).toBe('m-7f0000000000');
    const table = await cli(url, ['list', '--limit', '3']);
    expect(table.err).toBe('showing the newest 3; --limit shows more (up to 500)\n');
  });
});

describe('migrations show', () => {
  it('prints the summary, resources, downtime phases, rounds and the event log in order', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['show', 'm-1a2b3c4d5e6f']);
    expect(result.code).toBe(0);
    expect(result.out).toContain(
      'Migration m-1a2b3c4d5e6f completed\n  from:      alpha to beta\n  mode:      warm, incremental\n',
    );
    expect(result.out).toContain('  created:   2026-01-02 10:00:00 UTC\n');
    expect(result.out).toContain('  ended:     2026-01-02 10:00:13 UTC\n');
    expect(result.out).toContain(
      '  downtime:  2.5s (stop 300ms, final copy 1.8s, create 40ms, start 260ms, ready 100ms)\n',
    );
    expect(result.out).toContain('  rounds:    2 (1.9 MiB in 4.1s, final 2.9 KiB in 820ms)\n');
    expect(result.out).toMatch(
      /TYPE +NAME +ON TARGET +STATUS +MOVED\ncontainer +web +web +done +-\nvolume +data +data +done +1\.9 MiB\n/,
    );
    expect(result.out).toContain(
      'Events (UTC):\n  2026-01-02 10:00:01  prepare: started\n  2026-01-02 10:00:12  start: warning: slow to get ready\n',
    );
  });

  it('shows the error of a migration that was rolled back', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['show', 'm-7f']);
    expect(result.code).toBe(0);
    expect(result.out).toContain('Migration m-7f0000000000 failed and was rolled back\n');
    expect(result.out).toContain('  error:     the target ran out of disk space\n');
    expect(result.out).toContain('Events: none\n');
  });

  it("counts a running migration's downtime from the stop request", () => {
    const stopped = { ...RUNNING, downtime_started_at: '2026-01-02T10:00:05.000Z' };
    const text = showText(
      stopped,
      { source: 'alpha', target: 'beta' },
      Date.parse('2026-01-02T10:00:09.200Z'),
    );
    expect(text).toContain('  downtime:  4.2s so far (the source is stopped)\n');
    expect(showText(RUNNING, { source: 'alpha', target: 'beta' })).toContain(
      '  downtime:  none yet (the source has not been stopped)\n',
    );
  });

  it('prints the JSON of the master with --json', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['show', '7f', '--json']);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.out) as { migration: MigrationJson }).migration).toEqual(FAILED);
  });
});

describe('migration id prefixes', () => {
  it('resolves a unique prefix, with or without the "m-" of the id', async () => {
    const url = await startMaster({});
    expect((await cli(url, ['show', 'm-1a2b3'])).out).toContain('Migration m-1a2b3c4d5e6f completed');
    expect((await cli(url, ['show', '1a2b9'])).out).toContain('Migration m-1a2b99999999 is running');
    expect(seen.filter((s) => s.url.startsWith('/api/migrations?')).map((s) => s.url)).toEqual([
      '/api/migrations?limit=500',
      '/api/migrations?limit=500',
    ]);
  });

  it('refuses an ambiguous prefix, naming the candidates', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['show', 'm-1a2b']);
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      'error: migration id "m-1a2b" matches 2 migrations\nhint: give more of the id: m-1a2b3c4d5e6f (completed), m-1a2b99999999 (running)\n',
    );
  });

  it('says when no migration has the id, and still finds an older one by its whole id', async () => {
    const url = await startMaster({ migrations: [WARM], states: { 'm-000000000001': [FAILED] } });
    const missing = await cli(url, ['show', 'm-99']);
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(
      'error: no migration has an id starting with "m-99"\nhint: docker-migrate migrations list shows the recent ones (--status, --limit narrow or widen it)\n',
    );
    const older = await cli(url, ['show', 'm-000000000001']);
    expect(older.code).toBe(0);
  });
});

/** Ctrl-C on demand. */
function fakeInterrupts(): Interrupts & { press: () => void } {
  let listener: (() => void) | undefined;
  return {
    onInterrupt(next) {
      listener = next;
      return () => {
        listener = undefined;
      };
    },
    press: () => listener?.(),
  };
}

describe('migrations watch', () => {
  const running = migration({ ...RUNNING, cancel_requested: false, source_worker_id: WORKERS[0]!.id });

  it('follows with the same lines as migrate and exits 0 when the migration completes', async () => {
    const url = await startMaster({
      migrations: [running],
      states: {
        [running.id]: [running, running, { ...running, status: 'completed', phase: 'done', progress: 1 }],
      },
    });
    const out = capture();
    const err = capture();
    const code = await runCli(
      [
        'node',
        'docker-migrate',
        '--config',
        configFile,
        'migrations',
        'watch',
        '1a2b9',
        '--master-url',
        url,
        '--admin-token',
        TOKEN,
      ],
      { out, err },
    );
    expect(code).toBe(0);
    expect(err.text()).toContain(
      'watching migration m-1a2b99999999: alpha to beta (Ctrl-C stops watching; it does not cancel the migration)\n',
    );
    expect(err.text()).toContain('phase transfer (50%, 977 KiB of 1.9 MiB)\n');
    expect(out.text()).toContain('Migration m-1a2b99999999 completed\n  from:      alpha to beta\n');
  });

  it('exits 1 with the reason when the migration is rolled back', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['watch', 'm-7f']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('Migration m-7f0000000000 failed and was rolled back');
    expect(result.err).toContain(
      'error: migration m-7f0000000000 failed and was rolled back: the target ran out of disk space\n',
    );
  });

  it('stops watching on Ctrl-C without cancelling the migration', async () => {
    const url = await startMaster({ migrations: [running] });
    const interrupts = fakeInterrupts();
    const err = capture();
    const deps: MigrationsDeps = {
      client: createMasterClient({ baseUrl: url, token: TOKEN }),
      out: capture(),
      err,
      tty: false,
      interrupts,
      pollIntervalMs: 20,
    };
    const watching = runWatch('m-1a2b9', {}, deps);
    await vi.waitFor(() => {
      expect(seen.filter((s) => s.url === '/api/migrations/m-1a2b99999999').length).toBeGreaterThan(1);
    });
    interrupts.press();
    const error = await watching.then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('canceled');
    expect((error as AppError).message).toBe(
      'stopped watching migration m-1a2b99999999; it keeps running on the master',
    );
    expect(seen.some((s) => s.method === 'POST')).toBe(false);
  });
});

describe('migrations cancel', () => {
  it('asks the master to cancel a running migration and says how to follow it', async () => {
    const running = migration({ ...RUNNING, cancel_requested: false });
    const url = await startMaster({ migrations: [running] });
    const result = await cli(url, ['cancel', 'm-1a']);
    expect(result.code).toBe(0);
    expect(result.out).toBe(
      'cancel requested for migration m-1a2b99999999: the master stops it and rolls it back\n',
    );
    expect(result.err).toBe('docker-migrate migrations watch m-1a2b99999999 follows the rollback\n');
    expect(seen.filter((s) => s.method === 'POST').map((s) => s.url)).toEqual([
      '/api/migrations/m-1a2b99999999/cancel',
    ]);
  });

  it('reports a migration that already ended with exit code 1, without asking to cancel it', async () => {
    const url = await startMaster({});
    const result = await cli(url, ['cancel', 'm-1a2b3']);
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      'error: migration m-1a2b3c4d5e6f has already ended (completed); there is nothing to cancel\nhint: docker-migrate migrations show m-1a2b3c4d5e6f says how it ended\n',
    );
    expect(seen.some((s) => s.method === 'POST')).toBe(false);
  });

  it('reports it as ended when it ends just before the cancel, whether the master answers 200 or 409', async () => {
    const running = migration({ ...RUNNING, cancel_requested: false });
    const ended = { ...running, status: 'completed', phase: 'done' } as const;
    for (const cancel of [
      (): [number, unknown] => [200, { migration: ended }],
      (): [number, unknown] => [
        409,
        { error: { code: 'conflict', message: 'the migration has already ended' } },
      ],
    ]) {
      const url = await startMaster({
        migrations: [running],
        states: { [running.id]: [running, ended] },
        cancel,
      });
      const result = await cli(url, ['cancel', running.id]);
      expect(result.code).toBe(1);
      expect(result.err).toContain(
        'error: migration m-1a2b99999999 has already ended (completed); there is nothing to cancel\n',
      );
      await new Promise<void>((resolve) =>
        server?.close(() => {
          resolve();
        }),
      );
      server = undefined;
    }
  });
});

describe('where the master URL comes from', () => {
  it('reads DOCKER_MIGRATE_API_URL and the token from the environment', async () => {
    const url = await startMaster({});
    vi.stubEnv('DOCKER_MIGRATE_API_URL', url);
    vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', TOKEN);
    const result = await cli(undefined, ['list']);
    expect(result.code).toBe(0);
    expect(result.err).toBe('');
  });

  it('still reads DOCKER_MIGRATE_MASTER_URL, with a one-line deprecation note, when nothing else names the master', async () => {
    const url = await startMaster({});
    vi.stubEnv('DOCKER_MIGRATE_MASTER_URL', url);
    vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', TOKEN);
    const result = await cli(undefined, ['list']);
    expect(result.code).toBe(0);
    expect(result.err).toBe(
      "note: DOCKER_MIGRATE_MASTER_URL is deprecated for the master's HTTP address; set DOCKER_MIGRATE_API_URL instead (DOCKER_MIGRATE_MASTER_URL stays the worker's gRPC address)\n",
    );
  });

  it('prefers DOCKER_MIGRATE_API_URL and the flag over the old variable', async () => {
    const url = await startMaster({});
    vi.stubEnv('DOCKER_MIGRATE_MASTER_URL', 'master-host:9090');
    vi.stubEnv('DOCKER_MIGRATE_API_URL', url);
    vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', TOKEN);
    expect(await cli(undefined, ['list'])).toMatchObject({ code: 0, err: '' });
    vi.stubEnv('DOCKER_MIGRATE_API_URL', 'http://127.0.0.1:1');
    expect(await cli(url, ['list'])).toMatchObject({ code: 0, err: '' });
  });

  it('exits 2 with a hint when no master is named', async () => {
    const result = await cli(undefined, ['list']);
    expect(result.code).toBe(2);
    expect(result.err).toBe(
      "error: which master? --master-url is missing\nhint: pass the master's HTTP address with --master-url or DOCKER_MIGRATE_API_URL, e.g. http://master-host:8080\n",
    );
  });
});
