// A container's row on the worker page opens on its details, asked of the master only then; secret values arrive
// hidden and are shown as such; an offline worker's refusal is shown in words.
import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';

import type { ContainerAnswerJson, ContainerDetailsJson } from '../api/worker-types';
import { apiError, fakeApi } from '../testing/fake-api';
import { sampleResources } from '../testing/fixtures';
import { renderAt } from '../testing/render';
import { restartPolicyText } from './container-details';
import { WorkerContainers } from './worker-containers';

const WEB = sampleResources().containers[0]!;
const DETAILS_PATH = '/api/containers/c-web?worker_id=w-alpha';

function details(overrides: Partial<ContainerDetailsJson> = {}): ContainerDetailsJson {
  return {
    id: 'c-web',
    name: 'web',
    image: 'nginx:1.27',
    image_id: 'sha256:aaaa1111bbbb2222',
    state: 'running',
    exit_code: 0,
    restart_count: 1,
    created_at: '2026-01-02T03:04:05Z',
    started_at: '2026-01-02T03:04:06Z',
    finished_at: null,
    entrypoint: ['/docker-entrypoint.sh'],
    command: ['nginx', '-g', 'daemon off;'],
    restart_policy: { name: 'on-failure', maximum_retry_count: 3 },
    health: {
      status: 'unhealthy',
      failing_streak: 2,
      last_output: 'curl: (7) Failed to connect',
      last_exit_code: 1,
      last_checked_at: '2026-01-02T03:05:00Z',
    },
    mounts: [
      {
        type: 'volume',
        source: '/var/lib/docker/volumes/site-data/_data',
        volume_name: 'site-data',
        destination: '/usr/share/nginx/html',
        read_only: false,
      },
      {
        type: 'bind',
        source: '/etc/web',
        volume_name: null,
        destination: '/etc/nginx/conf.d',
        read_only: true,
      },
    ],
    ports: [{ container_port: 80, protocol: 'tcp', host_ip: '0.0.0.0', host_port: 8080 }],
    labels: { tier: 'front' },
    env: [
      { name: 'SECRET_KEY', value: '[redacted]', redacted: true },
      { name: 'PLAIN', value: 'y', redacted: false },
    ],
    networks: [
      {
        name: 'frontend',
        ip_address: '172.20.0.2',
        ipv6_address: null,
        gateway: '172.20.0.1',
        mac_address: null,
        aliases: [],
      },
    ],
    ...overrides,
  };
}

function answer(json: ContainerDetailsJson): { body: ContainerAnswerJson } {
  return { body: { container: { ...WEB, worker_id: 'w-alpha', worker_name: 'alpha' }, details: json } };
}

function renderRows() {
  const { containers } = sampleResources();
  return renderAt('/', [
    {
      path: '/',
      element: <WorkerContainers workerId="w-alpha" containers={containers} shown={containers} filter="" />,
    },
  ]);
}

describe('a container row', () => {
  it('shows the container’s details once opened, and asks for them only then', async () => {
    const { calls } = fakeApi({ [`GET ${DETAILS_PATH}`]: answer(details()) });
    renderRows();
    const toggle = screen.getByRole('button', { name: 'Show details of web' });
    expect(toggle).toHaveAttribute('aria-expanded', 'false');
    expect(calls).toEqual([]);

    await userEvent.click(toggle);
    const panel = await screen.findByRole('row', { name: 'Details of web' });
    expect(screen.getByRole('button', { name: 'Hide details of web' })).toHaveAttribute(
      'aria-expanded',
      'true',
    );
    expect(calls.map((call) => call.path)).toEqual([DETAILS_PATH]);

    const term = (name: string): HTMLElement =>
      within(panel).getByText(name, { selector: 'dt' }).nextElementSibling as HTMLElement;
    await within(panel).findByText('Mounts');
    expect(term('Command')).toHaveTextContent('/docker-entrypoint.sh nginx -g daemon off;');
    expect(term('Restart policy')).toHaveTextContent('on-failure (at most 3 retries), restarted 1 time');
    expect(term('Health')).toHaveTextContent('unhealthy2 failed checks in a row');
    expect(within(term('Health')).getByLabelText('Last check output')).toHaveTextContent(
      'curl: (7) Failed to connect',
    );
    expect(term('Mounts')).toHaveTextContent('volume site-data → /usr/share/nginx/html');
    expect(term('Mounts')).toHaveTextContent('bind /etc/web → /etc/nginx/conf.d (read-only)');
    expect(term('Published ports')).toHaveTextContent('0.0.0.0:8080→80/tcp');
    expect(term('Networks')).toHaveTextContent('frontend 172.20.0.2');
    expect(term('Environment')).toHaveTextContent('SECRET_KEY= hidden');
    expect(term('Environment')).toHaveTextContent('PLAIN=y');
    expect(term('Environment')).not.toHaveTextContent('[redacted]');
    expect(term('Labels')).toHaveTextContent('tier=front');

    await userEvent.click(screen.getByRole('button', { name: 'Hide details of web' }));
    expect(screen.queryByRole('row', { name: 'Details of web' })).not.toBeInTheDocument();
  });

  it('says when the container has no healthcheck, mounts or ports', async () => {
    fakeApi({ [`GET ${DETAILS_PATH}`]: answer(details({ health: null, mounts: [], ports: [] })) });
    renderRows();
    await userEvent.click(screen.getByRole('button', { name: 'Show details of web' }));
    const panel = await screen.findByRole('row', { name: 'Details of web' });
    expect(await within(panel).findByText('no healthcheck')).toBeInTheDocument();
  });

  it('shows the master’s refusal in words when the worker is offline', async () => {
    fakeApi({
      [`GET ${DETAILS_PATH}`]: apiError(
        503,
        'unavailable',
        'worker "alpha" is offline: try again once it is back',
      ),
    });
    renderRows();
    await userEvent.click(screen.getByRole('button', { name: 'Show details of web' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('Cannot show this container’s details');
    expect(alert).toHaveTextContent('worker "alpha" is offline: try again once it is back');
  });
});

describe('restart policy', () => {
  it('reads as Docker names it, with the retries of on-failure in words', () => {
    expect(restartPolicyText({ name: 'no', maximum_retry_count: 0 })).toBe('no');
    expect(restartPolicyText({ name: 'unless-stopped', maximum_retry_count: 0 })).toBe('unless-stopped');
    expect(restartPolicyText({ name: 'on-failure', maximum_retry_count: 1 })).toBe(
      'on-failure (at most 1 retry)',
    );
    expect(restartPolicyText({ name: 'on-failure', maximum_retry_count: 0 })).toBe('on-failure');
  });
});
