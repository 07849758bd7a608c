// The master's relay for workers that cannot reach each other: both dial the master's relay port over mutual TLS,
// each with the grant naming it (the sender as source, the receiver as target); once both are there the master
// splices the two sockets and passes the bytes through untouched, both ways, with the sockets' own backpressure.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { AppError } from '../core/errors.js';
import type { MasterStore } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import { sendError } from '../transfer/bulk-channel.js';
import { encodeControl, FRAME, type Hello } from '../transfer/bulk-frames.js';
import { listenBulk } from '../transfer/bulk-listener.js';
import { verifyGrant } from '../transfer/grant.js';
import { authenticateCertificate } from './grpc/peer-auth.js';

/** How long one side waits for the other to show up. */
const RENDEZVOUS_MS = 60_000;

export interface BulkRelay {
  address: string;
  port: number;
  close(): Promise<void>;
}

interface Waiting {
  send?: TLSSocket;
  receive?: TLSSocket;
  timer: ReturnType<typeof setTimeout>;
}

export async function startBulkRelay(options: {
  address: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  store: MasterStore;
  logger: Logger;
}): Promise<BulkRelay> {
  const { store, logger } = options;
  const ca = new X509Certificate(options.caPem);
  const waiting = new Map<string, Waiting>();

  /** Joins two checked ends: both hear "accept", then every byte of one is written to the other. */
  function splice(transferId: string, sender: TLSSocket, receiver: TLSSocket): void {
    const accept = encodeControl(FRAME.accept, {});
    receiver.write(accept);
    sender.write(accept);
    sender.pipe(receiver);
    receiver.pipe(sender);
    // An end that closes without ending its stream (killed, cut off) breaks the other end too: the other must
    // never take a broken stream for a finished one. A clean end is passed on by pipe() as an end.
    for (const [one, other] of [
      [sender, receiver],
      [receiver, sender],
    ] as const) {
      one.on('close', () => {
        if (!one.readableEnded) other.destroy();
      });
    }
    sender.once('close', () => {
      logger.debug({ transferId }, 'relay closed');
    });
  }

  async function serve(socket: TLSSocket, hello: Hello): Promise<void> {
    const peer = await authenticateCertificate(socket.getPeerX509Certificate(), ca, store);
    const { role, transferId } = hello;
    const grant = verifyGrant(hello.grant, {
      ca: ca.publicKey,
      transferId,
      expect: role === 'send' ? { sourceWorkerId: peer.workerId } : { targetWorkerId: peer.workerId },
    });
    const entry = waiting.get(transferId);
    if (entry?.[role])
      throw new AppError(
        'conflict',
        `this transfer already has a ${role === 'send' ? 'sender' : 'receiver'}`,
      );
    logger.info(
      { transferId, migrationId: grant.migrationId, resource: grant.resource, role, workerId: peer.workerId },
      'relay end arrived',
    );
    const other = role === 'send' ? entry?.receive : entry?.send;
    if (entry && other) {
      clearTimeout(entry.timer);
      waiting.delete(transferId);
      if (role === 'send') splice(transferId, socket, other);
      else splice(transferId, other, socket);
      return;
    }
    const timer = setTimeout(() => {
      waiting.delete(transferId);
      sendError(
        socket,
        new AppError(
          'deadline_exceeded',
          `the ${role === 'send' ? 'receiving' : 'sending'} worker did not connect to the relay in time`,
        ),
      );
    }, RENDEZVOUS_MS);
    waiting.set(transferId, { [role]: socket, timer });
    socket.once('close', () => {
      const current = waiting.get(transferId);
      if (current?.[role] === socket) {
        clearTimeout(current.timer);
        waiting.delete(transferId);
      }
    });
  }

  const listener = await listenBulk({
    address: options.address,
    identity: { caPem: options.caPem, certPem: options.certPem, keyPem: options.keyPem },
    what: 'relayed transfers',
    logger,
    serve,
  });
  const { address, port } = listener;
  return {
    address,
    port,
    close: () => {
      for (const entry of waiting.values()) {
        clearTimeout(entry.timer);
        for (const socket of [entry.send, entry.receive])
          if (socket) sendError(socket, new AppError('unavailable', 'the master is shutting down'));
      }
      waiting.clear();
      return listener.close(1_000);
    },
  };
}
