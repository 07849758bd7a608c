// The master's live event stream (Server-Sent Events on /api/events) turned into cache updates: a worker going
// offline, a new volume or a migration's progress shows on every page without a reload.
import { useQueryClient, type InfiniteData, type Query, type QueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

import { keys } from './keys';
import type {
  MigrationEventJson,
  MigrationJson,
  MigrationListJson,
  MigrationStatus,
} from './migration-types';

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

/** The last status each migration was seen with, per cache. */
const seenStatuses = new WeakMap<QueryClient, Map<string, MigrationStatus>>();

/** Remembers a migration's status; true when it is new or differs from the one seen before. */
function rememberStatus(client: QueryClient, migration: Pick<MigrationJson, 'id' | 'status'>): boolean {
  let seen = seenStatuses.get(client);
  if (seen === undefined) {
    seen = new Map();
    seenStatuses.set(client, seen);
  }
  const before = seen.get(migration.id);
  seen.set(migration.id, migration.status);
  return before !== migration.status;
}

/** A list of migrations as the dashboard (one page) or the history (pages) keeps it. */
type MigrationList = MigrationListJson | InfiniteData<MigrationListJson>;

/** Lists of migrations sit under ['migrations'], beside single migrations at ['migrations', 'one', id]. */
function isMigrationList(query: Query): boolean {
  return query.queryKey[0] === keys.migrations[0] && query.queryKey[1] !== 'one';
}

function mergeIntoPage(page: MigrationListJson, update: MigrationJson): MigrationListJson {
  if (!page.migrations.some((m) => m.id === update.id)) return page;
  return {
    ...page,
    migrations: page.migrations.map((m) =>
      m.id === update.id ? { ...m, ...update, findings: m.findings } : m,
    ),
  };
}

/** The list with the update's figures in the migration's row; the same list when it does not show it. */
export function mergeIntoList(
  list: MigrationList | undefined,
  update: MigrationJson,
): MigrationList | undefined {
  if (list === undefined) return undefined;
  if ('pages' in list) return { ...list, pages: list.pages.map((page) => mergeIntoPage(page, update)) };
  return mergeIntoPage(list, update);
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
      const statusChanged = rememberStatus(client, migration);
      client.setQueryData<MigrationJson>(keys.migration(migration.id), (previous) =>
        previous === undefined
          ? undefined
          : { ...previous, ...migration, findings: previous.findings, events: previous.events },
      );
      // Progress (one update a second) is merged into the lists that show the migration. A list only changes
      // its rows when a migration starts or ends, and so do the workers' active tasks: only then are they
      // fetched again.
      client.setQueriesData<MigrationList>({ predicate: isMigrationList }, (list) =>
        mergeIntoList(list, migration),
      );
      if (statusChanged) {
        void client.invalidateQueries({ predicate: isMigrationList });
        void client.invalidateQueries({ queryKey: keys.workers });
      }
      return;
    }
    case 'migration.event': {
      const payload = data as { migration_id?: string; event?: MigrationEventJson } | undefined;
      const id = payload?.migration_id;
      if (id === undefined) return;
      const event = payload?.event;
      const shown = client.getQueryData<MigrationJson>(keys.migration(id));
      if (shown === undefined) return;
      // The event log grows in place rather than refetching the whole migration for each line; a migration known
      // without its events (the answer to its start) is fetched whole once.
      if (event === undefined || shown.events === undefined) {
        void client.invalidateQueries({ queryKey: keys.migration(id) });
        return;
      }
      if (shown.events.some((known) => known.id === event.id)) return;
      client.setQueryData<MigrationJson>(keys.migration(id), {
        ...shown,
        events: [...shown.events, event],
      });
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

/** Pauses before opening a stream again after the browser gave up on one, growing with each failure in a row. */
export const RECONNECT_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000];

/** The stream's URL; with the last id seen, so that a new stream starts with the events missed since. */
export function eventsUrl(lastEventId: string | undefined): string {
  return lastEventId === undefined
    ? '/api/events'
    : `/api/events?last_event_id=${encodeURIComponent(lastEventId)}`;
}

/**
 * Keeps one EventSource open while signed in. The browser reconnects by itself after a dropped connection, sending
 * the id of the last event it got (Last-Event-ID), but not after an answer that is not a stream (a 401 once the
 * session ended, a 502 from a proxy while the master restarts or another takes over): it closes the source for
 * good. Then the session is asked again and a new source is opened after a pause, with the last id in its URL.
 * Either way the master sends the events missed meanwhile, or a `reset` when it no longer has them, and then every
 * query is refetched. A stream that never gave an id (a master without the event log) is refetched after each
 * reconnect, since what it sent while down is lost.
 */
export function useLiveEvents(enabled: boolean): LiveState {
  const client = useQueryClient();
  const [state, setState] = useState<LiveState>('connecting');

  useEffect(() => {
    if (!enabled) return undefined;
    let source: EventSource | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    let everOpen = false;
    let lastEventId: string | undefined;

    /** Remembers the id of an event that carries one (the browser's own reconnects track it too). */
    function seen(event: MessageEvent<string>): void {
      if (event.lastEventId !== '') lastEventId = event.lastEventId;
    }

    function connect(): void {
      const current = new EventSource(eventsUrl(lastEventId), { withCredentials: true });
      source = current;
      current.onopen = () => {
        if (everOpen && lastEventId === undefined) void client.invalidateQueries();
        everOpen = true;
        failures = 0;
        setState('live');
      };
      current.onerror = () => {
        setState('reconnecting');
        if (current.readyState !== EventSource.CLOSED) return;
        void client.invalidateQueries({ queryKey: keys.session });
        const delay = RECONNECT_DELAYS_MS[Math.min(failures, RECONNECT_DELAYS_MS.length - 1)];
        failures += 1;
        retry = setTimeout(connect, delay);
      };
      for (const type of EVENT_TYPES) {
        current.addEventListener(type, (event: MessageEvent<string>) => {
          seen(event);
          applyLiveEvent(client, type, parse(event));
        });
      }
      // The master cannot send what was missed (too old, or another database): everything shown is fetched again.
      current.addEventListener('reset', (event: MessageEvent<string>) => {
        seen(event);
        void client.invalidateQueries();
      });
    }

    connect();
    return () => {
      clearTimeout(retry);
      source?.close();
    };
  }, [client, enabled]);

  return state;
}
