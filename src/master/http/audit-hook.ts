// The audit trail of the REST API: one entry per mutating /api/* call, written once its response is decided.
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { MasterStore } from '../../core/ports.js';
import type { NewAuditEntry } from '../../core/workers.js';
import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';
import { isApiPath, pathOf, type Actor } from './admin-auth.js';
import { routeOf } from './request-observer.js';

/** What a route says about its own call: an action such as "migration.start", its target, a line with names. */
export interface AuditNote {
  action: string;
  target?: string | null;
  summary: string;
  details?: Record<string, unknown>;
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AuditHook {
  /** onResponse hook: appends the entry in the background (the client already has its answer). */
  onResponse(request: FastifyRequest, reply: FastifyReply): void;
  /** Leaves the request out of the log: its route writes what it has to say itself (aggregated sign-in failures). */
  skip(request: FastifyRequest): void;
  /**
   * Names what the request does in words, in place of its method and route: the entry is written as usual once the
   * response is decided (ok or error by its status), with these fields. A route may call it more than once as it
   * learns more (the names first, then the migration it started); the last call wins.
   */
  describe(request: FastifyRequest, note: AuditNote): void;
  /** Appends an entry a route composed itself, tracked like the hook's own so that flush() waits for it. */
  record(entry: NewAuditEntry): void;
  /** Waits for the entries still being written, so that closing the app does not close the store under them. */
  flush(): Promise<void>;
}

/**
 * Creates the audit hook. Failed calls are recorded as well as successful ones (a 401 storm is worth seeing). The
 * details stay empty unless a route describes its call: request bodies may carry secrets, and the action names the
 * route pattern, not the raw URL.
 * A failure to write is logged rather than raised, since the response has already gone.
 */
export function createAuditHook(options: {
  store: MasterStore;
  logger: Logger;
  actorOf: (request: FastifyRequest) => Actor;
  now?: () => Date;
}): AuditHook {
  const pending = new Set<Promise<unknown>>();
  const skipped = new WeakSet<FastifyRequest>();
  const notes = new WeakMap<FastifyRequest, AuditNote>();
  const now = options.now ?? (() => new Date());

  function record(entry: NewAuditEntry): void {
    const write = options.store
      .appendAudit(entry)
      .catch((error: unknown) => {
        options.logger.error(redactSecrets({ err: error, action: entry.action }), 'audit entry not written');
      })
      .finally(() => pending.delete(write));
    pending.add(write);
  }

  return {
    onResponse(request, reply) {
      if (!MUTATING.has(request.method) || !isApiPath(request.routeOptions.url ?? pathOf(request.url)))
        return;
      if (skipped.has(request)) return;
      const params = request.params as Record<string, unknown> | undefined;
      const note = notes.get(request);
      const status = reply.statusCode;
      record({
        at: now().toISOString(),
        actor: options.actorOf(request),
        action: note?.action ?? `${request.method} ${routeOf(request)}`,
        target: note?.target ?? (typeof params?.id === 'string' ? params.id : null),
        outcome: status < 400 ? 'ok' : 'error',
        status,
        details: note?.details ?? {},
        remoteAddress: request.ip,
        summary: note?.summary ?? null,
      });
    },
    describe(request, note) {
      notes.set(request, note);
    },
    skip(request) {
      skipped.add(request);
    },
    record,
    async flush() {
      await Promise.allSettled([...pending]);
    },
  };
}
