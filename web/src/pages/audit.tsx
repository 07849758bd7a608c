// The audit log: every mutating API call and what the master records by itself (a migration's end, enrolments),
// newest first, paged back 50 at a time; a summary line says who moved what where.
import { useInfiniteQuery } from '@tanstack/react-query';
import { useRef } from 'react';
import { Link } from 'react-router';

import { api } from '../api/client';
import { keys } from '../api/keys';
import type { AuditEntryJson } from '../api/worker-types';
import {
  Ago,
  Badge,
  Button,
  Cell,
  EmptyState,
  ErrorNotice,
  Loading,
  PageTitle,
  Table,
  useFocusFirstNewRow,
} from '../components/ui';
import { formatDateTime } from '../lib/format';

const PAGE_SIZE = 50;

function useAuditLog() {
  return useInfiniteQuery({
    queryKey: keys.audit,
    queryFn: ({ pageParam, signal }) => {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (pageParam !== undefined) query.set('before', String(pageParam));
      return api<{ entries: AuditEntryJson[] }>(`/api/audit?${query.toString()}`, { signal });
    },
    initialPageParam: undefined as number | undefined,
    // A short page is the last one: there is nothing older.
    getNextPageParam: (page) => (page.entries.length < PAGE_SIZE ? undefined : page.entries.at(-1)?.id),
    // The log has no live events of its own: opening the page always shows the latest entries.
    refetchOnMount: 'always',
  });
}

function Details({ details }: { details: Record<string, unknown> }) {
  const entries = Object.entries(details);
  if (entries.length === 0) return null;
  return (
    <ul className="mt-0.5 text-xs text-slate-500 dark:text-slate-400">
      {entries.map(([key, value]) => (
        <li key={key} className="break-words">
          {key}: {typeof value === 'string' ? value : JSON.stringify(value)}
        </li>
      ))}
    </ul>
  );
}

/** Migration ids link to the migration's page; other targets (a worker id, "hosta → hostb") are shown as they are. */
function Target({ target }: { target: string | null }) {
  if (target === null) return <span className="text-slate-600 dark:text-slate-400">—</span>;
  if (/^m-[0-9a-f]{12}$/.test(target))
    return (
      <Link className="font-mono text-xs underline" to={`/migrations/${encodeURIComponent(target)}`}>
        {target}
      </Link>
    );
  return <>{target}</>;
}

function AuditRow({ entry }: { entry: AuditEntryJson }) {
  const summary = entry.summary ?? null;
  return (
    <tr>
      <Cell className="whitespace-nowrap">
        <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
        <div className="text-xs text-slate-500 dark:text-slate-400">
          <Ago at={entry.at} />
        </div>
      </Cell>
      <Cell>{entry.actor}</Cell>
      <Cell className="font-mono text-xs">{entry.action}</Cell>
      <Cell className="break-words">
        <Target target={entry.target} />
      </Cell>
      <Cell className="min-w-[16rem] break-words">
        {summary ?? (Object.keys(entry.details).length === 0 ? '—' : null)}
        {summary === null ? (
          <Details details={entry.details} />
        ) : (
          Object.keys(entry.details).length > 0 && (
            <details className="mt-0.5">
              <summary className="cursor-pointer text-xs text-slate-500 dark:text-slate-400">Details</summary>
              <Details details={entry.details} />
            </details>
          )
        )}
      </Cell>
      <Cell>
        <Badge tone={entry.outcome === 'ok' ? 'green' : 'red'}>{entry.outcome}</Badge>
      </Cell>
      {/* 0: no HTTP call answered it (the master's own entries, a worker's enrolment over gRPC). */}
      <Cell>{entry.status === 0 ? '—' : entry.status}</Cell>
      <Cell className="font-mono text-xs">{entry.remote_address ?? '—'}</Cell>
    </tr>
  );
}

export function AuditPage() {
  const log = useAuditLog();
  const entries = log.data?.pages.flatMap((page) => page.entries) ?? [];
  const table = useRef<HTMLDivElement>(null);
  const focusFirstNewRow = useFocusFirstNewRow(table, entries.length);
  return (
    <>
      <PageTitle
        actions={
          <Button
            onClick={() => {
              void log.refetch();
            }}
            disabled={log.isFetching}
          >
            Refresh
          </Button>
        }
      >
        Audit log
      </PageTitle>
      <div className="space-y-4">
        <p className="text-sm text-slate-600 dark:text-slate-400">
          Every change made through the API or this UI — sign-ins, enrollments, removals, migrations and their
          dry runs — and how each migration ended.
        </p>
        {log.isPending && <Loading what="the audit log" />}
        <ErrorNotice error={log.error} title="The audit log could not be loaded" />
        {log.isSuccess && entries.length === 0 && (
          <EmptyState title="Nothing has been recorded yet.">
            Actions such as enrolling a worker or starting a migration appear here as they happen.
          </EmptyState>
        )}
        {entries.length > 0 && (
          <div
            ref={table}
            className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
          >
            <Table
              wide
              caption="Audit log, newest first"
              columns={[
                'When',
                'Actor',
                'Action',
                'Target',
                'Summary',
                'Outcome',
                'Status',
                'Remote address',
              ]}
            >
              {entries.map((entry) => (
                <AuditRow key={entry.id} entry={entry} />
              ))}
            </Table>
          </div>
        )}
        {log.hasNextPage && (
          <Button
            onClick={() => {
              focusFirstNewRow();
              void log.fetchNextPage();
            }}
            disabled={log.isFetchingNextPage}
          >
            {log.isFetchingNextPage ? 'Loading older entries…' : 'Load older'}
          </Button>
        )}
        {log.isSuccess && !log.hasNextPage && entries.length > 0 && (
          <p className="text-xs text-slate-500 dark:text-slate-400">That is the oldest entry.</p>
        )}
      </div>
    </>
  );
}
