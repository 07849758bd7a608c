// The worker's data-plane endpoint: other workers push volumes and images here over mutual TLS. A push is taken
// only with a grant the master signed naming this worker as receiver and the caller's certificate as sender.
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { AppError } from '../core/errors.js';
import {
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  type TransferServiceServer,
} from '../gen/dockation/v1/transfer.js';
import { MutableCertificateProvider, grpcBindAddress, toGrpcError } from '../platform/grpc-support.js';
import type { Logger } from '../platform/logger.js';
import { normalizeSerial } from '../platform/pki.js';
import { verifyGrant } from '../transfer/grant.js';
import { TRANSFER_SERVICE, widenServerWindows } from '../transfer/transfer-codec.js';
import { TRANSFER_GRPC_OPTIONS } from '../transfer/transfer-stream.js';
import type { TransferInbox } from './transfer-inbox.js';

export interface TransferServer {
  address: string;
  port: number;
  /** Serves a renewed certificate to every connection from now on (open connections keep theirs). */
  setIdentity(certPem: string, keyPem: string): void;
  /**
   * Peers to refuse whatever grant they hold: certificates and workers the master removed. `complete` replaces
   * the list; otherwise the entries are added.
   */
  setRevocations(update: { complete: boolean; certificateSerials: string[]; workerIds: string[] }): void;
  close(): Promise<void>;
}

/** How long a sender that arrived first waits for the receive command. */
const ARRIVAL_WAIT_MS = 30_000;

/** What the master told this worker to refuse (see Revocations in control.proto). */
interface Revoked {
  serials: Set<string>;
  workerIds: Set<string>;
}

/**
 * The worker id a verified client certificate names (TLS already checked it against the CA), unless the master
 * revoked that certificate or removed that worker.
 */
function peerWorkerId(
  call: grpc.ServerReadableStream<PushRequest, PushResponse>,
  ca: X509Certificate,
  revoked: Revoked,
): string {
  const raw = call.getAuthContext().sslPeerCertificate?.raw;
  if (!raw) throw new AppError('unauthenticated', 'a worker certificate is required');
  const cert = new X509Certificate(raw);
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new AppError('unauthenticated', 'the certificate is not from this fleet');
  const commonName = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  if (!commonName) throw new AppError('unauthenticated', 'the certificate names no worker');
  if (revoked.serials.has(normalizeSerial(cert.serialNumber)) || revoked.workerIds.has(commonName))
    throw new AppError(
      'permission_denied',
      `worker ${commonName} was removed from the master (its certificate is revoked)`,
    );
  return commonName;
}

/** First message of a push: its header (anything else is refused). */
async function firstMessage(iterator: AsyncIterator<PushRequest>): Promise<PushRequest> {
  const first = await iterator.next();
  if (first.done) throw new AppError('invalid_argument', 'the transfer ended before its header');
  return first.value;
}

export async function startTransferServer(options: {
  address: string;
  workerId: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  inbox: TransferInbox;
  logger: Logger;
  /**
   * Pushes wait (as long as a sender waits for the receive command) until the master's first revocation list
   * has arrived, so that a restarted worker does not take a removed peer's push in the moment before it hears.
   */
  awaitRevocations?: boolean;
}): Promise<TransferServer> {
  const { inbox, logger } = options;
  const ca = new X509Certificate(options.caPem);
  const server = new grpc.Server(TRANSFER_GRPC_OPTIONS);
  const revoked: Revoked = { serials: new Set(), workerIds: new Set() };
  let listed: () => void = () => undefined;
  const revocationsKnown = options.awaitRevocations
    ? new Promise<void>((resolve) => {
        listed = resolve;
      })
    : Promise.resolve();

  async function waitForRevocations(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        revocationsKnown,
        new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => {
            reject(new AppError('unavailable', 'this worker has not heard from its master yet'));
          }, ARRIVAL_WAIT_MS);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  function push(
    call: grpc.ServerReadableStream<PushRequest, PushResponse>,
    callback: grpc.sendUnaryData<PushResponse>,
  ): void {
    (async (): Promise<PushResponse> => {
      await waitForRevocations();
      const sender = peerWorkerId(call, ca, revoked);
      const iterator = (call as AsyncIterable<PushRequest>)[Symbol.asyncIterator]();
      const first = await firstMessage(iterator);
      if (first.body?.$case !== 'header')
        throw new AppError('invalid_argument', 'the transfer must start with its header');
      const grant = verifyGrant(first.body.value.grant, {
        ca: ca.publicKey,
        transferId: first.body.value.transferId,
        expect: { targetWorkerId: options.workerId, sourceWorkerId: sender },
      });
      logger.info(
        { transferId: grant.transferId, migrationId: grant.migrationId, sender, resource: grant.resource },
        'receiving a transfer',
      );
      const rest: AsyncIterable<PushRequest> = { [Symbol.asyncIterator]: () => iterator };
      const result = await inbox.deliver(grant.transferId, rest, ARRIVAL_WAIT_MS, grant.resource);
      return { sha256: result.sha256, bytes: result.bytes };
    })().then(
      (response) => {
        callback(null, response);
      },
      (error: unknown) => {
        logger.warn({ err: error }, 'incoming transfer refused or failed');
        callback(toGrpcError(error));
      },
    );
  }

  function pull(call: grpc.ServerWritableStream<PullRequest, PullResponse>): void {
    call.emit(
      'error',
      toGrpcError(new AppError('failed_precondition', 'workers take pushes; only the master relays pulls')),
    );
  }

  const implementation: TransferServiceServer = { push, pull };
  server.addService(TRANSFER_SERVICE, implementation);
  const provider = new MutableCertificateProvider();
  provider.setCa(options.caPem);
  provider.setIdentity(options.certPem, options.keyPem);
  // Client certificates are required: only workers of this fleet may even start a transfer.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
  const bind = grpcBindAddress(options.address);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(bind, credentials, (error, boundPort) => {
      if (error)
        reject(
          new AppError('unavailable', `cannot listen for transfers on ${options.address}: ${error.message}`, {
            cause: error,
          }),
        );
      else resolve(boundPort);
    });
  });
  const address = bind.replace(/:\d+$/, `:${port}`);
  widenServerWindows(server);
  logger.info({ address }, 'transfer service listening');
  return {
    address,
    port,
    setIdentity(certPem, keyPem) {
      // grpc-js swaps the listener's secure context when the provider announces a new identity.
      provider.setIdentity(certPem, keyPem);
    },
    setRevocations(update) {
      if (update.complete) {
        revoked.serials.clear();
        revoked.workerIds.clear();
      }
      for (const serial of update.certificateSerials) revoked.serials.add(normalizeSerial(serial));
      for (const workerId of update.workerIds) revoked.workerIds.add(workerId);
      if (update.complete) listed();
      logger.info(
        { certificates: revoked.serials.size, workers: revoked.workerIds.size },
        'revocation list updated',
      );
    },
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 3_000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** Credentials to push to the worker `workerId`: our certificate, and only that worker's certificate accepted. */
export function peerChannel(options: {
  caPem: string;
  certPem: string;
  keyPem: string;
  targetWorkerId: string;
}): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  const provider = new MutableCertificateProvider();
  provider.setCa(options.caPem);
  provider.setIdentity(options.certPem, options.keyPem);
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: (_host, cert) =>
      cert.subject.CN === options.targetWorkerId
        ? undefined
        : new Error(
            `the peer is not worker ${options.targetWorkerId} (certificate for "${String(cert.subject.CN)}")`,
          ),
  });
  return {
    credentials,
    // Peers are dialled by IP address, which SNI does not allow: name the worker instead.
    options: { ...TRANSFER_GRPC_OPTIONS, 'grpc.ssl_target_name_override': options.targetWorkerId },
  };
}
