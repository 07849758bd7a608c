// The HTTPS certificate and key are checked when the master starts: each mistake is one readable config error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppError } from '../../core/errors.js';
import { createCertificateAuthority, issueServerCertificate } from '../../platform/pki.js';
import { loadHttpTls } from './http-tls.js';

let dir: string;
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-http-tls-'));
  const ca = await createCertificateAuthority({ commonName: 'test CA' });
  const issue = () =>
    issueServerCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], validityDays: 1 });
  const [one, two] = await Promise.all([issue(), issue()]);
  writeFileSync(file('one.crt'), one.certPem);
  writeFileSync(file('one.key'), one.keyPem);
  writeFileSync(file('two.key'), two.keyPem);
  writeFileSync(file('junk.pem'), 'not a pem\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function failure(certFile: string, keyFile: string): AppError {
  try {
    loadHttpTls({ certFile, keyFile });
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected the pair to be refused');
}

describe('loadHttpTls', () => {
  it('returns the PEM pair when the key belongs to the certificate', () => {
    const pair = loadHttpTls({ certFile: file('one.crt'), keyFile: file('one.key') });
    expect(pair.cert).toContain('BEGIN CERTIFICATE');
    expect(pair.key).toContain('PRIVATE KEY');
  });

  it('names a file it cannot read', () => {
    const error = failure(file('missing.crt'), file('one.key'));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toBe(`cannot read the HTTPS certificate ${file('missing.crt')}: ENOENT`);
    expect(error.hint).toContain('--http-tls-cert');
    expect(failure(file('one.crt'), dir).message).toBe(`cannot read the HTTPS key ${dir}: EISDIR`);
  });

  it('names a file that holds no certificate or no key', () => {
    expect(failure(file('junk.pem'), file('one.key')).message).toBe(
      `${file('junk.pem')} holds no PEM certificate`,
    );
    expect(failure(file('one.crt'), file('junk.pem')).message).toBe(
      `${file('junk.pem')} holds no unencrypted PEM private key`,
    );
    expect(failure(file('one.key'), file('one.crt')).code).toBe('invalid_argument');
  });

  it('refuses a key that is not the certificate’s', () => {
    const error = failure(file('one.crt'), file('two.key'));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toBe(
      `the key in ${file('two.key')} does not belong to the certificate in ${file('one.crt')}`,
    );
  });
});
