// Following a migration until it ends, shared by `migrate` (after starting one) and `migrations watch`: polling
// through master blips, Ctrl-C as something tests can press, and the exit outcome of a migration that ended.
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../core/errors.js';
import type { MasterClient, MigrationJson } from './master-client.js';
import { FINISHED_STATUSES, statusSentence, type ProgressView } from './progress-view.js';

/** How often a running migration is asked for its state. */
export const POLL_INTERVAL_MS = 500;

/** Polls that may fail in a row (the master restarting, a network blip) before the command gives up following. */
const MAX_POLL_FAILURES = 10;

/** Ctrl-C, as something tests can press. Returns a function that stops listening. */
export interface Interrupts {
  onInterrupt(listener: () => void): () => void;
}

/** SIGINT of this process. While a listener is on, Node no longer exits on Ctrl-C by itself. */
export function processInterrupts(): Interrupts {
  return {
    onInterrupt(listener) {
      process.on('SIGINT', listener);
      return () => {
        process.removeListener('SIGINT', listener);
      };
    },
  };
}

export interface FollowDeps {
  client: MasterClient;
  pollIntervalMs?: number;
}

/**
 * Shows `first`, then polls the migration until it has ended and returns its last state. A few failed polls in a
 * row (unavailable, deadline) are waited out; `signal` stops following (the migration keeps running).
 */
export async function followMigration(
  first: MigrationJson,
  view: ProgressView,
  signal: AbortSignal,
  deps: FollowDeps,
): Promise<MigrationJson> {
  const interval = deps.pollIntervalMs ?? POLL_INTERVAL_MS;
  let migration = first;
  let failures = 0;
  view.show(migration);
  while (!FINISHED_STATUSES.has(migration.status)) {
    await sleep(interval, undefined, { signal });
    try {
      migration = await deps.client.getMigration(migration.id, signal);
    } catch (error) {
      const failure = AppError.from(error);
      const passing = failure.code === 'unavailable' || failure.code === 'deadline_exceeded';
      if (signal.aborted || !passing || failures + 1 >= MAX_POLL_FAILURES) throw error;
      if (failures === 0) view.log(`lost contact with the master (${failure.message}); retrying`);
      failures += 1;
      continue;
    }
    if (failures > 0) view.log('in contact with the master again');
    failures = 0;
    view.show(migration);
  }
  return migration;
}

/** The error a command exits with for a migration that ended other than completed; undefined when it completed. */
export function outcomeError(migration: MigrationJson): AppError | undefined {
  if (migration.status === 'completed') return undefined;
  const reason = migration.error === null || migration.error === '' ? '' : `: ${migration.error}`;
  return new AppError(
    migration.status === 'cancelled' ? 'canceled' : 'failed_precondition',
    `${statusSentence(migration)}${reason}`,
    migration.status === 'rolled_back'
      ? {
          hint: 'a rollback removes what the migration created on the target and restarts the source if it was running; the events above say what happened',
        }
      : {},
  );
}
