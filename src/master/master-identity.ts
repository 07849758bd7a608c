// The master's own trust material in its data dir: the CA (created once), its TLS server certificate (re-issued at
// every start, so it never expires under a running fleet), and the tokens in the store.
import { existsSync, mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { MasterStore } from '../core/ports.js';
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

function writeSecret(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Loads the CA from `<dataDir>/master`, creating it on first start, and issues a fresh server certificate. */
export async function loadMasterTls(dataDir: string): Promise<MasterTls> {
  const dir = join(dataDir, 'master');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'ca.crt');
  const keyPath = join(dir, 'ca.key');
  let ca: CertificateAuthority;
  if (existsSync(certPath) && existsSync(keyPath)) {
    ca = { certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
  } else {
    ca = await createCertificateAuthority({ commonName: `docker-migrate CA (${hostname()})` });
    writeSecret(keyPath, ca.keyPem);
    writeFileSync(certPath, ca.certPem, { mode: 0o644 });
  }
  const server = await issueServerCertificate(ca, {
    commonName: MASTER_COMMON_NAME,
    dnsNames: [MASTER_COMMON_NAME, 'localhost', hostname()],
    ipAddresses: ['127.0.0.1', '::1'],
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
