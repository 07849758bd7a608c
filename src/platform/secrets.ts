// Tokens: generated with enough entropy to be stored as a fast hash, and compared in constant time.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A new random token, e.g. "dm-admin-3q2…" (the prefix helps secret scanners and people tell tokens apart). */
export function generateToken(prefix: string): string {
  return `${prefix}-${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 hex of a token: enough for 256-bit random tokens, which no dictionary holds. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares in constant time (over the hashes, so lengths do not leak either). */
export function tokenMatches(provided: string, expected: string): boolean {
  const a = Buffer.from(hashToken(provided), 'hex');
  const b = Buffer.from(hashToken(expected), 'hex');
  return timingSafeEqual(a, b);
}

/** Compares a provided token with a stored SHA-256 hex in constant time. */
export function tokenMatchesHash(provided: string, storedHash: string): boolean {
  const a = Buffer.from(hashToken(provided), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A short id for people to read: prefix and 12 hex digits (48 bits; collisions are checked by the store). */
export function newId(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
