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
  resource: GrantedResource;
  /** Unix milliseconds. */
  expiresAt: number;
}

/**
 * What one grant lets through: a volume by name, or an image by id ("sha256:…") together with exactly the "repo:tag"
 * references it may carry on the target (empty: none). An image grant without `tags` is refused: the receiver must
 * never fall back to the tags the sender's archive names.
 */
export interface GrantedResource {
  /** `manifest`: a volume copy's description, sent from the target back to the source (incremental sync). */
  type: Extract<ResourceType, 'volume' | 'image'> | 'manifest';
  name: string;
  tags?: string[];
}

/** Whether two resources are the same grant-wise: same type and name, and the same set of image tags. */
export function sameResource(a: GrantedResource, b: GrantedResource): boolean {
  if (a.type !== b.type || a.name !== b.name) return false;
  if (a.tags === undefined || b.tags === undefined) return a.tags === b.tags;
  const left = new Set(a.tags);
  const right = new Set(b.tags);
  return left.size === right.size && [...left].every((tag) => right.has(tag));
}

/** How a resource reads in a refusal: `image "sha256:…" tagged a:1, b:2`. */
export function describeResource(resource: GrantedResource): string {
  const tags =
    resource.tags === undefined
      ? ''
      : resource.tags.length === 0
        ? ' with no tags'
        : ` tagged ${resource.tags.join(', ')}`;
  return `${resource.type} "${resource.name}"${tags}`;
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

function isResource(value: unknown): value is GrantedResource {
  if (typeof value !== 'object' || value === null) return false;
  // Parsed JSON: the declared type says nothing yet.
  const { type, name, tags } = value as { type?: unknown; name?: unknown; tags?: unknown };
  if (typeof name !== 'string') return false;
  if (type === 'volume' || type === 'manifest') return tags === undefined;
  return (
    type === 'image' &&
    Array.isArray(tags) &&
    tags.every((tag) => typeof tag === 'string' && tag !== '') &&
    new Set(tags).size === tags.length
  );
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
    isResource(grant.resource)
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
  if (!isGrant(grant)) {
    const resource = (grant as { resource?: { type?: unknown; tags?: unknown } } | null)?.resource;
    if (resource?.type === 'image' && resource.tags === undefined)
      throw denied('the image grant names no target tags');
    throw denied('the grant is malformed');
  }
  if (grant.expiresAt < (check.now ?? Date.now())) throw denied('the grant has expired');
  if (grant.transferId !== check.transferId) throw denied('the grant is for another transfer');
  if (check.expect.targetWorkerId !== undefined && grant.targetWorkerId !== check.expect.targetWorkerId)
    throw denied(`the grant names another receiver (${grant.targetWorkerId})`);
  if (check.expect.sourceWorkerId !== undefined && grant.sourceWorkerId !== check.expect.sourceWorkerId)
    throw denied(`the grant names another sender (${grant.sourceWorkerId})`);
  return grant;
}
