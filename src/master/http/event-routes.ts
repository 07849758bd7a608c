// GET /api/events: the live event stream the web UI listens to, as Server-Sent Events on a hijacked reply; a client
// that gives the last id it saw gets what it missed first.
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { Logger } from '../../platform/logger.js';
import type { MasterContext } from '../master-context.js';
import type { AdminAuth } from './admin-auth.js';
import { EVENT_STREAM_HEADERS, openEventStream, type EventStream } from './event-stream.js';
import type { RequestObserver } from './request-observer.js';

export const EVENTS_ROUTE = '/api/events';

/**
 * How often an open stream checks again that the credentials it was opened with still hold. Sign-out ends a
 * stream at once and expiry at its time; this bounds how long a stream outlives an admin token changed by another
 * process on the same data dir (a restart with --admin-token).
 */
export const CREDENTIAL_RECHECK_MS = 5_000;

/**
 * The id of the last event the client saw: the Last-Event-ID header (an EventSource sends it when it reconnects by
 * itself), else `?last_event_id=` (a client that opens a new stream has no way to set headers). The header wins:
 * it is the newer of the two when a stream opened with the query reconnects. Anything but a non-negative integer
 * counts as none, and the client gets live events only.
 */
export function requestedLastEventId(request: FastifyRequest): number | undefined {
  const header = request.headers['last-event-id'];
  const query = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const text = typeof header === 'string' && header !== '' ? header : query;
  if (typeof text !== 'string' || !/^\d{1,15}$/.test(text)) return undefined;
  return Number(text);
}

/** setTimeout's longest delay; a later expiry is left to the periodic check. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface EventRouteOptions {
  logger: Logger;
  observer: RequestObserver;
  auth: AdminAuth;
  credentialRecheckMs?: number;
}

/**
 * Ends `stream` when the request's credentials stop holding: the session signed out (told by the session manager),
 * the session's expiry reached, or a periodic check failing (admin token changed, session gone). Returns the
 * function that stops watching, for when the connection ends first.
 */
function endWithCredentials(
  request: FastifyRequest,
  stream: EventStream,
  context: MasterContext,
  options: EventRouteOptions,
): () => void {
  let watching = true;
  let checking = false;
  function end(reason: string): void {
    if (!watching) return;
    stop();
    options.logger.debug({ reason }, 'event stream ended: its credentials no longer hold');
    stream.close();
  }
  async function recheck(): Promise<void> {
    if (!watching || checking) return;
    checking = true;
    try {
      await options.auth.identify(request);
    } catch {
      // Any failure ends the stream, a store error too: the client reconnects and is asked again.
      end('credentials refused');
    } finally {
      checking = false;
    }
  }
  const interval = setInterval(() => {
    void recheck();
  }, options.credentialRecheckMs ?? CREDENTIAL_RECHECK_MS);
  interval.unref();
  const expiresAt = options.auth.methodOf(request)?.session?.expiresAt;
  const expiry =
    expiresAt === undefined
      ? undefined
      : setTimeout(
          () => {
            end('session expired');
          },
          Math.min(Math.max(expiresAt.getTime() - Date.now(), 0), MAX_TIMER_MS),
        );
  expiry?.unref();
  const unsubscribe = context.sessions.onEnd(() => {
    void recheck();
  });
  function stop(): void {
    watching = false;
    clearInterval(interval);
    if (expiry !== undefined) clearTimeout(expiry);
    unsubscribe();
  }
  return stop;
}

/**
 * Registers the event stream. The reply is hijacked (fastify would otherwise wait for a payload), so the request
 * is counted and logged when the connection ends; open streams are ended before the server closes, since
 * server.close() waits for every connection and a stream never ends by itself. A stream lasts no longer than the
 * credentials it was opened with.
 */
export function registerEventRoutes(
  app: FastifyInstance,
  context: MasterContext,
  options: EventRouteOptions,
): void {
  const streams = new Set<EventStream>();

  // No automatic HEAD route: a HEAD request would open a stream that never sends anything.
  app.get(EVENTS_ROUTE, { exposeHeadRoute: false }, (request, reply) => {
    options.observer.streaming(request);
    void reply.hijack();
    const started = performance.now();
    const raw = reply.raw;
    raw.writeHead(200, EVENT_STREAM_HEADERS);
    const stream = openEventStream(
      raw,
      { registry: context.registry, events: context.events },
      { logger: options.logger, lastEventId: requestedLastEventId(request) },
    );
    streams.add(stream);
    const stopWatching = endWithCredentials(request, stream, context, options);
    raw.once('close', () => {
      stopWatching();
      streams.delete(stream);
      options.observer.record(request, raw.statusCode, performance.now() - started);
    });
  });

  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.close();
    done();
  });
}
