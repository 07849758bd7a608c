// Test support for the migration pages: a fetch stand-in that answers by "METHOD /path", records each request,
// and a render helper with a fresh query client and a memory router.
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { MemoryRouter, Route, Routes } from 'react-router';
import { afterEach, beforeEach, expect, vi, type MockInstance } from 'vitest';

export interface FakeCall {
  method: string;
  /** Path with its query string. */
  path: string;
  body: unknown;
}

export interface FakeReply {
  status?: number;
  body?: unknown;
}

export type FakeRoute = FakeReply | ((call: FakeCall) => FakeReply);

/** An API error body as the master sends it. */
export function apiError(status: number, code: string, message: string, details?: unknown): FakeReply {
  return { status, body: { error: { code, message, ...(details === undefined ? {} : { details }) } } };
}

/**
 * Replaces fetch: a route is found by "METHOD /path?query" first, then "METHOD /path"; anything else answers 404
 * so a test sees the unexpected request in words.
 */
export function fakeApi(routes: Record<string, FakeRoute>): { calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input, 'http://localhost');
    const method = init?.method ?? 'GET';
    const path = `${url.pathname}${url.search}`;
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined;
    const call = { method, path, body };
    calls.push(call);
    const route = routes[`${method} ${path}`] ?? routes[`${method} ${url.pathname}`];
    const reply =
      route === undefined
        ? apiError(404, 'not_found', `no fake route for ${method} ${path}`)
        : typeof route === 'function'
          ? route(call)
          : route;
    return Promise.resolve(
      new Response(JSON.stringify(reply.body ?? {}), {
        status: reply.status ?? 200,
        headers: { 'Content-Type': 'application/json' },
      }),
    );
  });
  vi.stubGlobal('fetch', fetchMock);
  return { calls };
}

/**
 * Makes the tests of a file fail on any console.error or console.warn (React's key and act() warnings among them),
 * and removes the fetch stand-in after each test.
 */
export function quietConsoleRequired(): void {
  let error: MockInstance<typeof console.error>;
  let warn: MockInstance<typeof console.warn>;
  beforeEach(() => {
    error = vi.spyOn(console, 'error');
    warn = vi.spyOn(console, 'warn');
  });
  afterEach(() => {
    const logged = [...error.mock.calls, ...warn.mock.calls];
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
    expect(logged).toEqual([]);
  });
}

/** Renders a page at `path` among the migration routes, with retries off so that errors show at once. */
export function renderAt(path: string, routes: { path: string; element: ReactNode }[]) {
  const client = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  const view = render(
    <QueryClientProvider client={client}>
      <MemoryRouter initialEntries={[path]}>
        <Routes>
          {routes.map((route) => (
            <Route key={route.path} path={route.path} element={route.element} />
          ))}
        </Routes>
      </MemoryRouter>
    </QueryClientProvider>,
  );
  return { ...view, client };
}
