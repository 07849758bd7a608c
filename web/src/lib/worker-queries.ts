// Queries and mutations of the worker pages (dashboard, worker, enroll), keyed so live events refresh them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { api } from '../api/client';
import { keys } from '../api/keys';
import type { MigrationJson } from '../api/migration-types';
import type { WorkerJson, WorkerResourcesJson } from '../api/worker-types';

function workerPath(id: string): string {
  return `/api/workers/${encodeURIComponent(id)}`;
}

export function useWorkers() {
  return useQuery({
    queryKey: keys.workers,
    queryFn: ({ signal }) => api<{ workers: WorkerJson[] }>('/api/workers', { signal }),
    select: (data) => data.workers,
  });
}

export function useWorker(id: string) {
  return useQuery({
    queryKey: keys.worker(id),
    queryFn: ({ signal }) => api<{ worker: WorkerJson }>(workerPath(id), { signal }),
    select: (data) => data.worker,
  });
}

export function useWorkerResources(id: string, enabled: boolean) {
  return useQuery({
    queryKey: keys.resources(id),
    queryFn: ({ signal }) => api<WorkerResourcesJson>(`${workerPath(id)}/resources`, { signal }),
    enabled,
  });
}

/**
 * Key of the active-migrations list. It sits under keys.workers on purpose: live events invalidate keys.workers
 * (a prefix) on every migration.updated, whereas keys.migrations is invalidated exactly and would leave this
 * list, and its progress bars, stale.
 */
export const ACTIVE_MIGRATIONS_KEY = [...keys.workers, 'active-migrations'] as const;

export function useActiveMigrations() {
  return useQuery({
    queryKey: ACTIVE_MIGRATIONS_KEY,
    queryFn: ({ signal }) =>
      api<{ migrations: MigrationJson[]; next_before: string | null }>(
        '/api/migrations?status=pending,running',
        { signal },
      ),
    select: (data) => data.migrations,
  });
}

/** Removes (revokes) a worker and forgets what the cache knew of it. */
export function useRemoveWorker(id: string) {
  const client = useQueryClient();
  return useMutation({
    mutationFn: () => api<{ removed: boolean; worker_id: string }>(workerPath(id), { method: 'DELETE' }),
    onSuccess: () => {
      client.removeQueries({ queryKey: keys.worker(id), exact: true });
      client.removeQueries({ queryKey: keys.resources(id), exact: true });
      client.setQueryData<{ workers: WorkerJson[] }>(keys.workers, (previous) =>
        previous === undefined
          ? undefined
          : { workers: previous.workers.filter((worker) => worker.id !== id) },
      );
      void client.invalidateQueries({ queryKey: keys.workers, exact: true });
    },
  });
}
