// Unit tests of the CA: enrolment by CSR, verification of peer certificates, fingerprints, and real mutual TLS
// with Node's own TLS stack on 127.0.0.1, so the certificates are known to work in practice.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

import { AppError } from '../core/errors.js';
import {
  caFingerprint,
  certificateInfo,
  createCertificateAuthority,
  createKeyAndCsr,
  fingerprintMatches,
  issueServerCertificate,
  signCsr,
  verifyIssuedBy,
} from './pki.js';
import type { CertificateAuthority, IssuedCertificate } from './pki.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const NOW = new Date('2025-03-01T12:00:00Z');

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'docker-migrate CA' });
  otherCa = await createCertificateAuthority({ commonName: 'someone else CA' });
});

/** Enrols a worker the way the product does: the worker makes key + CSR, the master signs with its own CN. */
async function enrolWorker(
  authority: CertificateAuthority,
  workerId: string,
  options: { now?: Date; validityDays?: number } = {},
): Promise<IssuedCertificate & { keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: 'whatever-the-worker-asked-for' });
  const issued = await signCsr(authority, csrPem, {
    commonName: workerId,
    validityDays: options.validityDays ?? 30,
    ipAddresses: ['127.0.0.1'],
    dnsNames: ['worker.local'],
    uris: [`spiffe://docker-migrate/worker/${workerId}`],
    usage: 'client-server',
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  return { ...issued, keyPem };
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function derToPem(der: Uint8Array, label: string): string {
  const body =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${body.join('\n')}\n-----END ${label}-----\n`;
}

async function caught(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a rejection');
}

/** A CSR made with the library directly, for key types our own createKeyAndCsr never produces. */
async function csrWithKey(
  algorithm: webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams,
): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ['odd-key'] }],
    keys,
    signingAlgorithm: { ...algorithm, hash: 'SHA-256' } as never,
  });
  return csr.toString('pem');
}

describe('signCsr', () => {
  it('issues a certificate that verifies against the CA, with the CN and names the CA chose', async () => {
    const issued = await enrolWorker(ca, 'worker-7f3a', { now: NOW, validityDays: 90 });

    const result = await verifyIssuedBy(issued.certPem, ca, new Date(NOW.getTime() + DAY_MS));
    expect(result.ok).toBe(true);
    const info = certificateInfo(issued.certPem);
    expect(info.commonName).toBe('worker-7f3a');
    expect(info.issuerCommonName).toBe('docker-migrate CA');
    expect(info.ipAddresses).toEqual(['127.0.0.1']);
    expect(info.dnsNames).toEqual(['worker.local']);
    expect(info.uris).toEqual(['spiffe://docker-migrate/worker/worker-7f3a']);
    expect(info.isCa).toBe(false);
    expect(info.serial).toBe(issued.serial);
    expect(info.notAfter.getTime()).toBe(issued.notAfter.getTime());
    expect(Math.abs(issued.notAfter.getTime() - (NOW.getTime() + 90 * DAY_MS))).toBeLessThan(1000);
    expect(issued.notBefore.getTime()).toBe(NOW.getTime() - 5 * 60 * 1000);
    expect(info.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('uses a random positive 16-byte serial in lower-case hex, as Node reports it', async () => {
    const first = await enrolWorker(ca, 'w1');
    const second = await enrolWorker(ca, 'w2');
    expect(first.serial).toMatch(/^[1-7][0-9a-f]{31}$|^0[1-9a-f][0-9a-f]{30}$/);
    expect(first.serial).not.toBe(second.serial);
    expect(new X509Certificate(first.certPem).serialNumber.toLowerCase()).toBe(first.serial);
  });

  it('ignores the subject the worker asked for in its CSR', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'master' });
    const issued = await signCsr(ca, csrPem, {
      commonName: 'worker-1',
      validityDays: 1,
      usage: 'client-server',
    });
    expect(certificateInfo(issued.certPem).commonName).toBe('worker-1');
  });

  it('sets the extensions a TLS leaf needs: not a CA, digitalSignature, EKU by usage, key identifiers', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'x' });
    const server = await signCsr(ca, csrPem, { commonName: 's', validityDays: 1, usage: 'server' });
    const both = await signCsr(ca, csrPem, { commonName: 'b', validityDays: 1, usage: 'client-server' });
    const serverCert = new x509.X509Certificate(server.certPem);
    const caCert = new x509.X509Certificate(ca.certPem);

    const basic = serverCert.getExtension(x509.BasicConstraintsExtension);
    expect(basic?.ca).toBe(false);
    expect(basic?.critical).toBe(true);
    expect(serverCert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.digitalSignature,
    );
    expect(serverCert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
    ]);
    expect(
      new x509.X509Certificate(both.certPem).getExtension(x509.ExtendedKeyUsageExtension)?.usages,
    ).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    expect(serverCert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(
      caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId,
    );
    expect(serverCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(serverCert.signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-256' } });
  });

  it('rejects a CSR whose signature was tampered with (no proof of possession)', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'w' });
    const der = pemToDer(csrPem);
    der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
    const error = await caught(
      signCsr(ca, derToPem(der, 'CERTIFICATE REQUEST'), {
        commonName: 'w',
        validityDays: 1,
        usage: 'server',
      }),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/signature/);
  });

  it('rejects garbage and a certificate passed off as a CSR, with a readable message', async () => {
    const options = { commonName: 'w', validityDays: 1, usage: 'server' } as const;
    const garbage = await caught(signCsr(ca, 'hello, I am a worker', options));
    expect(garbage.code).toBe('invalid_argument');
    expect(garbage.message).toMatch(/certificate request/);

    const truncated = await caught(
      signCsr(ca, derToPem(Buffer.from('not asn.1 at all'), 'CERTIFICATE REQUEST'), options),
    );
    expect(truncated.code).toBe('invalid_argument');
    expect(truncated.message).toMatch(/malformed/);

    expect((await caught(signCsr(ca, ca.certPem, options))).code).toBe('invalid_argument');
  });

  it('accepts EC P-256 and RSA 2048 keys, and rejects other curves and short RSA keys', async () => {
    const options = { commonName: 'w', validityDays: 1, usage: 'client-server' } as const;
    const rsa = (modulusLength: number): webcrypto.RsaHashedKeyGenParams => ({
      name: 'RSASSA-PKCS1-v1_5',
      modulusLength,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: 'SHA-256',
    });

    const rsaIssued = await signCsr(ca, await csrWithKey(rsa(2048)), options);
    expect((await verifyIssuedBy(rsaIssued.certPem, ca)).ok).toBe(true);

    const p384 = await caught(signCsr(ca, await csrWithKey({ name: 'ECDSA', namedCurve: 'P-384' }), options));
    expect(p384.code).toBe('invalid_argument');
    expect(p384.message).toMatch(/unsupported key.*P-384/);

    const shortRsa = await caught(signCsr(ca, await csrWithKey(rsa(1024)), options));
    expect(shortRsa.message).toMatch(/unsupported key.*1024 bits/);
  });

  it('refuses to sign with a key that does not belong to the CA certificate', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'w' });
    const error = await caught(
      signCsr({ certPem: ca.certPem, keyPem: otherCa.keyPem }, csrPem, {
        commonName: 'w',
        validityDays: 1,
        usage: 'server',
      }),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/does not belong/);
  });

  it('rejects invalid names and validity before signing', async () => {
    const { csrPem } = await createKeyAndCsr({ commonName: 'w' });
    const base = { commonName: 'w', validityDays: 1, usage: 'server' } as const;
    expect((await caught(signCsr(ca, csrPem, { ...base, ipAddresses: ['300.1.1.1'] }))).message).toMatch(
      /IP/,
    );
    expect((await caught(signCsr(ca, csrPem, { ...base, validityDays: 0 }))).message).toMatch(/validity/);
    expect((await caught(signCsr(ca, csrPem, { ...base, commonName: ' ' }))).message).toMatch(/common name/);
  });
});

describe('createCertificateAuthority', () => {
  it('makes a self-signed CA that may sign only leaf certificates', async () => {
    const cert = new x509.X509Certificate(ca.certPem);
    const basic = cert.getExtension(x509.BasicConstraintsExtension);
    expect(basic).toMatchObject({ ca: true, pathLength: 0, critical: true });
    expect(cert.getExtension(x509.KeyUsagesExtension)).toMatchObject({
      usages: x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
      critical: true,
    });
    expect(await cert.isSelfSigned()).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const info = certificateInfo(ca.certPem);
    expect(info.isCa).toBe(true);
    expect(info.commonName).toBe('docker-migrate CA');
    expect(Math.round((info.notAfter.getTime() - info.notBefore.getTime()) / DAY_MS)).toBe(3650);
  });
});

describe('verifyIssuedBy', () => {
  it('refuses a certificate issued by another CA', async () => {
    const foreign = await enrolWorker(otherCa, 'intruder');
    const result = await verifyIssuedBy(foreign.certPem, ca);
    expect(result).toMatchObject({ ok: false, reason: 'not_signed_by_ca' });
  });

  it('reports expired and not-yet-valid certificates against the given time', async () => {
    const issued = await enrolWorker(ca, 'w', { now: NOW, validityDays: 10 });
    expect(await verifyIssuedBy(issued.certPem, ca, new Date(NOW.getTime() + 11 * DAY_MS))).toMatchObject({
      ok: false,
      reason: 'expired',
    });
    expect(await verifyIssuedBy(issued.certPem, ca, new Date(NOW.getTime() - DAY_MS))).toMatchObject({
      ok: false,
      reason: 'not_yet_valid',
    });
    // Within the 5-minute allowance for clock skew it is already valid.
    expect((await verifyIssuedBy(issued.certPem, ca, new Date(NOW.getTime() - 60_000))).ok).toBe(true);
  });

  it('refuses the CA certificate itself as a peer certificate', async () => {
    expect(await verifyIssuedBy(ca.certPem, ca)).toMatchObject({ ok: false, reason: 'is_ca' });
  });

  it('accepts DER bytes as Node TLS gives them, and reports garbage as malformed', async () => {
    const issued = await enrolWorker(ca, 'worker-der');
    const result = await verifyIssuedBy(pemToDer(issued.certPem), ca);
    expect(result.ok && result.info.commonName).toBe('worker-der');
    expect(result.ok && result.info.serial).toBe(issued.serial);

    expect(await verifyIssuedBy(new Uint8Array([1, 2, 3]), ca)).toMatchObject({
      ok: false,
      reason: 'malformed',
    });
    expect(await verifyIssuedBy('not a pem', ca)).toMatchObject({ ok: false, reason: 'malformed' });
  });
});

describe('certificateInfo', () => {
  it('throws invalid_argument on malformed input', () => {
    expect(() => certificateInfo('garbage')).toThrow(AppError);
    try {
      certificateInfo(derToPem(Buffer.from('nope'), 'CERTIFICATE'));
      expect.unreachable();
    } catch (error) {
      expect((error as AppError).code).toBe('invalid_argument');
    }
  });
});

describe('caFingerprint', () => {
  it('is a stable sha256 of the public key, different for another CA', () => {
    const pin = caFingerprint(ca.certPem);
    expect(pin).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(caFingerprint(ca.certPem)).toBe(pin);
    expect(caFingerprint(otherCa.certPem)).not.toBe(pin);
    // A pin of the key, not of the certificate bytes.
    expect(pin).not.toBe(certificateInfo(ca.certPem).fingerprint);
  });

  it('matches with or without the prefix and in any case, and refuses others', () => {
    const pin = caFingerprint(ca.certPem);
    const hex = pin.slice('sha256:'.length);
    expect(fingerprintMatches(ca.certPem, pin)).toBe(true);
    expect(fingerprintMatches(ca.certPem, hex)).toBe(true);
    expect(fingerprintMatches(ca.certPem, hex.toUpperCase())).toBe(true);
    expect(fingerprintMatches(ca.certPem, `SHA256:${hex.toUpperCase()}`)).toBe(true);
    expect(fingerprintMatches(ca.certPem, caFingerprint(otherCa.certPem))).toBe(false);
    expect(fingerprintMatches(ca.certPem, hex.slice(0, 63))).toBe(false);
    expect(fingerprintMatches(ca.certPem, '')).toBe(false);
  });
});

describe('mutual TLS with node:tls', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  /** Starts the master's TLS server on port 0; it greets each authorized client with the CN it saw. */
  async function startServer(): Promise<{ port: number; clientErrors: Error[]; greeted: string[] }> {
    const serverCert = await issueServerCertificate(ca, {
      commonName: 'master',
      ipAddresses: ['127.0.0.1'],
      dnsNames: ['localhost'],
      validityDays: 1,
    });
    const clientErrors: Error[] = [];
    const greeted: string[] = [];
    const server = tls.createServer(
      {
        key: serverCert.keyPem,
        cert: serverCert.certPem,
        ca: [ca.certPem],
        requestCert: true,
        rejectUnauthorized: true,
      },
      (socket) => {
        const peer = socket.getPeerCertificate();
        greeted.push(String(peer.subject.CN));
        socket.end(`${socket.authorized ? 'authorized' : 'unauthorized'} ${String(peer.subject.CN)}\n`);
      },
    );
    server.on('tlsClientError', (error) => clientErrors.push(error));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => server.close());
    return { port: (server.address() as AddressInfo).port, clientErrors, greeted };
  }

  /** Connects as a worker; resolves with what the server said and whether the client trusted the server. */
  function connect(port: number, client: { keyPem: string; certPem: string }): Promise<string> {
    return new Promise((resolve, reject) => {
      let received = '';
      let trustedServer = false;
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        key: client.keyPem,
        cert: client.certPem,
        ca: [ca.certPem],
      });
      cleanups.push(() => socket.destroy());
      socket.on('secureConnect', () => {
        trustedServer = socket.authorized;
      });
      socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
      socket.on('error', reject);
      socket.on('close', () => {
        if (received === '') reject(new Error('closed without a greeting'));
        else resolve(`${trustedServer ? 'server trusted' : 'server untrusted'}; ${received.trim()}`);
      });
    });
  }

  it('connects a worker to the master with both sides authorized, the server seeing the worker id', async () => {
    const { port } = await startServer();
    const worker = await enrolWorker(ca, 'worker-42');
    expect(await connect(port, worker)).toBe('server trusted; authorized worker-42');
  });

  it('refuses a client whose certificate comes from a foreign CA', async () => {
    const { port, clientErrors, greeted } = await startServer();
    const intruder = await enrolWorker(otherCa, 'intruder');
    await expect(connect(port, intruder)).rejects.toThrow();
    // With TLS 1.3 the server checks the client certificate after the client's handshake has finished, then
    // drops the socket: Node reports that to the server as a tlsClientError and never calls the handler.
    await vi.waitFor(() => {
      expect(clientErrors.length).toBeGreaterThan(0);
    });
    expect(greeted).toEqual([]);
  });
});
