// Migrations pending or running, on the dashboard: where from and to, phase and progress, each a link to its page.
import { Link } from 'react-router';

import type { MigrationJson } from '../api/migration-types';
import { formatBytes, formatPercent, formatRate, shortId } from '../lib/format';
import { useActiveMigrations } from '../lib/worker-queries';
import { Badge, Card, ErrorNotice, Loading, ProgressBar } from './ui';

function MigrationRow({
  migration,
  names,
}: {
  migration: MigrationJson;
  names: ReadonlyMap<string, string>;
}) {
  const from = names.get(migration.source_worker_id) ?? shortId(migration.source_worker_id);
  const to = names.get(migration.target_worker_id) ?? shortId(migration.target_worker_id);
  const what = migration.resources.filter((resource) => resource.type === 'container').map((r) => r.name);
  return (
    <li>
      <Link
        to={`/migrations/${encodeURIComponent(migration.id)}`}
        className="block space-y-1.5 rounded-md p-2 hover:bg-slate-100 dark:hover:bg-slate-800"
      >
        <span className="flex flex-wrap items-center justify-between gap-2 text-sm">
          <span className="font-medium break-words">
            {from} → {to}
            {what.length > 0 && <span className="font-normal text-slate-500"> · {what.join(', ')}</span>}
          </span>
          <Badge tone={migration.status === 'running' ? 'sky' : 'slate'}>{migration.status}</Badge>
        </span>
        <ProgressBar value={migration.progress} label={`Migration from ${from} to ${to}`} />
        <span className="block text-xs text-slate-500 dark:text-slate-400">
          {migration.phase.replaceAll('_', ' ')} · {formatPercent(migration.progress)} ·{' '}
          {formatBytes(migration.bytes_transferred)} of {formatBytes(migration.total_bytes)} ·{' '}
          {formatRate(migration.rate_bytes_per_s)}
        </span>
      </Link>
    </li>
  );
}

export function ActiveMigrations({ names }: { names: ReadonlyMap<string, string> }) {
  const migrations = useActiveMigrations();
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
            <MigrationRow key={migration.id} migration={migration} names={names} />
          ))}
        </ul>
      )}
    </Card>
  );
}
