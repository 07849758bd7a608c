// Worker page: resources listed and filtered by name, removal only after confirmation, an unknown worker.
import { act, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import { keys } from '../api/keys';
import type { WorkerResourcesJson } from '../api/worker-types';
import { apiError, fakeApi } from '../testing/fake-api';
import { sampleResources, sampleWorker } from '../testing/fixtures';
import { renderAt } from '../testing/render';
import { WorkerPage } from './worker';

function master(resources: WorkerResourcesJson = sampleResources()) {
  return fakeApi({
    'GET /api/workers/w-alpha': { body: { worker: sampleWorker() } },
    'DELETE /api/workers/w-alpha': { body: { removed: true, worker_id: 'w-alpha' } },
    'GET /api/workers/w-alpha/resources': { body: resources },
    'GET /api/workers': { body: { workers: [] } },
  });
}

function renderWorker(id = 'w-alpha') {
  return renderAt(`/workers/${id}`, [{ path: '/workers/:id', element: <WorkerPage /> }]);
}

function table(name: string): HTMLElement {
  return screen.getByRole('table', { name });
}

describe('WorkerPage', () => {
  it('lists containers, images, volumes and networks with who uses what', async () => {
    master();
    renderWorker();

    const containers = await screen.findByRole('table', { name: 'Containers' });
    const web = within(containers).getByRole('row', { name: /web/ });
    expect(within(web).getByText('running')).toBeInTheDocument();
    expect(within(web).getByText('healthy')).toBeInTheDocument();
    expect(within(web).getByText('0.0.0.0:8080→80/tcp')).toBeInTheDocument();
    // Each container can be migrated from its row: the wizard opens with this worker and that container.
    const migrate = within(web).getByRole('link', { name: /^Migrate web/ });
    const target = new URL(migrate.getAttribute('href') ?? '', 'http://localhost');
    expect(target.pathname).toBe('/migrations/new');
    expect(target.searchParams.get('from')).toBe('w-alpha');
    expect(target.searchParams.get('container')).toBeTruthy();

    const images = table('Images');
    expect(within(images).getByRole('row', { name: /nginx:1\.27/ })).toHaveTextContent('aaaa1111bbbb');
    expect(within(images).getByRole('row', { name: /nginx:1\.27/ })).toHaveTextContent('190 MiB');

    const volumes = table('Volumes');
    expect(within(volumes).getByRole('row', { name: /site-data/ })).toHaveTextContent('app=web');
    expect(within(volumes).getByRole('row', { name: /site-data/ })).toHaveTextContent(/web$/);
    expect(within(volumes).getByRole('row', { name: /pg-data/ })).toHaveTextContent('5.0 MiB');

    const networks = table('Networks');
    expect(within(networks).getByRole('row', { name: /backend/ })).toHaveTextContent('172.21.0.0/16');
    expect(within(networks).getByRole('row', { name: /backend/ })).toHaveTextContent(/db$/);

    expect(screen.getByRole('link', { name: 'Migrate from here' })).toHaveAttribute(
      'href',
      '/migrations/new?from=w-alpha',
    );
  });

  it('marks a container a migration left here with where it went', async () => {
    const resources = sampleResources();
    const [first, ...rest] = resources.containers;
    master({
      ...resources,
      containers: [
        {
          ...first!,
          migrated_to: {
            migration_id: 'm-0a1b2c3d4e5f',
            worker_id: 'w-beta',
            worker_name: 'beta',
            name: first!.name,
            state: 'stopped',
          },
        },
        ...rest,
      ],
    });
    renderWorker();
    const containers = await screen.findByRole('table', { name: 'Containers' });
    const row = within(containers).getByRole('row', { name: new RegExp(first!.name) });
    expect(row).toHaveTextContent('migrated to beta by m-0a1b2c3d4e5f, stopped');
    expect(within(row).getByRole('link', { name: 'm-0a1b2c3d4e5f' })).toHaveAttribute(
      'href',
      '/migrations/m-0a1b2c3d4e5f',
    );
  });

  it('filters every section by name', async () => {
    master();
    const user = userEvent.setup();
    renderWorker();
    await screen.findByRole('table', { name: 'Containers' });

    await user.type(screen.getByLabelText('Filter'), 'pg');
    expect(screen.getByRole('status')).toHaveTextContent(
      '0 containers, 0 images, 1 volume and 0 networks match.',
    );

    expect(screen.queryByRole('table', { name: 'Containers' })).not.toBeInTheDocument();
    expect(screen.getByText('No containers match “pg”.')).toBeInTheDocument();
    const volumes = table('Volumes');
    expect(within(volumes).getByText('pg-data')).toBeInTheDocument();
    expect(within(volumes).queryByText('site-data')).not.toBeInTheDocument();
    expect(screen.getByRole('heading', { name: 'Volumes (1 of 2)' })).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Filter'));
    await user.type(screen.getByLabelText('Filter'), 'WEB');
    expect(within(table('Containers')).getByText('web')).toBeInTheDocument();
    expect(within(table('Containers')).queryByText('db')).not.toBeInTheDocument();
  });

  it('says what to do when a section is empty', async () => {
    master({ ...sampleResources(), volumes: [] });
    renderWorker();

    expect(await screen.findByText('No volumes on this worker.')).toBeInTheDocument();
    expect(screen.getByText(/it appears here by itself/, { selector: 'div' })).toHaveTextContent(
      'Create one with docker volume create on the host — it appears here by itself.',
    );
  });

  it('removes the worker only after confirmation, then goes to the dashboard', async () => {
    const { calls } = master();
    const user = userEvent.setup();
    renderWorker();
    await screen.findByRole('table', { name: 'Containers' });

    await user.click(screen.getByRole('button', { name: 'Remove worker' }));
    const dialog = screen.getByRole('dialog', { name: 'Remove alpha?' });
    expect(dialog).toHaveTextContent('revokes the worker’s certificate');
    expect(dialog).toHaveTextContent('not touched');
    expect(dialog).toHaveTextContent('enroll it again');
    expect(calls.some((call) => call.method === 'DELETE')).toBe(false);

    await user.click(within(dialog).getByRole('button', { name: 'Remove' }));

    expect(await screen.findByTestId('location')).toHaveTextContent(/^\/$/);
    expect(calls.filter((call) => call.method === 'DELETE').map((call) => call.path)).toEqual([
      '/api/workers/w-alpha',
    ]);
  });

  it('keeps the worker when the dialog is cancelled', async () => {
    const { calls } = master();
    const user = userEvent.setup();
    renderWorker();
    await screen.findByRole('table', { name: 'Containers' });

    await user.click(screen.getByRole('button', { name: 'Remove worker' }));
    await user.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Cancel' }));

    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
    expect(calls.some((call) => call.method === 'DELETE')).toBe(false);
  });

  it('keeps the lists when a refresh fails, saying they may be out of date', async () => {
    let down = false;
    fakeApi({
      'GET /api/workers/w-alpha': { body: { worker: sampleWorker() } },
      'GET /api/workers/w-alpha/resources': () =>
        down ? apiError(503, 'unavailable', 'the worker is not connected') : { body: sampleResources() },
    });
    const { client } = renderWorker();
    await screen.findByRole('table', { name: 'Containers' });

    down = true;
    await act(() => client.invalidateQueries({ queryKey: keys.resources('w-alpha') }));

    expect(await screen.findByRole('alert')).toHaveTextContent(
      /The lists below may be out of date.*the worker is not connected/,
    );
    expect(screen.getByRole('table', { name: 'Containers' })).toBeInTheDocument();
  });

  it('explains an unknown worker and links back', async () => {
    fakeApi(() => apiError(404, 'not_found', 'worker "nope" not found'));
    renderWorker('nope');

    expect(await screen.findByRole('alert')).toHaveTextContent('There is no such worker');
    expect(screen.getByRole('link', { name: 'Back to the dashboard' })).toHaveAttribute('href', '/');
  });
});
