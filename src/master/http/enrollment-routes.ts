// Enrollment token routes: what the "add a worker" page shows, and replacing a token that may have leaked.
import type { FastifyInstance } from 'fastify';

import type { MasterContext } from '../master-context.js';
import { enrollmentJson } from './api-json.js';

/**
 * Registers the enrollment token routes. Responses hold a secret, so they are marked `no-store`: no browser or
 * proxy cache keeps a copy of the token after it is regenerated.
 */
export function registerEnrollmentRoutes(app: FastifyInstance, context: MasterContext): void {
  app.get('/api/enrollment-token', (_request, reply) =>
    reply.header('Cache-Control', 'no-store').send(enrollmentJson(context.enrollment())),
  );

  app.post('/api/enrollment-token/regenerate', async (_request, reply) => {
    const info = await context.regenerateEnrollmentToken();
    return reply.header('Cache-Control', 'no-store').send(enrollmentJson(info));
  });
}
