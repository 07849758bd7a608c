// Open routes for probes and scrapers: liveness, readiness and Prometheus metrics (no token, no secrets).
import type { FastifyInstance } from 'fastify';

import type { MasterContext } from '../master-context.js';

/** Registers /health, /ready and /metrics, which load balancers and Prometheus call without credentials. */
export function registerHealthRoutes(app: FastifyInstance, context: MasterContext): void {
  // Load balancers and operators see which master leads; a standby is healthy too (it forwards the API).
  app.get('/health', () => {
    const { leader, epoch } = context.leadership();
    return { status: 'ok', leader, epoch };
  });

  app.get('/ready', (_request, reply) =>
    context.ready() ? { status: 'ready' } : reply.code(503).send({ status: 'starting' }),
  );

  app.get('/metrics', async (_request, reply) => {
    const text = await context.metrics.registry.metrics();
    return reply.type(context.metrics.registry.contentType).send(text);
  });
}
