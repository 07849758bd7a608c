// What the master's gRPC port takes from callers without a fleet certificate: only enrollment, in small
// messages, a few at a time, and failed attempts leave a bounded trace in the audit log.
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ControlServiceClient, type EnrollRequest } from '../../src/gen/dockation/v1/control.js';
import { createKeyAndCsr } from '../../src/platform/pki.js';
import { generateToken } from '../../src/platform/secrets.js';
import { MASTER_COMMON_NAME } from '../../src/platform/trust-names.js';
import { masterChannelCredentials, masterChannelOptions } from '../../src/worker/enroll.js';
import { TOKEN, cleanUp, startMaster, type Master } from '../support/control-plane-fixture.js';

afterEach(cleanUp);

const clients: ControlServiceClient[] = [];
const sessions: ClientHttp2Session[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  for (const session of sessions.splice(0)) session.destroy();
});

/** A client as a new worker has one: it trusts the master's CA and presents no certificate. */
function anonymousClient(master: Master): ControlServiceClient {
  const { credentials } = masterChannelCredentials(master.tls.ca.certPem);
  const client = new ControlServiceClient(master.url, credentials, masterChannelOptions());
  clients.push(client);
  return client;
}

function enroll(
  client: ControlServiceClient,
  request: Partial<EnrollRequest>,
): Promise<grpc.ServiceError | 'ok'> {
  return new Promise((resolve) => {
    client.enroll(
      { token: '', csrPem: '', name: 'n', hostname: 'h', labels: {}, version: '0', ...request },
      new grpc.Metadata(),
      { deadline: Date.now() + 10_000 },
      (error) => {
        resolve(error ?? 'ok');
      },
    );
  });
}

/** Opens an enrollment call without a certificate that sends nothing: it holds a slot until it is closed. */
async function idleEnrollment(master: Master): Promise<void> {
  const session = http2Connect(`https://${master.url}`, {
    ca: master.tls.ca.certPem,
    servername: MASTER_COMMON_NAME,
    checkServerIdentity: () => undefined,
  });
  sessions.push(session);
  session.on('error', () => undefined);
  const stream = session.request(
    {
      ':method': 'POST',
      ':path': '/dockation.v1.ControlService/Enroll',
      'content-type': 'application/grpc',
      te: 'trailers',
    },
    { endStream: false },
  );
  stream.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    session.once('remoteSettings', () => {
      resolve();
    });
  });
}

describe('calls without a fleet certificate', () => {
  it('refuses an enrollment message larger than a few KiB with a readable status', async () => {
    const master = await startMaster();
    const { csrPem } = await createKeyAndCsr({ commonName: 'big' });

    const outcome = await enroll(anonymousClient(master), {
      token: TOKEN,
      csrPem,
      labels: { padding: 'x'.repeat(1024 * 1024) },
    });

    expect(outcome).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect((outcome as grpc.ServiceError).details).toMatch(/KiB/);
    expect(await master.store.listWorkers()).toEqual([]);
  });

  it('still enrolls with an ordinary request', async () => {
    const master = await startMaster();
    const { csrPem } = await createKeyAndCsr({ commonName: 'small' });
    expect(await enroll(anonymousClient(master), { token: TOKEN, csrPem, name: 'small' })).toBe('ok');
  });

  it('refuses calls beyond the cap on concurrent unauthenticated calls, readably, and takes them again after', async () => {
    const master = await startMaster({ preAuthLimits: { maxConcurrentCalls: 3, maxCallsPerAddress: 3 } });
    for (let i = 0; i < 3; i += 1) await idleEnrollment(master);
    await new Promise((resolve) => setTimeout(resolve, 200));

    const refused = await enroll(anonymousClient(master), { token: generateToken('dm-enroll') });
    expect(refused).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect((refused as grpc.ServiceError).details).toMatch(/too many/);

    for (const session of sessions.splice(0)) session.destroy();
    await vi.waitFor(
      async () => {
        expect(await enroll(anonymousClient(master), { token: generateToken('dm-enroll') })).toMatchObject({
          code: grpc.status.PERMISSION_DENIED,
        });
      },
      { timeout: 5_000 },
    );
  });

  it('refuses the session and renewal without a certificate before reading any message', async () => {
    const master = await startMaster();
    const client = anonymousClient(master);
    const outcome = await new Promise<grpc.ServiceError | 'ok'>((resolve) => {
      client.renew({ csrPem: 'x'.repeat(1024 * 1024) }, (error) => {
        resolve(error ?? 'ok');
      });
    });
    expect(outcome).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
  });

  it('closes a connection without a certificate after the time an enrollment may take', async () => {
    const master = await startMaster({ preAuthLimits: { callTimeoutMs: 500 } });
    await idleEnrollment(master);
    const session = sessions[0];
    const closedAfter = await new Promise<number>((resolve) => {
      const started = Date.now();
      session?.once('close', () => {
        resolve(Date.now() - started);
      });
    });
    expect(closedAfter).toBeLessThan(3_000);
  });

  it('keeps one audit row for a burst of failed enrollments, with their count', async () => {
    const master = await startMaster({ failedEnrollmentAuditWindowMs: 500 });
    const client = anonymousClient(master);
    for (let i = 0; i < 25; i += 1) await enroll(client, { token: generateToken('dm-enroll') });

    await vi.waitFor(
      async () => {
        const rows = (await master.store.listAudit()).filter((row) => row.action === 'worker.enroll');
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ outcome: 'error', remoteAddress: '127.0.0.1' });
        expect(rows[0]?.details).toMatchObject({ attempts: 25, addresses: { '127.0.0.1': 25 } });
      },
      { timeout: 5_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await master.store.listAudit()).filter((row) => row.action === 'worker.enroll')).toHaveLength(1);
  });
});
