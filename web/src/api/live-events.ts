// The master's live event stream (Server-Sent Events on /api/events) turned into cache updates: a worker going
// offline, a new volume or a migration's progress shows on every page without a reload.
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

import { keys } from './keys';
import type { MigrationJson } from './migration-types';

export type LiveState = 'connecting' | 'live' | 'reconnecting';

interface WorkerEventData {
  worker?: { id: string };
  worker_id?: string;
}

function parse(event: MessageEvent<string>): unknown {
  try {
    return JSON.parse(event.data) as unknown;
  } catch {
    return undefined;
  }
}

/** Applies one named event to the query cache. Exported for tests. */
export function applyLiveEvent(client: QueryClient, type: string, data: unknown): void {
  switch (type) {
    case 'worker.online':
    case 'worker.offline':
    case 'worker.enrolled':
    case 'worker.removed': {
      const payload = data as WorkerEventData | undefined;
      void client.invalidateQueries({ queryKey: keys.workers });
      const id = payload?.worker?.id ?? payload?.worker_id;
      if (id !== undefined) void client.invalidateQueries({ queryKey: keys.resources(id) });
      return;
    }
    case 'inventory.changed': {
      const payload = data as { worker_id?: string } | undefined;
      void client.invalidateQueries({ queryKey: keys.workers });
      if (payload?.worker_id !== undefined) {
        void client.invalidateQueries({ queryKey: keys.resources(payload.worker_id) });
      }
      return;
    }
    case 'migration.updated': {
      const migration = (data as { migration?: MigrationJson } | undefined)?.migration;
      if (migration === undefined) return;
      client.setQueryData<MigrationJson>(keys.migration(migration.id), (previous) =>
        previous === undefined
          ? undefined
          : { ...previous, ...migration, findings: previous.findings, events: previous.events },
      );
      // Lists of migrations refetch; single migrations were just updated in place and are left alone.
      void client.invalidateQueries({
        predicate: (query) => query.queryKey[0] === keys.migrations[0] && query.queryKey[1] !== 'one',
      });
      void client.invalidateQueries({ queryKey: keys.workers });
      return;
    }
    case 'migration.event': {
      const id = (data as { migration_id?: string } | undefined)?.migration_id;
      if (id !== undefined) void client.invalidateQueries({ queryKey: keys.migration(id) });
      return;
    }
    default:
      return;
  }
}

const EVENT_TYPES = [
  'worker.online',
  'worker.offline',
  'worker.enrolled',
  'worker.removed',
  'inventory.changed',
  'migration.updated',
  'migration.event',
];

/**
 * Keeps one EventSource open while signed in. The browser reconnects by itself; after a reconnect every query is
 * refetched, since events sent while the stream was down are lost.
 */
export function useLiveEvents(enabled: boolean): LiveState {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');

  useEffect(() => {
    if (!enabled) return undefined;
    const source = new EventSource('/api/events', { withCredentials: true });
    let everOpen = false;
    source.onopen = () => {
      if (everOpen) void client.invalidateQueries();
      everOpen = true;
      setState('live');
    };
    source.onerror = () => {
      setState('reconnecting');
      // A 401 closes the stream for good: ask the session whether we are still signed in.
      if (source.readyState === EventSource.CLOSED) void client.invalidateQueries({ queryKey: keys.session });
    };
    const handlers = EVENT_TYPES.map((type) => {
      const handler = (event: MessageEvent<string>): void => {
        applyLiveEvent(client, type, parse(event));
      };
      source.addEventListener(type, handler);
      return [type, handler] as const;
    });
    return () => {
      for (const [type, handler] of handlers) source.removeEventListener(type, handler);
      source.close();
    };
  }, [client, enabled]);

  return state;
}
