// The history page against a fake API: rows, paging, the status filter, the empty state and errors.
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { fakeApi, type FakeRoute } from '../../testing/fake-api';
import { APP_PLAN, MIB, migration, planned, WORKERS } from '../../testing/fixtures';
import { renderAt } from '../../testing/render';
import { HistoryPage } from './history';

const COMPLETED = migration({
  id: 'm-000000000003',
  status: 'completed',
  phase: 'done',
  progress: 1,
  bytes_transferred: 202 * MIB,
  created_at: '2026-11-29T10:00:00.000Z',
  started_at: '2026-11-29T10:00:01.000Z',
  completed_at: '2026-11-29T10:02:06.000Z',
});

const RUNNING = migration({
  id: 'm-000000000004',
  resources: [planned({ type: 'volume', name: 'scratch', reason: 'requested' })],
  source_worker_id: 'w-beta',
  target_worker_id: 'w-removed',
});

const OLDER = migration({
  id: 'm-000000000001',
  status: 'rolled_back',
  phase: 'done',
  resources: [],
  created_at: '2026-11-28T09:00:00.000Z',
  completed_at: '2026-11-28T09:00:09.000Z',
  started_at: '2026-11-28T09:00:00.000Z',
});

function renderHistory(routes: Record<string, FakeRoute>) {
  const api = fakeApi({ 'GET /api/workers': { body: { workers: WORKERS } }, ...routes });
  renderAt('/migrations', [
    { path: '/migrations', element: <HistoryPage /> },
    { path: '/migrations/new', element: <p>the wizard</p> },
  ]);
  return api;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('HistoryPage', () => {
  it('lists migrations newest first with where, what, status, duration and bytes', async () => {
    renderHistory({
      'GET /api/migrations?limit=25': { body: { migrations: [RUNNING, COMPLETED], next_before: null } },
    });

    const link = await screen.findByRole('link', { name: 'app-1' });
    expect(link).toHaveAttribute('href', '/migrations/m-000000000003');
    const table = screen.getByRole('table', { name: 'Migrations, newest first' });
    const rows = within(table).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(2);

    const [running, completed] = rows;
    expect(within(running!).getByRole('link', { name: 'scratch' })).toHaveAttribute(
      'href',
      '/migrations/m-000000000004',
    );
    expect(running).toHaveTextContent('Running');
    expect(running).toHaveTextContent('running');
    // A worker the master no longer knows is shown by its id.
    await waitFor(() => {
      expect(running).toHaveTextContent('beta → w-removed');
    });

    expect(completed).toHaveTextContent('alpha → beta');
    expect(completed).toHaveTextContent('app-1 + 3 dependencies');
    expect(completed).toHaveTextContent('Completed');
    expect(completed).toHaveTextContent('2 min 5 s');
    expect(completed).toHaveTextContent('202 MiB');
    expect(screen.queryByRole('button', { name: 'Load older' })).not.toBeInTheDocument();
  });

  it('pages back with "Load older"', async () => {
    const user = userEvent.setup();
    const { calls } = renderHistory({
      'GET /api/migrations?limit=25': { body: { migrations: [COMPLETED], next_before: COMPLETED.id } },
      'GET /api/migrations?limit=25&before=m-000000000003': {
        body: { migrations: [OLDER], next_before: null },
      },
    });

    await user.click(await screen.findByRole('button', { name: 'Load older' }));
    const link = await screen.findByRole('link', { name: 'm-000000000001' });
    expect(link.closest('tr')).toHaveTextContent('Rolled back');
    expect(link.closest('tr')).toHaveFocus();
    expect(screen.getAllByRole('row')).toHaveLength(3);
    expect(screen.queryByRole('button', { name: 'Load older' })).not.toBeInTheDocument();
    expect(calls.map((call) => call.path)).toContain('/api/migrations?limit=25&before=m-000000000003');
  });

  it('narrows the list by status', async () => {
    const user = userEvent.setup();
    renderHistory({
      'GET /api/migrations?limit=25': {
        body: { migrations: [RUNNING, COMPLETED, OLDER], next_before: null },
      },
      'GET /api/migrations?limit=25&status=rolled_back': { body: { migrations: [OLDER], next_before: null } },
      'GET /api/migrations?limit=25&status=failed': { body: { migrations: [], next_before: null } },
    });
    await screen.findByRole('link', { name: 'app-1' });

    await user.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'Rolled back');
    await waitFor(() => {
      expect(screen.queryByRole('link', { name: 'app-1' })).not.toBeInTheDocument();
    });
    expect(screen.getByRole('link', { name: 'm-000000000001' })).toBeInTheDocument();

    await user.selectOptions(screen.getByRole('combobox', { name: 'Status' }), 'Failed');
    expect(await screen.findByText('No failed migrations.')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Show all migrations' }));
    expect(await screen.findByRole('link', { name: 'app-1' })).toBeInTheDocument();
    expect(screen.getByRole('combobox', { name: 'Status' })).toHaveFocus();
    expect(screen.getByRole('combobox', { name: 'Status' })).toHaveValue('');
  });

  it('says what to do when there is no migration yet', async () => {
    const user = userEvent.setup();
    renderHistory({ 'GET /api/migrations?limit=25': { body: { migrations: [], next_before: null } } });
    expect(await screen.findByText('No migration has run yet.')).toBeInTheDocument();
    await user.click(screen.getByRole('link', { name: 'Start a migration' }));
    expect(await screen.findByText('the wizard')).toBeInTheDocument();
  });

  it('keeps "when" moving on a page left open', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    vi.setSystemTime(Date.parse('2026-11-29T10:00:30.000Z'));
    renderHistory({
      'GET /api/migrations?limit=25': { body: { migrations: [COMPLETED], next_before: null } },
    });
    const row = (await screen.findByRole('link', { name: 'app-1' })).closest('tr')!;
    expect(row).toHaveTextContent('30 s ago');

    act(() => {
      vi.advanceTimersByTime(60_000);
    });

    expect(row).toHaveTextContent('1 min ago');
  });

  it('shows an API error in words', async () => {
    renderHistory({
      'GET /api/migrations?limit=25': {
        status: 400,
        body: { error: { code: 'invalid_argument', message: 'unknown status "paused"' } },
      },
    });
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The migrations could not be loadedunknown status "paused"',
    );
  });

  it('keeps the plan of a migration with many resources short', async () => {
    renderHistory({
      'GET /api/migrations?limit=25': {
        body: {
          migrations: [
            migration({
              resources: [
                ...APP_PLAN,
                planned({ type: 'container', name: 'db-1', reason: 'compose' }),
                planned({ type: 'container', name: 'worker-1', reason: 'compose' }),
              ],
            }),
          ],
          next_before: null,
        },
      },
    });
    expect(await screen.findByText('app-1, db-1 and 1 more + 3 dependencies')).toBeInTheDocument();
  });
});
