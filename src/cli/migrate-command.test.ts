// `docker-migrate migrate` from flags to request, and following a migration played by a real HTTP server on
// 127.0.0.1: exit codes, summary, Ctrl-C, dry run, and the master's errors as a person reads them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../core/errors.js';
import {
  createMasterClient,
  type DryRunJson,
  type MigrationJson,
  type MigrationRequestJson,
  type WorkerRef,
} from './master-client.js';
import {
  migrationRequestBody,
  parseBindMounts,
  resolveWorker,
  runMigrate,
  type Interrupts,
  type MigrateFlags,
} from './migrate-command.js';
import { runCli } from './program.js';

const TOKEN = 'dm-admin-test';

const WORKERS: WorkerRef[] = [
  { id: 'a1b2c3d4e5f6a7b8', name: 'alpha', status: 'online' },
  { id: 'b9c8d7e6f5a4b3c2', name: 'beta', status: 'online' },
  { id: 'a1ff00000000aaaa', name: 'gamma', status: 'offline' },
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

function state(overrides: Partial<MigrationJson> = {}): MigrationJson {
  return {
    id: 'mig-1',
    status: 'pending',
    phase: 'preflight',
    progress: 0,
    bytes_transferred: 0,
    total_bytes: 2_000_000,
    rate_bytes_per_s: 0,
    created_at: '2026-01-02T10:00:00.000Z',
    started_at: null,
    completed_at: null,
    downtime_ms: null,
    error: null,
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

const EVENT_START = {
  id: 1,
  at: '2026-01-02T10:00:01.000Z',
  level: 'info',
  phase: 'prepare',
  message: 'started',
} as const;
const EVENT_COPY = {
  id: 2,
  at: '2026-01-02T10:00:02.000Z',
  level: 'info',
  phase: 'transfer',
  message: 'copying',
} as const;
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

const RUNNING = state({
  status: 'running',
  phase: 'transfer',
  progress: 0.5,
  bytes_transferred: 1_000_000,
  rate_bytes_per_s: 500_000,
  started_at: '2026-01-02T10:00:01.000Z',
  events: [EVENT_START, EVENT_COPY],
});

const COMPLETED = state({
  ...RUNNING,
  status: 'completed',
  phase: 'done',
  progress: 1,
  bytes_transferred: 2_000_000,
  completed_at: '2026-01-02T10:00:13.000Z',
  downtime_ms: 2_500,
  resources: [VOLUME],
});

const ROLLED_BACK = state({
  ...RUNNING,
  status: 'rolled_back',
  phase: 'rollback',
  completed_at: '2026-01-02T10:00:05.000Z',
  error: 'the target ran out of disk space',
  resources: [{ ...VOLUME, status: 'rolled_back' }],
});

const CANCELLED = state({
  ...RUNNING,
  status: 'cancelled',
  phase: 'rollback',
  completed_at: RUNNING.started_at,
});

interface Seen {
  method: string;
  url: string;
  body: unknown;
}

/** A scripted master: each GET of the migration answers the next state; a cancel switches to `afterCancel`. */
interface Script {
  states?: MigrationJson[];
  afterCancel?: MigrationJson[];
  dryRun?: DryRunJson;
  /** Answers a request before the script does, e.g. an error once. */
  override?: (request: Seen, index: number) => [number, unknown] | undefined;
}

let server: Server | undefined;
let seen: Seen[] = [];

async function startMaster(script: Script): Promise<string> {
  seen = [];
  let states = script.states ?? [COMPLETED];
  let polls = 0;
  server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry: Seen = {
        method: request.method ?? '',
        url: request.url ?? '',
        body: text ? JSON.parse(text) : undefined,
      };
      seen.push(entry);
      const answer = (status: number, body: unknown): void => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      const overridden = script.override?.(entry, seen.length - 1);
      if (overridden) {
        answer(...overridden);
        return;
      }
      if (request.headers.authorization !== `Bearer ${TOKEN}`) {
        answer(401, { error: { code: 'unauthenticated', message: 'the admin token is not valid' } });
        return;
      }
      const route = `${entry.method} ${entry.url}`;
      if (route === 'GET /api/workers') {
        answer(200, { workers: WORKERS });
      } else if (route === 'POST /api/migrations') {
        const body = entry.body as MigrationRequestJson;
        if (body.dry_run) answer(200, script.dryRun);
        else answer(201, { migration: state() });
      } else if (route === 'GET /api/migrations/mig-1') {
        answer(200, { migration: states[Math.min(polls, states.length - 1)] });
        polls += 1;
      } else if (route === 'POST /api/migrations/mig-1/cancel') {
        states = script.afterCancel ?? [CANCELLED];
        polls = 0;
        answer(200, { migration: states[0] });
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

function flags(overrides: Partial<MigrateFlags> = {}): MigrateFlags {
  return {
    from: 'alpha',
    to: 'beta',
    container: ['web'],
    mode: 'cold',
    strategy: 'full',
    transferMode: 'auto',
    conflictPolicy: 'fail',
    sourcePolicy: 'keep_stopped',
    ...overrides,
  };
}

/** Ctrl-C on demand. */
function fakeInterrupts(): Interrupts & { press: () => void; listening: () => boolean } {
  let listener: (() => void) | undefined;
  return {
    onInterrupt(next) {
      listener = next;
      return () => {
        listener = undefined;
      };
    },
    press: () => listener?.(),
    listening: () => listener !== undefined,
  };
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a failure');
}

describe('parseBindMounts', () => {
  it('maps a source path to a target path, or skips it, splitting at the first "="', () => {
    expect(parseBindMounts(['/srv/app=/data/app', '/var/log/app=skip', '/srv/x=/data/x=1'])).toEqual({
      '/srv/app': { path: '/data/app' },
      '/var/log/app': { skip: true },
      '/srv/x': { path: '/data/x=1' },
    });
  });

  it.each([
    ['/srv/app', 'invalid --bind-mount "/srv/app"'],
    ['=/data', 'invalid --bind-mount "=/data"'],
    ['/srv=', 'invalid --bind-mount "/srv="'],
    ['srv=/data', '"srv" is not an absolute path'],
    ['/srv=data', '"data" is neither an absolute path nor "skip"'],
  ])('refuses %s as bad usage', (value, message) => {
    let error: unknown;
    try {
      parseBindMounts([value]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
    expect((error as AppError).message).toContain(message);
    expect((error as AppError).hint).toContain('/source/path=skip');
  });

  it('refuses one source path given twice', () => {
    expect(() => parseBindMounts(['/srv=/a', '/srv=skip'])).toThrow('--bind-mount names "/srv" twice');
  });
});

describe('migrationRequestBody', () => {
  it('maps every flag to the API field of POST /api/migrations', () => {
    const body = migrationRequestBody(
      flags({
        container: ['web', 'db'],
        volume: ['data'],
        image: ['nginx:1'],
        network: ['backend'],
        composeProject: ['shop'],
        transferMode: 'proxy',
        conflictPolicy: 'rename',
        sourcePolicy: 'remove',
        bindMount: ['/srv=/data', '/tmp/x=skip'],
        acknowledge: ['writable_layer_changes', 'volume_host_path', 'writable_layer_changes'],
        dryRun: true,
      }),
      'w-src',
      'w-dst',
    );
    expect(body).toEqual({
      source_worker_id: 'w-src',
      target_worker_id: 'w-dst',
      container_ids: ['web', 'db'],
      image_ids: ['nginx:1'],
      volume_names: ['data'],
      network_ids: ['backend'],
      compose_projects: ['shop'],
      mode: 'cold',
      strategy: 'full',
      transfer_mode: 'proxy',
      conflict_policy: 'rename',
      source_policy: 'remove',
      bind_mounts: { '/srv': { path: '/data' }, '/tmp/x': { skip: true } },
      acknowledge: ['writable_layer_changes', 'volume_host_path'],
      dry_run: true,
    });
  });

  it('passes warm mode with its budget and rounds, and sends neither unless given', () => {
    expect(
      migrationRequestBody(flags({ mode: 'warm', downtimeBudget: '1500ms', maxRounds: 4 }), 'a', 'b'),
    ).toMatchObject({ mode: 'warm', downtime_budget: '1500ms', max_rounds: 4 });
    const plain = migrationRequestBody(flags({ mode: 'warm' }), 'a', 'b');
    expect(plain).not.toHaveProperty('downtime_budget');
    expect(plain).not.toHaveProperty('max_rounds');
  });

  it('asks for zstd only when --compression zstd is given', () => {
    expect(migrationRequestBody(flags({ compression: 'zstd' }), 'a', 'b').compression).toBe('zstd');
    expect(migrationRequestBody(flags({ compression: 'none' }), 'a', 'b')).not.toHaveProperty('compression');
    expect(migrationRequestBody(flags(), 'a', 'b')).not.toHaveProperty('compression');
  });

  it('refuses a migration of nothing as bad usage', () => {
    expect(() => migrationRequestBody(flags({ container: [] }), 'a', 'b')).toThrow('nothing to migrate');
  });

  it('refuses an acknowledged code that is not a finding code', () => {
    expect(() => migrationRequestBody(flags({ acknowledge: ['Volume-Host-Path'] }), 'a', 'b')).toThrow(
      'invalid --acknowledge "Volume-Host-Path"',
    );
  });
});

describe('resolveWorker', () => {
  it('finds a worker by id, by name, or by a unique id prefix', () => {
    expect(resolveWorker(WORKERS, 'b9c8d7e6f5a4b3c2', '--to').name).toBe('beta');
    expect(resolveWorker(WORKERS, 'gamma', '--to').id).toBe('a1ff00000000aaaa');
    expect(resolveWorker(WORKERS, 'a1b2', '--from').name).toBe('alpha');
  });

  it('prefers an exact name over an id prefix', () => {
    const workers = [...WORKERS, { id: 'ff00', name: 'a1', status: 'online' as const }];
    expect(resolveWorker(workers, 'a1', '--from').id).toBe('ff00');
  });

  it('names the known workers when none matches', () => {
    const error = (() => {
      try {
        return resolveWorker(WORKERS, 'delta', '--from');
      } catch (caught) {
        return caught as AppError;
      }
    })() as AppError;
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('--from: no worker is named "delta" or has that id');
    expect(error.hint).toBe(
      'known workers: alpha (a1b2c3d4e5f6, online), beta (b9c8d7e6f5a4, online), gamma (a1ff00000000, offline)',
    );
  });

  it('suggests the near worker name of a typo', () => {
    expect(() => resolveWorker(WORKERS, 'btea', '--to')).toThrow(
      '--to: no worker is named "btea" or has that id; did you mean "beta"?',
    );
  });

  it('says how to enroll one when there are no workers', () => {
    expect(() => resolveWorker([], 'alpha', '--from')).toThrow(AppError);
    try {
      resolveWorker([], 'alpha', '--from');
    } catch (error) {
      expect((error as AppError).hint).toContain('no worker is enrolled');
    }
  });

  it('refuses an ambiguous prefix or name and lists the candidates', () => {
    expect(() => resolveWorker(WORKERS, 'a1', '--to')).toThrow('--to "a1" matches 2 workers');
    const twins = [...WORKERS, { id: 'c0c0c0c0', name: 'beta', status: 'offline' as const }];
    try {
      resolveWorker(twins, 'beta', '--to');
    } catch (error) {
      expect((error as AppError).code).toBe('failed_precondition');
      expect((error as AppError).hint).toBe(
        'name one by its id: beta (b9c8d7e6f5a4, online), beta (c0c0c0c0, offline)',
      );
    }
  });
});

describe('runMigrate against a master on 127.0.0.1', () => {
  async function run(script: Script, overrides: Partial<MigrateFlags> = {}, interrupts = fakeInterrupts()) {
    const url = await startMaster(script);
    const out = capture();
    const err = capture();
    const promise = runMigrate(flags(overrides), {
      client: createMasterClient({ baseUrl: url, token: TOKEN }),
      out,
      err,
      tty: false,
      interrupts,
      pollIntervalMs: 5,
    });
    return { promise, out, err, url };
  }

  it('follows pending, running, completed and prints each event once and a summary', async () => {
    const { promise, out, err } = await run({ states: [state(), RUNNING, RUNNING, COMPLETED] });
    await promise;
    expect(err.text()).toMatch(
      /^migration mig-1 started: alpha to beta \(Ctrl-C cancels it and rolls it back\)\npending: waiting for the master to start it\n\d\d:\d\d:\d\d prepare: started\n\d\d:\d\d:\d\d transfer: copying\nphase transfer \(50%, 977 KiB of 1.9 MiB\)\ncompleted \(100%, 1.9 MiB of 1.9 MiB\)\n$/,
    );
    expect(out.text()).toContain('Migration mig-1 completed\n  from:      alpha to beta\n  duration:  12s\n');
    expect(out.text()).toContain('  downtime:  2.5s\n  moved:     1.9 MiB of 1.9 MiB\n');
    expect(out.text()).toContain('volume   data   data        done     1.9 MiB');
    expect(seen.map((request) => `${request.method} ${request.url}`)).toEqual([
      'GET /api/workers',
      'POST /api/migrations',
      'GET /api/migrations/mig-1',
      'GET /api/migrations/mig-1',
      'GET /api/migrations/mig-1',
      'GET /api/migrations/mig-1',
    ]);
  });

  it('fails with the reason when the migration is rolled back, after the summary', async () => {
    const { promise, out } = await run({ states: [RUNNING, ROLLED_BACK] });
    const error = await failure(promise);
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toBe(
      'migration mig-1 failed and was rolled back: the target ran out of disk space',
    );
    expect(out.text()).toContain('  reason:    the target ran out of disk space\n');
  });

  it('prints the final migration as JSON with --json', async () => {
    const { promise, out } = await run({ states: [COMPLETED] }, { json: true });
    await promise;
    expect(JSON.parse(out.text())).toEqual({ migration: COMPLETED });
  });

  it('cancels on the first Ctrl-C and follows the migration until it has stopped', async () => {
    const interrupts = fakeInterrupts();
    const { promise, err } = await run(
      { states: [RUNNING], afterCancel: [state({ ...RUNNING, phase: 'rollback' }), CANCELLED] },
      {},
      interrupts,
    );
    await vi.waitUntil(() => seen.some((request) => request.url === '/api/migrations/mig-1'));
    interrupts.press();
    const error = await failure(promise);
    expect(error.code).toBe('canceled');
    expect(error.message).toBe('migration mig-1 was cancelled');
    expect(seen.filter((request) => request.url === '/api/migrations/mig-1/cancel')).toHaveLength(1);
    expect(err.text()).toContain('Ctrl-C: cancelling the migration; press Ctrl-C again to stop following');
    expect(err.text()).toContain('phase rollback');
    expect(interrupts.listening()).toBe(false);
  });

  it('stops following on a second Ctrl-C and says the migration keeps running', async () => {
    const interrupts = fakeInterrupts();
    const { promise } = await run({ states: [RUNNING], afterCancel: [RUNNING] }, {}, interrupts);
    await vi.waitUntil(() => seen.some((request) => request.url === '/api/migrations/mig-1'));
    interrupts.press();
    await vi.waitUntil(() => seen.some((request) => request.url.endsWith('/cancel')));
    interrupts.press();
    const error = await failure(promise);
    expect(error.code).toBe('canceled');
    expect(error.message).toBe(
      'stopped following migration mig-1; it keeps running on the master (a cancel was requested)',
    );
    expect(error.hint).toBe(
      'docker-migrate migrations watch mig-1 follows it again; migrations show mig-1 says how it ended',
    );
  });

  it('keeps following through a master that is briefly unavailable', async () => {
    let failed = 0;
    const { promise, err } = await run({
      states: [RUNNING, COMPLETED],
      override: (request) => {
        if (request.url !== '/api/migrations/mig-1' || failed >= 2) return undefined;
        failed += 1;
        return [503, { error: { code: 'unavailable', message: 'the master is starting' } }];
      },
    });
    await promise;
    expect(err.text()).toContain(
      'lost contact with the master (cannot read migration mig-1: the master is starting); retrying\n',
    );
    expect(err.text()).toContain('in contact with the master again\n');
  });

  it('reads a 404 while following into a readable error', async () => {
    const { promise } = await run({
      override: (request) =>
        request.url === '/api/migrations/mig-1'
          ? [404, { error: { code: 'not_found', message: 'no migration with id mig-1' } }]
          : undefined,
    });
    const error = await failure(promise);
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('cannot read migration mig-1: no migration with id mig-1');
  });

  it('prints only the id with --detach and does not follow', async () => {
    const { promise, out, err } = await run({}, { detach: true });
    await promise;
    expect(out.text()).toBe('mig-1\n');
    expect(err.text()).toContain('it runs on the master without this command');
    expect(seen.map((request) => request.url)).toEqual(['/api/workers', '/api/migrations']);
  });

  it('refuses the same worker as source and target before asking for a migration', async () => {
    const { promise } = await run({}, { from: 'alpha', to: 'a1b2c3d4e5f6a7b8' });
    const error = await failure(promise);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toBe('--from and --to both name worker alpha (a1b2c3d4e5f6a7b8)');
    expect(seen).toHaveLength(1);
  });
});

describe('docker-migrate migrate (the command line, end to end)', () => {
  let dir = '';
  let configFile = '';

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'migrate-command-'));
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

  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out = capture();
    const err = capture();
    const code = await runCli(['node', 'docker-migrate', '--config', configFile, 'migrate', ...args], {
      out,
      err,
    });
    return { code, out: out.text(), err: err.text() };
  }

  it('sends the flags as the request body and exits 0 when the migration completes', async () => {
    const url = await startMaster({ states: [RUNNING, COMPLETED] });
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'alpha',
      '--to',
      'b9c8',
      '--container',
      'web',
      '--volume',
      'data',
      '--volume',
      'logs',
      '--transfer-mode',
      'direct',
      '--compression',
      'zstd',
      '--conflict-policy',
      'skip',
      '--bind-mount',
      '/srv/web=/srv/web',
      '--acknowledge',
      'volume_host_path',
      '--acknowledge',
      'writable_layer_changes',
    ]);
    expect(result.err).toContain('phase transfer (50%, 977 KiB of 1.9 MiB)');
    expect(result.code).toBe(0);
    expect(result.out).toContain('Migration mig-1 completed');
    expect(seen[1]?.body).toEqual({
      source_worker_id: 'a1b2c3d4e5f6a7b8',
      target_worker_id: 'b9c8d7e6f5a4b3c2',
      container_ids: ['web'],
      image_ids: [],
      volume_names: ['data', 'logs'],
      network_ids: [],
      compose_projects: [],
      mode: 'cold',
      strategy: 'full',
      transfer_mode: 'direct',
      compression: 'zstd',
      conflict_policy: 'skip',
      source_policy: 'keep_stopped',
      bind_mounts: { '/srv/web': { path: '/srv/web' } },
      acknowledge: ['volume_host_path', 'writable_layer_changes'],
      dry_run: false,
    });
  });

  describe('--reverse', () => {
    const DONE = state({
      id: 'm-done00000001',
      status: 'completed',
      phase: 'done',
      progress: 1,
      completed_at: '2026-01-02T10:01:00.000Z',
    });
    /** The completed migration, found by an id prefix; its move back answers with mig-1. */
    const withDone = (request: Seen): [number, unknown] | undefined => {
      if (request.method === 'GET' && request.url.startsWith('/api/migrations?'))
        return [200, { migrations: [DONE], next_before: null }];
      if (request.url === `/api/migrations/${DONE.id}`) return [200, { migration: DONE }];
      if (request.url === `/api/migrations/${DONE.id}/reverse`) return [201, { migration: state() }];
      return undefined;
    };

    it('moves a migration back by an id prefix, sending only the flags given, and follows it', async () => {
      const url = await startMaster({ states: [RUNNING, COMPLETED], override: withDone });
      const result = await cli([
        '--master-url',
        url,
        '--admin-token',
        TOKEN,
        '--reverse',
        'done0',
        '--strategy',
        'incremental',
        '--stop-timeout',
        '3',
      ]);
      expect(result.code, result.err).toBe(0);
      const reverse = seen.find((r) => r.url.endsWith('/reverse'));
      expect(reverse?.body).toEqual({ strategy: 'incremental', stop_timeout: 3, dry_run: false });
      // It runs the other way: from the first migration's target to its source.
      expect(result.err).toContain('migration mig-1 started: beta to alpha');
      expect(result.out).toContain('Migration mig-1 completed\n  from:      beta to alpha\n');
    });

    it('refuses the flags that choose what moves where, before any request', async () => {
      const url = await startMaster({ override: withDone });
      const result = await cli([
        '--master-url',
        url,
        '--admin-token',
        TOKEN,
        '--reverse',
        'm-done',
        '--from',
        'alpha',
        '--container',
        'web',
      ]);
      expect(result.code).toBe(2);
      expect(result.err).toContain(
        'error: --reverse moves back what the migration moved, between the same workers: --from, --container do not go with it\n',
      );
      expect(seen).toEqual([]);
    });

    it('asks for --from and --to without --reverse', async () => {
      const url = await startMaster({});
      const result = await cli(['--master-url', url, '--admin-token', TOKEN, '--container', 'web']);
      expect(result.code).toBe(2);
      expect(result.err).toContain('error: missing --from\n');
      expect(result.err).toContain('--reverse ID');
    });
  });

  it('exits 1 with the reason when the migration is rolled back, reading master and token from the environment', async () => {
    const url = await startMaster({ states: [ROLLED_BACK] });
    vi.stubEnv('DOCKER_MIGRATE_API_URL', url);
    vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', TOKEN);
    const result = await cli(['--from', 'alpha', '--to', 'beta', '--container', 'web']);
    expect(result.code).toBe(1);
    expect(result.out).toContain('Migration mig-1 failed and was rolled back');
    expect(result.err).toContain(
      'error: migration mig-1 failed and was rolled back: the target ran out of disk space\n',
    );
    expect(result.err).not.toContain('deprecated');
  });

  it('still takes the master from DOCKER_MIGRATE_MASTER_URL for now, with a deprecation note first', async () => {
    const url = await startMaster({ states: [COMPLETED] });
    vi.stubEnv('DOCKER_MIGRATE_MASTER_URL', url);
    vi.stubEnv('DOCKER_MIGRATE_ADMIN_TOKEN', TOKEN);
    const result = await cli(['--from', 'alpha', '--to', 'beta', '--container', 'web']);
    expect(result.code).toBe(0);
    expect(result.err.split('\n')[0]).toBe(
      "note: DOCKER_MIGRATE_MASTER_URL is deprecated for the master's HTTP address; set DOCKER_MIGRATE_API_URL instead (DOCKER_MIGRATE_MASTER_URL stays the worker's gRPC address)",
    );
  });

  it('exits 1 with a readable message and a hint on a wrong token', async () => {
    const url = await startMaster({});
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      'wrong',
      '--from',
      'a',
      '--to',
      'b',
      '--container',
      'web',
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toBe(
      'error: cannot list the workers: the admin token is not valid\n' +
        'hint: pass the admin token the master printed on its first start with --admin-token or DOCKER_MIGRATE_ADMIN_TOKEN\n',
    );
  });

  it('exits 1 naming the known workers when a worker is unknown', async () => {
    const url = await startMaster({});
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'alpha',
      '--to',
      'delta',
      '--image',
      'x',
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      'error: --to: no worker is named "delta" or has that id\nhint: known workers: alpha',
    );
  });

  it('counts the problems of a blocked dry run with the verb agreeing', async () => {
    const url = await startMaster({
      dryRun: {
        dry_run: true,
        plan: { resources: [{ ...VOLUME, status: 'pending' }], total_bytes: 2_000_000, findings: [] },
        findings: [
          { severity: 'error', code: 'name_conflict', message: 'data exists on the target' },
          { severity: 'error', code: 'name_conflict', message: 'logs exists on the target' },
        ],
        blocked: true,
      },
    });
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'alpha',
      '--to',
      'beta',
      '--volume',
      'data',
      '--dry-run',
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toContain('error: the dry run found 2 problems that block this migration\n');
  });

  it('prints the plan and exits 1 when the dry run is blocked, 0 when it is not', async () => {
    const blocked: DryRunJson = {
      dry_run: true,
      plan: { resources: [{ ...VOLUME, status: 'pending' }], total_bytes: 2_000_000, findings: [] },
      findings: [{ severity: 'error', code: 'name_conflict', message: 'data exists on the target' }],
      blocked: true,
    };
    let url = await startMaster({ dryRun: blocked });
    const args = ['--admin-token', TOKEN, '--from', 'alpha', '--to', 'beta', '--volume', 'data', '--dry-run'];
    const result = await cli(['--master-url', url, ...args]);
    expect(result.code).toBe(1);
    expect(result.out).toContain('Dry run: 1 resource from alpha to beta, 1.9 MiB to move\n');
    expect(result.out).toContain(
      'Errors (they block the migration) (1):\n  - data exists on the target [name_conflict]\n',
    );
    expect(result.err).toContain('error: the dry run found 1 problem that blocks this migration');
    expect((seen[1]?.body as MigrationRequestJson).dry_run).toBe(true);

    await new Promise<void>((resolve) =>
      server?.close(() => {
        resolve();
      }),
    );
    url = await startMaster({ dryRun: { ...blocked, findings: [], blocked: false } });
    const json = await cli(['--master-url', url, ...args, '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual({ ...blocked, findings: [], blocked: false });
  });

  it('says which --acknowledge lets a dry run blocked only by acknowledgeable findings go on', async () => {
    const url = await startMaster({
      dryRun: {
        dry_run: true,
        plan: { resources: [{ ...VOLUME, status: 'pending' }], total_bytes: 2_000_000, findings: [] },
        findings: [
          {
            severity: 'error',
            code: 'writable_layer_changes',
            message: 'container "web" has 3 files changed outside its volumes',
          },
        ],
        blocked: true,
      },
    });
    const args = ['--admin-token', TOKEN, '--from', 'alpha', '--to', 'beta', '--volume', 'data', '--dry-run'];
    const result = await cli(['--master-url', url, ...args]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(
      'hint: read them; to go on all the same, add --acknowledge writable_layer_changes',
    );
  });

  it('exits 2 before any request for a --bind-mount without "="', async () => {
    const url = await startMaster({});
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'a',
      '--to',
      'b',
      '--container',
      'web',
      '--bind-mount',
      '/srv',
    ]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('error: invalid --bind-mount "/srv"');
    expect(seen).toHaveLength(0);
  });

  it('sends any --mode to the master and prints why the master refuses it', async () => {
    const refusal =
      'live migration needs CRIU checkpointing, which this Docker/kernel lacks; use "warm" (copies while the containers run, stops them only for what changed) or "cold"';
    const url = await startMaster({
      override: (request) =>
        request.method === 'POST' && request.url === '/api/migrations'
          ? [400, { error: { code: 'invalid_argument', message: refusal } }]
          : undefined,
    });
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'alpha',
      '--to',
      'beta',
      '--container',
      'web',
      '--mode',
      'live',
    ]);
    expect(seen.find((request) => request.method === 'POST')?.body).toMatchObject({ mode: 'live' });
    expect(result.err).not.toContain('Allowed choices');
    expect(result.err).toBe(`error: cannot start the migration: ${refusal}\n`);
    expect(result.code).toBe(2);
  });

  it('exits 2 when the master URL or the token is missing, or a policy is unknown', async () => {
    const base = ['--from', 'a', '--to', 'b', '--container', 'web'];
    const noUrl = await cli(['--admin-token', TOKEN, ...base]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.err).toContain('error: which master? --master-url is missing');
    const noToken = await cli(['--master-url', 'http://127.0.0.1:1', ...base]);
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('DOCKER_MIGRATE_ADMIN_TOKEN');
    const badPolicy = await cli([
      '--master-url',
      'http://127.0.0.1:1',
      '--admin-token',
      TOKEN,
      ...base,
      '--conflict-policy',
      'merge',
    ]);
    expect(badPolicy.code).toBe(2);
    expect(badPolicy.err).toContain("argument 'merge' is invalid");
    const badCompression = await cli([
      '--master-url',
      'http://127.0.0.1:1',
      '--admin-token',
      TOKEN,
      ...base,
      '--compression',
      'gzip',
    ]);
    expect(badCompression.code).toBe(2);
    expect(badCompression.err).toContain("option '--compression <codec>' argument 'gzip' is invalid");
    const badRounds = await cli([
      '--master-url',
      'http://127.0.0.1:1',
      '--admin-token',
      TOKEN,
      ...base,
      '--mode',
      'warm',
      '--max-rounds',
      '0',
    ]);
    expect(badRounds.code).toBe(2);
    expect(badRounds.err).toContain('a whole number from 1 to 32');
  });

  it('exits 1 with one line and a hint when the master is unreachable', async () => {
    const url = await startMaster({});
    await new Promise<void>((resolve) =>
      server?.close(() => {
        resolve();
      }),
    );
    server = undefined;
    const result = await cli([
      '--master-url',
      url,
      '--admin-token',
      TOKEN,
      '--from',
      'a',
      '--to',
      'b',
      '--container',
      'web',
    ]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(
      new RegExp(
        `^error: cannot reach the master at ${url}: connection refused\\nhint: is the master running\\?.*\\n$`,
      ),
    );
  });
});
