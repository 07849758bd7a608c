// Enrollment token routes: what the "add a worker" page shows, and replacing a token that may have leaked.
import type { FastifyInstance } from 'fastify';

import type { PairingCodeJson } from '../../contract/index.js';
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

  // A short-lived, single-use code another host joins with (`--token CODE`), for the UI's "pair a host".
  app.post('/api/pairing-codes', (_request, reply) => {
    const created = context.createPairingCode();
    return reply
      .code(201)
      .header('Cache-Control', 'no-store')
      .send({
        code: created.code,
        expires_at: created.expiresAt.toISOString(),
        join_command: created.joinCommand,
      } satisfies PairingCodeJson);
  });
}
