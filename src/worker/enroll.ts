// Enrollment: check the master's CA against the pinned hash, then trade the token and a CSR for a certificate —
// with the first of the given masters that leads.
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type DetailedPeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { AppError } from '../core/errors.js';
import { ControlServiceClient } from '../gen/dockation/v1/control.js';
import {
  CONTROL_CHANNEL_OPTIONS,
  MutableCertificateProvider,
  fromGrpcError,
} from '../platform/grpc-support.js';
import type { Logger } from '../platform/logger.js';
import { caFingerprint, createKeyAndCsr, fingerprintMatches } from '../platform/pki.js';
import { MASTER_COMMON_NAME } from '../platform/trust-names.js';
import { leaderReferral, type HostPort } from './master-address.js';
import type { WorkerIdentity } from './worker-identity.js';

function toPem(raw: Buffer): string {
  return new X509Certificate(raw).toString();
}

/**
 * Connects with TLS only to read the certificate chain the master presents, and returns its root (the master's
 * CA, which the master sends along). Nothing is trusted yet: the caller compares it with the pinned hash.
 */
export async function fetchPresentedCa(master: HostPort, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: master.host,
      port: master.port,
      rejectUnauthorized: false,
      ALPNProtocols: ['h2'],
      servername: MASTER_COMMON_NAME,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new AppError(
          'unavailable',
          `the master at ${master.target} did not answer within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      // Node answers {} without a certificate, and the root's issuer is itself: the types promise neither.
      let cert = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate> | undefined;
      let root: Partial<DetailedPeerCertificate> | undefined;
      for (let depth = 0; cert?.raw && depth < 10; depth++) {
        root = cert;
        const issuer = cert.issuerCertificate as Partial<DetailedPeerCertificate> | undefined;
        if (!issuer?.raw || issuer === cert || issuer.fingerprint256 === cert.fingerprint256) break;
        cert = issuer;
      }
      socket.end();
      if (!root?.raw) {
        reject(new AppError('unavailable', `the master at ${master.target} presented no certificate`));
        return;
      }
      resolve(toPem(root.raw));
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason = error.code === 'ECONNREFUSED' ? 'connection refused' : error.message;
      reject(
        new AppError('unavailable', `cannot reach the master at ${master.target}: ${reason}`, {
          cause: error,
          hint: 'check --master-url and that the master runs and its gRPC port is reachable from here',
        }),
      );
    });
  });
}

/**
 * Channel options for talking to the master. The TLS server name is the master's certificate name rather than the
 * dialled host (often an IP address, which SNI does not allow).
 */
export function masterChannelOptions(): grpc.ChannelOptions {
  return { ...CONTROL_CHANNEL_OPTIONS, 'grpc.ssl_target_name_override': MASTER_COMMON_NAME };
}

/** Credentials that trust only the pinned CA and accept only the master's certificate name. */
export function masterChannelCredentials(
  caPem: string,
  identity?: { certPem: string; keyPem: string },
): {
  credentials: grpc.ChannelCredentials;
  provider: MutableCertificateProvider;
} {
  const provider = new MutableCertificateProvider();
  provider.setCa(caPem);
  if (identity) provider.setIdentity(identity.certPem, identity.keyPem);
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(
    provider,
    identity ? provider : null,
    {
      // The CA is private and pinned; the master's address may be any name or IP, so check the name we issued.
      checkServerIdentity: (_host, cert) =>
        cert.subject.CN === MASTER_COMMON_NAME
          ? undefined
          : new Error(
              `the server is not a docker-migrate master (certificate for "${String(cert.subject.CN)}")`,
            ),
    },
  );
  return { credentials, provider };
}

export interface EnrollOptions {
  /** The masters to try, in this order; the identity keeps all of them. */
  masters: HostPort[];
  token: string;
  /** Expected "sha256:…" of the CA; without it the first CA seen is trusted (and a warning logged). */
  caHash?: string;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  logger: Logger;
}

/** Failures that another master may not have: unreachable, too slow, or not the leader. */
function movesOn(error: AppError): boolean {
  return error.code === 'unavailable' || error.code === 'deadline_exceeded';
}

/**
 * Enrolls this worker with the first master that leads, trying them in order and a leader a standby names next.
 * Refusals (wrong token, wrong CA, name taken) are final: no retry can fix them. When no master took it, the last
 * failure is thrown (still `unavailable` when they were all unreachable or standbys: the caller retries).
 */
export async function enrollWorker(options: EnrollOptions): Promise<WorkerIdentity> {
  const queue = [...options.masters];
  const tried = new Set<string>();
  let last: AppError | undefined;
  for (let master = queue.shift(); master; master = queue.shift()) {
    if (tried.has(master.target)) continue;
    tried.add(master.target);
    try {
      const enrolled = await enrollWith(master, options);
      return { ...enrolled, masterUrls: options.masters.map((each) => each.target) };
    } catch (error) {
      const appError = AppError.from(error);
      if (!movesOn(appError)) throw appError;
      last = appError;
      const leader = leaderReferral(appError);
      if (leader && !tried.has(leader.target)) queue.unshift(leader);
      if (queue.length > 0)
        options.logger.info(
          { master: master.target, err: appError },
          `trying another master: ${appError.message}`,
        );
    }
  }
  throw last ?? new AppError('invalid_argument', 'no master address given');
}

/** Enrolls with one master. */
async function enrollWith(
  master: HostPort,
  options: EnrollOptions,
): Promise<Omit<WorkerIdentity, 'masterUrls'>> {
  const { logger } = options;
  const caPem = await fetchPresentedCa(master);
  const caHash = caFingerprint(caPem);
  if (options.caHash) {
    if (!fingerprintMatches(caPem, options.caHash)) {
      throw new AppError(
        'permission_denied',
        `the master at ${master.target} presented a CA (${caHash}) that does not match --ca-hash ${options.caHash}`,
        {
          hint: 'copy the join command again from the master; if it is right, something is intercepting the connection',
        },
      );
    }
  } else {
    logger.warn(
      { caHash, master: master.target },
      'NO --ca-hash GIVEN: trusting the CA this master presented on first use and pinning it. Compare the hash with the one the master printed.',
    );
  }
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: options.name });
  const { credentials } = masterChannelCredentials(caPem);
  const client = new ControlServiceClient(master.target, credentials, masterChannelOptions());
  try {
    const response = await new Promise<{
      workerId: string;
      certificatePem: string;
      caCertificatePem: string;
    }>((resolve, reject) => {
      client.enroll(
        {
          token: options.token,
          csrPem,
          name: options.name,
          hostname: options.hostname,
          labels: options.labels,
          version: options.version,
        },
        new grpc.Metadata(),
        { deadline: Date.now() + 20_000 },
        (error, answer) => {
          if (error) reject(fromGrpcError(error, `enrollment with the master at ${master.target} failed`));
          else resolve(answer);
        },
      );
    });
    if (caFingerprint(response.caCertificatePem) !== caHash) {
      throw new AppError(
        'permission_denied',
        'the master answered with a CA other than the one it presented',
      );
    }
    return {
      workerId: response.workerId,
      caHash,
      enrolledAt: new Date().toISOString(),
      keyPem,
      certPem: response.certificatePem,
      caPem,
    };
  } finally {
    client.close();
  }
}
