// The migration page against a fake API: live figures, the stepper, results, cancelling and unknown ids.
import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { applyLiveEvent } from '../../api/live-events';
import type { MigrationEventJson, MigrationJson } from '../../api/migration-types';
import { apiError, fakeApi, type FakeRoute } from '../../testing/fake-api';
import { APP_PLAN, MIB, migration, planned, WORKERS } from '../../testing/fixtures';
import { renderAt } from '../../testing/render';
import { MigrationPage } from './migration';

function event(
  id: number,
  phase: MigrationEventJson['phase'],
  message: string,
  level: MigrationEventJson['level'] = 'info',
): MigrationEventJson {
  return { id, at: `2026-11-29T11:59:${String(id).padStart(2, '0')}.000Z`, level, phase, message };
}

const RUNNING_EVENTS = [
  event(1, 'preflight', 'planned 4 resources'),
  event(2, 'prepare', 'target ready'),
  event(3, 'transfer', 'copying volume app-data'),
];

function renderMigration(
  answer: MigrationJson | ReturnType<typeof apiError>,
  extra: Record<string, FakeRoute> = {},
) {
  const api = fakeApi({
    'GET /api/workers': { body: { workers: WORKERS } },
    'GET /api/migrations/m-0a1b2c3d4e5f':
      'status' in answer && typeof answer.status === 'number' ? answer : { body: { migration: answer } },
    ...extra,
  });
  const view = renderAt('/migrations/m-0a1b2c3d4e5f', [
    { path: '/migrations/:id', element: <MigrationPage /> },
  ]);
  return { ...view, ...api };
}

const RUNNING = migration({
  events: RUNNING_EVENTS,
  resources: [
    planned({ type: 'network', name: 'shop_default', source_id: 'n-shop', status: 'done' }),
    planned({
      type: 'image',
      name: 'nginx:1.27',
      source_id: 'sha256:img-nginx',
      status: 'done',
      bytes: 68 * MIB,
      estimated_bytes: 68 * MIB,
    }),
    planned({
      type: 'volume',
      name: 'app-data',
      status: 'running',
      bytes: 12 * MIB,
      estimated_bytes: 132 * MIB,
    }),
    planned({
      type: 'container',
      name: 'app-1',
      source_id: 'c0ffee000001',
      reason: 'requested',
      target_name: 'app-1-migrated',
    }),
  ],
});

describe('MigrationPage', () => {
  it('shows the live figures of a running migration', async () => {
    renderMigration(RUNNING);

    expect(await screen.findByRole('heading', { name: /Migration of app-1/ })).toHaveTextContent('Running');
    expect(screen.getByRole('progressbar', { name: 'Overall progress' })).toHaveAttribute(
      'aria-valuenow',
      '40',
    );
    expect(screen.getByText('80 MiB of 200 MiB')).toBeInTheDocument();
    expect(screen.getByText('10 MiB/s')).toBeInTheDocument();
    // 120 MiB left at 10 MiB/s.
    expect(screen.getByText('12 s')).toBeInTheDocument();
    expect(await screen.findByText('alpha')).toBeInTheDocument();
    expect(screen.getByText('beta')).toBeInTheDocument();

    const stepper = screen.getByRole('list', { name: 'Phases' });
    expect(
      within(stepper)
        .getByText(/Transfer/)
        .closest('li'),
    ).toHaveAttribute('aria-current', 'step');
    expect(within(stepper).getByText(/Prepare/)).toHaveTextContent('(done)');
    expect(within(stepper).queryByText(/Rollback/)).not.toBeInTheDocument();

    const volume = screen.getByRole('row', { name: /volume app-data/ });
    expect(volume).toHaveTextContent('running');
    expect(volume).toHaveTextContent('12 MiB / 132 MiB');
    expect(within(volume).getByRole('progressbar', { name: 'volume app-data' })).toHaveAttribute(
      'aria-valuenow',
      '9',
    );
    expect(screen.getByRole('row', { name: /container app-1/ })).toHaveTextContent('app-1-migrated');

    const log = screen.getByRole('log', { name: 'Event log' });
    expect(log).toHaveAttribute('aria-live', 'polite');
    expect(
      within(log)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toEqual([
      expect.stringMatching(/planned 4 resources$/),
      expect.stringMatching(/target ready$/),
      expect.stringMatching(/copying volume app-data$/),
    ]);
    expect(screen.getByRole('button', { name: 'Cancel migration' })).toBeInTheDocument();
  });

  it('follows the live event stream’s figures', async () => {
    const { client } = renderMigration(RUNNING);
    await screen.findByText('80 MiB of 200 MiB');

    const update: Partial<MigrationJson> = {
      ...RUNNING,
      phase: 'create',
      progress: 0.9,
      bytes_transferred: 180 * MIB,
      rate_bytes_per_s: 20 * MIB,
    };
    delete update.findings;
    delete update.events;
    act(() => {
      applyLiveEvent(client, 'migration.updated', { migration: update });
    });

    expect(await screen.findByText('180 MiB of 200 MiB')).toBeInTheDocument();
    expect(screen.getByRole('progressbar', { name: 'Overall progress' })).toHaveAttribute(
      'aria-valuenow',
      '90',
    );
    expect(screen.getByText('20 MiB/s')).toBeInTheDocument();
    // The events stay: live updates do not carry them.
    expect(screen.getByText('copying volume app-data')).toBeInTheDocument();
  });

  it('says prominently that a migration was rolled back, and why', async () => {
    renderMigration(
      migration({
        status: 'rolled_back',
        phase: 'done',
        progress: 0.5,
        completed_at: '2026-11-29T12:00:01.000Z',
        error: 'transfer of volume app-data failed: no space left on device',
        resources: APP_PLAN.map((resource) => ({ ...resource, status: 'rolled_back' as const })),
        events: [
          ...RUNNING_EVENTS,
          event(4, 'rollback', 'rolling back: transfer of volume app-data failed', 'warning'),
          event(5, 'done', 'rolled back: the target is as before and the source runs as before'),
        ],
      }),
    );

    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Rolled back');
    expect(result).toHaveTextContent('no space left on device');
    const stepper = screen.getByRole('list', { name: 'Phases' });
    expect(within(stepper).getByText(/Transfer/)).toHaveTextContent('(failed here)');
    expect(within(stepper).getByText(/Rollback/)).toHaveTextContent('(done)');
    expect(screen.queryByRole('button', { name: 'Cancel migration' })).not.toBeInTheDocument();
  });

  it('names an incremental copy beside the mode, and says nothing of a full one', async () => {
    const first = renderMigration(migration({ strategy: 'incremental' }));
    await waitFor(() => {
      expect(screen.getByText(/^From/)).toHaveTextContent(
        /^From alpha to beta · cold · incremental copy · transfer auto · id m-0a1b2c3d4e5f$/,
      );
    });
    first.unmount();
    renderMigration(migration());
    await waitFor(() => {
      expect(screen.getByText(/^From/)).toHaveTextContent(
        /^From alpha to beta · cold · transfer auto · id m-0a1b2c3d4e5f$/,
      );
    });
  });

  it('shows a completed migration with its duration and downtime', async () => {
    renderMigration(
      migration({
        status: 'completed',
        phase: 'done',
        progress: 1,
        bytes_transferred: 200 * MIB,
        completed_at: '2026-11-29T12:00:31.000Z',
        downtime_ms: 4200,
        events: [...RUNNING_EVENTS, event(9, 'done', 'migration completed')],
      }),
    );
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Completed');
    expect(result).toHaveTextContent('Took 1 min 30 s; the containers were down for 4.2 s.');
    // Announced when a migration watched live ends.
    expect(result.closest('[aria-live="polite"]')).not.toBeNull();
  });

  it('breaks the downtime into its phases and lists each copy round with what it sent', async () => {
    renderMigration(
      migration({
        status: 'completed',
        phase: 'done',
        mode: 'warm',
        progress: 1,
        completed_at: '2026-11-29T12:00:31.000Z',
        downtime_ms: 1460,
        downtime_phases: { stop_ms: 310, final_sync_ms: 820, apply_ms: null, start_ms: 230, ready_ms: 100 },
        rounds: [
          { round: 1, final: false, bytes: 1024 * MIB, duration_ms: 4100, files: 2003 },
          { round: 2, final: false, bytes: 12 * MIB, duration_ms: 350, files: 14 },
          { round: 3, final: true, bytes: 3 * MIB, duration_ms: 820, files: 5 },
        ],
        events: [...RUNNING_EVENTS, event(9, 'done', 'migration completed')],
      }),
    );
    const heading = await screen.findByRole('heading', { name: 'Downtime and copy rounds' });
    const card = heading.closest('section') as HTMLElement;
    expect(card).toHaveTextContent('Down for 1.5 s');
    const phases = within(card).getByLabelText('Downtime by phase');
    const shown = (label: string) => within(phases).getByText(label).nextElementSibling?.textContent;
    expect(shown('Stop source')).toBe('310 ms');
    expect(shown('Final copy')).toBe('820 ms');
    expect(shown('Create')).toBe('not reached');
    expect(shown('Start')).toBe('230 ms');
    expect(shown('Until ready')).toBe('100 ms');
    const rows = within(within(card).getByRole('table', { name: 'Copy rounds' })).getAllByRole('row');
    expect(rows.slice(1).map((row) => row.textContent)).toEqual([
      '1running1.0 GiB4.1 s2,003',
      '2running12 MiB350 ms14',
      '3stopped (final)3.0 MiB820 ms5',
    ]);
  });

  it('shows no timing card before anything stopped or was copied', async () => {
    renderMigration(RUNNING);
    await screen.findByRole('heading', { name: 'Progress' });
    expect(screen.queryByRole('heading', { name: 'Downtime and copy rounds' })).not.toBeInTheDocument();
  });

  it('says that nothing had to stop when the migration moved no running container', async () => {
    renderMigration(
      migration({
        status: 'completed',
        phase: 'done',
        progress: 1,
        completed_at: '2026-11-29T11:59:11.000Z',
        downtime_ms: null,
      }),
    );
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Took 10 s; no container had to stop.');
  });

  it('shows a failed migration’s error text', async () => {
    renderMigration(
      migration({
        status: 'failed',
        phase: 'done',
        completed_at: '2026-11-29T12:00:31.000Z',
        error: 'rolled back, but rollback incomplete, left: volume app-data on the target (worker offline)',
      }),
    );
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Failed');
    expect(result).toHaveTextContent('rollback incomplete');
  });

  it('cancels after confirmation, saying what cancelling does', async () => {
    const user = userEvent.setup();
    let cancelRequested = false;
    const { calls } = renderMigration(RUNNING, {
      'GET /api/migrations/m-0a1b2c3d4e5f': () => ({
        body: { migration: { ...RUNNING, cancel_requested: cancelRequested } },
      }),
      'POST /api/migrations/m-0a1b2c3d4e5f/cancel': () => {
        cancelRequested = true;
        return { body: { migration: { ...RUNNING, events: undefined, cancel_requested: true } } };
      },
    });
    await user.click(await screen.findByRole('button', { name: 'Cancel migration' }));
    // The status region is in place before there is anything to say, so that screen readers announce it.
    const status = screen.getByRole('status');
    expect(status).toBeEmptyDOMElement();
    const dialog = screen.getByRole('dialog', { name: 'Cancel this migration?' });
    expect(dialog).toHaveTextContent(/removed.*source containers are started again/);
    expect(calls.filter((call) => call.method === 'POST')).toEqual([]);

    await user.click(within(dialog).getByRole('button', { name: 'Yes, cancel it' }));
    await waitFor(() => {
      expect(calls.filter((call) => call.method === 'POST').map((call) => call.path)).toEqual([
        '/api/migrations/m-0a1b2c3d4e5f/cancel',
      ]);
    });
    await waitFor(() => {
      expect(status).toHaveTextContent('Cancelling: rolling back…');
    });
    expect(screen.queryByRole('button', { name: 'Cancel migration' })).not.toBeInTheDocument();
  });

  it('says where the service runs now and what was left on the source, and moves it back when asked', async () => {
    const user = userEvent.setup();
    const done = migration({
      status: 'completed',
      phase: 'done',
      progress: 1,
      bytes_transferred: 200 * MIB,
      completed_at: '2026-11-29T12:00:31.000Z',
      downtime_ms: 4200,
      events: [...RUNNING_EVENTS, event(9, 'done', 'migration completed')],
      left_on_source: [
        { type: 'container', name: 'app-1', source_id: 'c0ffee000001', state: 'stopped' },
        { type: 'volume', name: 'app-data', source_id: 'app-data', state: 'kept' },
      ],
      reverse_of: null,
      reversed_by: null,
    });
    const back = migration({
      id: 'm-ba0000000001',
      status: 'pending',
      source_worker_id: 'w-beta',
      target_worker_id: 'w-alpha',
      reverse_of: done.id,
    });
    let movedBack = false;
    const { calls } = renderMigration(done, {
      // Once moved back, the migration says so (and offers no second move back).
      'GET /api/migrations/m-0a1b2c3d4e5f': () => ({
        body: { migration: movedBack ? { ...done, reversed_by: back.id } : done },
      }),
      'POST /api/migrations/m-0a1b2c3d4e5f/reverse': () => {
        movedBack = true;
        return { status: 201, body: { migration: back } };
      },
      'GET /api/migrations/m-ba0000000001': { body: { migration: back } },
    });
    const result = await screen.findByRole('region', { name: 'Result' });
    await waitFor(() => {
      expect(result).toHaveTextContent('Now running on beta.');
    });
    expect(result).toHaveTextContent(
      'Left on alpha: app-1 (container, stopped), app-data (volume) — marked as migrated to beta by m-0a1b2c3d4e5f.',
    );
    await user.click(within(result).getByRole('button', { name: 'Move back' }));
    const dialog = screen.getByRole('dialog', { name: 'Move this back to alpha?' });
    expect(dialog).toHaveTextContent(/from beta back to alpha/);
    expect(calls.filter((call) => call.method === 'POST')).toEqual([]);
    await user.click(within(dialog).getByRole('button', { name: 'Yes, move it back' }));
    await waitFor(() => {
      expect(calls.filter((call) => call.method === 'POST').map((call) => call.path)).toEqual([
        '/api/migrations/m-0a1b2c3d4e5f/reverse',
      ]);
    });
    // The new migration's page, which says what it moves back.
    expect(await screen.findByText(/Moves back/)).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'migration m-0a1b2c3d4e5f' })).toHaveAttribute(
      'href',
      '/migrations/m-0a1b2c3d4e5f',
    );
  });

  it('offers no move back of a migration moved back already, and links the one that did', async () => {
    renderMigration(
      migration({
        status: 'completed',
        phase: 'done',
        completed_at: '2026-11-29T12:00:31.000Z',
        reversed_by: 'm-ba0000000001',
      }),
    );
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(within(result).queryByRole('button', { name: 'Move back' })).not.toBeInTheDocument();
    expect(within(result).getByRole('link', { name: 'migration m-ba0000000001' })).toBeInTheDocument();
  });

  it('counts the downtime from the stop request while the source is down', async () => {
    const stoppedAt = new Date(Date.now() - 3_000).toISOString();
    renderMigration({ ...RUNNING, downtime_started_at: stoppedAt });
    const figure = await screen.findByTestId('downtime');
    expect(screen.getByText('Downtime so far')).toBeInTheDocument();
    const first = Number.parseFloat(figure.textContent);
    expect(first).toBeGreaterThanOrEqual(3);
    await waitFor(
      () => {
        expect(Number.parseFloat(figure.textContent)).toBeGreaterThan(first);
      },
      { timeout: 3_000 },
    );
  });

  it('shows the downtime of a cancelled migration, and says the source runs again', async () => {
    renderMigration(
      migration({
        status: 'cancelled',
        phase: 'done',
        completed_at: '2026-11-29T12:00:31.000Z',
        downtime_ms: 4200,
        downtime_started_at: '2026-11-29T12:00:20.000Z',
        error: 'cancelled by the user',
        events: [...RUNNING_EVENTS, event(8, 'rollback', 'rolling back'), event(9, 'done', 'cancelled')],
      }),
    );
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Cancelled');
    expect(result).toHaveTextContent('The source was down for 4.2 s.');
    expect(screen.getByTestId('downtime')).toHaveTextContent('4.2 s');
  });

  it('gives a time left only while bytes are copied', async () => {
    renderMigration({ ...RUNNING, phase: 'create' as const });
    const left = (await screen.findByText('Time left')).nextElementSibling;
    expect(left).toHaveTextContent('—');
  });

  it('says so in words for an unknown id', async () => {
    renderMigration(apiError(404, 'not_found', 'migration "m-0a1b2c3d4e5f" not found'));
    expect(await screen.findByRole('heading', { name: 'Migration not found' })).toBeInTheDocument();
    expect(screen.getByText('There is no migration with the id “m-0a1b2c3d4e5f”.')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'see all migrations' })).toHaveAttribute('href', '/migrations');
  });

  it('shows other errors in words', async () => {
    renderMigration(apiError(503, 'unavailable', 'the master is shutting down'));
    expect(await screen.findByRole('alert')).toHaveTextContent('the master is shutting down');
  });
});
