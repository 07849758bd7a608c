// The master's REST API as a fastify app: auth, audit, metrics, one error handler, and every route registered.
import { fastify, type FastifyInstance } from 'fastify';

import type { Logger } from '../../platform/logger.js';
import type { MasterContext } from '../master-context.js';
import { createAdminAuth } from './admin-auth.js';
import { registerAuditRoutes } from './audit-routes.js';
import { createAuditHook } from './audit-hook.js';
import { registerEnrollmentRoutes } from './enrollment-routes.js';
import { EVENTS_ROUTE, registerEventRoutes } from './event-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { createErrorHandler, handleNotFound } from './http-errors.js';
import { createRequestObserver } from './request-observer.js';
import { registerMigrationRoutes } from './migration-routes.js';
import { registerResourceRoutes } from './resource-routes.js';
import { trackSpareConnections } from './spare-connections.js';
import { registerWorkerRoutes } from './worker-routes.js';

/** Request bodies above this are refused with 413; the API takes small JSON documents only. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

export interface HttpAppOptions {
  logger: Logger;
  bodyLimitBytes?: number;
}

/**
 * Builds the REST API, ready but not listening, so that start-master.ts chooses the address and tests can use
 * inject(). fastify's own logger is off: it would log request headers (the admin token) and URLs (the event
 * stream's ?access_token=); requests are logged by the observer instead, by route pattern only.
 */
export async function createHttpApp(
  context: MasterContext,
  options: HttpAppOptions,
): Promise<FastifyInstance> {
  const logger = options.logger;
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const app = fastify({ logger: false, bodyLimit: bodyLimitBytes });

  const auth = createAdminAuth(context, { queryTokenRoutes: [EVENTS_ROUTE] });
  const observer = createRequestObserver({ logger, metrics: context.metrics });
  const audit = createAuditHook({ store: context.store, logger, actorOf: auth.actorOf });

  app.addHook('onRequest', auth.authenticate);
  app.addHook('onResponse', (request, reply, done) => {
    observer.onResponse(request, reply);
    audit.onResponse(request, reply);
    done();
  });
  const spare = trackSpareConnections(app.server);
  app.addHook('preClose', (done) => {
    spare.destroy();
    done();
  });
  app.addHook('onClose', async () => {
    await audit.flush();
  });
  app.setErrorHandler(createErrorHandler({ logger, bodyLimitBytes }));
  app.setNotFoundHandler(handleNotFound);

  registerHealthRoutes(app, context);
  registerWorkerRoutes(app, context);
  registerResourceRoutes(app, context);
  registerEnrollmentRoutes(app, context);
  registerAuditRoutes(app, context);
  registerMigrationRoutes(app, context);
  registerEventRoutes(app, context, { logger, observer });

  await app.ready();
  return app;
}
