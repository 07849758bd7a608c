// One migration (/migrations/:id), live: status, phase stepper, progress, rate and ETA, its resources, the event log,
// and the result once it is finished. Live events update its cache entry; a slow poll covers missed events.
import type { ReactNode } from 'react';
import { Link, useParams } from 'react-router';

import { ApiError } from '../../api/client';
import type { MigrationJson } from '../../api/migration-types';
import { MigrationFindings } from '../../components/migration-findings';
import { MigrationPhaseStepper } from '../../components/migration-phase-stepper';
import { MigrationStatusBadge } from '../../components/migration-status-badge';
import {
  Card,
  EmptyState,
  ErrorNotice,
  LINK_CLASS,
  Loading,
  PageTitle,
  ProgressBar,
} from '../../components/ui';
import {
  formatBytes,
  formatDateTime,
  formatDuration,
  formatEta,
  formatMovedOf,
  formatPercent,
  formatRate,
} from '../../lib/format';
import { elapsedMs, isFinished, mainResourceName } from '../../lib/migration-status';
import { useNow } from '../../lib/use-now';
import { useWorkerNames } from '../../lib/worker-queries';
import { MigrationCancel } from './migration-cancel';
import { MigrationEventLog } from './migration-event-log';
import { useMigration } from './migration-queries';
import { MigrationResources } from './migration-resources';
import { MigrationResult } from './migration-result';
import { MigrationTiming, hasTiming } from './migration-timing';

function Figure({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div>
      <dt className="text-xs text-slate-500 dark:text-slate-400">{term}</dt>
      <dd className="font-medium tabular-nums">{children}</dd>
    </div>
  );
}

/**
 * The downtime to show: counting from the stop request while the source is down and the migration runs, then what
 * the master measured, for every outcome; null when no container was stopped.
 */
export function shownDowntimeMs(migration: MigrationJson, now: number): number | null {
  if (migration.downtime_ms !== null) return migration.downtime_ms;
  const since = Date.parse(migration.downtime_started_at ?? '');
  if (Number.isNaN(since) || isFinished(migration.status)) return null;
  return Math.max(0, now - since);
}

/**
 * Time left, only where it means something: while bytes are being copied at a known rate towards a known total.
 * Before the copy, after it, or in another phase, a rate says nothing about what is left.
 */
export function timeLeft(migration: MigrationJson): string {
  if (migration.status !== 'running' || migration.phase !== 'transfer' || migration.total_bytes <= 0)
    return '—';
  const remaining =
    Math.max(migration.total_bytes, migration.bytes_transferred) - migration.bytes_transferred;
  return formatEta(remaining, migration.rate_bytes_per_s);
}

function Progress({ migration }: { migration: MigrationJson }) {
  const running = !isFinished(migration.status);
  const now = useNow(1_000, running);
  const downtime = shownDowntimeMs(migration, now);
  const down = running && migration.downtime_ms === null && downtime !== null;
  return (
    <div className="space-y-3">
      <div className="flex items-center gap-3">
        <ProgressBar value={migration.progress} label="Overall progress" />
        <span className="w-12 shrink-0 text-right text-sm tabular-nums">
          {formatPercent(migration.progress)}
        </span>
      </div>
      <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-3 lg:grid-cols-6">
        <Figure term="Transferred">
          {/* No "of" without a total: an unmeasured size is not zero. */}
          <span data-testid="transferred">
            {migration.total_bytes > 0
              ? formatMovedOf(migration.bytes_transferred, migration.total_bytes)
              : formatBytes(migration.bytes_transferred)}
          </span>
        </Figure>
        <Figure term={running ? 'Rate' : 'Average rate'}>{formatRate(migration.rate_bytes_per_s)}</Figure>
        <Figure term="Time left">{timeLeft(migration)}</Figure>
        <Figure term="Elapsed">{formatDuration(elapsedMs(migration, now))}</Figure>
        <Figure term={down ? 'Downtime so far' : 'Downtime'}>
          <span data-testid="downtime">{formatDuration(downtime)}</span>
        </Figure>
        <Figure term="Started">{formatDateTime(migration.started_at ?? migration.created_at)}</Figure>
      </dl>
    </div>
  );
}

function NotFound({ id }: { id: string }) {
  return (
    <>
      <PageTitle>Migration not found</PageTitle>
      <EmptyState title={`There is no migration with the id “${id}”.`}>
        Check the address, or{' '}
        <Link className={LINK_CLASS} to="/migrations">
          see all migrations
        </Link>
        .
      </EmptyState>
    </>
  );
}

function MigrationView({ migration }: { migration: MigrationJson }) {
  const workerName = useWorkerNames();
  const events = migration.events ?? [];
  const findings = migration.findings ?? [];
  return (
    <>
      <PageTitle
        actions={<MigrationCancel migration={migration} />}
        documentTitle={`Migration of ${mainResourceName(migration)}`}
      >
        <span className="flex flex-wrap items-center gap-2">
          <span className="wrap-anywhere">Migration of {mainResourceName(migration)}</span>
          <MigrationStatusBadge status={migration.status} />
        </span>
      </PageTitle>
      <div className="space-y-4">
        <p className="text-sm text-slate-700 dark:text-slate-300">
          From <span className="font-medium">{workerName(migration.source_worker_id)}</span> to{' '}
          <span className="font-medium">{workerName(migration.target_worker_id)}</span> · {migration.mode}
          {/* Full is what every migration did before there was a choice: only the other one is worth a word. */}
          {migration.strategy === 'incremental' ? ' · incremental copy' : ''} · transfer{' '}
          {migration.transfer_mode}
          {migration.compression === 'zstd' ? ' with zstd' : ''} · id{' '}
          <span className="font-mono">{migration.id}</span>
        </p>
        <div aria-live="polite">
          <MigrationResult migration={migration} />
        </div>
        <Card title="Progress">
          <div className="space-y-4">
            <MigrationPhaseStepper migration={migration} events={events} />
            <Progress migration={migration} />
          </div>
        </Card>
        {hasTiming(migration) && (
          <Card title="Downtime and copy rounds">
            <MigrationTiming migration={migration} />
          </Card>
        )}
        <Card title={`Resources (${migration.resources.length})`}>
          <MigrationResources resources={migration.resources} />
        </Card>
        <Card title="Event log">
          <MigrationEventLog events={events} />
        </Card>
        {findings.length > 0 && (
          <Card title="Preflight findings">
            <MigrationFindings findings={findings} />
          </Card>
        )}
      </div>
    </>
  );
}

export function MigrationPage() {
  const { id = '' } = useParams();
  const migration = useMigration(id);
  if (migration.data === undefined) {
    if (migration.error instanceof ApiError && migration.error.status === 404) return <NotFound id={id} />;
    return (
      <>
        <PageTitle>Migration</PageTitle>
        {migration.isError ? (
          <ErrorNotice error={migration.error} title="The migration could not be loaded" />
        ) : (
          <Loading what="the migration" />
        )}
      </>
    );
  }
  return (
    <>
      {migration.isError && (
        <div className="mb-4">
          <ErrorNotice error={migration.error} title="These figures may be out of date" />
        </div>
      )}
      <MigrationView migration={migration.data} />
    </>
  );
}
