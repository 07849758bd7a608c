// Web UI sessions: the admin token is exchanged once for a random session secret the browser keeps in an
// HttpOnly cookie. Sessions expire, end on sign-out, and all end when the admin token changes.
import { AppError } from '../core/errors.js';
import type { MasterStore } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import { generateToken, hashToken } from '../platform/secrets.js';

/** A session as the API reports it. */
export interface SessionInfo {
  expiresAt: Date;
}

export interface SessionManager {
  /** Starts a session; the secret goes to the browser only, the store keeps its hash. */
  create(): Promise<SessionInfo & { secret: string }>;
  /** The session a secret names, when it exists, has not expired and the admin token is unchanged. */
  check(secret: string): Promise<SessionInfo | undefined>;
  /** Ends the session (sign-out); unknown secrets are ignored. */
  end(secret: string): Promise<void>;
  /**
   * Calls `listener` after each sign-out, so that what a session opened (the event stream) can check its
   * credentials again at once rather than at its next periodic check. Returns the unsubscribe function.
   */
  onEnd(listener: () => void): () => void;
  /** Stops the periodic sweep of expired sessions. */
  close(): void;
}

export interface SessionOptions {
  store: MasterStore;
  logger: Logger;
  /** How long a session lasts from sign-in. */
  ttlMs: number;
  /** The admin token's current hash; sessions begun under another one are over. */
  adminTokenHash: () => Promise<string | undefined>;
  now?: () => Date;
  /** How often expired sessions are deleted from the store. */
  sweepIntervalMs?: number;
  /** Whether this master deletes expired sessions now (only the leader writes); default always. */
  sweeps?: () => boolean;
}

export const SESSION_PREFIX = 'dm-session';

export function createSessionManager(options: SessionOptions): SessionManager {
  const now = options.now ?? (() => new Date());
  const sweep = setInterval(
    () => {
      if (options.sweeps?.() === false) return;
      options.store.deleteExpiredSessions(now().toISOString()).catch((error: unknown) => {
        options.logger.warn({ err: error }, 'expired sessions not swept');
      });
    },
    options.sweepIntervalMs ?? 15 * 60_000,
  );
  sweep.unref();
  const endListeners = new Set<() => void>();

  return {
    async create() {
      const adminTokenHash = await options.adminTokenHash();
      if (adminTokenHash === undefined) {
        throw new AppError(
          'failed_precondition',
          'the master has no admin token yet: restart it to create one',
        );
      }
      const secret = generateToken(SESSION_PREFIX);
      const createdAt = now();
      const expiresAt = new Date(createdAt.getTime() + options.ttlMs);
      await options.store.insertSession({
        idHash: hashToken(secret),
        createdAt: createdAt.toISOString(),
        expiresAt: expiresAt.toISOString(),
        adminTokenHash,
      });
      return { secret, expiresAt };
    },
    async check(secret) {
      // Lookups go by hash: an indexed equality on a digest leaks nothing useful through timing.
      const session = await options.store.getSession(hashToken(secret));
      if (session === undefined) return undefined;
      const expiresAt = new Date(session.expiresAt);
      if (expiresAt.getTime() <= now().getTime()) return undefined;
      if (session.adminTokenHash !== (await options.adminTokenHash())) return undefined;
      return { expiresAt };
    },
    async end(secret) {
      await options.store.deleteSession(hashToken(secret));
      for (const listener of [...endListeners]) listener();
    },
    onEnd(listener) {
      endListeners.add(listener);
      return () => {
        endListeners.delete(listener);
      };
    },
    close() {
      clearInterval(sweep);
    },
  };
}
