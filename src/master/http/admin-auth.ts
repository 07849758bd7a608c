// Admin authentication of the REST API: a Bearer token, or the web UI's session cookie, on every /api/* route.
import type { FastifyRequest } from 'fastify';

import { AppError } from '../../core/errors.js';
import type { MasterContext } from '../master-context.js';
import type { SessionInfo } from '../sessions.js';

/** Who made a request, as the audit log names it. */
export type Actor = 'admin' | 'admin (web UI)' | 'anonymous';

/** How a request proved it is the admin. */
export type AuthMethod = 'token' | 'session';

/** Everything under this prefix needs the admin token; /health, /ready and /metrics stay open for probes. */
export const API_PREFIX = '/api';

/** The cookie that carries a web UI session's secret. */
export const SESSION_COOKIE = 'dm_session';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AdminAuth {
  /** onRequest hook: rejects an /api/* request without a valid token or session with `unauthenticated`. */
  authenticate: (request: FastifyRequest) => Promise<void>;
  /** Checks the request's credentials whatever its route; throws `unauthenticated` when it has none valid. */
  identify: (request: FastifyRequest) => Promise<void>;
  /** The actor a request was authenticated as ("anonymous" when it was not). */
  actorOf: (request: FastifyRequest) => Actor;
  /** How the request was authenticated, and its session when by cookie. */
  methodOf: (request: FastifyRequest) => { method: AuthMethod; session?: SessionInfo } | undefined;
  /** Records the actor of a request that authenticated itself in its handler (sign-in). */
  setActor: (request: FastifyRequest, actor: Actor) => void;
}

/** True for a path of the authenticated API (the bare prefix included). */
export function isApiPath(path: string): boolean {
  return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);
}

/** The path of a request URL, without its query string. */
export function pathOf(url: string): string {
  return url.split('?')[0] ?? url;
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return BEARER.exec(header)?.[1];
}

/** Whether an Origin header names this server (scheme aside: behind a TLS proxy the scheme differs). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * Creates the admin check. `queryTokenRoutes` names the route patterns that may also carry the token as
 * `?access_token=`: only the event stream, because a browser's EventSource cannot set headers. A token in a URL
 * may end up in proxy logs and browser history, so no other route accepts it. `openRoutes` ("METHOD /pattern")
 * authenticate in their handler: signing in and out, and asking whether one is signed in.
 *
 * A session cookie is SameSite=Strict, so browsers do not send it with cross-site requests; a changing request
 * authenticated by cookie must in addition not carry another site's Origin, for browsers that ignore SameSite.
 */
export function createAdminAuth(
  context: MasterContext,
  options: { queryTokenRoutes: string[]; openRoutes?: string[] },
): AdminAuth {
  const actors = new WeakMap<FastifyRequest, Actor>();
  const methods = new WeakMap<FastifyRequest, { method: AuthMethod; session?: SessionInfo }>();
  const queryTokenRoutes = new Set(options.queryTokenRoutes);
  const openRoutes = new Set(options.openRoutes ?? []);

  async function bySession(request: FastifyRequest, secret: string): Promise<void> {
    const session = await context.sessions.check(secret);
    if (session === undefined) {
      throw new AppError('unauthenticated', 'your session has ended: sign in again');
    }
    const origin = request.headers.origin;
    if (
      !SAFE_METHODS.has(request.method) &&
      origin !== undefined &&
      !sameOrigin(origin, request.headers.host)
    ) {
      throw new AppError('permission_denied', 'a request from another site is refused');
    }
    actors.set(request, 'admin (web UI)');
    methods.set(request, { method: 'session', session });
  }

  async function authenticate(request: FastifyRequest): Promise<void> {
    const route = request.routeOptions.url;
    // The raw path counts too, so that an anonymous caller cannot probe which /api routes exist.
    if (!isApiPath(pathOf(request.url)) && !(route !== undefined && isApiPath(route))) return;
    if (route !== undefined && openRoutes.has(`${request.method} ${route}`)) return;
    await identify(request);
  }

  async function identify(request: FastifyRequest): Promise<void> {
    const route = request.routeOptions.url;
    let token = bearerToken(request.headers.authorization);
    if (token === undefined && route !== undefined && queryTokenRoutes.has(route)) {
      const query = request.query as Record<string, unknown> | undefined;
      const fromQuery = query?.access_token;
      if (typeof fromQuery === 'string' && fromQuery !== '') token = fromQuery;
    }
    if (token === undefined) {
      const secret = request.cookies[SESSION_COOKIE];
      if (secret !== undefined && secret !== '') {
        await bySession(request, secret);
        return;
      }
      throw new AppError(
        'unauthenticated',
        'this API needs the admin token: send "Authorization: Bearer <token>", or sign in to the web UI',
      );
    }
    if (!(await context.checkAdminToken(token))) {
      throw new AppError('unauthenticated', 'the admin token is not valid');
    }
    actors.set(request, 'admin');
    methods.set(request, { method: 'token' });
  }

  return {
    authenticate,
    identify,
    actorOf: (request) => actors.get(request) ?? 'anonymous',
    methodOf: (request) => methods.get(request),
    setActor: (request, actor) => {
      actors.set(request, actor);
    },
  };
}
