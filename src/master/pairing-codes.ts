// Short-lived, single-use pairing codes: what a person reads off one screen and types on another host to join it.
// Kept in the store by their SHA-256, so a code made on one master enrolls through any master of the database, once.
import { randomInt } from 'node:crypto';
import type { MasterStore } from '../core/ports.js';
import { hashToken } from '../platform/secrets.js';

/** Crockford's base32 without I, L, O, U: no letters to confuse with digits or each other. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

export interface PairingCode {
  code: string;
  expiresAt: Date;
}

/** What pairing codes need of the store. */
export type PairingCodeStore = Pick<MasterStore, 'insertPairingCode' | 'consumePairingCode'>;

/** Codes in the store; only their hashes are kept, and a code outlives neither its few minutes nor one use. */
export class PairingCodes {
  constructor(
    private readonly store: PairingCodeStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new code like "K7M2-Q9XD" (40 bits; enrollment attempts are rate-limited per address), stored before it is shown. */
  async create(ttlMs: number): Promise<PairingCode> {
    let raw = '';
    for (let i = 0; i < 8; i++) raw += ALPHABET.charAt(randomInt(ALPHABET.length));
    const code = `${raw.slice(0, 4)}-${raw.slice(4)}`;
    const expiresAt = new Date(this.now() + ttlMs);
    await this.store.insertPairingCode(hashToken(code), expiresAt.toISOString());
    return { code, expiresAt };
  }

  /**
   * True once for a live code, whichever master made it (case and dashes forgiven); the code is then spent. The
   * store finds it by its hash, so the lookup reveals nothing of the codes by its timing.
   */
  async consume(candidate: string): Promise<boolean> {
    const code = normalize(candidate);
    if (code === undefined) return false;
    return this.store.consumePairingCode(hashToken(code), new Date(this.now()).toISOString());
  }
}

/** "k7m2 q9xd" → "K7M2-Q9XD"; undefined for anything that cannot be a code. */
function normalize(candidate: string): string | undefined {
  const normalized = candidate
    .trim()
    .toUpperCase()
    .replace(/[^0-9A-Z]/g, '');
  if (normalized.length !== 8) return undefined;
  return `${normalized.slice(0, 4)}-${normalized.slice(4)}`;
}
