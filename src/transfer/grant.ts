// Transfer grants: the master's signed permission for one stream of one resource between two named workers during
// one migration. Signed with the CA key, so every worker checks them with the CA it pinned at enrollment.
import {
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { AppError } from '../core/errors.js';
import type { ResourceType } from '../core/migration.js';

export interface TransferGrant {
  /** Format version. */
  v: 1;
  migrationId: string;
  transferId: string;
  sourceWorkerId: string;
  targetWorkerId: string;
  resource: { type: Extract<ResourceType, 'volume' | 'image'>; name: string };
  /** Unix milliseconds. */
  expiresAt: number;
}

/** How long a grant stays valid: long enough to start a transfer, short enough to be useless if it leaks. */
export const GRANT_TTL_MS = 10 * 60_000;

function encode(value: Buffer | string): string {
  return Buffer.from(value).toString('base64url');
}

/** Signs a grant with the CA's private key (ECDSA P-256, SHA-256, DER signature). */
export function signGrant(grant: Omit<TransferGrant, 'v'>, caKeyPem: string): string {
  const payload = encode(JSON.stringify({ v: 1, ...grant } satisfies TransferGrant));
  const signature = sign('sha256', Buffer.from(payload), createPrivateKey(caKeyPem));
  return `${payload}.${encode(signature)}`;
}

export interface GrantCheck {
  /** The CA certificate (PEM) or its public key. */
  ca: string | KeyObject;
  transferId: string;
  /** The worker checking the grant must be its target (or its source, for a master relaying). */
  expect: Partial<Pick<TransferGrant, 'sourceWorkerId' | 'targetWorkerId'>>;
  now?: number;
}

function publicKeyOf(ca: string | KeyObject): KeyObject {
  if (typeof ca !== 'string') return ca;
  return ca.includes('CERTIFICATE') ? new X509Certificate(ca).publicKey : createPublicKey(ca);
}

function isGrant(value: unknown): value is TransferGrant {
  if (typeof value !== 'object' || value === null) return false;
  const grant = value as Partial<TransferGrant>;
  return (
    grant.v === 1 &&
    typeof grant.migrationId === 'string' &&
    typeof grant.transferId === 'string' &&
    typeof grant.sourceWorkerId === 'string' &&
    typeof grant.targetWorkerId === 'string' &&
    typeof grant.expiresAt === 'number' &&
    typeof grant.resource === 'object' &&
    // Parsed JSON: the declared type says nothing yet.
    ['volume', 'image'].includes(String((grant.resource as { type?: unknown }).type)) &&
    typeof (grant.resource as { name?: unknown }).name === 'string'
  );
}

/**
 * The grant's content once its signature, expiry, transfer id and parties check out; `permission_denied` naming
 * what is wrong otherwise. Callers still compare the peer's certificate with the party the grant names.
 */
export function verifyGrant(token: string, check: GrantCheck): TransferGrant {
  const denied = (why: string): AppError => new AppError('permission_denied', `transfer refused: ${why}`);
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined) throw denied('the grant is malformed');
  let valid = false;
  try {
    valid = verify(
      'sha256',
      Buffer.from(payload),
      publicKeyOf(check.ca),
      Buffer.from(signature, 'base64url'),
    );
  } catch {
    valid = false;
  }
  if (!valid) throw denied('the grant is not signed by this fleet’s master');
  let grant: unknown;
  try {
    grant = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw denied('the grant is malformed');
  }
  if (!isGrant(grant)) throw denied('the grant is malformed');
  if (grant.expiresAt < (check.now ?? Date.now())) throw denied('the grant has expired');
  if (grant.transferId !== check.transferId) throw denied('the grant is for another transfer');
  if (check.expect.targetWorkerId !== undefined && grant.targetWorkerId !== check.expect.targetWorkerId)
    throw denied(`the grant names another receiver (${grant.targetWorkerId})`);
  if (check.expect.sourceWorkerId !== undefined && grant.sourceWorkerId !== check.expect.sourceWorkerId)
    throw denied(`the grant names another sender (${grant.sourceWorkerId})`);
  return grant;
}
