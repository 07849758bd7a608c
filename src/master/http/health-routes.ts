// Open routes for probes and scrapers: liveness, readiness and Prometheus metrics (no token, no secrets).
import type { FastifyInstance } from 'fastify';

import type { MasterContext } from '../master-context.js';

/** Registers /health, /ready and /metrics, which load balancers and Prometheus call without credentials. */
export function registerHealthRoutes(app: FastifyInstance, context: MasterContext): void {
  app.get('/health', () => ({ status: 'ok' }));

  app.get('/ready', (_request, reply) =>
    context.ready() ? { status: 'ready' } : reply.code(503).send({ status: 'starting' }),
  );

  app.get('/metrics', async (_request, reply) => {
    const text = await context.metrics.registry.metrics();
    return reply.type(context.metrics.registry.contentType).send(text);
  });
}
