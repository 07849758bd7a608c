// The master's trust material: one CA for every master of a database (sealed there with the KEK), the data dir's CA
// carried into the database, refusals that say which key is wrong, and an enrollment token that follows the store.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { AppError } from '../core/errors.js';
import { kekId, sealSecret } from '../platform/key-encryption-key.js';
import { certificateInfo, verifyIssuedBy } from '../platform/pki.js';
import {
  SETTING_CA_CERTIFICATE,
  SETTING_CA_KEY_SEALED,
  SETTING_ENROLLMENT_TOKEN,
  loadMasterTls,
  readCaKeyKek,
  watchEnrollmentToken,
} from './master-identity.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';

const KEK = Buffer.alloc(32, 7);
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dm-identity-'));
  cleanups.push(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

async function openStore(): Promise<SqlMasterStore> {
  const store = await openSqliteMasterStore({ path: ':memory:' });
  cleanups.push(() => store.close());
  return store;
}

async function rejection(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('loadMasterTls without a key-encryption key', () => {
  it('keeps the CA in the data dir and reuses it at the next start', async () => {
    const dir = dataDir();
    const first = await loadMasterTls({ dataDir: dir });
    const second = await loadMasterTls({ dataDir: dir });
    expect(second.caHash).toBe(first.caHash);
    expect(readFileSync(join(dir, 'master', 'ca.crt'), 'utf8')).toBe(first.ca.certPem);
    expect(existsSync(join(dir, 'master', 'ca.key'))).toBe(true);
  });
});

describe('loadMasterTls with a key-encryption key', () => {
  it('creates one CA in the store, its key sealed, and nothing of it in the data dir', async () => {
    const store = await openStore();
    const dir = dataDir();
    const tls = await loadMasterTls({ dataDir: dir, store, kek: KEK });

    expect(await store.getSetting(SETTING_CA_CERTIFICATE)).toBe(tls.ca.certPem);
    const sealed = (await store.getSetting(SETTING_CA_KEY_SEALED)) ?? '';
    expect(JSON.parse(sealed)).toMatchObject({ v: 1, alg: 'aes-256-gcm', kid: kekId(KEK) });
    expect(sealed).not.toContain('PRIVATE KEY');
    expect(existsSync(join(dir, 'master', 'ca.key'))).toBe(false);
    expect(existsSync(join(dir, 'master', 'ca.crt'))).toBe(false);
  });

  it('gives masters starting together one CA, each with its own server certificate from it', async () => {
    const store = await openStore();
    const masters = await Promise.all(
      [dataDir(), dataDir(), dataDir()].map((dir) => loadMasterTls({ dataDir: dir, store, kek: KEK })),
    );
    const hashes = new Set(masters.map((master) => master.caHash));
    expect(hashes.size).toBe(1);
    expect(new Set(masters.map((master) => master.serverCertPem)).size).toBe(3);
    for (const master of masters) {
      expect((await verifyIssuedBy(master.serverCertPem, masters[0]!.ca)).ok).toBe(true);
    }
    const later = await loadMasterTls({ dataDir: dataDir(), store, kek: KEK });
    expect(later.caHash).toBe(masters[0]!.caHash);
    expect(later.ca).toEqual(masters[0]!.ca);
  });

  it('moves the data dir CA of a single master into an empty store, so its workers stay trusted', async () => {
    const dir = dataDir();
    const single = await loadMasterTls({ dataDir: dir });
    const store = await openStore();
    const shared = await loadMasterTls({ dataDir: dir, store, kek: KEK });
    expect(shared.caHash).toBe(single.caHash);
    expect(await store.getSetting(SETTING_CA_CERTIFICATE)).toBe(single.ca.certPem);
    // Another master, with a data dir of its own, gets the same CA.
    expect((await loadMasterTls({ dataDir: dataDir(), store, kek: KEK })).caHash).toBe(single.caHash);
  });

  it('uses the store CA over another one in the data dir, and says so', async () => {
    const store = await openStore();
    const shared = await loadMasterTls({ dataDir: dataDir(), store, kek: KEK });
    const dir = dataDir();
    const own = await loadMasterTls({ dataDir: dir });
    const warnings: string[] = [];
    const tls = await loadMasterTls({
      dataDir: dir,
      store,
      kek: KEK,
      warn: (message) => warnings.push(message),
    });
    expect(tls.caHash).toBe(shared.caHash);
    expect(warnings).toEqual([
      `the CA in ${join(dir, 'master')} (${own.caHash}) is not the one in the database (${shared.caHash}), which this master uses: workers enrolled with the former must enroll again`,
    ]);
  });

  it('refuses another key-encryption key, naming the key id the CA key was sealed with', async () => {
    const store = await openStore();
    await loadMasterTls({ dataDir: dataDir(), store, kek: KEK });
    const other = randomBytes(32);
    const error = await rejection(loadMasterTls({ dataDir: dataDir(), store, kek: other }));
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toBe(
      `the CA key in the database was sealed with another key-encryption key (kid ${kekId(KEK)}); give every master the same --ca-key-kek file`,
    );
    expect(error.hint).toBe(`this master's --ca-key-kek file has kid ${kekId(other)}`);
  });

  it('refuses a sealed CA key changed in the database', async () => {
    const store = await openStore();
    await loadMasterTls({ dataDir: dataDir(), store, kek: KEK });
    const record = JSON.parse((await store.getSetting(SETTING_CA_KEY_SEALED)) ?? '') as {
      ciphertext: string;
    };
    const bytes = Buffer.from(record.ciphertext, 'base64');
    bytes[5] = (bytes[5] ?? 0) ^ 0xff;
    await store.setSetting(
      SETTING_CA_KEY_SEALED,
      JSON.stringify({ ...record, ciphertext: bytes.toString('base64') }),
    );
    const error = await rejection(loadMasterTls({ dataDir: dataDir(), store, kek: KEK }));
    expect(error.code).toBe('failed_precondition');
    expect(error.details).toMatchObject({ failure: 'authentication_failed' });
  });

  it('refuses a key sealed for another setting', async () => {
    const store = await openStore();
    const tls = await loadMasterTls({ dataDir: dataDir(), store, kek: KEK });
    await store.setSetting(SETTING_CA_KEY_SEALED, sealSecret(KEK, tls.ca.keyPem, 'somewhere_else'));
    const error = await rejection(loadMasterTls({ dataDir: dataDir(), store, kek: KEK }));
    expect(error.code).toBe('failed_precondition');
  });

  it('waits for the key of a CA being stored, and says what to do when it never comes', async () => {
    const store = await openStore();
    const tls = await loadMasterTls({ dataDir: dataDir(), store: await openStore(), kek: KEK });
    await store.setSetting(SETTING_CA_CERTIFICATE, tls.ca.certPem);
    const waiting = loadMasterTls({ dataDir: dataDir(), store, kek: KEK, keyWaitMs: 5_000 });
    await store.setSetting(SETTING_CA_KEY_SEALED, sealSecret(KEK, tls.ca.keyPem, SETTING_CA_KEY_SEALED));
    expect((await waiting).caHash).toBe(tls.caHash);

    const bare = await openStore();
    await bare.setSetting(SETTING_CA_CERTIFICATE, tls.ca.certPem);
    const error = await rejection(
      loadMasterTls({ dataDir: dataDir(), store: bare, kek: KEK, keyWaitMs: 50 }),
    );
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toBe(
      'the database holds the CA certificate but not its key: a master stopped while creating the CA',
    );
  });

  it('names the advertised host in the server certificate, as a DNS name or an IP address', async () => {
    const store = await openStore();
    const byName = await loadMasterTls({
      dataDir: dataDir(),
      store,
      kek: KEK,
      advertiseAddr: 'master.example.internal:9090',
    });
    expect(certificateInfo(byName.serverCertPem).dnsNames).toContain('master.example.internal');
    const byAddress = await loadMasterTls({ dataDir: dataDir(), advertiseAddr: '[2001:db8::7]:9090' });
    expect(certificateInfo(byAddress.serverCertPem).ipAddresses).toContain('2001:db8::7');
    const plain = await loadMasterTls({ dataDir: dataDir(), advertiseAddr: '192.0.2.7:9090' });
    const info = certificateInfo(plain.serverCertPem);
    expect(info.ipAddresses).toEqual(['127.0.0.1', '::1', '192.0.2.7']);
    expect(info.dnsNames.slice(0, 2)).toEqual(['docker-migrate-master', 'localhost']);
  });
});

describe('readCaKeyKek', () => {
  it('asks masters sharing a database for the file, saying how to make one', () => {
    expect(readCaKeyKek({ file: undefined, shared: false, warn: () => undefined })).toBeUndefined();
    let error: unknown;
    try {
      readCaKeyKek({ file: undefined, shared: true, warn: () => undefined });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
    expect((error as AppError).hint).toBe(
      'create the file once and give every master the same one: head -c 32 /dev/urandom > kek && chmod 600 kek',
    );
  });
});

describe('watchEnrollmentToken', () => {
  it('follows a token regenerated through another master within its interval', async () => {
    const store = await openStore();
    await store.setSetting(SETTING_ENROLLMENT_TOKEN, 'dm-enroll-first');
    const watch = watchEnrollmentToken(store, 'dm-enroll-first', {
      intervalMs: 10,
      onError: () => undefined,
    });
    cleanups.push(() => watch.close());
    await store.setSetting(SETTING_ENROLLMENT_TOKEN, 'dm-enroll-second');
    await vi.waitFor(() => {
      expect(watch.current()).toBe('dm-enroll-second');
    });
  });

  it('answers a token set here at once, and keeps the last one while the store cannot be read', async () => {
    const errors: unknown[] = [];
    let fail = false;
    const store = {
      getSetting: () => (fail ? Promise.reject(new Error('down')) : Promise.resolve('dm-enroll-set')),
    };
    const watch = watchEnrollmentToken(store, 'dm-enroll-first', {
      intervalMs: 5,
      onError: (error) => errors.push(error),
    });
    cleanups.push(() => watch.close());
    watch.set('dm-enroll-set');
    expect(watch.current()).toBe('dm-enroll-set');
    fail = true;
    await vi.waitFor(() => {
      expect(errors).toHaveLength(1);
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(errors).toHaveLength(1);
    expect(watch.current()).toBe('dm-enroll-set');
  });
});
