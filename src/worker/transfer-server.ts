// The worker's data-plane endpoint: other workers send volumes and images here over the bulk channel (mutual TLS).
// A transfer is taken only with a grant the master signed naming this worker as receiver and the caller's
// certificate as sender, from a peer the master has not removed.
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { AppError } from '../core/errors.js';
import type { Logger } from '../platform/logger.js';
import { normalizeSerial } from '../platform/pki.js';
import { type FrameReader, peerCertificate, receiveTransfer } from '../transfer/bulk-channel.js';
import type { Hello } from '../transfer/bulk-frames.js';
import { listenBulk } from '../transfer/bulk-listener.js';
import { verifyGrant } from '../transfer/grant.js';
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

export async function startTransferServer(options: {
  address: string;
  workerId: string;
  caPem: string;
  certPem: string;
  keyPem: string;
  inbox: TransferInbox;
  logger: Logger;
  /**
   * Transfers wait (as long as a sender waits for the receive command) until the master's first revocation list
   * has arrived, so that a restarted worker does not take a removed peer's transfer in the moment before it hears.
   */
  awaitRevocations?: boolean;
}): Promise<TransferServer> {
  const { inbox, logger } = options;
  const ca = new X509Certificate(options.caPem);
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

  /** The sending worker's id, unless the master revoked its certificate or removed it. */
  function sender(socket: TLSSocket): string {
    const cert = peerCertificate(socket, ca);
    if (revoked.serials.has(normalizeSerial(cert.serialNumber)) || revoked.workerIds.has(cert.commonName))
      throw new AppError(
        'permission_denied',
        `worker ${cert.commonName} was removed from the master (its certificate is revoked)`,
      );
    return cert.commonName;
  }

  async function serve(socket: TLSSocket, hello: Hello, reader: FrameReader): Promise<void> {
    if (hello.role !== 'send')
      throw new AppError('failed_precondition', 'workers take transfers; only the master relays them');
    await waitForRevocations();
    const from = sender(socket);
    const grant = verifyGrant(hello.grant, {
      ca: ca.publicKey,
      transferId: hello.transferId,
      expect: { targetWorkerId: options.workerId, sourceWorkerId: from },
    });
    logger.info(
      {
        transferId: grant.transferId,
        migrationId: grant.migrationId,
        sender: from,
        resource: grant.resource,
      },
      'receiving a transfer',
    );
    await inbox.deliver(
      grant.transferId,
      (consume) => receiveTransfer({ socket, reader, accept: true, consume }),
      ARRIVAL_WAIT_MS,
      grant.resource,
    );
  }

  const listener = await listenBulk({
    address: options.address,
    identity: { caPem: options.caPem, certPem: options.certPem, keyPem: options.keyPem },
    what: 'transfers',
    logger,
    serve,
  });
  const { server, address, port } = listener;
  return {
    address,
    port,
    setIdentity(certPem, keyPem) {
      server.setSecureContext({
        ca: options.caPem,
        cert: certPem,
        key: keyPem,
        minVersion: 'TLSv1.3',
      });
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
    // Transfers in progress get a moment to finish; then their connections are cut.
    close: () => listener.close(3_000),
  };
}
