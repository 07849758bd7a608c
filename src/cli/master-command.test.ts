// `docker-migrate master` refuses a wrong HTTPS setup before it starts anything: one readable error, exit 2.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { runCli } from './program.js';

let dir: string;

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

async function master(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await runCli(
    [
      'node',
      'docker-migrate',
      'master',
      '--data-dir',
      join(dir, 'data'),
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      ...args,
    ],
    { out, err },
  );
  return { code, out: out.text(), err: err.text() };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dm-master-cli-'));
  vi.stubEnv('DOCKER_MIGRATE_LOG_LEVEL', 'silent');
  writeFileSync(join(dir, 'config.json'), '{}');
  vi.stubEnv('DOCKER_MIGRATE_CONFIG', join(dir, 'config.json'));
});

afterEach(() => {
  vi.unstubAllEnvs();
  rmSync(dir, { recursive: true, force: true });
});

describe('docker-migrate master with HTTPS', () => {
  it('exits 2 with a one-line error, no stack, when the certificate file is missing', async () => {
    const cert = join(dir, 'missing.crt');
    const result = await master(['--http-tls-cert', cert, '--http-tls-key', join(dir, 'missing.key')]);
    expect(result.code).toBe(2);
    expect(result.err.split('\n')[0]).toBe(`error: cannot read the HTTPS certificate ${cert}: ENOENT`);
    expect(result.err).toMatch(/^hint: set --http-tls-cert and --http-tls-key/m);
    expect(result.err).not.toMatch(/^\s+at /m);
    expect(result.out).toBe('');
    // Refused before anything started: not even the data dir was made.
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('exits 2 naming the missing half when only a certificate is given', async () => {
    const result = await master(['--http-tls-cert', join(dir, 'a.crt')]);
    expect(result.code).toBe(2);
    expect(result.err).toContain('master.http_tls_key (flags)');
    expect(result.err).not.toMatch(/^\s+at /m);
  });
});
