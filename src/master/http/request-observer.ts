// Per-request observation: one debug log line, one Prometheus count and (streams aside) one latency per request,
// labelled by route pattern.
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';
import type { MasterMetrics } from '../metrics.js';

/** The route label of requests that matched no route, so that scanners cannot blow up the label set. */
export const UNMATCHED_ROUTE = 'unmatched';

export interface RequestObserver {
  /** onResponse hook: counts the request and its latency; skips streams, which report themselves when they end. */
  onResponse(request: FastifyRequest, reply: FastifyReply): void;
  /** Marks a request whose reply was hijacked to stream (fastify runs no onResponse when its client leaves). */
  streaming(request: FastifyRequest): void;
  /** Records a finished request (a count and a log line; a stream's lifetime is no latency). */
  record(request: FastifyRequest, status: number, ms: number): void;
}

/** The route pattern of a request ("/api/workers/:id"), never its raw URL (ids, tokens in query strings). */
export function routeOf(request: FastifyRequest): string {
  return request.routeOptions.url ?? UNMATCHED_ROUTE;
}

/**
 * Creates the observer. It logs method, route, status and milliseconds only: headers hold the admin token and the
 * URL may hold it too (`?access_token=` on the event stream).
 */
export function createRequestObserver(options: { logger: Logger; metrics: MasterMetrics }): RequestObserver {
  const streams = new WeakSet<FastifyRequest>();

  function record(request: FastifyRequest, status: number, ms: number): void {
    const route = routeOf(request);
    options.metrics.httpRequests.inc({ method: request.method, route, status: String(status) });
    options.logger.debug(
      redactSecrets({ method: request.method, route, status, ms: Math.round(ms * 10) / 10 }),
      'http request',
    );
  }

  return {
    record,
    streaming: (request) => {
      streams.add(request);
    },
    onResponse: (request, reply) => {
      if (streams.has(request)) return;
      record(request, reply.statusCode, reply.elapsedTime);
      options.metrics.httpRequestDuration.observe(
        { method: request.method, route: routeOf(request) },
        reply.elapsedTime / 1000,
      );
    },
  };
}
