// The master's certificate authority in pure TypeScript: CA creation, worker CSRs, signing, verification and
// fingerprints, all PEM in and out (ECDSA P-256 / SHA-256 over Node's WebCrypto). Callers store the files.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createHash, createPrivateKey, createPublicKey, timingSafeEqual, webcrypto } from 'node:crypto';
import { isIP } from 'node:net';

import { AppError } from '../core/errors.js';

// @peculiar/x509 needs a WebCrypto provider; Node's is complete, so it is set once when the module loads.
// The cast: this project compiles without the DOM lib, so the library's global `Crypto` type is unresolved.
x509.cryptoProvider.set(webcrypto as never);

/** A private key as PKCS#8 "PRIVATE KEY" PEM. */
export interface KeyPairPem {
  keyPem: string;
}

/** The master's CA: its self-signed certificate and its private key, both PEM. */
export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

/** A certificate the CA issued, with the facts the master records about it (the serial is the lookup key). */
export interface IssuedCertificate {
  certPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** What the product needs to know about a certificate, without callers parsing ASN.1. */
export interface CertificateInfo {
  serial: string;
  commonName: string;
  issuerCommonName: string;
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  uris: string[];
  isCa: boolean;
  /** "sha256:<hex>" of the certificate's DER. */
  fingerprint: string;
}

/** How a certificate presented by a peer relates to our CA; a value, because a refusal is an expected outcome. */
export type VerifyResult =
  | { ok: true; info: CertificateInfo }
  | {
      ok: false;
      reason: 'malformed' | 'not_signed_by_ca' | 'expired' | 'not_yet_valid' | 'is_ca';
      message: string;
    };

const EC_KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const EC_SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;
/** Allowance for clocks of master and workers that disagree a little: certificates start 5 minutes early. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;
const DEFAULT_CA_VALIDITY_DAYS = 3650;
const MIN_RSA_BITS = 2048;

/**
 * Creates the master's self-signed CA. It may sign only end-entity certificates (pathLen 0), so a worker's
 * certificate can never be used to mint further certificates.
 */
export async function createCertificateAuthority(options: {
  commonName: string;
  validityDays?: number;
  now?: Date;
}): Promise<CertificateAuthority> {
  const commonName = requireCommonName(options.commonName);
  const validityDays = requireValidityDays(options.validityDays ?? DEFAULT_CA_VALIDITY_DAYS);
  const { notBefore, notAfter } = validityWindow(options.now ?? new Date(), validityDays);
  const keys = await generateEcKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialHex(),
    name: [{ CN: [commonName] }],
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: derToPem(cert.rawData, 'CERTIFICATE'),
    keyPem: await exportPrivateKeyPem(keys.privateKey),
  };
}

/**
 * The worker side of enrolment: the private key never leaves the worker, only the CSR (which proves possession
 * of the key by its signature) travels to the master with the join token.
 */
export async function createKeyAndCsr(options: {
  commonName: string;
}): Promise<{ keyPem: string; csrPem: string }> {
  const commonName = requireCommonName(options.commonName);
  const keys = await generateEcKeys();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [commonName] }],
    keys,
    signingAlgorithm: EC_SIGNING_ALGORITHM,
  });
  return {
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    csrPem: derToPem(csr.rawData, 'CERTIFICATE REQUEST'),
  };
}

/**
 * Issues a certificate for the key in a CSR. The CA decides the subject and names (a worker cannot choose its own
 * identity); the CSR contributes only its public key, after its self-signature has been checked.
 */
export async function signCsr(
  ca: CertificateAuthority,
  csrPem: string,
  options: {
    commonName: string;
    validityDays: number;
    dnsNames?: string[];
    ipAddresses?: string[];
    uris?: string[];
    usage: 'client-server' | 'server';
    now?: Date;
  },
): Promise<IssuedCertificate> {
  const commonName = requireCommonName(options.commonName);
  const validityDays = requireValidityDays(options.validityDays);
  const altNames = subjectAltNames(options.dnsNames ?? [], options.ipAddresses ?? [], options.uris ?? []);
  const csr = parseCsr(csrPem);
  await requireProofOfPossession(csr);
  const isRsa = requireAcceptableKey(csr.publicKey);
  const { caCert, signingKey } = await loadCa(ca);

  const { notBefore, notAfter } = validityWindow(options.now ?? new Date(), validityDays);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // keyEncipherment only means something for RSA keys (TLS 1.2 RSA key exchange).
    isRsa
      ? new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
          true,
        )
      : new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(extendedKeyUsages(options.usage), false),
    // The CA's own SKI, when present, so that chain builders (OpenSSL) match AKI to SKI byte for byte.
    caKeyId === undefined
      ? await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey)
      : new x509.AuthorityKeyIdentifierExtension(caKeyId),
    await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
  ];
  if (altNames.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(altNames, false));

  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: [{ CN: [commonName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    signingKey,
    signingAlgorithm: { name: signingKey.algorithm.name, hash: 'SHA-256' } as never,
    extensions,
  });
  return {
    certPem: derToPem(cert.rawData, 'CERTIFICATE'),
    serial: normalizeSerial(cert.serialNumber),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  };
}

/**
 * The master's own TLS certificate. It carries clientAuth as well as serverAuth, so the master can dial workers
 * with the same identity it serves with.
 */
export async function issueServerCertificate(
  ca: CertificateAuthority,
  options: {
    commonName: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    validityDays: number;
    now?: Date;
  },
): Promise<IssuedCertificate & { keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: options.commonName });
  const issued = await signCsr(ca, csrPem, { ...options, usage: 'client-server' });
  return { ...issued, keyPem };
}

/** Reads a certificate (the first one of a bundle) into plain values; malformed input is the caller's mistake. */
export function certificateInfo(certPem: string): CertificateInfo {
  return infoOf(parseCertificate(certPem));
}

/**
 * A pin for the CA that a worker checks before trusting the master on first contact (like kubeadm's
 * --discovery-token-ca-cert-hash). It hashes the public key, not the certificate, so it survives re-issuing
 * the CA with the same key.
 */
export function caFingerprint(caCertPem: string): string {
  const cert = parseCertificate(caCertPem);
  return `sha256:${createHash('sha256').update(new Uint8Array(cert.publicKey.rawData)).digest('hex')}`;
}

/**
 * Compares a CA against a pin typed or pasted by a person: with or without "sha256:", any case. Constant-time,
 * so a pin cannot be guessed byte by byte from response times.
 */
export function fingerprintMatches(caCertPem: string, expected: string): boolean {
  const actual = Buffer.from(caFingerprint(caCertPem).slice('sha256:'.length), 'hex');
  const trimmed = expected.trim();
  const hex = (
    trimmed.toLowerCase().startsWith('sha256:') ? trimmed.slice('sha256:'.length) : trimmed
  ).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) return false;
  return timingSafeEqual(actual, Buffer.from(hex, 'hex'));
}

/**
 * Decides whether a peer's certificate is one our CA issued and may be used now. Accepts DER because Node's TLS
 * hands the peer certificate over as `raw` bytes.
 */
export async function verifyIssuedBy(
  certPemOrDer: string | Uint8Array,
  ca: { certPem: string },
  now: Date = new Date(),
): Promise<VerifyResult> {
  const caCert = parseCertificate(ca.certPem, 'CA certificate');
  let cert: x509.X509Certificate;
  try {
    cert =
      typeof certPemOrDer === 'string'
        ? parseCertificate(certPemOrDer)
        : new x509.X509Certificate(new Uint8Array(certPemOrDer));
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed',
      message: `not a readable X.509 certificate: ${messageOf(error)}`,
    };
  }
  let info: CertificateInfo;
  try {
    info = infoOf(cert);
  } catch (error) {
    return {
      ok: false,
      reason: 'malformed',
      message: `not a readable X.509 certificate: ${messageOf(error)}`,
    };
  }

  let signed: boolean;
  try {
    signed = await cert.verify({ publicKey: caCert, signatureOnly: true });
  } catch {
    // WebCrypto throws when the signature algorithm does not fit the CA's key: also "not signed by this CA".
    signed = false;
  }
  if (!signed) {
    return {
      ok: false,
      reason: 'not_signed_by_ca',
      message: `certificate "${info.commonName}" (issuer "${info.issuerCommonName}") was not signed by our CA "${caCommonName(caCert)}"`,
    };
  }
  if (info.isCa) {
    return {
      ok: false,
      reason: 'is_ca',
      message: `certificate "${info.commonName}" is a CA, not a peer certificate`,
    };
  }
  if (now.getTime() < info.notBefore.getTime()) {
    return {
      ok: false,
      reason: 'not_yet_valid',
      message: `certificate "${info.commonName}" is valid only from ${info.notBefore.toISOString()} (check the clocks)`,
    };
  }
  if (now.getTime() > info.notAfter.getTime()) {
    return {
      ok: false,
      reason: 'expired',
      message: `certificate "${info.commonName}" expired at ${info.notAfter.toISOString()}`,
    };
  }
  return { ok: true, info };
}

/** The CA's parsed certificate and its private key imported for signing, after checking they belong together. */
async function loadCa(
  ca: CertificateAuthority,
): Promise<{ caCert: x509.X509Certificate; signingKey: webcrypto.CryptoKey }> {
  const caCert = parseCertificate(ca.certPem, 'CA certificate');
  const basic = caCert.getExtension(x509.BasicConstraintsExtension);
  if (basic?.ca !== true) {
    throw new AppError('invalid_argument', 'the CA certificate is not a CA (BasicConstraints CA:false)');
  }
  let pkcs8: Buffer;
  let spki: Buffer;
  try {
    // Node's parser accepts PKCS#8, SEC1 ("EC PRIVATE KEY") and PKCS#1; WebCrypto needs PKCS#8.
    const privateKey = createPrivateKey(ca.keyPem);
    pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
    spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  } catch (error) {
    throw new AppError('invalid_argument', 'the CA private key is not a readable PEM private key', {
      cause: error,
    });
  }
  if (!spki.equals(Buffer.from(caCert.publicKey.rawData))) {
    throw new AppError('invalid_argument', 'the CA private key does not belong to the CA certificate', {
      hint: 'Restore ca.key and ca.crt from the same backup.',
    });
  }
  const keyAlgorithm = keyAlgorithmOf(caCert.publicKey);
  let importAlgorithm: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  if (keyAlgorithm.name === 'ECDSA' && keyAlgorithm.namedCurve !== undefined) {
    importAlgorithm = { name: 'ECDSA', namedCurve: keyAlgorithm.namedCurve };
  } else if (keyAlgorithm.name === 'RSASSA-PKCS1-v1_5') {
    importAlgorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else {
    throw new AppError('invalid_argument', `unsupported CA key algorithm ${keyAlgorithm.name}`);
  }
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    new Uint8Array(pkcs8),
    importAlgorithm,
    false,
    ['sign'],
  );
  return { caCert, signingKey };
}

function parseCsr(csrPem: string): x509.Pkcs10CertificateRequest {
  const der = pemBlock(csrPem, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);
  if (der === undefined) {
    throw new AppError('invalid_argument', 'the certificate request is not a PEM "CERTIFICATE REQUEST"', {
      hint: 'Send the CSR produced by the worker, unchanged.',
    });
  }
  try {
    return new x509.Pkcs10CertificateRequest(der);
  } catch (error) {
    throw new AppError('invalid_argument', 'the certificate request is malformed (not a PKCS#10 request)', {
      cause: error,
    });
  }
}

/** The CSR must be signed by the key it carries, so nobody gets a certificate for a key they do not hold. */
async function requireProofOfPossession(csr: x509.Pkcs10CertificateRequest): Promise<void> {
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (error) {
    throw new AppError('invalid_argument', 'the certificate request signature cannot be checked', {
      cause: error,
    });
  }
  if (!valid) {
    throw new AppError(
      'invalid_argument',
      'the certificate request signature is invalid: it was not signed by the key it contains',
    );
  }
}

/** Only keys Node's TLS and grpc-js handle everywhere, at a strength we accept. Returns true for RSA. */
function requireAcceptableKey(publicKey: x509.PublicKey): boolean {
  const algorithm = keyAlgorithmOf(publicKey);
  if (algorithm.name === 'ECDSA' && algorithm.namedCurve === 'P-256') return false;
  if (algorithm.name === 'RSASSA-PKCS1-v1_5' && (algorithm.modulusLength ?? 0) >= MIN_RSA_BITS) return true;
  const described =
    algorithm.namedCurve ?? (algorithm.modulusLength === undefined ? '' : `${algorithm.modulusLength} bits`);
  throw new AppError(
    'invalid_argument',
    `the certificate request uses an unsupported key (${algorithm.name}${described === '' ? '' : ` ${described}`})`,
    { hint: `Use an EC P-256 key, or RSA of at least ${MIN_RSA_BITS} bits.` },
  );
}

/** The key algorithm as WebCrypto names it (the library types it with the DOM's `Algorithm`, absent here). */
function keyAlgorithmOf(publicKey: x509.PublicKey): {
  name: string;
  namedCurve?: string;
  modulusLength?: number;
} {
  return publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
}

function extendedKeyUsages(usage: 'client-server' | 'server'): string[] {
  switch (usage) {
    case 'client-server':
      return [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    case 'server':
      return [x509.ExtendedKeyUsage.serverAuth];
  }
}

function subjectAltNames(dnsNames: string[], ipAddresses: string[], uris: string[]): x509.JsonGeneralNames {
  const names: x509.JsonGeneralNames = [];
  for (const dns of dnsNames) {
    if (!/^[A-Za-z0-9*]([A-Za-z0-9.*-]*[A-Za-z0-9])?$/.test(dns)) {
      throw new AppError('invalid_argument', `"${dns}" is not a DNS name`);
    }
    names.push({ type: 'dns', value: dns });
  }
  for (const ip of ipAddresses) {
    if (isIP(ip) === 0) throw new AppError('invalid_argument', `"${ip}" is not an IP address`);
    names.push({ type: 'ip', value: ip });
  }
  for (const uri of uris) {
    if (!URL.canParse(uri)) throw new AppError('invalid_argument', `"${uri}" is not a URI`);
    names.push({ type: 'url', value: uri });
  }
  return names;
}

function infoOf(cert: x509.X509Certificate): CertificateInfo {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  const uris: string[] = [];
  for (const name of cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []) {
    if (name.type === 'dns') dnsNames.push(name.value);
    else if (name.type === 'ip') ipAddresses.push(name.value);
    else if (name.type === 'url') uris.push(name.value);
  }
  return {
    serial: normalizeSerial(cert.serialNumber),
    commonName: cert.subjectName.getField('CN')[0] ?? '',
    issuerCommonName: cert.issuerName.getField('CN')[0] ?? '',
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames,
    ipAddresses,
    uris,
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
    fingerprint: `sha256:${createHash('sha256').update(new Uint8Array(cert.rawData)).digest('hex')}`,
  };
}

function caCommonName(caCert: x509.X509Certificate): string {
  return caCert.subjectName.getField('CN')[0] ?? caCert.subject;
}

function parseCertificate(pem: string, what = 'certificate'): x509.X509Certificate {
  const der = pemBlock(pem, ['CERTIFICATE']);
  if (der === undefined) {
    throw new AppError('invalid_argument', `the ${what} is not a PEM "CERTIFICATE"`);
  }
  try {
    const cert = new x509.X509Certificate(der);
    // Touch the lazily parsed fields so that a broken certificate fails here, not later in a caller.
    if (Number.isNaN(cert.notAfter.getTime()) || cert.publicKey.rawData.byteLength === 0) {
      throw new Error('no validity or public key');
    }
    return cert;
  } catch (error) {
    throw new AppError('invalid_argument', `the ${what} is malformed (not an X.509 certificate)`, {
      cause: error,
    });
  }
}

/** The DER of the first PEM block with one of the labels, or undefined when there is none. */
function pemBlock(pem: string, labels: string[]): Uint8Array | undefined {
  for (const match of pem.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)) {
    const [, label = '', body = ''] = match;
    if (!labels.includes(label)) continue;
    const base64 = body.replace(/\s+/g, '');
    if (base64 === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return undefined;
    return new Uint8Array(Buffer.from(base64, 'base64'));
  }
  return undefined;
}

function derToPem(der: ArrayBuffer | Uint8Array, label: string): string {
  const lines = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der))
    .toString('base64')
    .match(/.{1,64}/g);
  return `-----BEGIN ${label}-----\n${(lines ?? []).join('\n')}\n-----END ${label}-----\n`;
}

async function generateEcKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(EC_KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function exportPrivateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return derToPem(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

/** 16 random bytes with the first in 0x01–0x7f: positive, minimal DER, always 32 hex digits. */
function randomSerialHex(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) % 0x7f) + 1;
  return Buffer.from(bytes).toString('hex');
}

/** Lower-case hex without colons or leading zero octets, the one form serials are stored and compared in. */
export function normalizeSerial(serial: string): string {
  let hex = serial.replace(/:/g, '').toLowerCase();
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

function validityWindow(now: Date, validityDays: number): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + validityDays * DAY_MS),
  };
}

function requireCommonName(commonName: string): string {
  if (commonName.trim() === '')
    throw new AppError('invalid_argument', 'a certificate needs a non-empty common name');
  return commonName;
}

function requireValidityDays(days: number): number {
  if (!Number.isFinite(days) || days <= 0) {
    throw new AppError('invalid_argument', `validity must be a positive number of days, not ${days}`);
  }
  return days;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
