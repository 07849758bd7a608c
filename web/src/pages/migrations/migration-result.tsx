// The outcome of a finished migration, prominently: where the service runs now, its duration and downtime, what was
// left on the source and how to move it back — or what went wrong, and how long the source was down for it. The
// migration page keeps it in a polite live region, so that the end of a migration watched live is announced.
import { useState } from 'react';
import { Link, useNavigate } from 'react-router';

import type { LeftOnSourceJson, MigrationJson } from '../../api/migration-types';
import { Button, ConfirmDialog, ErrorNotice, LINK_CLASS } from '../../components/ui';
import { formatDuration } from '../../lib/format';
import { migrationDurationMs } from '../../lib/migration-status';
import { useWorkerNames } from '../../lib/worker-queries';
import { useReverseMigration } from './migration-queries';

const BOX = 'rounded-lg border p-4 space-y-1';
const GOOD = `${BOX} border-emerald-300 bg-emerald-50 text-emerald-950 dark:border-emerald-800 dark:bg-emerald-950 dark:text-emerald-100`;
const UNDONE = `${BOX} border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100`;
const BAD = `${BOX} border-rose-300 bg-rose-50 text-rose-950 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100`;

/** "web (container, stopped), data (volume)": what a migration left on its source, containers first. */
export function leftoversText(left: readonly LeftOnSourceJson[]): string {
  const order = ['container', 'volume', 'network', 'image'];
  return [...left]
    .sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type))
    .map((item) => `${item.name} (${item.type}${item.type === 'container' ? `, ${item.state}` : ''})`)
    .join(', ');
}

/** How long the source was down, for a migration that did not complete: until its rollback had it running again. */
function downtimeAfterUndo(migration: MigrationJson): string {
  return migration.downtime_ms === null
    ? ' No container had been stopped.'
    : ` The source was down for ${formatDuration(migration.downtime_ms)}.`;
}

function Links({ migration }: { migration: MigrationJson }) {
  if (!migration.reverse_of && !migration.reversed_by) return null;
  return (
    <p className="text-sm">
      {migration.reverse_of && (
        <>
          Moves back{' '}
          <Link className={LINK_CLASS} to={`/migrations/${migration.reverse_of}`}>
            migration {migration.reverse_of}
          </Link>
          .{' '}
        </>
      )}
      {migration.reversed_by && (
        <>
          Moved back by{' '}
          <Link className={LINK_CLASS} to={`/migrations/${migration.reversed_by}`}>
            migration {migration.reversed_by}
          </Link>
          .
        </>
      )}
    </p>
  );
}

/** "Move back": confirmed first, then the new migration's page. */
function MoveBack({
  migration,
  source,
  target,
}: {
  migration: MigrationJson;
  source: string;
  target: string;
}) {
  const [open, setOpen] = useState(false);
  const reverse = useReverseMigration(migration.id);
  const navigate = useNavigate();
  return (
    <div className="pt-2">
      <Button
        onClick={() => {
          setOpen(true);
        }}
      >
        Move back
      </Button>
      <ErrorNotice error={reverse.error} title="The migration could not be moved back" />
      <ConfirmDialog
        open={open}
        title={`Move this back to ${source}?`}
        confirmLabel="Yes, move it back"
        cancelLabel="Keep it here"
        busy={reverse.isPending}
        onCancel={() => {
          setOpen(false);
        }}
        onConfirm={() => {
          // Awaited rather than a callback of mutate(): the migration reloads as moved back, which removes this
          // button (and mutate's callbacks with it) before the answer is handled.
          void reverse
            .mutateAsync({})
            .then(({ migration: back }) => navigate(`/migrations/${back.id}`))
            .catch(() => undefined)
            .finally(() => {
              setOpen(false);
            });
        }}
      >
        <p>
          A new migration moves what this one moved from {target} back to {source}, the same way (
          {migration.mode}
          {migration.strategy === 'incremental' ? ', incremental' : ''}). What was left on {source} is reused:
          its stopped containers are replaced, its volumes brought up to date, and the containers on {target}{' '}
          are stopped for the move.
        </p>
      </ConfirmDialog>
    </div>
  );
}

export function MigrationResult({ migration }: { migration: MigrationJson }) {
  const workerName = useWorkerNames();
  const source = workerName(migration.source_worker_id);
  const target = workerName(migration.target_worker_id);
  switch (migration.status) {
    case 'pending':
    case 'running':
      // No outcome yet; what it moves back is worth saying already.
      return <Links migration={migration} />;
    case 'completed': {
      const left = migration.left_on_source ?? [];
      const movesContainers = migration.resources.some((r) => r.type === 'container' && r.action !== 'skip');
      return (
        <section aria-label="Result" className={GOOD}>
          <p className="text-lg font-semibold">Completed</p>
          <p className="text-sm">
            {movesContainers ? (
              <>
                Now running on <span className="font-semibold">{target}</span>.{' '}
              </>
            ) : (
              <>
                Now on <span className="font-semibold">{target}</span>.{' '}
              </>
            )}
            Took {formatDuration(migrationDurationMs(migration))};{' '}
            {migration.downtime_ms === null
              ? 'no container had to stop.'
              : `the containers were down for ${formatDuration(migration.downtime_ms)}.`}
          </p>
          {left.length > 0 && (
            <p className="text-sm">
              Left on <span className="font-semibold">{source}</span>: {leftoversText(left)}
              {migration.reversed_by ? '' : ` — marked as migrated to ${target} by ${migration.id}`}.
            </p>
          )}
          <Links migration={migration} />
          {!migration.reversed_by && <MoveBack migration={migration} source={source} target={target} />}
        </section>
      );
    }
    case 'rolled_back':
      return (
        <section aria-label="Result" className={UNDONE}>
          <p className="text-lg font-semibold">Rolled back</p>
          <p className="text-sm">
            What was created on the target was removed and the source runs as before.
            {downtimeAfterUndo(migration)}
            {migration.error !== null && <> Reason: {migration.error}</>}
          </p>
          <Links migration={migration} />
        </section>
      );
    case 'cancelled':
      return (
        <section aria-label="Result" className={UNDONE}>
          <p className="text-lg font-semibold">Cancelled</p>
          <p className="text-sm">
            Its work was undone and the source runs as before.{downtimeAfterUndo(migration)}
          </p>
          <Links migration={migration} />
        </section>
      );
    case 'failed':
      return (
        <section aria-label="Result" className={BAD}>
          <p className="text-lg font-semibold">Failed</p>
          <p className="text-sm break-words">{migration.error ?? 'The master recorded no reason.'}</p>
          {migration.downtime_ms !== null && (
            <p className="text-sm">
              The source had been down for {formatDuration(migration.downtime_ms)} when the migration ended.
            </p>
          )}
          <Links migration={migration} />
        </section>
      );
  }
}
