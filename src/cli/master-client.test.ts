// The master's REST client against a real HTTP server on 127.0.0.1: auth header, bodies, and failures made readable.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { createMasterClient, parseMasterUrl, type MigrationRequestJson } from './master-client.js';

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

type Handler = (request: Seen, response: ServerResponse) => void;

let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((resolve) => {
    if (server === undefined) resolve();
    else
      server.close(() => {
        resolve();
      });
  });
  server = undefined;
});

async function serve(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry: Seen = {
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(entry);
      handler(entry, response);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen };
}

function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

async function failure(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a failure');
}

const MIGRATION = { id: 'mig-1', status: 'pending', phase: 'preflight', progress: 0 };

const REQUEST: MigrationRequestJson = {
  source_worker_id: 'w-1',
  target_worker_id: 'w-2',
  container_ids: ['web'],
  image_ids: [],
  volume_names: [],
  network_ids: [],
  compose_projects: [],
  mode: 'cold',
  strategy: 'full',
  transfer_mode: 'auto',
  conflict_policy: 'fail',
  source_policy: 'keep_stopped',
  bind_mounts: {},
  acknowledge: [],
  dry_run: false,
};

describe('createMasterClient', () => {
  it('sends the admin token as a bearer token and reads the workers', async () => {
    const { url, seen } = await serve((_request, response) => {
      json(response, 200, { workers: [{ id: 'w-1', name: 'alpha', status: 'online' }] });
    });
    const client = createMasterClient({ baseUrl: url, token: 'secret-token' });
    expect(await client.listWorkers()).toEqual([{ id: 'w-1', name: 'alpha', status: 'online' }]);
    expect(seen[0]).toMatchObject({
      method: 'GET',
      url: '/api/workers',
      authorization: 'Bearer secret-token',
    });
  });

  it('posts the request as JSON, with dry_run set by the method called', async () => {
    const { url, seen } = await serve((request, response) => {
      const body = JSON.parse(request.body) as { dry_run: boolean };
      if (body.dry_run)
        json(response, 200, { dry_run: true, plan: { resources: [], total_bytes: 0 }, blocked: false });
      else json(response, 201, { migration: MIGRATION });
    });
    const client = createMasterClient({ baseUrl: url, token: 't' });
    expect(await client.startMigration(REQUEST)).toMatchObject({ id: 'mig-1', events: [], resources: [] });
    expect(await client.planMigration(REQUEST)).toEqual({
      dry_run: true,
      plan: { resources: [], findings: [], total_bytes: 0 },
      findings: [],
      blocked: false,
    });
    expect(seen.map((request) => [request.method, request.url, request.contentType])).toEqual([
      ['POST', '/api/migrations', 'application/json'],
      ['POST', '/api/migrations', 'application/json'],
    ]);
    expect(JSON.parse(seen[0]!.body)).toEqual(REQUEST);
    expect(JSON.parse(seen[1]!.body)).toEqual({ ...REQUEST, dry_run: true });
  });

  it('reads and cancels a migration by id, escaping the id in the path', async () => {
    const { url, seen } = await serve((_request, response) => {
      json(response, 200, { migration: { ...MIGRATION, status: 'cancelled' } });
    });
    const client = createMasterClient({ baseUrl: `${url}/`, token: 't' });
    await client.getMigration('a/b');
    await client.cancelMigration('mig-1');
    expect(seen.map((request) => `${request.method} ${request.url} ${request.body}`)).toEqual([
      'GET /api/migrations/a%2Fb ',
      'POST /api/migrations/mig-1/cancel {}',
    ]);
  });

  it('keeps a path prefix of the master URL, for a reverse proxy', async () => {
    const { url, seen } = await serve((_request, response) => {
      json(response, 200, { workers: [] });
    });
    await createMasterClient({ baseUrl: `${url}/dockation`, token: 't' }).listWorkers();
    expect(seen[0]?.url).toBe('/dockation/api/workers');
  });

  it('turns a 401 answer into an unauthenticated error with the master message and a hint about the token', async () => {
    const { url } = await serve((_request, response) => {
      json(response, 401, { error: { code: 'unauthenticated', message: 'the admin token is not valid' } });
    });
    const error = await failure(createMasterClient({ baseUrl: url, token: 'wrong' }).listWorkers());
    expect(error.code).toBe('unauthenticated');
    expect(error.message).toBe('cannot list the workers: the admin token is not valid');
    expect(error.hint).toContain('DOCKER_MIGRATE_ADMIN_TOKEN');
  });

  it('turns a 404 answer into a not_found error naming the migration', async () => {
    const { url } = await serve((_request, response) => {
      json(response, 404, {
        error: { code: 'not_found', message: 'no migration with id mig-404', details: { id: 'mig-404' } },
      });
    });
    const error = await failure(createMasterClient({ baseUrl: url, token: 't' }).getMigration('mig-404'));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('cannot read migration mig-404: no migration with id mig-404');
    expect(error.details).toEqual({ status: 404, details: { id: 'mig-404' } });
  });

  it('describes an error answer without a JSON body by its HTTP status', async () => {
    const { url } = await serve((_request, response) => {
      response.writeHead(502, { 'content-type': 'text/html' });
      response.end('<html>bad gateway</html>');
    });
    const error = await failure(createMasterClient({ baseUrl: url, token: 't' }).listWorkers());
    expect(error.code).toBe('internal');
    expect(error.message).toBe('cannot list the workers: HTTP 502 Bad Gateway');
  });

  it('rejects an answer that is not the master API', async () => {
    const { url } = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>hello</html>');
    });
    const error = await failure(createMasterClient({ baseUrl: url, token: 't' }).listWorkers());
    expect(error.message).toContain('something other than a JSON object');
    expect(error.hint).toContain(url);
  });

  it('says in one line that the master cannot be reached when nothing listens', async () => {
    const { url } = await serve(() => undefined);
    await new Promise<void>((resolve) =>
      server?.close(() => {
        resolve();
      }),
    );
    server = undefined;
    const error = await failure(createMasterClient({ baseUrl: url, token: 't' }).listWorkers());
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe(`cannot reach the master at ${url}: connection refused`);
    expect(error.hint).toContain('--master-url');
  });

  it('gives up on a master that does not answer in time', async () => {
    const { url } = await serve(() => undefined);
    const error = await failure(
      createMasterClient({ baseUrl: url, token: 't', timeoutMs: 100 }).listWorkers(),
    );
    expect(error.code).toBe('deadline_exceeded');
    expect(error.message).toContain('did not answer in time');
    server?.closeAllConnections();
  });
});

describe('parseMasterUrl', () => {
  it('accepts http and https addresses and ends their path with a slash', () => {
    expect(parseMasterUrl('http://master:8080').href).toBe('http://master:8080/');
    expect(parseMasterUrl(' https://example.com/dm ').href).toBe('https://example.com/dm/');
  });

  it.each(['master:8080', 'ftp://master', 'http://', 'http://master:8080/?x=1'])('rejects %s', (text) => {
    expect(() => parseMasterUrl(text)).toThrow(/invalid master URL/);
  });
});
