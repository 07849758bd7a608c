// Migrations pending or running, on the dashboard: where from and to, phase and progress, each a link to its page.
import { Link } from 'react-router';

import type { MigrationJson } from '../api/migration-types';
import { formatMovedOf, formatPercent, formatRate } from '../lib/format';
import { PHASE_LABELS, resourcesSummary } from '../lib/migration-status';
import { useActiveMigrations, useWorkerNames } from '../lib/worker-queries';
import { MigrationStatusBadge } from './migration-status-badge';
import { Card, ErrorNotice, Loading, ProgressBar } from './ui';

function MigrationRow({
  migration,
  workerName,
}: {
  migration: MigrationJson;
  workerName: (id: string) => string;
}) {
  const from = workerName(migration.source_worker_id);
  const to = workerName(migration.target_worker_id);
  return (
    <li>
      <Link
        to={`/migrations/${encodeURIComponent(migration.id)}`}
        className="block space-y-1.5 rounded-md p-2 hover:bg-slate-100 dark:hover:bg-slate-800"
      >
        <span className="flex flex-wrap items-center justify-between gap-2 text-sm">
          <span className="font-medium break-words">
            {from} → {to}
            {migration.resources.length > 0 && (
              <span className="font-normal text-slate-600 dark:text-slate-400">
                {' '}
                · {resourcesSummary(migration.resources)}
              </span>
            )}
          </span>
          <MigrationStatusBadge status={migration.status} />
        </span>
        <ProgressBar value={migration.progress} label={`Migration from ${from} to ${to}`} />
        <span className="block text-xs text-slate-600 dark:text-slate-400">
          {PHASE_LABELS[migration.phase]} · {formatPercent(migration.progress)} ·{' '}
          {formatMovedOf(migration.bytes_transferred, migration.total_bytes)} ·{' '}
          {formatRate(migration.rate_bytes_per_s)}
        </span>
      </Link>
    </li>
  );
}

export function ActiveMigrations() {
  const migrations = useActiveMigrations();
  const workerName = useWorkerNames();
  return (
    <Card title="Active migrations">
      {migrations.isPending && <Loading what="migrations" />}
      <ErrorNotice error={migrations.error} title="Active migrations could not be loaded" />
      {migrations.data?.length === 0 && (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          No migration is running. Use a worker’s Migrate link below to start one.
        </p>
      )}
      {migrations.data !== undefined && migrations.data.length > 0 && (
        <ul className="space-y-2">
          {migrations.data.map((migration) => (
            <MigrationRow key={migration.id} migration={migration} workerName={workerName} />
          ))}
        </ul>
      )}
    </Card>
  );
}
