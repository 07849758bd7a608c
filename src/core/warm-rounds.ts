// When a warm migration stops pre-copying: after each round made while the source runs, decide whether another
// round is worth it or the source should stop now for the final one. Learnt from QEMU's and P.Haul's pre-copy:
// stop once what is left is small enough to copy within the downtime budget, or once rounds stop shrinking (the
// workload dirties data as fast as we copy it), or after a fixed number of rounds.

import { plural } from './plural.js';

/** What one pre-copy round did, every volume together. */
export interface PrecopyRound {
  /** Bytes sent on the wire. */
  bytesSent: number;
  /** Bytes read again from files whose stat changed (or that were racily clean, dirty or hot). */
  bytesRead: number;
  /** The stat-only walk of every volume, before any file is read. */
  walkMs: number;
  /** The whole round, walk included. */
  durationMs: number;
  /** Sizes of the files ever re-read, or changed shortly before the round: the final round re-checks them whole. */
  hotBytes: number;
}

export interface RoundPolicy {
  /** The final round should fit in this: its walk, the re-check of hot files and the delta, at measured rates. */
  budgetMs: number;
  /** Pre-copy rounds at most (the final round not counted). */
  maxRounds: number;
  /** A round that sent at most this much has converged: nothing would be gained by another. */
  convergedBytes: number;
}

export const DEFAULT_CONVERGED_BYTES = 4 * 1024 * 1024;

export type RoundVerdict =
  | { stop: false; projectedMs: number }
  | {
      stop: true;
      reason: 'budget' | 'converged' | 'grew' | 'max_rounds';
      projectedMs: number;
      /** One line for the event log: what the last round did and why the source stops now. */
      explanation: string;
    };

/** Bytes per millisecond from a round that moved enough to say; undefined when none did. */
function measuredRate(
  rounds: readonly PrecopyRound[],
  bytes: (r: PrecopyRound) => number,
): number | undefined {
  // The largest round measures the data path best: small rounds are mostly their walk and fixed costs.
  let best: PrecopyRound | undefined;
  for (const round of rounds) if (best === undefined || bytes(round) > bytes(best)) best = round;
  if (best === undefined || bytes(best) < 1024 * 1024) return undefined;
  return bytes(best) / Math.max(1, best.durationMs - best.walkMs);
}

/**
 * How long the final round would take if the source stopped now: another walk, a whole re-read of the hot files,
 * then about as many bytes as the last round sent (the data changed during one round), at the rates measured.
 */
export function projectFinalRoundMs(rounds: readonly PrecopyRound[]): number {
  const last = rounds.at(-1);
  if (last === undefined) return Number.POSITIVE_INFINITY;
  const readRate = measuredRate(rounds, (r) => r.bytesRead);
  const sendRate = measuredRate(rounds, (r) => r.bytesSent);
  if (readRate === undefined || sendRate === undefined)
    return last.walkMs + (last.bytesRead > 0 || last.bytesSent > 0 ? last.durationMs - last.walkMs : 0);
  // Unmeasured walk (the copies walk and read in one pass): what the last round took beyond reading its bytes.
  const walkMs = last.walkMs > 0 ? last.walkMs : Math.max(0, last.durationMs - last.bytesRead / readRate);
  return walkMs + last.hotBytes / readRate + last.bytesSent / sendRate;
}

const MiB = 1024 * 1024;
const mib = (bytes: number): string => `${(bytes / MiB).toFixed(bytes < 10 * MiB ? 1 : 0)} MiB`;
const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

/** After the last round of `rounds` (all pre-copy rounds so far, in order): go on, or stop the source now. */
export function afterRound(rounds: readonly PrecopyRound[], policy: RoundPolicy): RoundVerdict {
  const last = rounds.at(-1);
  if (last === undefined) throw new Error('afterRound needs at least one round');
  const projectedMs = projectFinalRoundMs(rounds);
  const n = rounds.length;
  const did = `pre-copy round ${String(n)} sent ${mib(last.bytesSent)} in ${seconds(last.durationMs)}`;
  const projected = `the final round should take about ${seconds(projectedMs)}`;
  if (last.bytesSent <= policy.convergedBytes)
    return {
      stop: true,
      reason: 'converged',
      projectedMs,
      explanation: `${did}: little changes any more; ${projected}`,
    };
  if (projectedMs <= policy.budgetMs)
    return {
      stop: true,
      reason: 'budget',
      projectedMs,
      explanation: `${did}; ${projected}, within the ${seconds(policy.budgetMs)} budget`,
    };
  const previous = rounds.at(-2);
  if (previous !== undefined && last.bytesSent >= previous.bytesSent)
    return {
      stop: true,
      reason: 'grew',
      projectedMs,
      explanation: `${did}, no less than round ${String(n - 1)} (${mib(previous.bytesSent)}): the data changes as fast as it is copied; ${projected}`,
    };
  if (n >= policy.maxRounds)
    return {
      stop: true,
      reason: 'max_rounds',
      projectedMs,
      explanation: `${did}; that was the last of ${plural(policy.maxRounds, 'round')}; ${projected}, over the ${seconds(policy.budgetMs)} budget`,
    };
  return { stop: false, projectedMs };
}
