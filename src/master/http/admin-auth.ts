// Admin authentication of the REST API: a Bearer token on every /api/* route, checked by the master context.
import type { FastifyRequest } from 'fastify';

import { AppError } from '../../core/errors.js';
import type { MasterContext } from '../master-context.js';

/** Who made a request, as the audit log names it. */
export type Actor = 'admin' | 'anonymous';

/** Everything under this prefix needs the admin token; /health, /ready and /metrics stay open for probes. */
export const API_PREFIX = '/api';

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

export interface AdminAuth {
  /** onRequest hook: rejects an /api/* request without a valid token with `unauthenticated`. */
  authenticate: (request: FastifyRequest) => Promise<void>;
  /** The actor a request was authenticated as ("anonymous" when it was not). */
  actorOf: (request: FastifyRequest) => Actor;
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

/**
 * Creates the admin check. `queryTokenRoutes` names the route patterns that may also carry the token as
 * `?access_token=`: only the event stream, because a browser's EventSource cannot set headers. A token in a URL
 * may end up in proxy logs and browser history, so no other route accepts it.
 */
export function createAdminAuth(context: MasterContext, options: { queryTokenRoutes: string[] }): AdminAuth {
  const actors = new WeakMap<FastifyRequest, Actor>();
  const queryTokenRoutes = new Set(options.queryTokenRoutes);

  async function authenticate(request: FastifyRequest): Promise<void> {
    const route = request.routeOptions.url;
    // Unknown /api/* paths are checked too, so that an anonymous caller cannot probe which routes exist.
    if (!isApiPath(route ?? pathOf(request.url))) return;
    let token = bearerToken(request.headers.authorization);
    if (token === undefined && route !== undefined && queryTokenRoutes.has(route)) {
      const query = request.query as Record<string, unknown> | undefined;
      const fromQuery = query?.access_token;
      if (typeof fromQuery === 'string' && fromQuery !== '') token = fromQuery;
    }
    if (token === undefined) {
      throw new AppError(
        'unauthenticated',
        'this API needs the admin token: send "Authorization: Bearer <token>"',
      );
    }
    if (!(await context.checkAdminToken(token))) {
      throw new AppError('unauthenticated', 'the admin token is not valid');
    }
    actors.set(request, 'admin');
  }

  return {
    authenticate,
    actorOf: (request) => actors.get(request) ?? 'anonymous',
  };
}
