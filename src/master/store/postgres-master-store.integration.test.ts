// The master store's contract on PostgreSQL: a private server started from Debian's packages, a fresh database for
// every test, the same schema migrations as SQLite. Then what only a server has: a URL whose password never shows,
// and a server that cannot be reached refused in words.
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppError } from '../../core/errors.js';
import { startTestPostgres, type TestPostgres } from '../../../test/support/postgres.js';
import { masterStoreContract } from './master-store-contract.js';
import type { Database } from './schema.js';
import { openPostgresMasterStore, redactStoreUrl } from './sql-master-store.js';

let server: TestPostgres;
let databases = 0;

beforeAll(async () => {
  server = await startTestPostgres();
}, 60_000);

afterAll(async () => {
  await server.stop();
});

masterStoreContract({
  name: 'postgres',
  async open() {
    databases += 1;
    const url = await server.createDatabase(`contract_${databases}`);
    const store = await openPostgresMasterStore({ url, maxConnections: 4 });
    // A second connection pool for the test to look underneath, as the SQLite engine's tests do.
    const db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
    });
    const close = store.close.bind(store);
    store.close = async () => {
      await close();
      await db.destroy();
    };
    return { store, db };
  },
});

describe('the PostgreSQL store', () => {
  it('reopens a database with its state, migrating nothing twice', async () => {
    const url = await server.createDatabase('reopen');
    const first = await openPostgresMasterStore({ url });
    await first.setSetting('enrollment_token', 'dm-enroll-kept');
    await first.close();
    const second = await openPostgresMasterStore({ url });
    try {
      expect(await second.getSetting('enrollment_token')).toBe('dm-enroll-kept');
    } finally {
      await second.close();
    }
  });

  it('keeps byte counts past 2^31 exact', async () => {
    const url = await server.createDatabase('big_numbers');
    const store = await openPostgresMasterStore({ url });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const columns = await client.query<{ column_name: string; data_type: string }>(
        `select column_name, data_type from information_schema.columns where table_name = 'migrations'
           and column_name in ('bytes_transferred', 'total_bytes', 'downtime_ms', 'rate_bytes_per_s')
         order by column_name`,
      );
      expect(columns.rows).toEqual([
        { column_name: 'bytes_transferred', data_type: 'bigint' },
        { column_name: 'downtime_ms', data_type: 'bigint' },
        { column_name: 'rate_bytes_per_s', data_type: 'double precision' },
        { column_name: 'total_bytes', data_type: 'bigint' },
      ]);
    } finally {
      await client.end();
      await store.close();
    }
  });

  it('refuses a server it cannot reach with a readable error that hides the password', async () => {
    const url = 'postgres://dm:hunter2-secret@127.0.0.1:1/nowhere';
    const error = await openPostgresMasterStore({ url }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    expect(appError.code).toBe('unavailable');
    expect(appError.message).toMatch(
      /^cannot use the PostgreSQL database postgres:\/\/dm:%5Bredacted%5D@127\.0\.0\.1:1\/nowhere: /,
    );
    expect(JSON.stringify({ message: appError.message, details: appError.details })).not.toContain('hunter2');
    expect(redactStoreUrl('postgres://dm@h/db')).toBe('postgres://dm@h/db');
  });
});
