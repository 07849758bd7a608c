// Live events: how each changes the cache, and a stream the browser gave up on opened again.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { migration } from '../testing/fixtures';
import { keys } from './keys';
import { applyLiveEvent, eventsUrl, RECONNECT_DELAYS_MS, useLiveEvents } from './live-events';
import type { MigrationEventJson, MigrationJson } from './migration-types';

function event(id: number, message: string): MigrationEventJson {
  return { id, at: '2026-11-29T12:00:00.000Z', level: 'info', phase: 'transfer', message };
}

describe('applyLiveEvent', () => {
  it('refreshes the workers when a migration starts or ends, not with each progress update', () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries');
    const workersRefreshed = () =>
      invalidate.mock.calls.filter(([filters]) => filters?.queryKey === keys.workers).length;

    applyLiveEvent(client, 'migration.updated', { migration: migration({ id: 'm-2', status: 'running' }) });
    applyLiveEvent(client, 'migration.updated', { migration: migration({ id: 'm-2', progress: 0.5 }) });
    applyLiveEvent(client, 'migration.updated', { migration: migration({ id: 'm-2', progress: 0.6 }) });
    expect(workersRefreshed()).toBe(1);

    applyLiveEvent(client, 'migration.updated', { migration: migration({ id: 'm-2', status: 'completed' }) });
    expect(workersRefreshed()).toBe(2);
    // The lists of migrations are fetched again only when one starts or ends, too.
    expect(invalidate.mock.calls.filter(([filters]) => filters?.predicate !== undefined)).toHaveLength(2);
  });

  it('moves the progress of a migration into every list showing it, without fetching the lists', () => {
    const client = new QueryClient();
    const running = migration({ id: 'm-3', status: 'running', progress: 0.1 });
    const other = migration({ id: 'm-4', status: 'completed', progress: 1 });
    client.setQueryData(keys.activeMigrations, { migrations: [running], next_before: null });
    client.setQueryData(keys.history(''), {
      pages: [{ migrations: [running, other], next_before: null }],
      pageParams: [undefined],
    });
    applyLiveEvent(client, 'migration.updated', { migration: running });
    const invalidate = vi.spyOn(client, 'invalidateQueries');

    applyLiveEvent(client, 'migration.updated', { migration: { ...running, progress: 0.6 } });

    expect(invalidate).not.toHaveBeenCalled();
    const active = client.getQueryData<{ migrations: MigrationJson[] }>(keys.activeMigrations);
    expect(active?.migrations[0]?.progress).toBe(0.6);
    const history = client.getQueryData<{ pages: { migrations: MigrationJson[] }[] }>(keys.history(''));
    expect(history?.pages[0]?.migrations.map((m) => m.progress)).toEqual([0.6, 1]);
  });

  it('adds a migration event to the log shown, once, without fetching the migration again', () => {
    const client = new QueryClient();
    client.setQueryData(keys.migration('m-1'), migration({ id: 'm-1', events: [event(1, 'planned')] }));
    const invalidate = vi.spyOn(client, 'invalidateQueries');

    applyLiveEvent(client, 'migration.event', { migration_id: 'm-1', event: event(2, 'copying') });
    applyLiveEvent(client, 'migration.event', { migration_id: 'm-1', event: event(2, 'copying') });

    const shown = client.getQueryData<MigrationJson>(keys.migration('m-1'));
    expect(shown?.events?.map((e) => e.message)).toEqual(['planned', 'copying']);
    expect(invalidate).not.toHaveBeenCalled();
  });

  it('fetches a migration known without its events (the answer to its start) whole', () => {
    const client = new QueryClient();
    client.setQueryData(keys.migration('m-1'), migration({ id: 'm-1', events: undefined }));
    const invalidate = vi.spyOn(client, 'invalidateQueries');

    applyLiveEvent(client, 'migration.event', { migration_id: 'm-1', event: event(1, 'planned') });

    expect(invalidate).toHaveBeenCalledWith({ queryKey: keys.migration('m-1') });
  });

  it('merges a migration update into the migration shown, keeping its findings and events', () => {
    const client = new QueryClient();
    client.setQueryData(
      keys.migration('m-1'),
      migration({ id: 'm-1', progress: 0.1, events: [event(1, 'planned')] }),
    );
    const update: Partial<MigrationJson> = { ...migration({ id: 'm-1', progress: 0.7 }) };
    delete update.findings;
    delete update.events;

    applyLiveEvent(client, 'migration.updated', { migration: update });

    const shown = client.getQueryData<MigrationJson>(keys.migration('m-1'));
    expect(shown?.progress).toBe(0.7);
    expect(shown?.events).toHaveLength(1);
    expect(shown?.findings).toEqual([]);
  });
});

/** A stand-in for the browser's EventSource: the test opens, fails and closes it. */
class FakeEventSource {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 2;
  static opened: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeEventSource.opened.push(this);
  }
  readonly listeners = new Map<string, ((event: MessageEvent<string>) => void)[]>();
  addEventListener(type: string, listener: (event: MessageEvent<string>) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  /** Delivers a named event, as the browser does, with the id it carried ('' for none). */
  emit(type: string, data: unknown, lastEventId = ''): void {
    const event = new MessageEvent<string>(type, { data: JSON.stringify(data), lastEventId });
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
  close(): void {
    this.readyState = FakeEventSource.CLOSED;
  }
  open(): void {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.();
  }
  /** What the browser does on a refused answer (401, 502): an error with the source closed for good. */
  refuse(): void {
    this.readyState = FakeEventSource.CLOSED;
    this.onerror?.();
  }
}

function Live() {
  return <p>{useLiveEvents(true)}</p>;
}

afterEach(() => {
  FakeEventSource.opened = [];
  vi.useRealTimers();
});

describe('useLiveEvents', () => {
  it('opens a new stream after the browser gave one up, and refetches what was missed', () => {
    vi.useFakeTimers();
    vi.stubGlobal('EventSource', FakeEventSource);
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries').mockResolvedValue();
    const view = render(
      <QueryClientProvider client={client}>
        <Live />
      </QueryClientProvider>,
    );
    act(() => {
      FakeEventSource.opened[0]!.open();
    });
    expect(screen.getByText('live')).toBeInTheDocument();
    expect(invalidate).not.toHaveBeenCalled();

    act(() => {
      FakeEventSource.opened[0]!.refuse();
    });
    expect(screen.getByText('reconnecting')).toBeInTheDocument();
    expect(invalidate).toHaveBeenCalledWith({ queryKey: keys.session });
    act(() => {
      vi.advanceTimersByTime(RECONNECT_DELAYS_MS[0]!);
    });
    expect(FakeEventSource.opened).toHaveLength(2);

    act(() => {
      FakeEventSource.opened[1]!.open();
    });
    expect(screen.getByText('live')).toBeInTheDocument();
    expect(invalidate).toHaveBeenLastCalledWith();

    act(() => {
      FakeEventSource.opened[1]!.refuse();
    });
    view.unmount();
    expect(vi.getTimerCount()).toBe(0);
    expect(FakeEventSource.opened.every((source) => source.readyState === FakeEventSource.CLOSED)).toBe(true);
  });

  it('opens the new stream from the last id it saw, and refetches nothing: the master sends what was missed', () => {
    vi.useFakeTimers();
    vi.stubGlobal('EventSource', FakeEventSource);
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries').mockResolvedValue();
    const view = render(
      <QueryClientProvider client={client}>
        <Live />
      </QueryClientProvider>,
    );
    const first = FakeEventSource.opened[0]!;
    expect(first.url).toBe('/api/events');
    act(() => {
      first.open();
      first.emit('worker.removed', { worker_id: 'w-1' }, '41');
      first.emit('worker.removed', { worker_id: 'w-2' }, '42');
      first.refuse();
    });
    act(() => {
      vi.advanceTimersByTime(RECONNECT_DELAYS_MS[0]!);
    });
    const second = FakeEventSource.opened[1]!;
    expect(second.url).toBe('/api/events?last_event_id=42');
    invalidate.mockClear();
    act(() => {
      second.open();
    });
    expect(screen.getByText('live')).toBeInTheDocument();
    expect(invalidate).not.toHaveBeenCalled();
    view.unmount();
  });

  it('refetches every query when the master answers with a reset', () => {
    vi.stubGlobal('EventSource', FakeEventSource);
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, 'invalidateQueries').mockResolvedValue();
    const view = render(
      <QueryClientProvider client={client}>
        <Live />
      </QueryClientProvider>,
    );
    act(() => {
      FakeEventSource.opened[0]!.open();
      FakeEventSource.opened[0]!.emit('reset', { reason: 'pruned', message: 'gone' }, '90');
    });
    expect(invalidate).toHaveBeenCalledWith();
    view.unmount();
  });

  it('puts the last id in the URL, encoded', () => {
    expect(eventsUrl(undefined)).toBe('/api/events');
    expect(eventsUrl('7')).toBe('/api/events?last_event_id=7');
    expect(eventsUrl('a b')).toBe('/api/events?last_event_id=a%20b');
  });
});
