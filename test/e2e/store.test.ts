// Where the master keeps its state, end to end with the built binary: a second master on the same SQLite file is
// refused in words while the first keeps serving, and a lock left by a killed master does not block the next one.
// Then a master on PostgreSQL (--store-url, a private server the test starts): a worker enrolls, a volume moves
// between two real Docker hosts with equal bytes, and after a restart the master knows the same worker and the
// migration — read back from PostgreSQL, with no SQLite file in its data dir, and its CA there too (the key sealed
// with --ca-key-kek, no ca.key in the data dir).
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import {
  dockerCli,
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  volumeDigest,
} from '../support/docker-hosts.js';
import { masterApi } from '../support/master-api.js';
import { startTestPostgres, type TestPostgres } from '../support/postgres.js';
import {
  startProcess,
  startTestMaster,
  startTestWorkers,
  tempDir,
  type RunningProcess,
} from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-store-${id}`;
const VOLUME = `storevol-${id}`;

const running: RunningProcess[] = [];
let postgres: TestPostgres | undefined;

afterAll(async () => {
  await Promise.all(running.map((p) => p.stop()));
  await postgres?.stop();
  for (const host of [h1, h2]) await removeLabelled(engineOverSocket(host), runLabel);
});

describe('one master per SQLite file', () => {
  it('refuses a second master on the same data dir, naming the first, which keeps serving', async () => {
    const dataDir = tempDir('store-lock');
    const first = await startTestMaster('lock-1', adminToken, ['--data-dir', dataDir]);
    running.push(first.master);
    const second = startProcess([
      'master',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
    ]);
    expect(await second.exited).toBe(1);
    const said = second.lines.join('\n');
    expect(said).toContain(
      `error: another docker-migrate master (pid ${first.master.child.pid}) is using the database at ${join(dataDir, 'master', 'state.db')}`,
    );
    expect(said).toMatch(/hint: .*--store-url/);
    expect((await fetch(`${first.apiUrl.replace(/\/api$/, '')}/health`)).status).toBe(200);

    // Killed, it leaves its lock behind; the next master on that dir takes it over.
    await first.master.stop('SIGKILL');
    expect(existsSync(join(dataDir, 'master', 'state.db.lock'))).toBe(true);
    const third = await startTestMaster('lock-3', adminToken, ['--data-dir', dataDir]);
    running.push(third.master);
    expect((await fetch(`${third.apiUrl.replace(/\/api$/, '')}/health`)).status).toBe(200);
    await third.master.stop();
    expect(existsSync(join(dataDir, 'master', 'state.db.lock'))).toBe(false);
  });
});

describe('a master on PostgreSQL', () => {
  let storeUrl = '';

  beforeAll(async () => {
    postgres = await startTestPostgres();
    storeUrl = await postgres.createDatabase(`e2e_${id}`);
  }, 60_000);

  it('moves a volume, and keeps its workers and migrations in PostgreSQL across a restart', async () => {
    const dataDir = tempDir('store-pg');
    const kekFile = join(tempDir('store-kek'), 'kek');
    writeFileSync(kekFile, randomBytes(32), { mode: 0o600 });
    const args = ['--data-dir', dataDir, '--store-url', storeUrl, '--ca-key-kek', kekFile];
    const started = await startTestMaster('pg', adminToken, args);
    running.push(started.master);
    let apiUrl = started.apiUrl;
    const { call: api, workerId, finished } = masterApi(() => apiUrl, adminToken);
    running.push(
      ...startTestWorkers(started.joinArgs, [
        [`pg-a-${id}`, h1],
        [`pg-b-${id}`, h2],
      ]),
    );
    const [source, target] = [await workerId(`pg-a-${id}`), await workerId(`pg-b-${id}`)];

    await dockerCli(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
    await dockerCli(
      h1,
      'run',
      '--rm',
      '-v',
      `${VOLUME}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'head -c 3000000 /dev/urandom > /data/blob && echo hi > /data/note',
    );
    const created = await api<{ migration: { id: string } }>('POST', '/api/migrations', {
      source_worker_id: source,
      target_worker_id: target,
      volume_names: [VOLUME],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const done = await finished<{ status: string; error: string | null }>(created.json.migration.id, 120_000);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(await volumeDigest(h2, VOLUME)).toBe(await volumeDigest(h1, VOLUME));

    // The state is in PostgreSQL, not in a file of the data dir.
    expect(existsSync(join(dataDir, 'master', 'state.db'))).toBe(false);
    expect(existsSync(join(dataDir, 'master', 'ca.key'))).toBe(false);
    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    try {
      const workers = await client.query<{ id: string }>('select id from workers order by id');
      expect(workers.rows.map((row) => row.id)).toEqual([source, target].sort());
      const migrations = await client.query<{ status: string }>(
        'select status from migrations where id = $1',
        [created.json.migration.id],
      );
      expect(migrations.rows).toEqual([{ status: 'completed' }]);
      const ca = await client.query<{ key: string; value: string }>(
        "select key, value from settings where key in ('ca_certificate', 'ca_key_sealed') order by key",
      );
      expect(ca.rows.map((row) => row.key)).toEqual(['ca_certificate', 'ca_key_sealed']);
      expect(ca.rows[1]?.value).not.toContain('PRIVATE KEY');
    } finally {
      await client.end();
    }

    // Restarted on the same store, the master knows both workers (they reconnect with their ids) and the migration.
    await started.master.stop();
    // On the gRPC address the workers know (the first start chose a free port).
    const grpcAddr = started.joinArgs[started.joinArgs.indexOf('--master-url') + 1] ?? '';
    const again = await startTestMaster('pg-again', adminToken, [...args, '--grpc-addr', grpcAddr]);
    running.push(again.master);
    apiUrl = again.apiUrl;
    expect(await workerId(`pg-a-${id}`)).toBe(source);
    expect(await workerId(`pg-b-${id}`)).toBe(target);
    const { status, json } = await api<{ migration: { status: string } }>(
      'GET',
      `/api/migrations/${created.json.migration.id}`,
    );
    expect(status).toBe(200);
    expect(json.migration.status).toBe('completed');
  });
});
