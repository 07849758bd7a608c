// Dashboard: every worker with its state and counts, the totals, active migrations, and the empty state.
import { screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { WorkerJson } from '../api/worker-types';
import { apiError, fakeApi } from '../testing/fake-api';
import { migration, sampleWorker } from '../testing/fixtures';
import { renderAt } from '../testing/render';
import { DashboardPage } from './dashboard';

const NOW = Date.parse('2026-11-29T12:00:00.000Z');

const alpha = sampleWorker({ last_heartbeat: new Date(NOW - 12_000).toISOString() });
const beta = sampleWorker({
  id: 'w-beta',
  name: 'beta',
  hostname: 'beta.lan',
  labels: {},
  status: 'offline',
  online: false,
  last_heartbeat: new Date(NOW - 5 * 60_000).toISOString(),
  counts: { containers: 1, running_containers: 0, images: 2, volumes: 1, networks: 3 },
  system: null,
});

function master(workers: WorkerJson[], migrations = [migration({ id: 'm-1', progress: 0.42 })]) {
  return fakeApi({
    'GET /api/workers': { body: { workers } },
    'GET /api/migrations?status=pending,running': { body: { migrations, next_before: null } },
  });
}

function renderDashboard() {
  return renderAt('/', [{ path: '/', element: <DashboardPage /> }]);
}

beforeEach(() => {
  // Only the clock stands still, so "12 s ago" reads the same however long the test takes; timers run as usual.
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

describe('DashboardPage', () => {
  it('shows each worker online or offline with its counts, linked to its page', async () => {
    master([alpha, beta]);
    renderDashboard();

    const alphaCard = await screen.findByRole('article', { name: 'Worker alpha' });
    expect(within(alphaCard).getByText('online')).toBeInTheDocument();
    expect(within(alphaCard).getByRole('link', { name: 'alpha' })).toHaveAttribute(
      'href',
      '/workers/w-alpha',
    );
    expect(within(alphaCard).getByText('3 containers')).toBeInTheDocument();
    expect(within(alphaCard).getByText('(2 running)')).toBeInTheDocument();
    expect(within(alphaCard).getByText('4 images')).toBeInTheDocument();
    expect(within(alphaCard).getByText('3 volumes')).toBeInTheDocument();
    expect(within(alphaCard).getByText('5 networks')).toBeInTheDocument();
    expect(within(alphaCard).getByText('20 GiB free disk')).toBeInTheDocument();
    expect(within(alphaCard).getByText('12 s ago')).toBeInTheDocument();
    expect(within(alphaCard).getByText('site=paris')).toBeInTheDocument();
    expect(within(alphaCard).getByRole('link', { name: 'Migrate from alpha' })).toHaveAttribute(
      'href',
      '/migrations/new?from=w-alpha',
    );

    const betaCard = screen.getByRole('article', { name: 'Worker beta' });
    expect(within(betaCard).getByText('offline')).toBeInTheDocument();
    expect(within(betaCard).getByText('1 container')).toBeInTheDocument();
    expect(within(betaCard).getByText('1 volume')).toBeInTheDocument();
    expect(within(betaCard).getByText('free disk unknown')).toBeInTheDocument();
    expect(within(betaCard).getByText('5 min ago')).toBeInTheDocument();
    expect(within(betaCard).queryByRole('link', { name: /migrate/i })).not.toBeInTheDocument();
  });

  it('adds the workers up at the top', async () => {
    master([alpha, beta]);
    renderDashboard();

    const totals = await screen.findByRole('region', { name: 'Totals' });
    expect(within(totals).getByText('2 workers')).toBeInTheDocument();
    expect(within(totals).getByText('1 online')).toBeInTheDocument();
    expect(within(totals).getByText('4 containers')).toBeInTheDocument();
    expect(within(totals).getByText('2 running')).toBeInTheDocument();
    expect(within(totals).getByText('6 images')).toBeInTheDocument();
    expect(within(totals).getByText('4 volumes')).toBeInTheDocument();
    expect(within(totals).getByText('8 networks')).toBeInTheDocument();
    expect(within(totals).getByText('20 GiB')).toBeInTheDocument();
  });

  it('lists active migrations with their progress, each linking to its page', async () => {
    master([alpha, beta]);
    renderDashboard();

    const bar = await screen.findByRole('progressbar', { name: 'Migration from alpha to beta' });
    expect(bar).toHaveAttribute('aria-valuenow', '42');
    const link = screen.getByRole('link', { name: /alpha → beta/ });
    expect(link).toHaveAttribute('href', '/migrations/m-1');
    expect(within(link).getByText(/Transfer · 42 %/)).toBeInTheDocument();
  });

  it('says how to enroll a worker when there is none', async () => {
    master([], []);
    renderDashboard();

    expect(await screen.findByText('No worker has enrolled yet.')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Enroll a worker' })).toHaveAttribute('href', '/enroll');
    expect(screen.queryByRole('article')).not.toBeInTheDocument();
    expect(screen.queryByRole('region', { name: 'Totals' })).not.toBeInTheDocument();
  });

  it('shows the master’s error when the workers cannot be listed', async () => {
    fakeApi(() => apiError(503, 'unavailable', 'the store is closed'));
    renderDashboard();

    expect(await screen.findByRole('alert')).toHaveTextContent('the store is closed');
  });
});
