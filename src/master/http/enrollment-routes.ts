// Enrollment token routes: what the "add a worker" page shows, and replacing a token that may have leaked.
import type { FastifyInstance, FastifyRequest } from 'fastify';

import type { PairingCodeJson } from '../../contract/index.js';
import type { MasterContext } from '../master-context.js';
import { offeredInstallCommand } from '../release-downloads.js';
import { enrollmentJson } from './api-json.js';

/**
 * Registers the enrollment token routes. Responses hold a secret, so they are marked `no-store`: no browser or
 * proxy cache keeps a copy of the token after it is regenerated.
 */
export function registerEnrollmentRoutes(app: FastifyInstance, context: MasterContext): void {
  // The one-line install, from the address this request reached the master at, when there are archives to serve.
  const install = (request: FastifyRequest, token: string): string | null =>
    offeredInstallCommand(
      context,
      `${request.protocol}://${request.host}`,
      token,
      context.enrollment().caHash,
    ) ?? null;

  app.get('/api/enrollment-token', (request, reply) => {
    const info = context.enrollment();
    return reply.header('Cache-Control', 'no-store').send(enrollmentJson(info, install(request, info.token)));
  });

  app.post('/api/enrollment-token/regenerate', async (request, reply) => {
    const info = await context.regenerateEnrollmentToken();
    return reply.header('Cache-Control', 'no-store').send(enrollmentJson(info, install(request, info.token)));
  });

  // A short-lived, single-use code another host joins with (`--token CODE`), for the UI's "pair a host".
  app.post('/api/pairing-codes', async (request, reply) => {
    const created = await context.createPairingCode();
    return reply
      .code(201)
      .header('Cache-Control', 'no-store')
      .send({
        code: created.code,
        expires_at: created.expiresAt.toISOString(),
        join_command: created.joinCommand,
        install_command: install(request, created.code),
      } satisfies PairingCodeJson);
  });
}
