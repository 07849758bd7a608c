// The master's own trust material: the CA (created once; in the data dir, or sealed in the shared database when
// several masters share one), its TLS server certificate (re-issued at every start, so it never expires under a
// running fleet), and the tokens in the store.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../core/errors.js';
import type { MasterStore } from '../core/ports.js';
import {
  CREATE_KEK_COMMAND,
  kekId,
  readKeyEncryptionKey,
  sealSecret,
  unsealSecret,
} from '../platform/key-encryption-key.js';
import {
  caFingerprint,
  createCertificateAuthority,
  issueServerCertificate,
  type CertificateAuthority,
} from '../platform/pki.js';
import { generateToken, hashToken } from '../platform/secrets.js';
import { MASTER_COMMON_NAME } from '../platform/trust-names.js';

export interface MasterTls {
  ca: CertificateAuthority;
  /** "sha256:…" of the CA's public key: what workers pin with --ca-hash. */
  caHash: string;
  serverCertPem: string;
  serverKeyPem: string;
}

/** Settings of the shared CA: its certificate, and its key sealed with the KEK (AAD: the setting's name). */
export const SETTING_CA_CERTIFICATE = 'ca_certificate';
export const SETTING_CA_KEY_SEALED = 'ca_key_sealed';

/** What the shared CA needs of the store. */
export type CaSettingsStore = Pick<MasterStore, 'getSetting' | 'insertSettingIfAbsent'>;

export interface MasterTlsOptions {
  dataDir: string;
  /**
   * The key-encryption key (--ca-key-kek). With it the CA lives in `store`, its key sealed, shared by every master
   * of the database; without it, in `<dataDir>/master` as ca.crt and ca.key.
   */
  kek?: Buffer | undefined;
  /** Where the shared CA is kept; needed with `kek`. */
  store?: CaSettingsStore | undefined;
  /** host:port workers dial (--advertise-addr): its host goes into the server certificate beside the usual names. */
  advertiseAddr?: string | undefined;
  /** Told about a CA in the data dir that the database's CA replaces. */
  warn?: (message: string) => void;
  /** How long to wait for the key of a CA another master is storing right now (default 10 s). */
  keyWaitMs?: number;
}

/**
 * The KEK of --ca-key-kek, read before anything starts. Masters sharing a database (`shared`) must have one, since
 * their CA lives there; a lone master may go without (its CA stays in its data dir).
 */
export function readCaKeyKek(options: {
  file: string | undefined;
  shared: boolean;
  warn: (message: string) => void;
}): Buffer | undefined {
  if (options.file !== undefined) return readKeyEncryptionKey(options.file, options.warn);
  if (!options.shared) return undefined;
  throw new AppError(
    'invalid_argument',
    'a master on PostgreSQL (--store-url) needs --ca-key-kek FILE: the key that seals the CA key every master shares in the database',
    { hint: `create the file once and give every master the same one: ${CREATE_KEK_COMMAND}` },
  );
}

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Loads the CA, creating it on the first start, and issues this master's server certificate from it. With a KEK
 * the database's CA is used; when it has none, the data dir's CA is moved into it (so workers enrolled with a
 * single master stay trusted once it shares PostgreSQL), else a new one. Of masters starting together, the first
 * to store its CA wins and every one uses what is stored.
 */
export async function loadMasterTls(options: MasterTlsOptions): Promise<MasterTls> {
  const dir = join(options.dataDir, 'master');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let ca: CertificateAuthority;
  if (options.kek === undefined) {
    ca = await loadDataDirCa(dir);
  } else {
    if (options.store === undefined) {
      throw new AppError('internal', 'a master with a key-encryption key needs the store to keep its CA in');
    }
    ca = await loadSharedCa(options.store, options.kek, dir, options);
  }
  const names = serverNames(options.advertiseAddr);
  const server = await issueServerCertificate(ca, {
    commonName: MASTER_COMMON_NAME,
    ...names,
    validityDays: 365,
  });
  writeSecret(join(dir, 'server.key'), server.keyPem);
  writeFileSync(join(dir, 'server.crt'), server.certPem, { mode: 0o644 });
  return {
    ca,
    caHash: caFingerprint(ca.certPem),
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
  };
}

/** The CA of `<dataDir>/master` (ca.crt, ca.key), or undefined when there is none. */
function readDataDirCa(dir: string): CertificateAuthority | undefined {
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  if (!existsSync(certPath) || !existsSync(keyPath)) return undefined;
  return { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}

async function loadDataDirCa(dir: string): Promise<CertificateAuthority> {
  const found = readDataDirCa(dir);
  if (found !== undefined) return found;
  const ca = await newCa();
  writeSecret(join(dir, 'ca.key'), ca.keyPem);
  writeFileSync(join(dir, 'ca.crt'), ca.certPem, { mode: 0o644 });
  return ca;
}

function newCa(): Promise<CertificateAuthority> {
  return createCertificateAuthority({ commonName: `docker-migrate CA (${hostname()})` });
}

async function loadSharedCa(
  store: CaSettingsStore,
  kek: Buffer,
  dir: string,
  options: Pick<MasterTlsOptions, 'warn' | 'keyWaitMs'>,
): Promise<CertificateAuthority> {
  const local = readDataDirCa(dir);
  const stored = await readStoredCa(store, kek, options.keyWaitMs);
  if (stored !== undefined) {
    if (local !== undefined && caFingerprint(local.certPem) !== caFingerprint(stored.certPem)) {
      options.warn?.(
        `the CA in ${dir} (${caFingerprint(local.certPem)}) is not the one in the database (${caFingerprint(stored.certPem)}), which this master uses: workers enrolled with the former must enroll again`,
      );
    }
    return stored;
  }
  const candidate = local ?? (await newCa());
  // The certificate decides which master's CA it is; only that master then stores the key, and the others wait
  // for it (readStoredCa). Sealing binds the key to its setting's name.
  if (await store.insertSettingIfAbsent(SETTING_CA_CERTIFICATE, candidate.certPem)) {
    await store.insertSettingIfAbsent(
      SETTING_CA_KEY_SEALED,
      sealSecret(kek, candidate.keyPem, SETTING_CA_KEY_SEALED),
    );
  }
  const shared = await readStoredCa(store, kek, options.keyWaitMs);
  if (shared === undefined) throw new AppError('internal', 'the CA stored in the database vanished');
  return shared;
}

/** The database's CA, its key unsealed; undefined when it has none. */
async function readStoredCa(
  store: CaSettingsStore,
  kek: Buffer,
  keyWaitMs = 10_000,
): Promise<CertificateAuthority | undefined> {
  const certPem = await store.getSetting(SETTING_CA_CERTIFICATE);
  if (certPem === undefined) return undefined;
  let sealed = await store.getSetting(SETTING_CA_KEY_SEALED);
  // Another master stored the certificate and is about to store the key.
  for (const deadline = Date.now() + keyWaitMs; sealed === undefined && Date.now() < deadline;) {
    await sleep(100);
    sealed = await store.getSetting(SETTING_CA_KEY_SEALED);
  }
  if (sealed === undefined) {
    throw new AppError(
      'failed_precondition',
      'the database holds the CA certificate but not its key: a master stopped while creating the CA',
      {
        hint: `no worker can have enrolled with it: delete it (DELETE FROM settings WHERE key = '${SETTING_CA_CERTIFICATE}') and start the master again`,
      },
    );
  }
  return { certPem, keyPem: unsealCaKey(kek, sealed) };
}

function unsealCaKey(kek: Buffer, sealed: string): string {
  try {
    return unsealSecret(kek, sealed, SETTING_CA_KEY_SEALED).toString('utf8');
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'failed_precondition') throw error;
    const sealedKid = typeof error.details?.sealedKid === 'string' ? error.details.sealedKid : 'unknown';
    throw new AppError(
      'failed_precondition',
      `the CA key in the database was sealed with another key-encryption key (kid ${sealedKid}); give every master the same --ca-key-kek file`,
      {
        hint:
          error.details?.failure === 'kid_mismatch'
            ? `this master's --ca-key-kek file has kid ${kekId(kek)}`
            : `the record names this master's key but does not open with it: it was altered in the database`,
        details: { ...error.details },
        cause: error,
      },
    );
  }
}

/**
 * The server certificate's names: the name workers check (MASTER_COMMON_NAME), this host, loopback, and the host
 * of the advertised address when it is a DNS name or an IP address.
 */
function serverNames(advertiseAddr: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames = [MASTER_COMMON_NAME, 'localhost', hostname()];
  const ipAddresses = ['127.0.0.1', '::1'];
  const host = advertiseAddr === undefined ? undefined : hostOf(advertiseAddr);
  if (host !== undefined && isIP(host) !== 0) ipAddresses.push(host);
  else if (host !== undefined && /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) dnsNames.push(host);
  return { dnsNames: [...new Set(dnsNames)], ipAddresses: [...new Set(ipAddresses)] };
}

/** "host:9090" → "host", "[::1]:9090" → "::1"; a bare host or IPv6 address as it is. */
function hostOf(address: string): string | undefined {
  const trimmed = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(trimmed);
  if (bracketed) return bracketed[1];
  const host = trimmed.split(':').length === 2 ? trimmed.slice(0, trimmed.lastIndexOf(':')) : trimmed;
  return host === '' || host === '0.0.0.0' || host === '::' ? undefined : host;
}

export const SETTING_ENROLLMENT_TOKEN = 'enrollment_token';
export const SETTING_ADMIN_TOKEN_HASH = 'admin_token_sha256';

export interface MasterTokens {
  enrollmentToken: string;
  /** Set only when this start created the admin token: it is shown once, then only its hash is kept. */
  newAdminToken?: string;
}

/**
 * Makes sure an enrollment token and an admin token exist. Given tokens replace stored ones; missing ones are
 * generated. The admin token is stored only as a hash; the enrollment token is kept (the database is mode 0600)
 * because the API shows it to admins for the join command.
 */
export async function ensureTokens(
  store: MasterStore,
  given: { enrollmentToken?: string | undefined; adminToken?: string | undefined },
): Promise<MasterTokens> {
  let enrollmentToken = given.enrollmentToken ?? (await store.getSetting(SETTING_ENROLLMENT_TOKEN));
  if (enrollmentToken === undefined) enrollmentToken = generateToken('dm-enroll');
  await store.setSetting(SETTING_ENROLLMENT_TOKEN, enrollmentToken);

  let newAdminToken: string | undefined;
  if (given.adminToken !== undefined) {
    await store.setSetting(SETTING_ADMIN_TOKEN_HASH, hashToken(given.adminToken));
  } else if ((await store.getSetting(SETTING_ADMIN_TOKEN_HASH)) === undefined) {
    newAdminToken = generateToken('dm-admin');
    await store.setSetting(SETTING_ADMIN_TOKEN_HASH, hashToken(newAdminToken));
  }
  return { enrollmentToken, ...(newAdminToken ? { newAdminToken } : {}) };
}

/** The enrollment token as the store holds it, for checks and the join command; see watchEnrollmentToken. */
export interface EnrollmentTokenWatch {
  /** The token last read or set (at most about a second old). */
  current(): string;
  /** Takes a token this master just stored (regenerated), before the next read would bring it. */
  set(token: string): void;
  close(): Promise<void>;
}

/**
 * Follows the enrollment token in the store, re-reading it every `intervalMs` (default 1 s), so that a token
 * regenerated through another master of the database stops working here too within that time. A failed read keeps
 * the last token; `onError` hears of the first failure of a run of them.
 */
export function watchEnrollmentToken(
  store: Pick<MasterStore, 'getSetting'>,
  initial: string,
  options: { intervalMs?: number; onError: (error: unknown) => void },
): EnrollmentTokenWatch {
  let token = initial;
  // A read begun before set() must not bring back the token set() replaced.
  let generation = 0;
  let reading = false;
  let failing = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    const asked = generation;
    void store
      .getSetting(SETTING_ENROLLMENT_TOKEN)
      .then(
        (stored) => {
          failing = false;
          if (stored !== undefined && asked === generation) token = stored;
        },
        (error: unknown) => {
          if (!failing) options.onError(error);
          failing = true;
        },
      )
      .finally(() => {
        reading = false;
      });
  }, options.intervalMs ?? 1_000);
  timer.unref();
  return {
    current: () => token,
    set(next) {
      token = next;
      generation += 1;
    },
    close: () => {
      clearInterval(timer);
      return Promise.resolve();
    },
  };
}
