// The data plane's doors over real mutual TLS: a worker's bulk channel takes a transfer only from a worker of the
// fleet that the master has not removed, carrying a grant the master signed for this transfer, this receiver, that
// sender and that resource.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/core/errors.js';
import type { TransferResult } from '../../src/core/worker-commands.js';
import { createLogger } from '../../src/platform/logger.js';
import {
  createCertificateAuthority,
  createKeyAndCsr,
  signCsr,
  type CertificateAuthority,
} from '../../src/platform/pki.js';
import { signGrant, type TransferGrant } from '../../src/transfer/grant.js';
import { connectBulk, FrameReader, sendTransfer } from '../../src/transfer/bulk-channel.js';
import { FRAME, frameHeader } from '../../src/transfer/bulk-frames.js';
import { TransferInbox } from '../../src/worker/transfer-inbox.js';
import { startTransferServer, type TransferServer } from '../../src/worker/transfer-server.js';

const logger = createLogger({ level: 'silent', format: 'json' });
let ca: CertificateAuthority;
let foreignCa: CertificateAuthority;
const identities = new Map<string, { certPem: string; keyPem: string }>();
let server: TransferServer;
const inbox = new TransferInbox();
let sequence = 0;

async function identity(authority: CertificateAuthority, workerId: string) {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: workerId });
  const issued = await signCsr(authority, csrPem, {
    commonName: workerId,
    validityDays: 1,
    usage: 'client-server',
  });
  return { certPem: issued.certPem, keyPem };
}

function grantFor(
  transferId: string,
  patch: Partial<Omit<TransferGrant, 'v'>> = {},
  key = ca.keyPem,
): string {
  return signGrant(
    {
      migrationId: 'm-test',
      transferId,
      sourceWorkerId: 'w-source',
      targetWorkerId: 'w-target',
      resource: { type: 'volume', name: 'data' },
      expiresAt: Date.now() + 60_000,
      ...patch,
    },
    key,
  );
}

/** The receiver expects a transfer of volume "data"; the sender pushes with the given identity and grant. */
async function attempt(options: {
  as: { certPem: string; keyPem: string; caPem?: string };
  grant: (transferId: string) => string;
  payload?: Buffer;
}): Promise<{ sent: TransferResult; received: TransferResult; bytes: Buffer }> {
  const transferId = `t-${(sequence += 1)}`;
  const chunks: Buffer[] = [];
  const receiving = inbox.expect(
    transferId,
    async (incoming) => {
      for await (const chunk of incoming.data) chunks.push(Buffer.from(chunk));
      return incoming.finish();
    },
    { timeoutMs: 5_000, resource: { type: 'volume', name: 'data' } },
  );
  receiving.catch(() => undefined);
  const socket = await connectBulk({
    address: `127.0.0.1:${server.port}`,
    identity: {
      caPem: options.as.caPem ?? ca.certPem,
      certPem: options.as.certPem,
      keyPem: options.as.keyPem,
    },
    commonName: 'w-target',
    peer: 'w-target',
  });
  const payload = options.payload ?? Buffer.from('hello from the source\n'.repeat(1000));
  const sent = await sendTransfer({
    socket,
    hello: { v: 1, grant: options.grant(transferId), transferId, role: 'send' },
    data: Readable.from([payload]),
    peer: 'w-target',
  });
  return { sent, received: await receiving, bytes: Buffer.concat(chunks) };
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'fleet CA' });
  foreignCa = await createCertificateAuthority({ commonName: 'someone else' });
  for (const id of ['w-target', 'w-source', 'w-other']) identities.set(id, await identity(ca, id));
  identities.set('foreign', await identity(foreignCa, 'w-source'));
  const target = identities.get('w-target')!;
  server = await startTransferServer({
    address: '127.0.0.1:0',
    workerId: 'w-target',
    caPem: ca.certPem,
    certPem: target.certPem,
    keyPem: target.keyPem,
    inbox,
    logger,
  });
});

afterAll(async () => {
  await server.close();
});

describe('transfer service admission', () => {
  it('takes a push from the granted sender and both ends agree on the bytes', async () => {
    const payload = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const { sent, received, bytes } = await attempt({
      as: identities.get('w-source')!,
      grant: (t) => grantFor(t),
      payload,
    });
    expect(received).toEqual(sent);
    expect(bytes.equals(payload)).toBe(true);
  });

  const refusals: Array<[string, () => Parameters<typeof attempt>[0], RegExp]> = [
    ['no grant', () => ({ as: identities.get('w-source')!, grant: () => '' }), /grant is malformed/],
    [
      'a grant signed by another CA',
      () => ({ as: identities.get('w-source')!, grant: (t) => grantFor(t, {}, foreignCa.keyPem) }),
      /not signed by this fleet/,
    ],
    [
      'an expired grant',
      () => ({ as: identities.get('w-source')!, grant: (t) => grantFor(t, { expiresAt: Date.now() - 1 }) }),
      /expired/,
    ],
    [
      'a grant for another transfer',
      () => ({ as: identities.get('w-source')!, grant: () => grantFor('t-someone-else') }),
      /another transfer/,
    ],
    [
      'a grant naming another receiver',
      () => ({ as: identities.get('w-source')!, grant: (t) => grantFor(t, { targetWorkerId: 'w-other' }) }),
      /another receiver/,
    ],
    [
      'the wrong peer (a fleet worker the grant does not name)',
      () => ({ as: identities.get('w-other')!, grant: (t) => grantFor(t) }),
      /another sender/,
    ],
    [
      'a grant for another resource than the receiver expects',
      () => ({
        as: identities.get('w-source')!,
        grant: (t) => grantFor(t, { resource: { type: 'volume', name: 'secrets' } }),
      }),
      /expects volume "data"/,
    ],
  ];
  for (const [what, options, message] of refusals) {
    it(`refuses ${what}`, async () => {
      const error = await attempt(options()).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('permission_denied');
      expect((error as AppError).message).toMatch(message);
    });
  }

  it('refuses a worker the master removed, whatever grant it holds', async () => {
    server.setRevocations({ complete: false, certificateSerials: [], workerIds: ['w-source'] });
    try {
      const error = await attempt({ as: identities.get('w-source')!, grant: (t) => grantFor(t) }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('permission_denied');
      expect((error as AppError).message).toMatch(/worker w-source was removed/);
    } finally {
      server.setRevocations({ complete: true, certificateSerials: [], workerIds: [] });
    }
  });

  it('refuses a data frame before the hello', async () => {
    const socket = await connectBulk({
      address: `127.0.0.1:${server.port}`,
      identity: { caPem: ca.certPem, ...identities.get('w-source')! },
      commonName: 'w-target',
      peer: 'w-target',
    });
    const reader = new FrameReader(socket);
    socket.write(Buffer.concat([frameHeader(FRAME.data, 3), Buffer.from('abc')]));
    const error = await reader.control('an answer').catch((e: unknown) => e);
    expect((error as AppError).code).toBe('invalid_argument');
    expect((error as AppError).message).toMatch(/sent data before it was accepted/);
    socket.destroy();
  });

  it('refuses a client whose certificate comes from another CA before any byte is read', async () => {
    const error = await attempt({
      as: { ...identities.get('foreign')!, caPem: ca.certPem },
      grant: (t) => grantFor(t),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('unavailable');
  });
});
