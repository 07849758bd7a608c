// Test support for the worker pages: a fake master behind fetch, the page rendered with a router and a query
// client, sample JSON, and the <dialog> methods jsdom lacks.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render, type RenderResult } from '@testing-library/react';
import { createElement, type ReactElement } from 'react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router';
import { vi } from 'vitest';

import type { MigrationJson } from '../api/migration-types';
import type { WorkerJson, WorkerResourcesJson } from '../api/worker-types';

export interface FakeRequest {
  method: string;
  url: string;
  body: unknown;
}

/** What the fake master answers: a JSON body (status 200 unless given), or undefined for "no such route". */
export type FakeAnswer = { status?: number; body?: unknown } | undefined;

/** Replaces fetch with a fake master; returns the calls it received, in order. */
export function fakeMaster(answer: (request: FakeRequest) => FakeAnswer): FakeRequest[] {
  const calls: FakeRequest[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn((input: string, init?: RequestInit) => {
      const request: FakeRequest = {
        method: init?.method ?? 'GET',
        url: input,
        body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
      };
      calls.push(request);
      const reply = answer(request) ?? {
        status: 404,
        body: { error: { code: 'not_found', message: `no fake for ${request.method} ${request.url}` } },
      };
      return Promise.resolve(
        new Response(JSON.stringify(reply.body ?? {}), {
          status: reply.status ?? 200,
          headers: { 'Content-Type': 'application/json' },
        }),
      );
    }),
  );
  return calls;
}

function CurrentLocation() {
  const location = useLocation();
  return createElement('p', { 'data-testid': 'location' }, `${location.pathname}${location.search}`);
}

/** Renders a page at `path` under `route`; any other route shows the location, to check where a link or a redirect went. */
export function renderPage(page: ReactElement, path: string, route: string): RenderResult {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  return render(
    createElement(
      QueryClientProvider,
      { client },
      createElement(
        MemoryRouter,
        { initialEntries: [path] },
        createElement(
          Routes,
          null,
          createElement(Route, { path: route, element: page }),
          createElement(Route, { path: '*', element: createElement(CurrentLocation) }),
        ),
      ),
    ),
  );
}

const SECOND = 1000;

export function sampleWorker(overrides: Partial<WorkerJson> = {}): WorkerJson {
  return {
    id: 'w-alpha',
    name: 'alpha',
    hostname: 'alpha.lan',
    labels: { site: 'paris' },
    version: '0.1.0',
    status: 'online',
    online: true,
    last_heartbeat: new Date(Date.now() - 12 * SECOND).toISOString(),
    enrolled_at: '2026-11-01T10:00:00.000Z',
    grpc_address: '10.0.0.2:7443',
    docker_version: '28.1.1',
    active_tasks: 0,
    counts: { containers: 3, running_containers: 2, images: 4, volumes: 3, networks: 5 },
    system: {
      cpu_percent: 12.5,
      cpus: 4,
      memory_total_bytes: 8 * 1024 ** 3,
      memory_used_bytes: 3 * 1024 ** 3,
      docker_root_free_bytes: 20 * 1024 ** 3,
    },
    ...overrides,
  };
}

export function sampleResources(workerId = 'w-alpha'): WorkerResourcesJson {
  const base = { command: 'run', created: 1_764_000_000, labels: {} };
  return {
    worker_id: workerId,
    containers: [
      {
        ...base,
        id: 'c-web',
        name: 'web',
        image: 'nginx:1.27',
        imageId: 'sha256:aaaa1111bbbb2222',
        state: 'running',
        status: 'Up 3 minutes (healthy)',
        ports: [{ privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' }],
        volumeNames: ['site-data'],
        networkNames: ['frontend'],
      },
      {
        ...base,
        id: 'c-db',
        name: 'db',
        image: 'postgres:17',
        imageId: 'sha256:cccc3333dddd4444',
        state: 'exited',
        status: 'Exited (0) 2 hours ago',
        ports: [],
        volumeNames: ['pg-data'],
        networkNames: ['backend'],
      },
    ],
    images: [
      {
        id: 'sha256:aaaa1111bbbb2222',
        tags: ['nginx:1.27'],
        digests: [],
        size: 190 * 1024 ** 2,
        created: 1_760_000_000,
        labels: {},
        containers: -1,
      },
      {
        id: 'sha256:cccc3333dddd4444',
        tags: ['postgres:17'],
        digests: [],
        size: 450 * 1024 ** 2,
        created: 1_760_000_000,
        labels: {},
        containers: -1,
      },
    ],
    volumes: [
      {
        name: 'site-data',
        driver: 'local',
        mountpoint: '/var/lib/docker/volumes/site-data/_data',
        labels: { app: 'web' },
        options: {},
        scope: 'local',
      },
      {
        name: 'pg-data',
        driver: 'local',
        mountpoint: '/var/lib/docker/volumes/pg-data/_data',
        labels: {},
        options: {},
        scope: 'local',
        size: 5 * 1024 ** 2,
      },
    ],
    networks: [
      {
        id: 'n-frontend',
        name: 'frontend',
        driver: 'bridge',
        scope: 'local',
        internal: false,
        attachable: false,
        ipv6: false,
        labels: {},
        options: {},
        ipam: {
          driver: 'default',
          config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }],
          options: {},
        },
        builtIn: false,
      },
      {
        id: 'n-backend',
        name: 'backend',
        driver: 'bridge',
        scope: 'local',
        internal: true,
        attachable: false,
        ipv6: false,
        labels: {},
        options: {},
        ipam: { driver: 'default', config: [{ subnet: '172.21.0.0/16' }], options: {} },
        builtIn: false,
      },
    ],
  };
}

export function sampleMigration(overrides: Partial<MigrationJson> = {}): MigrationJson {
  return {
    id: 'm-1',
    status: 'running',
    phase: 'transfer',
    progress: 0.42,
    bytes_transferred: 420 * 1024 ** 2,
    total_bytes: 1000 * 1024 ** 2,
    rate_bytes_per_s: 50 * 1024 ** 2,
    created_at: '2026-11-29T10:00:00.000Z',
    started_at: '2026-11-29T10:00:01.000Z',
    completed_at: null,
    downtime_ms: null,
    error: null,
    cancel_requested: false,
    source_worker_id: 'w-alpha',
    target_worker_id: 'w-beta',
    mode: 'cold',
    strategy: 'container',
    transfer_mode: 'auto',
    conflict_policy: 'fail',
    source_policy: 'keep_stopped',
    resources: [],
    ...overrides,
  };
}
