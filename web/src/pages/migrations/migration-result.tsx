// The outcome of a finished migration, prominently: completed with its duration and downtime, or what went wrong.
// The migration page keeps it in a polite live region, so that the end of a migration watched live is announced.
import type { MigrationJson } from '../../api/migration-types';
import { formatDuration } from '../../lib/format';
import { migrationDurationMs } from '../../lib/migration-status';

const BOX = 'rounded-lg border p-4';
const GOOD = `${BOX} border-emerald-300 bg-emerald-50 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100`;
const UNDONE = `${BOX} border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100`;
const BAD = `${BOX} border-rose-300 bg-rose-50 text-rose-950 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100`;

export function MigrationResult({ migration }: { migration: MigrationJson }) {
  switch (migration.status) {
    case 'pending':
    case 'running':
      return null;
    case 'completed':
      return (
        <section aria-label="Result" className={GOOD}>
          <p className="text-lg font-semibold">Completed</p>
          <p className="text-sm">
            Took {formatDuration(migrationDurationMs(migration))};{' '}
            {migration.downtime_ms === null
              ? 'no container had to stop.'
              : `the containers were down for ${formatDuration(migration.downtime_ms)}.`}
          </p>
        </section>
      );
    case 'rolled_back':
      return (
        <section aria-label="Result" className={UNDONE}>
          <p className="text-lg font-semibold">Rolled back</p>
          <p className="text-sm">
            What was created on the target was removed and the source runs as before.
            {migration.error !== null && <> Reason: {migration.error}</>}
          </p>
        </section>
      );
    case 'cancelled':
      return (
        <section aria-label="Result" className={UNDONE}>
          <p className="text-lg font-semibold">Cancelled</p>
          {migration.error !== null && <p className="text-sm">{migration.error}</p>}
        </section>
      );
    case 'failed':
      return (
        <section aria-label="Result" className={BAD}>
          <p className="text-lg font-semibold">Failed</p>
          <p className="text-sm break-words">{migration.error ?? 'The master recorded no reason.'}</p>
        </section>
      );
  }
}
