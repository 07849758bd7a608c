// Test support for every page: a fetch stand-in that plays the master, answering by "METHOD /path?query" (or by a
// function), and recording each request so a test can check what was sent.
import { vi } from 'vitest';

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

/** Answers any request; undefined means "no such route" (a 404 in words). */
export type FakeHandler = (call: FakeCall) => FakeReply | undefined;

/** An API error body as the master sends it. */
export function apiError(status: number, code: string, message: string, details?: unknown): FakeReply {
  return { status, body: { error: { code, message, ...(details === undefined ? {} : { details }) } } };
}

function routeTable(routes: Record<string, FakeRoute>): FakeHandler {
  return (call) => {
    const route =
      routes[`${call.method} ${call.path}`] ?? routes[`${call.method} ${call.path.split('?')[0]}`];
    return typeof route === 'function' ? route(call) : route;
  };
}

/**
 * Replaces fetch (test-setup.ts puts it back after each test). Routes are looked up by "METHOD /path?query"
 * first, then "METHOD /path"; anything else answers 404 so that a test sees the unexpected request in words.
 */
export function fakeApi(routes: Record<string, FakeRoute> | FakeHandler): { calls: FakeCall[] } {
  const answer = typeof routes === 'function' ? routes : routeTable(routes);
  const calls: FakeCall[] = [];
  const fetchMock = vi.fn((input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : input, 'http://localhost');
    const call: FakeCall = {
      method: init?.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      body: typeof init?.body === 'string' ? (JSON.parse(init.body) as unknown) : undefined,
    };
    calls.push(call);
    const reply = answer(call) ?? apiError(404, 'not_found', `no fake route for ${call.method} ${call.path}`);
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
