// Audit page: newest first, paging back with before=<last id>, empty and error states.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import type { AuditEntryJson } from '../api/worker-types';
import { apiError, fakeApi } from '../testing/fake-api';
import { renderAt } from '../testing/render';
import { AuditPage } from './audit';

function entry(id: number): AuditEntryJson {
  return {
    id,
    at: new Date(Date.UTC(2026, 10, 29, 10, 0, id % 60)).toISOString(),
    actor: 'admin',
    action: id % 2 === 0 ? 'worker.remove' : 'migration.start',
    target: `target-${id}`,
    outcome: id === 60 ? 'error' : 'ok',
    status: id === 60 ? 409 : 200,
    details: {},
    remote_address: '192.0.2.10',
    summary: null,
  };
}

/** Ids from `newest` down, `count` of them. */
function entries(newest: number, count: number): AuditEntryJson[] {
  return Array.from({ length: count }, (_, index) => entry(newest - index));
}

function renderAudit() {
  return renderAt('/audit', [{ path: '/audit', element: <AuditPage /> }]);
}

describe('AuditPage', () => {
  // Role queries over 70 rows take seconds in jsdom on a busy machine.
  it('shows entries newest first and pages back with before=<last id>', async () => {
    const { calls } = fakeApi({
      'GET /api/audit?limit=50': { body: { entries: entries(70, 50) } },
      'GET /api/audit?limit=50&before=21': { body: { entries: entries(20, 20) } },
    });
    const user = userEvent.setup();
    renderAudit();

    const log = await screen.findByRole('table', { name: 'Audit log, newest first' });
    const rows = within(log).getAllByRole('row').slice(1);
    expect(rows).toHaveLength(50);
    expect(rows[0]).toHaveTextContent('target-70');
    expect(within(log).getByRole('row', { name: /target-60/ })).toHaveTextContent('error');
    expect(within(log).getByRole('row', { name: /target-60/ })).toHaveTextContent('409');
    expect(rows[0]).toHaveTextContent('192.0.2.10');

    await user.click(screen.getByRole('button', { name: 'Load older' }));

    expect(await within(log).findByText('target-1')).toBeInTheDocument();
    // The button is gone (nothing older): focus is on the first entry that came in, not lost on the page.
    expect(within(log).getByRole('row', { name: /target-20/ })).toHaveFocus();
    expect(within(log).getAllByRole('row')).toHaveLength(71);
    expect(calls.map((call) => call.path)).toEqual(['/api/audit?limit=50', '/api/audit?limit=50&before=21']);
    expect(screen.queryByRole('button', { name: 'Load older' })).not.toBeInTheDocument();
    expect(screen.getByText('That is the oldest entry.')).toBeInTheDocument();
  }, 15_000);

  it('shows who moved what where: the summary, the migration linked, no status for the master’s own entries', async () => {
    const started: AuditEntryJson = {
      ...entry(3),
      action: 'migration.start',
      target: 'm-0123456789ab',
      status: 201,
      summary: 'web, data from hosta to hostb: cold, full',
      details: { source_worker_id: 'w-000000000001' },
    };
    const ended: AuditEntryJson = {
      ...entry(4),
      actor: 'master',
      action: 'migration.ended',
      target: 'm-0123456789ab',
      outcome: 'error',
      status: 0,
      summary: 'rolled back: web, data from hosta to hostb, downtime 3.2 s',
      remote_address: null,
    };
    const dryRun: AuditEntryJson = {
      ...entry(5),
      action: 'migration.dry_run',
      target: 'hosta → hostb',
      summary: 'web from hosta to hostb: cold, full — blocked: name_conflict',
    };
    fakeApi({ 'GET /api/audit?limit=50': { body: { entries: [dryRun, ended, started] } } });
    renderAudit();

    const log = await screen.findByRole('table', { name: 'Audit log, newest first' });
    expect(within(log).getByRole('columnheader', { name: 'Summary' })).toBeInTheDocument();
    const [dryRunRow, endedRow, startedRow] = within(log).getAllByRole('row').slice(1);
    expect(dryRunRow).toHaveTextContent('hosta → hostb');
    expect(dryRunRow).toHaveTextContent('blocked: name_conflict');
    expect(endedRow).toHaveTextContent('rolled back: web, data from hosta to hostb, downtime 3.2 s');
    expect(within(endedRow!).getAllByRole('cell')[6]).toHaveTextContent(/^—$/);
    expect(within(startedRow!).getByRole('link', { name: 'm-0123456789ab' })).toHaveAttribute(
      'href',
      '/migrations/m-0123456789ab',
    );
    expect(within(startedRow!).getAllByRole('cell')[6]).toHaveTextContent('201');
  });

  it('says when nothing has been recorded', async () => {
    fakeApi({ 'GET /api/audit?limit=50': { body: { entries: [] } } });
    renderAudit();

    expect(await screen.findByText('Nothing has been recorded yet.')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Load older' })).not.toBeInTheDocument();
  });

  it('shows the master’s error', async () => {
    fakeApi(() => apiError(500, 'internal', 'disk I/O error'));
    renderAudit();

    expect(await screen.findByRole('alert')).toHaveTextContent('disk I/O error');
  });
});
