// Short-lived, single-use pairing codes: what a person reads off one screen and types on another host to join it.
import { randomInt } from 'node:crypto';
import { tokenMatches } from '../platform/secrets.js';

/** Crockford's base32 without I, L, O, U: no letters to confuse with digits or each other. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export interface PairingCode {
  code: string;
  expiresAt: Date;
}

/** Kept in memory only: a code outlives neither its few minutes nor the master process. */
export class PairingCodes {
  private readonly codes = new Map<string, Date>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new code like "K7M2-Q9XD" (40 bits; enrollment attempts are rate-limited per address). */
  create(ttlMs: number): PairingCode {
    this.prune();
    let raw = '';
    for (let i = 0; i < 8; i++) raw += ALPHABET.charAt(randomInt(ALPHABET.length));
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    const expiresAt = new Date(this.now() + ttlMs);
    this.codes.set(code, expiresAt);
    return { code, expiresAt };
  }

  /** True once for a live code (compared in constant time, case and dashes forgiven); the code is then spent. */
  consume(candidate: string): boolean {
    this.prune();
    const normalized = candidate
      .trim()
      .toUpperCase()
      .replace(/[^0-9A-Z]/g, '');
    if (normalized.length !== 8) return false;
    const formatted = `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
    for (const code of this.codes.keys()) {
      if (tokenMatches(formatted, code)) {
        this.codes.delete(code);
        return true;
      }
    }
    return false;
  }

  private prune(): void {
    const now = this.now();
    for (const [code, expiresAt] of this.codes) if (expiresAt.getTime() <= now) this.codes.delete(code);
  }
}
