// The audit log page: newest entries first, paged back with ?before=<id>.
import type { FastifyInstance } from 'fastify';

import type { AuditListJson } from '../../contract/index.js';
import type { MasterContext } from '../master-context.js';
import { auditEntryJson } from './api-json.js';
import { AUDIT_QUERY } from './route-schemas.js';

/** Registers GET /api/audit; the limit is validated here so a bad value is a 400 naming the parameter. */
export function registerAuditRoutes(app: FastifyInstance, context: MasterContext): void {
  app.get<{ Querystring: { limit: number; before?: number } }>(
    '/api/audit',
    { schema: { querystring: AUDIT_QUERY } },
    async (request): Promise<AuditListJson> => {
      const { limit, before } = request.query;
      const entries = await context.store.listAudit(
        before === undefined ? { limit } : { limit, beforeId: before },
      );
      return { entries: entries.map(auditEntryJson) };
    },
  );
}
