// Trust between workers and their master over real mutual TLS: what a worker's transfer service presents after
// renewal, whom it refuses after a revocation, and what the master lets a worker call itself.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { sampleWorker } from '../../src/core/testing/sample-resources.js';
import type { CertificateRecord } from '../../src/core/workers.js';
import { ControlServiceClient } from '../../src/gen/dockation/v1/control.js';
import { fromGrpcError } from '../../src/platform/grpc-support.js';
import {
  createCertificateAuthority,
  createKeyAndCsr,
  certificateInfo,
  signCsr,
  type CertificateAuthority,
} from '../../src/platform/pki.js';
import { signGrant } from '../../src/transfer/grant.js';
import { MASTER_COMMON_NAME } from '../../src/platform/trust-names.js';
import { connectBulk, FrameReader, receiveTransfer, sendTransfer } from '../../src/transfer/bulk-channel.js';
import { encodeControl, FRAME } from '../../src/transfer/bulk-frames.js';
import { masterChannelCredentials, masterChannelOptions } from '../../src/worker/enroll.js';
import { TransferInbox } from '../../src/worker/transfer-inbox.js';
import { startTransferServer } from '../../src/worker/transfer-server.js';
import {
  cleanUp,
  logger,
  startMaster,
  startWorker,
  tempDir,
  type Master,
} from '../support/control-plane-fixture.js';

afterEach(cleanUp);

/** Sends `payload` over the bulk channel to `address`, whose certificate must name `commonName`. */
async function bulkSend(options: {
  address: string;
  caPem: string;
  identity: { certPem: string; keyPem: string };
  commonName: string;
  grant: string;
  transferId: string;
  payload: Buffer;
}) {
  const socket = await connectBulk({
    address: options.address,
    identity: { caPem: options.caPem, ...options.identity },
    commonName: options.commonName,
    peer: options.commonName,
  });
  return sendTransfer({
    socket,
    hello: { v: 1, grant: options.grant, transferId: options.transferId, role: 'send' },
    data: Readable.from([options.payload]),
    peer: options.commonName,
  });
}

async function issue(
  ca: CertificateAuthority,
  workerId: string,
): Promise<{ certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: workerId });
  const issued = await signCsr(ca, csrPem, { commonName: workerId, validityDays: 1, usage: 'client-server' });
  return { certPem: issued.certPem, keyPem };
}

/** Serial (lower-case hex) of the certificate a worker's transfer service presents to a peer of the fleet. */
function presentedSerial(
  address: string,
  peer: { certPem: string; keyPem: string },
  caPem: string,
): Promise<string> {
  const [host, port] = [address.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(address)?.[1])];
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ca: caPem,
      cert: peer.certPem,
      key: peer.keyPem,
      ALPNProtocols: ['h2'],
      // Peers are checked by the worker id in the certificate, not by a host name.
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

describe('worker transfer service and certificate renewal', () => {
  it('presents the renewed certificate to peers, not the one it started with', async () => {
    // ≈2 min of lifetime: less than a third is left from the first moment, so the worker renews on connect.
    const master = await startMaster({ certificateValidityDays: 0.0015 });
    const worker = startWorker(master, { dataDir: tempDir('dm-worker-') });
    const { identity } = await worker.connected;
    const enrolledSerial = certificateInfo(identity.certPem).serial;
    const renewedSerial = await vi.waitFor(
      async () => {
        const serials = (await master.store.listCertificates(identity.workerId)).map((c) => c.serial);
        const renewed = serials.find((serial) => serial !== enrolledSerial);
        if (!renewed) throw new Error('not renewed yet');
        return renewed;
      },
      { timeout: 10_000 },
    );

    const peer = await issue(master.tls.ca, 'w-peer');
    const address = master.registry.require(identity.workerId).advertiseAddress;
    await vi.waitFor(
      async () => {
        expect(await presentedSerial(address, peer, master.tls.ca.certPem)).toBe(renewedSerial);
      },
      { timeout: 5_000 },
    );
    expect(await presentedSerial(address, peer, master.tls.ca.certPem)).not.toBe(enrolledSerial);
  });
});

/** Pushes a small volume stream from `sender` to the worker `targetId` with a grant the master signed for it. */
async function pushWithGrant(options: {
  master: Master;
  address: string;
  targetId: string;
  senderId: string;
  sender: { certPem: string; keyPem: string };
}): Promise<unknown> {
  const transferId = `t-${randomUUID()}`;
  const grant = signGrant(
    {
      migrationId: 'm-test',
      transferId,
      sourceWorkerId: options.senderId,
      targetWorkerId: options.targetId,
      resource: { type: 'volume', name: 'data' },
      expiresAt: Date.now() + 60_000,
    },
    options.master.tls.ca.keyPem,
  );
  const pushed = bulkSend({
    address: options.address,
    caPem: options.master.tls.ca.certPem,
    identity: options.sender,
    commonName: options.targetId,
    grant,
    transferId,
    payload: Buffer.from('payload'),
  });
  // A receiver that takes the push waits for the master's receive command: not refusing at once is taking it.
  const timeout = new Promise((resolve) => setTimeout(resolve, 5_000, 'not refused within 5 s'));
  return Promise.race([
    pushed.then(
      () => 'taken',
      (error: unknown) => error,
    ),
    timeout,
  ]);
}

describe('revoked workers', () => {
  it('a connected worker refuses pushes from a worker the master removed, even with a valid grant', async () => {
    const master = await startMaster();
    const receiver = await startWorker(master, { dataDir: tempDir('dm-worker-'), name: 'receiver' })
      .connected;
    const sender = await startWorker(master, { dataDir: tempDir('dm-worker-'), name: 'sender' }).connected;
    const address = master.registry.require(receiver.identity.workerId).advertiseAddress;

    await master.registry.remove(sender.identity.workerId);

    await vi.waitFor(
      async () => {
        const outcome = await pushWithGrant({
          master,
          address,
          targetId: receiver.identity.workerId,
          senderId: sender.identity.workerId,
          sender: sender.identity,
        });
        expect(outcome).toMatchObject({ code: 'permission_denied' });
        expect((outcome as Partial<Error>).message).toMatch(/revoked/);
      },
      { timeout: 15_000 },
    );
  });

  it('a worker that connects after a removal learns it on connect and refuses the removed worker', async () => {
    const master = await startMaster();
    const sender = await startWorker(master, { dataDir: tempDir('dm-worker-'), name: 'sender' }).connected;
    await master.registry.remove(sender.identity.workerId);

    const receiver = await startWorker(master, { dataDir: tempDir('dm-worker-'), name: 'receiver' })
      .connected;
    const address = master.registry.require(receiver.identity.workerId).advertiseAddress;

    await vi.waitFor(
      async () => {
        const outcome = await pushWithGrant({
          master,
          address,
          targetId: receiver.identity.workerId,
          senderId: sender.identity.workerId,
          sender: sender.identity,
        });
        expect(outcome).toMatchObject({ code: 'permission_denied' });
        expect((outcome as Partial<Error>).message).toMatch(/revoked/);
      },
      { timeout: 15_000 },
    );
  });

  it('a removal during a renewal leaves the worker no certificate the master accepts', async () => {
    let arrived: () => void = () => undefined;
    const atInsert = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let pauseRenewals = false;
    const master = await startMaster({
      wrapStore: (store) =>
        new Proxy(store, {
          get(target, property, receiver) {
            if (property === 'insertCertificate' && pauseRenewals)
              return async (record: CertificateRecord) => {
                arrived();
                await gate;
                return target.insertCertificate(record);
              };
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const worker = startWorker(master, { dataDir: tempDir('dm-worker-') });
    const { identity } = await worker.connected;
    worker.controller.abort();
    await worker.outcome;

    pauseRenewals = true;
    const { credentials } = masterChannelCredentials(identity.caPem, identity);
    const client = new ControlServiceClient(master.url, credentials, masterChannelOptions());
    const { csrPem } = await createKeyAndCsr({ commonName: identity.workerId });
    const renewal = new Promise<string>((resolve, reject) => {
      client.renew({ csrPem }, (error, answer) => {
        if (error) reject(fromGrpcError(error, 'renewal'));
        else resolve(answer.certificatePem);
      });
    });
    renewal.catch(() => undefined);
    try {
      await atInsert;
      await master.registry.remove(identity.workerId);
      release();

      await expect(renewal).rejects.toMatchObject({ code: 'permission_denied' });
      const certificates = await master.store.listCertificates(identity.workerId);
      expect(certificates).toHaveLength(2);
      expect(certificates.filter((c) => c.revokedAt === null)).toEqual([]);
    } finally {
      release();
      client.close();
    }
  });
});

describe('master relay', () => {
  /** A worker of the master's store with a certificate recorded for it; `revoked` removes it first. */
  async function relayIdentity(master: Master, workerId: string, revoked = false) {
    await master.store.insertWorker(sampleWorker({ id: workerId, name: workerId, revokedAt: null }));
    if (revoked) await master.store.revokeWorker(workerId, new Date().toISOString());
    const identity = await issue(master.tls.ca, workerId);
    const info = certificateInfo(identity.certPem);
    await master.store.insertCertificate({
      serial: info.serial,
      workerId,
      notBefore: info.notBefore.toISOString(),
      notAfter: info.notAfter.toISOString(),
      revokedAt: null,
    });
    return identity;
  }

  /** The receiving end at the master's relay: hello as receiver, then the bytes, checked. */
  async function relayReceive(
    master: Master,
    identity: { certPem: string; keyPem: string },
    grant: string,
    transferId: string,
  ) {
    const socket = await connectBulk({
      address: `127.0.0.1:${String(master.relayPort)}`,
      identity: { caPem: master.tls.ca.certPem, ...identity },
      commonName: MASTER_COMMON_NAME,
      peer: 'the relay',
    });
    const reader = new FrameReader(socket);
    socket.write(encodeControl(FRAME.hello, { v: 1, transferId, grant, role: 'receive' }));
    const answer = await reader.control('accept');
    expect(answer.type).toBe(FRAME.accept);
    const chunks: Buffer[] = [];
    const result = await receiveTransfer({
      socket,
      reader,
      accept: false,
      consume: async (incoming) => {
        for await (const chunk of incoming.data) chunks.push(Buffer.from(chunk));
        return incoming.finish();
      },
    });
    return { result, bytes: Buffer.concat(chunks) };
  }

  function grant(master: Master, transferId: string, sourceWorkerId: string): string {
    return signGrant(
      {
        migrationId: 'm-test',
        transferId,
        sourceWorkerId,
        targetWorkerId: 'w-receiver000',
        resource: { type: 'volume', name: 'data' },
        expiresAt: Date.now() + 60_000,
      },
      master.tls.ca.keyPem,
    );
  }

  it('relays megabytes between two workers of the fleet', async () => {
    const master = await startMaster({ relay: true });
    const receiver = await relayIdentity(master, 'w-receiver000');
    const sender = await relayIdentity(master, 'w-sender00000');
    const transferId = `t-${randomUUID()}`;
    const payload = Buffer.alloc(5 * 1024 * 1024 + 3, 9);
    const received = relayReceive(master, receiver, grant(master, transferId, 'w-sender00000'), transferId);
    const sent = await bulkSend({
      address: `127.0.0.1:${String(master.relayPort)}`,
      caPem: master.tls.ca.certPem,
      identity: sender,
      commonName: MASTER_COMMON_NAME,
      grant: grant(master, transferId, 'w-sender00000'),
      transferId,
      payload,
    });
    const { result, bytes } = await received;
    expect(result).toEqual(sent);
    expect(bytes.equals(payload)).toBe(true);
  });

  it('refuses a push from a removed worker with a certificate recorded after its removal', async () => {
    const master = await startMaster({ relay: true });
    const sender = await relayIdentity(master, 'w-sender00000', true);
    const transferId = `t-${randomUUID()}`;
    const outcome = await bulkSend({
      address: `127.0.0.1:${String(master.relayPort)}`,
      caPem: master.tls.ca.certPem,
      identity: sender,
      commonName: MASTER_COMMON_NAME,
      grant: grant(master, transferId, 'w-sender00000'),
      transferId,
      payload: Buffer.from('payload'),
    }).then(
      () => 'taken',
      (error: unknown) => error,
    );
    expect(outcome).toMatchObject({ code: 'permission_denied' });
  });
});

describe('a worker that has not heard from its master yet', () => {
  it('holds a push until the revocation list arrives, then refuses a peer on it', async () => {
    const ca = await createCertificateAuthority({ commonName: 'fleet CA' });
    const target = await issue(ca, 'w-target0000');
    const sender = await issue(ca, 'w-sender0000');
    const server = await startTransferServer({
      address: '127.0.0.1:0',
      workerId: 'w-target0000',
      caPem: ca.certPem,
      ...target,
      inbox: new TransferInbox(),
      logger,
      awaitRevocations: true,
    });
    try {
      const transferId = `t-${randomUUID()}`;
      const outcome = bulkSend({
        address: `127.0.0.1:${server.port}`,
        caPem: ca.certPem,
        identity: sender,
        commonName: 'w-target0000',
        transferId,
        grant: signGrant(
          {
            migrationId: 'm-test',
            transferId,
            sourceWorkerId: 'w-sender0000',
            targetWorkerId: 'w-target0000',
            resource: { type: 'volume', name: 'data' },
            expiresAt: Date.now() + 60_000,
          },
          ca.keyPem,
        ),
        payload: Buffer.from('payload'),
      }).then(
        () => 'taken',
        (error: unknown) => error,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      server.setRevocations({
        complete: true,
        certificateSerials: [certificateInfo(sender.certPem).serial],
        workerIds: [],
      });
      expect(await outcome).toMatchObject({ code: 'permission_denied' });
    } finally {
      await server.close();
    }
  });
});
