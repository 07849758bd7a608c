// A private PostgreSQL server for tests, from Debian's packages (scripts/postgres.sh installs them): initdb in a
// temporary folder, pg_ctl on 127.0.0.1 and a free port, stopped and deleted at the end. As root, the server runs
// as the postgres user (initdb refuses root).
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import pg from 'pg';
import { freePort } from './ports.js';

const run = promisify(execFile);
const SCRIPT = new URL('../../scripts/postgres.sh', import.meta.url).pathname;

export interface TestPostgres {
  /** postgres://… of the server's `postgres` database, as its superuser `dm`. */
  url: string;
  /** A new, empty database; answers its URL. */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** Runs a server binary, as the postgres user when this process is root. */
function asOwner(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return process.getuid?.() === 0
    ? run('runuser', ['-u', 'postgres', '--', command, ...args])
    : run(command, args);
}

export async function startTestPostgres(): Promise<TestPostgres> {
  const bindir = (await run('bash', [SCRIPT, 'bindir'])).stdout.trim();
  const dir = mkdtempSync(join(tmpdir(), 'dm-postgres-'));
  chmodSync(dir, 0o700);
  if (process.getuid?.() === 0) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(group.trim()));
  }
  const data = join(dir, 'data');
  await asOwner(join(bindir, 'initdb'), ['-D', data, '-U', 'dm', '-A', 'trust', '--no-locale', '-E', 'UTF8']);
  const port = await freePort();
  await asOwner(join(bindir, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c full_page_writes=off`,
    'start',
  ]);
  const base = `postgres://dm@127.0.0.1:${port}`;
  const url = `${base}/postgres`;
  return {
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`create database "${name.replaceAll('"', '')}"`);
      } finally {
        await client.end();
      }
      return `${base}/${name}`;
    },
    async stop() {
      await asOwner(join(bindir, 'pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
