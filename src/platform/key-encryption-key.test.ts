// The key-encryption key: the file forms it is read from, and sealing that opens only with the same key and place.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { AppError } from '../core/errors.js';
import {
  kekId,
  parseKeyEncryptionKey,
  readKeyEncryptionKey,
  sealSecret,
  unsealSecret,
  type SealedRecord,
} from './key-encryption-key.js';

const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

function thrown(work: () => unknown): AppError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected an error');
}

describe('parseKeyEncryptionKey', () => {
  it('reads 32 raw bytes, 64 hex digits and base64 of 32 bytes, blanks around the text trimmed', () => {
    const forms = [
      Buffer.from(KEY),
      Buffer.from(`${KEY.toString('hex')}\n`),
      Buffer.from(`  ${KEY.toString('hex').toUpperCase()}\r\n`),
      Buffer.from(`${KEY.toString('base64')}\n`),
      Buffer.from(KEY.toString('base64url')),
    ];
    for (const form of forms) expect(parseKeyEncryptionKey(form, '/etc/kek')).toEqual(KEY);
  });

  it('takes 32 bytes as the key itself even when they look like blanks', () => {
    const key = Buffer.alloc(32, 0x20);
    expect(parseKeyEncryptionKey(key, '/etc/kek')).toEqual(key);
  });

  it('refuses anything else, naming the file and the forms it accepts', () => {
    const wrong = [
      Buffer.alloc(0),
      Buffer.alloc(31, 1),
      Buffer.alloc(33, 1),
      Buffer.from('ab'.repeat(31)),
      Buffer.from(randomBytes(16).toString('base64')),
      Buffer.from('a passphrase is not a key, however long it is'),
    ];
    for (const content of wrong) {
      const error = thrown(() => parseKeyEncryptionKey(content, '/etc/kek'));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toBe(
        'the key-encryption key file /etc/kek holds no key: expected 32 raw bytes, 64 hex digits or the base64 of 32 bytes',
      );
      expect(error.hint).toBe('create one with: head -c 32 /dev/urandom > kek && chmod 600 kek');
    }
  });
});

describe('readKeyEncryptionKey', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dm-kek-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a private file without a word', () => {
    const file = join(dir, 'kek');
    writeFileSync(file, KEY, { mode: 0o600 });
    const warnings: string[] = [];
    expect(readKeyEncryptionKey(file, (message) => warnings.push(message))).toEqual(KEY);
    expect(warnings).toEqual([]);
  });

  it('still reads a file that others may read, but warns with the fix', () => {
    const file = join(dir, 'kek');
    writeFileSync(file, KEY.toString('hex'));
    chmodSync(file, 0o644);
    const warnings: string[] = [];
    expect(readKeyEncryptionKey(file, (message) => warnings.push(message))).toEqual(KEY);
    expect(warnings).toEqual([
      `the key-encryption key file ${file} is open to group or others (mode 0644): chmod 600 ${file}`,
    ]);
  });

  it('refuses a missing file as invalid_argument naming it', () => {
    const file = join(dir, 'missing');
    const error = thrown(() => readKeyEncryptionKey(file, () => undefined));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(`cannot read the key-encryption key file ${file}: ENOENT`);
  });
});

describe('sealSecret and unsealSecret', () => {
  it('opens what it sealed, with the same key and associated data', () => {
    const sealed = sealSecret(KEY, 'the CA key', 'ca_key_sealed');
    expect(unsealSecret(KEY, sealed, 'ca_key_sealed').toString('utf8')).toBe('the CA key');
  });

  it('writes a versioned record naming the key, with a fresh nonce every time and no plaintext', () => {
    const first = JSON.parse(sealSecret(KEY, 'the CA key', 'ca_key_sealed')) as SealedRecord;
    const second = JSON.parse(sealSecret(KEY, 'the CA key', 'ca_key_sealed')) as SealedRecord;
    expect(first).toEqual({
      v: 1,
      alg: 'aes-256-gcm',
      kid: kekId(KEY),
      nonce: expect.stringMatching(/^[A-Za-z0-9+/]{16}$/) as string,
      tag: expect.stringMatching(/^[A-Za-z0-9+/]{22}==$/) as string,
      ciphertext: expect.any(String) as string,
    });
    expect(kekId(KEY)).toMatch(/^[0-9a-f]{16}$/);
    expect(first.nonce).not.toBe(second.nonce);
    expect(first.ciphertext).not.toBe(second.ciphertext);
    expect(Buffer.from(first.ciphertext, 'base64').toString('utf8')).not.toContain('CA key');
  });

  it('refuses another key by its id, naming both', () => {
    const other = randomBytes(32);
    const error = thrown(() => unsealSecret(other, sealSecret(KEY, 'secret', 'a'), 'a'));
    expect(error.code).toBe('failed_precondition');
    expect(error.details).toEqual({ failure: 'kid_mismatch', sealedKid: kekId(KEY), kid: kekId(other) });
  });

  it('refuses a changed ciphertext, tag or nonce, and a record moved to another place', () => {
    const sealed = sealSecret(KEY, 'secret value', 'ca_key_sealed');
    const record = JSON.parse(sealed) as SealedRecord;
    const flip = (base64: string): string => {
      const bytes = Buffer.from(base64, 'base64');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64');
    };
    const altered = [
      JSON.stringify({ ...record, ciphertext: flip(record.ciphertext) }),
      JSON.stringify({ ...record, tag: flip(record.tag) }),
      JSON.stringify({ ...record, nonce: flip(record.nonce) }),
      JSON.stringify({ ...record, tag: record.tag.slice(0, 8) }),
    ];
    for (const text of altered) {
      const error = thrown(() => unsealSecret(KEY, text, 'ca_key_sealed'));
      expect(error.code).toBe('failed_precondition');
      expect(error.details).toMatchObject({ failure: 'authentication_failed' });
    }
    const moved = thrown(() => unsealSecret(KEY, sealed, 'enrollment_token'));
    expect(moved.details).toMatchObject({ failure: 'authentication_failed' });
  });

  it('refuses what is not a record of its version as internal', () => {
    const record = JSON.parse(sealSecret(KEY, 'x', 'a')) as SealedRecord;
    for (const text of ['not json', 'null', '{}', JSON.stringify({ ...record, v: 2 })]) {
      expect(thrown(() => unsealSecret(KEY, text, 'a')).code).toBe('internal');
    }
  });
});
