// Enroll page: copying (clipboard or selection), regenerating only after confirmation, pairing codes.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';

import type { EnrollmentJson } from '../api/worker-types';
import { fakeApi } from '../testing/fake-api';
import { sampleWorker } from '../testing/fixtures';
import { renderAt } from '../testing/render';
import { EnrollPage } from './enroll';

function enrollment(token: string, archives = false): EnrollmentJson {
  return {
    token,
    ca_hash: 'sha256:9f86d081884c7d659a2feaa0c55ad015',
    master_url: 'https://master.lan:8443',
    join_command: `docker-migrate worker --master-url https://master.lan:8443 --token ${token} --ca-hash sha256:9f86d081884c7d659a2feaa0c55ad015`,
    install_command: archives
      ? `curl -fsSL http://master.lan:8080/install.sh | sudo sh -s -- --token ${token} --ca-hash sha256:9f86d081884c7d659a2feaa0c55ad015`
      : null,
  };
}

function master(archives = false) {
  let workers = [sampleWorker(), sampleWorker({ id: 'w-beta', name: 'beta' })];
  return fakeApi({
    'GET /api/enrollment-token': { body: enrollment('old-token', archives) },
    'POST /api/enrollment-token/regenerate': { body: enrollment('new-token') },
    'POST /api/pairing-codes': () => ({
      status: 201,
      body: {
        code: 'PAIR-1234',
        expires_at: new Date(Date.now() + 10 * 60_000).toISOString(),
        join_command: 'docker-migrate worker --master-url https://master.lan:8443 --token PAIR-1234',
        install_command: null,
      },
    }),
    'GET /api/workers': () => ({ body: { workers } }),
    'DELETE /api/workers/w-beta': () => {
      workers = workers.filter((worker) => worker.id !== 'w-beta');
      return { body: { removed: true, worker_id: 'w-beta' } };
    },
  });
}

function renderEnroll() {
  return renderAt('/enroll', [{ path: '/enroll', element: <EnrollPage /> }]);
}

function field(name: string): HTMLElement {
  return screen.getByRole('group', { name });
}

describe('EnrollPage', () => {
  it('offers the one-line service install first when the master serves release archives', async () => {
    master(true);
    const user = userEvent.setup();
    const writeText = vi.spyOn(navigator.clipboard, 'writeText');
    renderEnroll();
    await screen.findByText(/install\.sh/);

    await user.click(within(field('Install command')).getByRole('button', { name: 'Copy install command' }));

    expect(writeText).toHaveBeenCalledWith(enrollment('old-token', true).install_command);
    expect(screen.getByText(/where docker-migrate is installed already/)).toBeInTheDocument();
  });

  it('offers no install command when the master serves no archives', async () => {
    master(false);
    renderEnroll();
    await screen.findByText(/--token old-token/);

    expect(screen.queryByRole('group', { name: 'Install command' })).toBeNull();
    expect(screen.getByText(/the docker-migrate binary must be installed there/)).toBeInTheDocument();
  });

  it('copies the join command to the clipboard and says so', async () => {
    master();
    const user = userEvent.setup();
    const writeText = vi.spyOn(navigator.clipboard, 'writeText');
    renderEnroll();
    await screen.findByText(/--token old-token/);

    await user.click(within(field('Join command')).getByRole('button', { name: 'Copy join command' }));

    expect(writeText).toHaveBeenCalledWith(enrollment('old-token').join_command);
    expect(within(field('Join command')).getByRole('status')).toHaveTextContent('Copied');
    expect(within(field('Token')).getByRole('status')).toHaveTextContent('');
  });

  it('selects the text instead when the browser offers no clipboard (plain http)', async () => {
    master();
    const user = userEvent.setup();
    Object.defineProperty(navigator, 'clipboard', { value: undefined, configurable: true });
    renderEnroll();
    await screen.findByText(/--token old-token/);

    await user.click(within(field('CA hash')).getByRole('button', { name: 'Copy CA hash' }));

    expect(window.getSelection()?.toString()).toBe('sha256:9f86d081884c7d659a2feaa0c55ad015');
    expect(within(field('CA hash')).getByRole('status')).toHaveTextContent('press Ctrl+C');
  });

  it('asks before regenerating the token, then shows the new one', async () => {
    const { calls } = master();
    const user = userEvent.setup();
    renderEnroll();
    await screen.findByText(/--token old-token/);

    const statuses = screen.getAllByRole('status');
    await user.click(screen.getByRole('button', { name: 'Regenerate token' }));
    const dialog = screen.getByRole('dialog', { name: 'Regenerate the enrollment token?' });
    expect(dialog).toHaveTextContent('stops working at once for new enrollments');
    expect(dialog).toHaveTextContent('Workers already enrolled keep working');
    expect(calls.some((call) => call.method === 'POST')).toBe(false);

    await user.click(within(dialog).getByRole('button', { name: 'Regenerate' }));

    expect(await screen.findByText(/--token new-token/)).toBeInTheDocument();
    expect(screen.queryByText(/--token old-token/)).not.toBeInTheDocument();
    expect(calls.filter((call) => call.method === 'POST').map((call) => call.path)).toEqual([
      '/api/enrollment-token/regenerate',
    ]);
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    // Said in a status region that was already there, so that screen readers announce it.
    expect(statuses).toContain(screen.getByText(/A new token is in the command above/));
  });

  it('creates a one-time pairing code with its expiry', async () => {
    master();
    const user = userEvent.setup();
    renderEnroll();
    await screen.findByText(/--token old-token/);

    await user.click(screen.getByRole('button', { name: 'Create a one-time pairing code' }));

    expect(await within(field('Pairing code')).findByText('PAIR-1234')).toBeInTheDocument();
    expect(screen.getByText(/Expires in (10 min|9 min 5\d s)/)).toBeInTheDocument();
  });

  it('lists enrolled workers with a link to each', async () => {
    master();
    renderEnroll();

    expect(await screen.findByRole('link', { name: 'alpha' })).toHaveAttribute('href', '/workers/w-alpha');
  });

  it('removes a worker from the list after confirmation, keeping focus in the list', async () => {
    const { calls } = master();
    const user = userEvent.setup();
    renderEnroll();

    await user.click(await screen.findByRole('button', { name: 'Remove beta' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove beta?' });
    expect(dialog).toHaveTextContent('revokes the worker’s certificate');
    await user.click(within(dialog).getByRole('button', { name: 'Remove' }));

    expect(await screen.findByText('beta was removed.')).toBeInTheDocument();
    expect(screen.queryByRole('link', { name: 'beta' })).not.toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'alpha' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'alpha' }).closest('[tabindex="-1"]')).toHaveFocus();
    expect(calls.filter((call) => call.method === 'DELETE').map((call) => call.path)).toEqual([
      '/api/workers/w-beta',
    ]);
  });
});
