// Every migration, newest first (/migrations): when, where from and to, what moved, status, duration and bytes,
// each linking to its page; narrowed by status, and paged back with "Load older".
import { useId, useRef, useState, type RefObject } from 'react';
import { Link } from 'react-router';

import type { MigrationJson, MigrationStatus } from '../../api/migration-types';
import { MigrationStatusBadge } from '../../components/migration-status-badge';
import {
  Ago,
  Button,
  Card,
  Cell,
  EmptyState,
  ErrorNotice,
  LINK_CLASS,
  LinkButton,
  Loading,
  PageTitle,
  Table,
  useFocusFirstNewRow,
} from '../../components/ui';
import { formatBytes, formatDuration } from '../../lib/format';
import {
  isFinished,
  mainResourceName,
  migrationDurationMs,
  MIGRATION_STATUSES,
  resourcesSummary,
  STATUS_LABELS,
} from '../../lib/migration-status';
import { useWorkerNames } from '../../lib/worker-queries';
import { useMigrationHistory } from './migration-queries';

function duration(migration: MigrationJson): string {
  if (!isFinished(migration.status)) return migration.status === 'pending' ? 'not started' : 'running';
  return formatDuration(migrationDurationMs(migration));
}

function Row({ migration, workerName }: { migration: MigrationJson; workerName: (id: string) => string }) {
  return (
    <tr>
      <Cell>
        <Link
          to={`/migrations/${encodeURIComponent(migration.id)}`}
          className={`${LINK_CLASS} font-medium break-all`}
        >
          {mainResourceName(migration)}
        </Link>
        <span className="block text-xs text-slate-600 dark:text-slate-400">
          {resourcesSummary(migration.resources)}
        </span>
      </Cell>
      <Cell>
        <MigrationStatusBadge status={migration.status} />
      </Cell>
      <Cell className="whitespace-nowrap">
        <Ago at={migration.created_at} />
      </Cell>
      <Cell className="whitespace-nowrap">
        {workerName(migration.source_worker_id)} → {workerName(migration.target_worker_id)}
      </Cell>
      <Cell className="whitespace-nowrap">{duration(migration)}</Cell>
      <Cell className="whitespace-nowrap tabular-nums">{formatBytes(migration.bytes_transferred)}</Cell>
    </tr>
  );
}

function HistoryTable({
  migrations,
  ref,
}: {
  migrations: MigrationJson[];
  ref: RefObject<HTMLDivElement | null>;
}) {
  const workerName = useWorkerNames();
  return (
    <div ref={ref}>
      <Card>
        <Table
          wide
          caption="Migrations, newest first"
          // What and how it went first: on a phone, the columns after them are scrolled to.
          columns={['Migration', 'Status', 'When', 'Source → target', 'Duration', 'Bytes']}
        >
          {migrations.map((migration) => (
            <Row key={migration.id} migration={migration} workerName={workerName} />
          ))}
        </Table>
      </Card>
    </div>
  );
}

function StatusFilter({
  value,
  onChange,
  ref,
}: {
  value: MigrationStatus | '';
  onChange: (value: MigrationStatus | '') => void;
  ref: RefObject<HTMLSelectElement | null>;
}) {
  const id = useId();
  return (
    <div className="flex items-center gap-2 text-sm">
      <label htmlFor={id} className="font-medium">
        Status
      </label>
      <select
        ref={ref}
        id={id}
        value={value}
        onChange={(event) => {
          onChange(event.target.value as MigrationStatus | '');
        }}
        className="rounded-md border border-slate-300 bg-white px-2 py-1 dark:border-slate-700 dark:bg-slate-950"
      >
        <option value="">All</option>
        {MIGRATION_STATUSES.map((status) => (
          <option key={status} value={status}>
            {STATUS_LABELS[status]}
          </option>
        ))}
      </select>
    </div>
  );
}

export function HistoryPage() {
  const [status, setStatus] = useState<MigrationStatus | ''>('');
  const statusSelect = useRef<HTMLSelectElement>(null);
  const table = useRef<HTMLDivElement>(null);
  const history = useMigrationHistory(status);
  const migrations = history.data?.pages.flatMap((page) => page.migrations) ?? [];
  const focusFirstNewRow = useFocusFirstNewRow(table, migrations.length);

  return (
    <>
      <PageTitle
        actions={
          <LinkButton to="/migrations/new" variant="primary">
            New migration
          </LinkButton>
        }
      >
        Migrations
      </PageTitle>
      <div className="mb-3">
        <StatusFilter value={status} onChange={setStatus} ref={statusSelect} />
      </div>
      {history.isPending && <Loading what="migrations" />}
      <ErrorNotice error={history.error} title="The migrations could not be loaded" />
      {history.isSuccess && migrations.length === 0 && status === '' && (
        <EmptyState title="No migration has run yet.">
          <Link className={LINK_CLASS} to="/migrations/new">
            Start a migration
          </Link>{' '}
          to move containers, volumes or a compose project to another worker.
        </EmptyState>
      )}
      {history.isSuccess && migrations.length === 0 && status !== '' && (
        <EmptyState title={`No ${STATUS_LABELS[status].toLowerCase()} migrations.`}>
          <Button
            onClick={() => {
              setStatus('');
              // This button goes away with the empty list: focus goes back to the filter it undid.
              statusSelect.current?.focus();
            }}
          >
            Show all migrations
          </Button>
        </EmptyState>
      )}
      {migrations.length > 0 && <HistoryTable migrations={migrations} ref={table} />}
      {history.hasNextPage && (
        <div className="mt-3 flex justify-center">
          <Button
            disabled={history.isFetchingNextPage}
            onClick={() => {
              focusFirstNewRow();
              void history.fetchNextPage();
            }}
          >
            {history.isFetchingNextPage ? 'Loading older migrations…' : 'Load older'}
          </Button>
        </div>
      )}
    </>
  );
}
