// Who is calling: the worker a client certificate names, checked against our CA and the master's records.
import { X509Certificate } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { AppError } from '../../core/errors.js';
import type { MasterStore } from '../../core/ports.js';
import { normalizeSerial } from '../../platform/pki.js';

/**
 * The worker id a client certificate names, after checking it is ours, current, and neither unknown nor revoked,
 * nor the certificate of a removed worker.
 * TLS has already verified the chain against our CA (grpc-js shows only authorized peers); the check is repeated
 * here with Node's native X509 (cheap, which matters when a thousand workers reconnect at once) so that no
 * change of TLS settings can silently let a foreign certificate through.
 */
export async function authenticatePeer(
  call: Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>,
  ca: X509Certificate,
  store: MasterStore,
): Promise<{ workerId: string; serial: string }> {
  const peer = call.getAuthContext().sslPeerCertificate;
  return authenticateCertificate(peer?.raw ? new X509Certificate(peer.raw) : undefined, ca, store);
}

/** The same checks for a client certificate taken from any TLS connection (the bulk relay's). */
export async function authenticateCertificate(
  cert: X509Certificate | undefined,
  ca: X509Certificate,
  store: MasterStore,
): Promise<{ workerId: string; serial: string }> {
  if (!cert) {
    throw new AppError('unauthenticated', 'a client certificate from this master is required', {
      hint: 'enroll the worker first (docker-migrate worker --token …)',
    });
  }
  const now = Date.now();
  if (cert.ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) {
    throw new AppError('unauthenticated', 'client certificate refused: not issued by this master');
  }
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
    throw new AppError('unauthenticated', 'client certificate refused: expired or not yet valid');
  }
  const commonName = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  const certificate = await store.getCertificate(normalizeSerial(cert.serialNumber));
  if (!certificate || certificate.workerId !== commonName) {
    throw new AppError('unauthenticated', 'client certificate unknown to this master');
  }
  // The worker's own revocation counts too: a certificate recorded after it (a renewal racing the removal) is
  // as dead as the ones the removal marked.
  const worker = certificate.revokedAt ? undefined : await store.getWorker(certificate.workerId);
  if (certificate.revokedAt || !worker || worker.revokedAt) {
    throw new AppError(
      'permission_denied',
      'this worker was removed from the master (its certificate is revoked)',
      {
        hint: 'enroll it again with a new token to bring it back',
      },
    );
  }
  return { workerId: certificate.workerId, serial: certificate.serial };
}
