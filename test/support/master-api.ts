// A master's REST API as the end-to-end tests call it: JSON in and out with the admin token, and the id of a worker
// once it is online. The address is read at each call, since a test learns it only once the master has started.
import { eventually } from './eventually.js';

export interface MasterApi {
  /** One request; answers the status and the parsed JSON body. */
  call: <T>(method: string, path: string, body?: unknown) => Promise<{ status: number; json: T }>;
  /** The id of the worker named `name`, once the master lists it online. */
  workerId: (name: string) => Promise<string>;
  /** The migration (GET /api/migrations/:id) once it has ended, whatever the outcome. */
  finished: <T extends { status: string }>(migrationId: string, timeoutMs?: number) => Promise<T>;
}

/** The statuses a migration ends in. */
export const ENDED_STATUSES = ['completed', 'failed', 'rolled_back', 'cancelled'];

/** `timeoutMs`: how long one request may take (none: as long as it takes; a test that freezes a master sets one). */
export function masterApi(
  apiUrl: () => string,
  adminToken: string,
  options: { timeoutMs?: number } = {},
): MasterApi {
  async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    const response = await fetch(`${apiUrl()}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      ...(options.timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
    });
    return { status: response.status, json: (await response.json()) as T };
  }
  return {
    call,
    workerId: (name) =>
      eventually(`worker ${name} online`, async () => {
        const { json } = await call<{ workers: { id: string; name: string; status: string }[] }>(
          'GET',
          '/api/workers',
        );
        return json.workers.find((w) => w.name === name && w.status === 'online')?.id;
      }),
    finished: <T extends { status: string }>(migrationId: string, timeoutMs = 180_000) =>
      eventually(
        'the migration to finish',
        async () => {
          const { json } = await call<{ migration: T }>('GET', `/api/migrations/${migrationId}`);
          return ENDED_STATUSES.includes(json.migration.status) ? json.migration : undefined;
        },
        timeoutMs,
      ),
  };
}
