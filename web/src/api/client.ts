// The only way the UI talks to the master: JSON over its REST API, same origin, the session cookie attached.

/** An error the API answered with (`{"error":{"code","message","details"}}`), or a network failure, in words. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

type Listener = () => void;
const signedOutListeners = new Set<Listener>();

/** Called when any request comes back 401: the session expired or was revoked, so the app shows sign-in. */
export function onSignedOut(listener: Listener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; details?: unknown };
}

async function errorFrom(response: Response): Promise<ApiError> {
  let body: ErrorBody | undefined;
  try {
    body = (await response.json()) as ErrorBody;
  } catch {
    body = undefined;
  }
  const code = typeof body?.error?.code === 'string' ? body.error.code : 'http_' + String(response.status);
  const message =
    typeof body?.error?.message === 'string'
      ? body.error.message
      : `the master answered ${response.status} ${response.statusText}`.trim();
  const details =
    body?.error?.details !== null && typeof body?.error?.details === 'object'
      ? (body.error.details as Record<string, unknown>)
      : {};
  return new ApiError(response.status, code, message, details);
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /** Do not announce a 401 as "signed out" (the sign-in request itself). */
  quietUnauthenticated?: boolean;
}

/** Sends one API request and returns its JSON body; throws ApiError with the master's own message otherwise. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const init: RequestInit = {
    method: options.method ?? 'GET',
    credentials: 'same-origin',
    headers,
    signal: options.signal ?? null,
  };
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(
      0,
      'unavailable',
      'cannot reach the master: check that it is running and the network is up',
    );
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401 && options.quietUnauthenticated !== true) {
      for (const listener of signedOutListeners) listener();
    }
    throw error;
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** Words for any error a query or mutation throws. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.message;
  if (error instanceof Error) return error.message;
  return 'something went wrong';
}
