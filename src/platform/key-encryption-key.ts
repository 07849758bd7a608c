// The key-encryption key (KEK) that seals secrets kept in a shared database (the CA key of masters on PostgreSQL):
// read from a file, and used with AES-256-GCM into a versioned JSON record that names the key by its id.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';

import { AppError } from '../core/errors.js';

/** Bytes of a KEK (AES-256). */
export const KEK_BYTES = 32;

/** How to make a KEK file, for messages that ask for one. */
export const CREATE_KEK_COMMAND = 'head -c 32 /dev/urandom > kek && chmod 600 kek';

const ACCEPTED_FORMS = `${KEK_BYTES} raw bytes, 64 hex digits or the base64 of ${KEK_BYTES} bytes`;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const RECORD_VERSION = 1;
const ALGORITHM = 'aes-256-gcm';

/** A sealed secret as stored: the format's version, which key sealed it, and the GCM parts in base64. */
export interface SealedRecord {
  v: typeof RECORD_VERSION;
  alg: typeof ALGORITHM;
  /** First 8 bytes (hex) of the SHA-256 of the KEK: tells a wrong key from a damaged record. */
  kid: string;
  nonce: string;
  tag: string;
  ciphertext: string;
}

/**
 * Why unsealing failed, in `details.failure` of the AppError: another key sealed it (by its id), or the key id
 * matches but GCM refuses the record (changed ciphertext, nonce, tag or associated data).
 */
export type UnsealFailure = 'kid_mismatch' | 'authentication_failed';

/** The key's id as records carry it: the first 8 bytes of its SHA-256, in hex. */
export function kekId(kek: Buffer): string {
  return createHash('sha256').update(kek).digest().subarray(0, 8).toString('hex');
}

/**
 * The KEK a file holds. Exactly 32 bytes are the key itself (`head -c 32 /dev/urandom`); otherwise the text, blanks
 * around it trimmed, must be 64 hex digits or base64 (standard or URL-safe) of 32 bytes. `file` names the file in
 * the error.
 */
export function parseKeyEncryptionKey(content: Buffer, file: string): Buffer {
  if (content.length === KEK_BYTES) return Buffer.from(content);
  const text = content.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(text)) {
    const key = Buffer.from(text.replaceAll('-', '+').replaceAll('_', '/'), 'base64');
    if (key.length === KEK_BYTES) return key;
  }
  throw new AppError(
    'invalid_argument',
    `the key-encryption key file ${file} holds no key: expected ${ACCEPTED_FORMS}`,
    { hint: `create one with: ${CREATE_KEK_COMMAND}`, details: { file } },
  );
}

/**
 * Reads and parses a KEK file. A file that group or others may read or write still works (a master must not stop
 * over a mode), but `warn` is told, naming the mode and the fix.
 */
export function readKeyEncryptionKey(file: string, warn: (message: string) => void): Buffer {
  let content: Buffer;
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
    content = readFileSync(file);
  } catch (error) {
    throw new AppError(
      'invalid_argument',
      `cannot read the key-encryption key file ${file}: ${(error as Error).message}`,
      { hint: `create one with: ${CREATE_KEK_COMMAND}`, details: { file }, cause: error },
    );
  }
  const key = parseKeyEncryptionKey(content, file);
  if ((mode & 0o077) !== 0) {
    warn(
      `the key-encryption key file ${file} is open to group or others (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}`,
    );
  }
  return key;
}

/**
 * Seals `plaintext` with the KEK (AES-256-GCM, a random 12-byte nonce). `aad` binds the record to where it is
 * kept (e.g. the setting's name), so a record copied elsewhere does not open.
 */
export function sealSecret(kek: Buffer, plaintext: string | Buffer, aad: string): string {
  requireKeyLength(kek);
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(ALGORITHM, kek, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const record: SealedRecord = {
    v: RECORD_VERSION,
    alg: ALGORITHM,
    kid: kekId(kek),
    nonce: nonce.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    ciphertext: ciphertext.toString('base64'),
  };
  return JSON.stringify(record);
}

/**
 * Opens a record sealSecret made with the same KEK and `aad`. Another key, or a record changed since, is a
 * `failed_precondition` whose details say which (`failure`, see UnsealFailure) and name both key ids; a record
 * that is not one at all is `internal`.
 */
export function unsealSecret(kek: Buffer, sealed: string, aad: string): Buffer {
  requireKeyLength(kek);
  const record = parseRecord(sealed);
  const kid = kekId(kek);
  if (record.kid !== kid) throw unsealError('kid_mismatch', record.kid, kid);
  try {
    const decipher = createDecipheriv(ALGORITHM, kek, Buffer.from(record.nonce, 'base64'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(aad, 'utf8'));
    decipher.setAuthTag(Buffer.from(record.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(record.ciphertext, 'base64')), decipher.final()]);
  } catch (error) {
    // Node's GCM decipher throws "Unsupported state or unable to authenticate data" from final(), and a tag or
    // nonce of the wrong length from setAuthTag/createDecipheriv: either way the record does not open.
    throw unsealError('authentication_failed', record.kid, kid, error);
  }
}

function unsealError(failure: UnsealFailure, sealedKid: string, kid: string, cause?: unknown): AppError {
  const why =
    failure === 'kid_mismatch'
      ? `was sealed with another key-encryption key (kid ${sealedKid}, this one is ${kid})`
      : `does not open with the key-encryption key ${kid} it names: it was altered, or sealed for another place`;
  return new AppError('failed_precondition', `the sealed value ${why}`, {
    details: { failure, sealedKid, kid },
    ...(cause === undefined ? {} : { cause }),
  });
}

function parseRecord(sealed: string): SealedRecord {
  let value: unknown;
  try {
    value = JSON.parse(sealed);
  } catch (error) {
    throw new AppError('internal', 'the sealed value is not a JSON record', { cause: error });
  }
  const record = value as Partial<Record<keyof SealedRecord, unknown>> | null;
  const base64 = (field: unknown): boolean =>
    typeof field === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(field);
  if (
    typeof record !== 'object' ||
    record === null ||
    record.v !== RECORD_VERSION ||
    record.alg !== ALGORITHM ||
    typeof record.kid !== 'string' ||
    !base64(record.nonce) ||
    !base64(record.tag) ||
    !base64(record.ciphertext)
  ) {
    throw new AppError(
      'internal',
      `the sealed value is not a version ${RECORD_VERSION} ${ALGORITHM} record this master can read`,
    );
  }
  return record as SealedRecord;
}

function requireKeyLength(kek: Buffer): void {
  if (kek.length !== KEK_BYTES) {
    throw new AppError('internal', `a key-encryption key has ${KEK_BYTES} bytes, not ${kek.length}`);
  }
}
