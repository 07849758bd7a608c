// The master's HTTP listener over TLS (--http-tls-cert/--http-tls-key) with a real TLS client that checks the
// certificate against its CA: the printed URL, the handshake, and a Secure session cookie.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../../platform/logger.js';
import { createCertificateAuthority, issueServerCertificate } from '../../platform/pki.js';
import { startMaster, type RunningMaster } from '../start-master.js';

const ADMIN_TOKEN = 'dm-admin-https-test-0123456789';
let dir: string;
let caPem: string;
let master: RunningMaster;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  authorized: boolean;
  peerSubject: string;
}

/** One request over TLS that trusts only `ca`: node refuses the connection unless the certificate checks out. */
function tlsCall(url: string, options: { method?: string; body?: unknown; ca: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const call = httpsRequest(
      url,
      {
        method: options.method ?? 'GET',
        ca: options.ca,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        agent: false,
      },
      (response) => {
        const socket = response.socket;
        if (!(socket instanceof TLSSocket)) throw new Error('the answer did not come over TLS');
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            authorized: socket.authorized,
            peerSubject: String(socket.getPeerCertificate().subject.CN),
          });
        });
      },
    );
    call.on('error', reject);
    call.end(payload);
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dm-https-'));
  const ca = await createCertificateAuthority({ commonName: 'HTTPS test CA' });
  caPem = ca.certPem;
  const server = await issueServerCertificate(ca, {
    commonName: 'localhost',
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
    validityDays: 1,
  });
  writeFileSync(join(dir, 'http.crt'), server.certPem);
  writeFileSync(join(dir, 'http.key'), server.keyPem, { mode: 0o600 });
  master = await startMaster({
    httpAddr: '127.0.0.1:0',
    grpcAddr: '127.0.0.1:0',
    dataDir: join(dir, 'data'),
    adminToken: ADMIN_TOKEN,
    httpTls: { certFile: join(dir, 'http.crt'), keyFile: join(dir, 'http.key') },
    workerTimeoutMs: 30_000,
    heartbeatIntervalMs: 10_000,
    inventoryIntervalMs: 60_000,
    logger: createLogger({ level: 'silent', format: 'json' }),
    version: '0.1.0-test',
  });
});

afterAll(async () => {
  await master.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the HTTP listener over TLS', () => {
  it('names an https:// URL', () => {
    expect(master.httpUrl).toBe(`https://127.0.0.1:${master.httpPort}`);
  });

  it('presents a certificate the client verifies against the CA, and signs in with a Secure cookie', async () => {
    const health = await tlsCall(`${master.httpUrl}/health`, { ca: caPem });
    expect(health.status).toBe(200);
    expect(health.authorized).toBe(true);
    expect(health.peerSubject).toBe('localhost');

    const signIn = await tlsCall(`${master.httpUrl}/api/session`, {
      method: 'POST',
      body: { token: ADMIN_TOKEN },
      ca: caPem,
    });
    expect(signIn.status).toBe(200);
    const cookie = String(signIn.headers['set-cookie']);
    expect(cookie).toMatch(/^dm_session=dm-session-/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toContain('HttpOnly');
  });

  it('is refused by a client that does not trust the CA', async () => {
    const other = await createCertificateAuthority({ commonName: 'another CA' });
    await expect(tlsCall(`${master.httpUrl}/health`, { ca: other.certPem })).rejects.toThrow(
      /self.signed|unable to verify|certificate/i,
    );
  });

  it('does not answer plain HTTP on the same port', async () => {
    const answer = await new Promise<number | string>((resolve) => {
      const call = httpRequest(`http://127.0.0.1:${master.httpPort}/health`, { agent: false }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      call.on('error', (error: NodeJS.ErrnoException) => {
        resolve(error.code ?? 'error');
      });
      call.end();
    });
    // node's TLS server drops a plain-text request; it never answers it with the API.
    expect(answer).not.toBe(200);
  });
});
