// The master's REST API as a fastify app: auth, audit, metrics, one error handler, and every route registered.
import fastifyCookie from '@fastify/cookie';
import {
  fastify,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';

import type { Logger } from '../../platform/logger.js';
import type { MasterContext } from '../master-context.js';
import { createAdminAuth } from './admin-auth.js';
import { registerAuditRoutes } from './audit-routes.js';
import { createAuditHook } from './audit-hook.js';
import { createMigrationEndWatch, migrationEndEntry } from './audit-migrations.js';
import { registerDownloadRoutes } from './download-routes.js';
import { registerEnrollmentRoutes } from './enrollment-routes.js';
import { EVENTS_ROUTE, registerEventRoutes } from './event-routes.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerLeaderForward } from './leader-forward.js';
import { createErrorHandler, handleNotFound } from './http-errors.js';
import type { HttpTls } from './http-tls.js';
import { createRequestObserver } from './request-observer.js';
import { registerMigrationRoutes } from './migration-routes.js';
import { registerResourceRoutes } from './resource-routes.js';
import { registerSessionRoutes, SESSION_ROUTE } from './session-routes.js';
import { createSignInLimiter, type SignInLimitOptions } from './sign-in-limiter.js';
import { CONTENT_SECURITY_POLICY, isPageRequest, registerWebUi, sendPage } from './web-ui.js';
import { trackSpareConnections } from './spare-connections.js';
import { registerWorkerRoutes } from './worker-routes.js';

/** Request bodies above this are refused with 413; the API takes small JSON documents only. */
export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

export interface HttpAppOptions {
  logger: Logger;
  bodyLimitBytes?: number;
  /** Folder of the built web UI; without one, pages explain how to build it and the API works as ever. */
  webRoot?: string | undefined;
  /** How often an open event stream checks its credentials again (default CREDENTIAL_RECHECK_MS). */
  credentialRecheckMs?: number;
  /** Serve HTTPS with this certificate and key (see loadHttpTls); plain HTTP without. */
  https?: HttpTls | undefined;
  /**
   * Believe X-Forwarded-For and X-Forwarded-Proto from a reverse proxy: the client address (sign-in limit, audit)
   * and whether the browser used https (the cookie's Secure flag) come from them. Off by default: a client could
   * otherwise claim any address.
   */
  trustProxy?: boolean;
  /** Told of every route as it is registered: the API's fuzz test enumerates them so that none is left out. */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
  /** This master's HTTP base URL as other masters reach it (named when it forwards a call to the leader). */
  selfUrl?: () => string;
  /** Failed sign-ins allowed per client address and the lockout that follows (defaults: 5, then 60 s). */
  signInLimit?: SignInLimitOptions;
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
  const trustProxy = options.trustProxy ?? false;
  const handleError = createErrorHandler({ logger, bodyLimitBytes });
  // Errors fastify raises before routing (a URL that does not decode) get the same JSON as every other error.
  function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
    void handleError(error, request, reply);
  }
  // One instance type for both: fastify types an https server apart, but routes and hooks do not differ.
  const app =
    options.https === undefined
      ? fastify({ logger: false, bodyLimit: bodyLimitBytes, trustProxy, frameworkErrors })
      : (fastify({
          logger: false,
          bodyLimit: bodyLimitBytes,
          trustProxy,
          frameworkErrors,
          https: { cert: options.https.cert, key: options.https.key },
        }) as unknown as FastifyInstance);

  const auth = createAdminAuth(context, {
    queryTokenRoutes: [EVENTS_ROUTE],
    openRoutes: [`POST ${SESSION_ROUTE}`, `GET ${SESSION_ROUTE}`, `DELETE ${SESSION_ROUTE}`],
  });
  const observer = createRequestObserver({ logger, metrics: context.metrics });
  const audit = createAuditHook({ store: context.store, logger, actorOf: auth.actorOf });

  const { onRoute } = options;
  if (onRoute !== undefined) {
    app.addHook('onRoute', (route) => {
      onRoute({ method: route.method, url: route.url });
    });
  }
  await app.register(fastifyCookie);
  await registerLeaderForward(app, {
    leadership: () => context.leadership(),
    self: () => options.selfUrl?.() ?? 'a master',
    trustProxy,
    forwarded: (request) => {
      audit.skip(request);
    },
  });
  app.addHook('onRequest', auth.authenticate);
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    const type = reply.getHeader('content-type');
    if (typeof type === 'string' && type.startsWith('text/html')) {
      reply.header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    }
    done(null, payload);
  });
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
  // The end of each migration is an entry of its own, written by the master beside the call that started it.
  const endWatch = createMigrationEndWatch((migration) => {
    audit.record(migrationEndEntry(migration, (id) => context.registry.get(id)?.name ?? id, new Date()));
  });
  const stopWatchingEnds = context.subscribeMigrations((notice) => {
    if (notice.type === 'migration.updated') endWatch.updated(notice.migration);
  });
  app.addHook('onClose', async () => {
    stopWatchingEnds();
    await audit.flush();
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    isPageRequest(request) ? sendPage(reply, options.webRoot) : handleNotFound(request, reply),
  );

  registerHealthRoutes(app, context);
  registerDownloadRoutes(app, context);
  registerWorkerRoutes(app, context);
  registerResourceRoutes(app, context);
  registerEnrollmentRoutes(app, context);
  registerAuditRoutes(app, context);
  registerMigrationRoutes(app, context, audit);
  registerEventRoutes(app, context, {
    logger,
    observer,
    auth,
    ...(options.credentialRecheckMs === undefined
      ? {}
      : { credentialRecheckMs: options.credentialRecheckMs }),
  });
  registerSessionRoutes(app, context, auth, {
    audit,
    limiter: createSignInLimiter(options.signInLimit),
  });
  await registerWebUi(app, options.webRoot);

  await app.ready();
  return app;
}
