// The worker's identity in its data dir: id, key, certificate, the master's CA and where the masters are.
// Kept across restarts so a worker enrolls once and reconnects as itself.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';

export interface WorkerIdentity {
  workerId: string;
  /** The masters' gRPC addresses (host:port, as grpc-js dials them), in the order they are tried; never empty. */
  masterUrls: string[];
  /** "sha256:…" of the master CA's public key, pinned at enrollment. */
  caHash: string;
  enrolledAt: string;
  keyPem: string;
  certPem: string;
  caPem: string;
}

interface IdentityFile {
  worker_id: string;
  /** Written since workers take several masters. */
  master_urls?: string[];
  /** The first master: all that files written before hold, and what an older worker reads. */
  master_url: string;
  ca_hash: string;
  enrolled_at: string;
}

/** Writes atomically (temp file + rename) so a crash never leaves half an identity. */
function writeFileAtomic(path: string, content: string, mode: number): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, content, { mode });
  chmodSync(temp, mode);
  renameSync(temp, path);
}

export function identityDir(dataDir: string): string {
  return join(dataDir, 'worker');
}

/** The stored identity, or undefined when this worker never enrolled. */
export function loadWorkerIdentity(dir: string): WorkerIdentity | undefined {
  const file = join(dir, 'identity.json');
  if (!existsSync(file)) return undefined;
  try {
    const meta = JSON.parse(readFileSync(file, 'utf8')) as IdentityFile;
    return {
      workerId: meta.worker_id,
      masterUrls: storedMasterUrls(meta),
      caHash: meta.ca_hash,
      enrolledAt: meta.enrolled_at,
      keyPem: readFileSync(join(dir, 'worker.key'), 'utf8'),
      certPem: readFileSync(join(dir, 'worker.crt'), 'utf8'),
      caPem: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    };
  } catch (error) {
    throw new AppError('failed_precondition', `the worker identity in ${dir} is damaged`, {
      cause: error,
      hint: `remove ${dir} and enroll again with a new token`,
    });
  }
}

function storedMasterUrls(meta: IdentityFile): string[] {
  const list = meta.master_urls;
  if (Array.isArray(list) && list.length > 0 && list.every((url) => typeof url === 'string' && url !== ''))
    return list;
  if (typeof meta.master_url === 'string' && meta.master_url !== '') return [meta.master_url];
  throw new Error('identity.json names no master');
}

export function saveWorkerIdentity(dir: string, identity: WorkerIdentity): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, 'worker.key'), identity.keyPem, 0o600);
  writeFileAtomic(join(dir, 'worker.crt'), identity.certPem, 0o644);
  writeFileAtomic(join(dir, 'ca.crt'), identity.caPem, 0o644);
  const meta: IdentityFile = {
    worker_id: identity.workerId,
    master_urls: identity.masterUrls,
    master_url: identity.masterUrls[0] ?? '',
    ca_hash: identity.caHash,
    enrolled_at: identity.enrolledAt,
  };
  // Written last: its presence means the rest is complete.
  writeFileAtomic(join(dir, 'identity.json'), `${JSON.stringify(meta, null, 2)}\n`, 0o600);
}
