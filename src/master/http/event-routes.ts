// GET /api/events: the live event stream the web UI listens to, as Server-Sent Events on a hijacked reply.
import type { FastifyInstance } from 'fastify';

import type { Logger } from '../../platform/logger.js';
import type { MasterContext } from '../master-context.js';
import { EVENT_STREAM_HEADERS, openEventStream, type EventStream } from './event-stream.js';
import type { RequestObserver } from './request-observer.js';

export const EVENTS_ROUTE = '/api/events';

/**
 * Registers the event stream. The reply is hijacked (fastify would otherwise wait for a payload), so the request
 * is counted and logged when the connection ends; open streams are ended before the server closes, since
 * server.close() waits for every connection and a stream never ends by itself.
 */
export function registerEventRoutes(
  app: FastifyInstance,
  context: MasterContext,
  options: { logger: Logger; observer: RequestObserver },
): void {
  const streams = new Set<EventStream>();

  // No automatic HEAD route: a HEAD request would open a stream that never sends anything.
  app.get(EVENTS_ROUTE, { exposeHeadRoute: false }, (request, reply) => {
    options.observer.streaming(request);
    void reply.hijack();
    const started = performance.now();
    const raw = reply.raw;
    raw.writeHead(200, EVENT_STREAM_HEADERS);
    const stream = openEventStream(raw, context.registry, { logger: options.logger });
    streams.add(stream);
    raw.once('close', () => {
      streams.delete(stream);
      options.observer.record(request, raw.statusCode, performance.now() - started);
    });
  });

  app.addHook('preClose', (done) => {
    for (const stream of streams) stream.close();
    done();
  });
}
