// The listening end of the bulk channel, shared by a worker's transfer server and the master's relay: mutual TLS with
// client certificates required, one handler per connection after its hello, and a close that lets transfers finish.
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { AppError } from '../core/errors.js';
import { parseListenAddress } from '../platform/listen-address.js';
import type { Logger } from '../platform/logger.js';
import {
  FrameReader,
  HELLO_TIMEOUT_MS,
  sendError,
  SOCKET_HIGH_WATER,
  type TlsIdentity,
} from './bulk-channel.js';
import { FRAME, type Hello, isHello } from './bulk-frames.js';

export interface BulkListener {
  server: Server;
  /** host:port as bound (the port the system chose for port 0). */
  address: string;
  port: number;
  /** Stops taking connections; open ones get `graceMs` to finish, then are cut. */
  close(graceMs: number): Promise<void>;
}

/**
 * Listens on `address` (":9443", "host:port") and hands each connection's hello to `serve`, with the reader that
 * read it. A failure of `serve` goes back to the peer as an error frame, and to the log as `refused`.
 */
export async function listenBulk(options: {
  address: string;
  identity: TlsIdentity;
  /** For messages: "transfers", "relayed transfers". */
  what: string;
  logger: Logger;
  serve: (socket: TLSSocket, hello: Hello, reader: FrameReader) => Promise<void>;
}): Promise<BulkListener> {
  const { logger } = options;
  const open = new Set<TLSSocket>();
  async function accept(socket: TLSSocket): Promise<void> {
    const reader = new FrameReader(socket);
    const hello = await reader.controlOnly(AbortSignal.timeout(HELLO_TIMEOUT_MS)).catch((error: unknown) => {
      throw AppError.from(error).code === 'canceled'
        ? new AppError('deadline_exceeded', 'the peer did not say what it sends in time')
        : error;
    });
    if (hello.type !== FRAME.hello || !isHello(hello.body))
      throw new AppError('invalid_argument', 'a transfer must start with its hello');
    await options.serve(socket, hello.body, reader);
  }
  const server = createServer(
    {
      ca: options.identity.caPem,
      cert: options.identity.certPem,
      key: options.identity.keyPem,
      // Only holders of a certificate from this fleet's CA may even start a transfer.
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
      accept(socket).catch((error: unknown) => {
        logger.warn({ err: error }, `${options.what}: refused or failed`);
        // The peer reads the reason (a no-op when the handler already answered and ended the socket).
        sendError(socket, error);
      });
    },
  );
  server.on('tlsClientError', (error) => {
    logger.debug({ err: error }, `${options.what}: a connection failed its TLS handshake`);
  });
  const listen = parseListenAddress(options.address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: Error) => {
      reject(
        new AppError(
          'unavailable',
          `cannot listen for ${options.what} on ${options.address}: ${error.message}`,
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
  logger.info({ address }, `listening for ${options.what}`);
  return {
    server,
    address,
    port,
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          for (const socket of open) socket.destroy();
        }, graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
