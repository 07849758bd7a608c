// The audit trail of the REST API: one entry per mutating /api/* call, written once its response is decided.
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { MasterStore } from '../../core/ports.js';
import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';
import { isApiPath, pathOf, type Actor } from './admin-auth.js';
import { routeOf } from './request-observer.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AuditHook {
  /** onResponse hook: appends the entry in the background (the client already has its answer). */
  onResponse(request: FastifyRequest, reply: FastifyReply): void;
  /** Waits for the entries still being written, so that closing the app does not close the store under them. */
  flush(): Promise<void>;
}

/**
 * Creates the audit hook. Failed calls are recorded as well as successful ones (a 401 storm is worth seeing). The
 * details stay empty: request bodies may carry secrets, and the action names the route pattern, not the raw URL.
 * A failure to write is logged rather than raised, since the response has already gone.
 */
export function createAuditHook(options: {
  store: MasterStore;
  logger: Logger;
  actorOf: (request: FastifyRequest) => Actor;
  now?: () => Date;
}): AuditHook {
  const pending = new Set<Promise<unknown>>();
  const now = options.now ?? (() => new Date());

  return {
    onResponse(request, reply) {
      if (!MUTATING.has(request.method) || !isApiPath(request.routeOptions.url ?? pathOf(request.url)))
        return;
      const params = request.params as Record<string, unknown> | undefined;
      const target = typeof params?.id === 'string' ? params.id : null;
      const status = reply.statusCode;
      const write = options.store
        .appendAudit({
          at: now().toISOString(),
          actor: options.actorOf(request),
          action: `${request.method} ${routeOf(request)}`,
          target,
          outcome: status < 400 ? 'ok' : 'error',
          status,
          details: {},
          remoteAddress: request.ip,
        })
        .catch((error: unknown) => {
          options.logger.error(
            redactSecrets({ err: error, action: request.method }),
            'audit entry not written',
          );
        })
        .finally(() => pending.delete(write));
      pending.add(write);
    },
    async flush() {
      await Promise.allSettled([...pending]);
    },
  };
}
