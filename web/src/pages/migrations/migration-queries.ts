// Queries and mutations of the migration pages (workers and their resources come from lib/worker-queries.ts). One
// migration lives under keys.migration(id) as MigrationJson, the shape the live event stream merges its figures into.
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { api } from '../../api/client';
import { keys } from '../../api/keys';
import type {
  DryRunJson,
  MigrationJson,
  MigrationListJson,
  MigrationRequestBody,
  MigrationStatus,
  ReverseRequestBody,
} from '../../api/migration-types';
import { isFinished } from '../../lib/migration-status';

/** Migrations per page of the history. */
export const HISTORY_PAGE_SIZE = 25;

/** While a migration runs, its page also polls this often, in case a live event was missed. */
export const LIVE_SAFETY_NET_MS = 5_000;

function migrationPath(id: string): string {
  return `/api/migrations/${encodeURIComponent(id)}`;
}

export function useMigration(id: string) {
  return useQuery({
    queryKey: keys.migration(id),
    queryFn: async ({ signal }) =>
      (await api<{ migration: MigrationJson }>(migrationPath(id), { signal })).migration,
    refetchInterval: (query) => {
      const status = query.state.data?.status;
      return status === undefined || isFinished(status) ? false : LIVE_SAFETY_NET_MS;
    },
  });
}

export function useCancelMigration(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ migration: MigrationJson }>(`${migrationPath(id)}/cancel`, { method: 'POST' }),
    onSuccess: ({ migration }) => {
      client.setQueryData<MigrationJson>(keys.migration(id), (previous) =>
        previous === undefined ? migration : { ...previous, ...migration, events: previous.events },
      );
      void client.invalidateQueries({ queryKey: keys.migration(id) });
    },
  });
}

function historyPath(status: MigrationStatus | '', before: string | undefined): string {
  const query = new URLSearchParams({ limit: String(HISTORY_PAGE_SIZE) });
  if (before !== undefined) query.set('before', before);
  if (status !== '') query.set('status', status);
  return `/api/migrations?${query.toString()}`;
}

/**
 * All migrations, newest first, a page at a time; `status` narrows to one status. Live events keep it current:
 * they move progress into its rows and fetch it again when a migration starts or ends (api/live-events.ts).
 */
export function useMigrationHistory(status: MigrationStatus | '') {
  return useInfiniteQuery({
    queryKey: keys.history(status),
    queryFn: ({ signal, pageParam }) => api<MigrationListJson>(historyPath(status, pageParam), { signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_before ?? undefined,
  });
}

/**
 * The preflight of a request, asked once per distinct request. It changes nothing, so it is a query; it is not
 * refetched on focus, so the findings the user read stay the ones shown.
 */
export function useDryRun(body: MigrationRequestBody | null) {
  return useQuery({
    queryKey: keys.dryRun(body),
    queryFn: ({ signal }) => api<DryRunJson>('/api/migrations', { method: 'POST', body, signal }),
    enabled: body !== null,
    staleTime: Infinity,
    gcTime: 0,
    refetchOnWindowFocus: false,
    retry: false,
  });
}

export function useStartMigration() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: MigrationRequestBody) =>
      api<{ migration: MigrationJson }>('/api/migrations', {
        method: 'POST',
        body: { ...body, dry_run: false },
      }),
    onSuccess: ({ migration }) => {
      client.setQueryData<MigrationJson>(keys.migration(migration.id), migration);
      void client.invalidateQueries({ queryKey: keys.migrations });
    },
  });
}

/** Moves a completed migration back (POST /api/migrations/:id/reverse); the answer is the new migration. */
export function useReverseMigration(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (body: ReverseRequestBody = {}) =>
      api<{ migration: MigrationJson }>(`${migrationPath(id)}/reverse`, {
        method: 'POST',
        body: { ...body, dry_run: false },
      }),
    onSuccess: ({ migration }) => {
      client.setQueryData<MigrationJson>(keys.migration(migration.id), migration);
      void client.invalidateQueries({ queryKey: keys.migrations });
      void client.invalidateQueries({ queryKey: keys.migration(id) });
    },
  });
}
