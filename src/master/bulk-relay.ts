// The master's relay for workers that cannot reach each other: both dial the master's relay port over mutual TLS,
// each with the grant naming it (the sender as source, the receiver as target); once both are there the master
// splices the two sockets and passes the bytes through untouched, both ways, with the sockets' own backpressure.
import { X509Certificate } from 'node:crypto';
import { createServer, type TLSSocket } from 'node:tls';
import { AppError } from '../core/errors.js';
import type { MasterStore } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import {
  FrameReader,
  HELLO_TIMEOUT_MS,
  listenAddress,
  sendError,
  SOCKET_HIGH_WATER,
} from '../transfer/bulk-channel.js';
import { encodeControl, FRAME, isHello } from '../transfer/bulk-frames.js';
import { verifyGrant } from '../transfer/grant.js';
import { authenticateCertificate } from './grpc/peer-auth.js';

/** How long one side waits for the other to show up. */
const RENDEZVOUS_MS = 60_000;

export interface BulkRelay {
  address: string;
  port: number;
  /** Relays in progress. */
  readonly active: number;
  /** Bytes relayed since start (sender to receiver). */
  readonly bytesRelayed: number;
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
  const open = new Set<TLSSocket>();
  let active = 0;
  let bytesRelayed = 0;

  /** Joins two checked ends: both hear "accept", then every byte of one is written to the other. */
  function splice(transferId: string, sender: TLSSocket, receiver: TLSSocket): void {
    active += 1;
    let ended = false;
    const finish = (): void => {
      if (ended) return;
      ended = true;
      active -= 1;
      logger.debug({ transferId }, 'relay closed');
    };
    const accept = encodeControl(FRAME.accept, {});
    receiver.write(accept);
    sender.write(accept);
    sender.on('data', (chunk: Buffer) => {
      bytesRelayed += chunk.length;
    });
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
        finish();
      });
    }
  }

  async function serve(socket: TLSSocket): Promise<void> {
    const reader = new FrameReader(socket);
    const hello = await reader.controlOnly(AbortSignal.timeout(HELLO_TIMEOUT_MS)).catch((error: unknown) => {
      throw AppError.from(error).code === 'canceled'
        ? new AppError('deadline_exceeded', 'the peer did not say what it relays in time')
        : error;
    });
    if (hello.type !== FRAME.hello || !isHello(hello.body))
      throw new AppError('invalid_argument', 'a transfer must start with its hello');
    const peer = await authenticateCertificate(socket.getPeerX509Certificate(), ca, store);
    const { role, transferId } = hello.body;
    const grant = verifyGrant(hello.body.grant, {
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

  const server = createServer(
    {
      ca: options.caPem,
      cert: options.certPem,
      key: options.keyPem,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.3',
      highWaterMark: SOCKET_HIGH_WATER,
    },
    (socket) => {
      open.add(socket);
      socket.setNoDelay(true);
      socket.on('error', () => undefined);
      socket.on('close', () => open.delete(socket));
      serve(socket).catch((error: unknown) => {
        logger.warn({ err: error }, 'relayed transfer refused');
        sendError(socket, error);
      });
    },
  );
  server.on('tlsClientError', (error) => {
    logger.debug({ err: error }, 'a relay connection failed its TLS handshake');
  });
  const listen = listenAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) => {
      reject(
        new AppError(
          'unavailable',
          `cannot listen for relayed transfers on ${options.address}: ${error.message}`,
          {
            cause: error,
          },
        ),
      );
    });
    server.listen({ port: listen.port, host: listen.host }, () => {
      resolve();
    });
  });
  const bound = server.address();
  const port = typeof bound === 'object' && bound ? bound.port : listen.port;
  const address = `${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${String(port)}`;
  logger.info({ address }, 'transfer relay listening');
  return {
    address,
    port,
    get active() {
      return active;
    },
    get bytesRelayed() {
      return bytesRelayed;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const entry of waiting.values()) {
          clearTimeout(entry.timer);
          for (const socket of [entry.send, entry.receive])
            if (socket) sendError(socket, new AppError('unavailable', 'the master is shutting down'));
        }
        waiting.clear();
        const timer = setTimeout(() => {
          for (const socket of open) socket.destroy();
        }, 1_000);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
