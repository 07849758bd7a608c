// Failed enrollment attempts in the audit log, summed up: one row per window however many attempts came from
// however many addresses, so that guessing tokens from rotating addresses cannot grow the table without bound.
import type { MasterStore } from '../../core/ports.js';
import { plural } from '../../core/plural.js';

export interface FailedEnrollmentAudit {
  /** Counts one failed attempt; the row for its window is written when the window ends. */
  record(address: string, reason: string): void;
  /** Writes the current window's row now (master shutdown). */
  flush(): Promise<void>;
}

export interface FailedEnrollmentAuditOptions {
  store: Pick<MasterStore, 'appendAudit'>;
  /** Length of a window: at most one row per window. */
  windowMs?: number;
  /** Addresses named in a row, the busiest first; the others are only counted. */
  maxAddresses?: number;
  onError?: (error: unknown) => void;
  now?: () => number;
}

interface Window {
  startedAt: number;
  attempts: number;
  reasons: Map<string, number>;
  addresses: Map<string, number>;
  otherAttempts: number;
  timer: ReturnType<typeof setTimeout>;
}

/** The audit summary of an enrolment that succeeded: the worker it made. */
export function enrolledSummary(name: string, hostname: string): string {
  return hostname && hostname !== name
    ? `enrolled worker ${name} (host ${hostname})`
    : `enrolled worker ${name}`;
}

/** "refused 3 attempts: invalid token (2), expired pairing code (1)" — the reasons, most frequent first. */
function refusedSummary(window: Pick<Window, 'attempts' | 'reasons'>): string {
  const reasons = [...window.reasons]
    .sort((a, b) => b[1] - a[1])
    .map(([reason, count]) => `${reason} (${String(count)})`);
  const attempts = plural(window.attempts, 'attempt');
  return `refused ${attempts}: ${reasons.join(', ')}`;
}

/** Addresses tracked per window at most: memory stays bounded too, whatever the number of sources. */
const TRACKED_ADDRESSES = 1_000;

export function createFailedEnrollmentAudit(options: FailedEnrollmentAuditOptions): FailedEnrollmentAudit {
  const windowMs = options.windowMs ?? 60_000;
  const maxAddresses = options.maxAddresses ?? 20;
  const now = options.now ?? Date.now;
  let current: Window | undefined;

  async function write(window: Window): Promise<void> {
    clearTimeout(window.timer);
    const ranked = [...window.addresses].sort((a, b) => b[1] - a[1]);
    const named = ranked.slice(0, maxAddresses);
    const unnamed = ranked.slice(maxAddresses).reduce((sum, [, count]) => sum + count, window.otherAttempts);
    const only = ranked.length === 1 && window.otherAttempts === 0 ? ranked[0]?.[0] : undefined;
    await options.store.appendAudit({
      at: new Date(window.startedAt).toISOString(),
      actor: only ? `remote:${only}` : `remote:${ranked.length}${window.otherAttempts ? '+' : ''} addresses`,
      action: 'worker.enroll',
      target: null,
      outcome: 'error',
      status: 0,
      details: {
        attempts: window.attempts,
        from: new Date(window.startedAt).toISOString(),
        to: new Date(now()).toISOString(),
        reasons: Object.fromEntries(window.reasons),
        addresses: Object.fromEntries(named),
        ...(unnamed > 0 ? { attemptsFromOtherAddresses: unnamed } : {}),
      },
      remoteAddress: only ?? null,
      summary: refusedSummary(window),
    });
  }

  function close(): Promise<void> {
    const window = current;
    current = undefined;
    return window ? write(window) : Promise.resolve();
  }

  return {
    record(address, reason) {
      if (!current) {
        const timer = setTimeout(() => {
          close().catch((error: unknown) => options.onError?.(error));
        }, windowMs);
        timer.unref();
        current = {
          startedAt: now(),
          attempts: 0,
          reasons: new Map(),
          addresses: new Map(),
          otherAttempts: 0,
          timer,
        };
      }
      current.attempts += 1;
      current.reasons.set(reason, (current.reasons.get(reason) ?? 0) + 1);
      const seen = current.addresses.get(address);
      if (seen !== undefined || current.addresses.size < TRACKED_ADDRESSES)
        current.addresses.set(address, (seen ?? 0) + 1);
      else current.otherAttempts += 1;
    },
    flush: close,
  };
}
