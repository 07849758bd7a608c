// Queries and mutations about workers, for every page (dashboard, worker, enroll, and the migration pages): one
// fetcher per endpoint, keyed so that live events refresh them.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';

import { api } from '../api/client';
import { keys } from '../api/keys';
import type { MigrationListJson } from '../api/migration-types';
import type { ContainerAnswerJson, WorkerJson, WorkerResourcesJson } from '../api/worker-types';

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

/** Worker names by id, for "alpha → beta"; an id the master no longer knows is shown as it is. */
export function useWorkerNames(): (id: string) => string {
  const workers = useWorkers();
  return (id) => workers.data?.find((worker) => worker.id === id)?.name ?? id;
}

export function useWorker(id: string) {
  return useQuery({
    queryKey: keys.worker(id),
    queryFn: ({ signal }) => api<{ worker: WorkerJson }>(workerPath(id), { signal }),
    select: (data) => data.worker,
  });
}

/** A worker's Docker resources as it last reported them; nothing is asked while `id` is null. */
export function useWorkerResources(id: string | null) {
  return useQuery({
    queryKey: keys.resources(id ?? ''),
    queryFn: ({ signal }) => api<WorkerResourcesJson>(`${workerPath(id ?? '')}/resources`, { signal }),
    enabled: id !== null,
  });
}

/** One container's details, read live from its worker's engine. */
export function useContainerDetails(workerId: string, containerId: string) {
  return useQuery({
    queryKey: keys.container(workerId, containerId),
    queryFn: ({ signal }) =>
      api<ContainerAnswerJson>(
        `/api/containers/${encodeURIComponent(containerId)}?${new URLSearchParams({ worker_id: workerId }).toString()}`,
        { signal },
      ),
    select: (data) => data.details,
    // The worker may be offline or the container gone: say so at once rather than after three retries.
    retry: false,
  });
}

export function useActiveMigrations() {
  return useQuery({
    queryKey: keys.activeMigrations,
    queryFn: ({ signal }) => api<MigrationListJson>('/api/migrations?status=pending,running', { signal }),
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
