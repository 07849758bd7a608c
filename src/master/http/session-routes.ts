// Sign-in and sign-out of the web UI: POST /api/session trades the admin token for an HttpOnly session cookie.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import { AppError } from '../../core/errors.js';
import type { MasterContext } from '../master-context.js';
import { SESSION_COOKIE, type AdminAuth } from './admin-auth.js';

export const SESSION_ROUTE = '/api/session';

const SIGN_IN = z.strictObject({ token: z.string().min(1, 'token is empty') });

/** The cookie's attributes: script cannot read it, no other site sends it, and it ends when the session does. */
function cookieOptions(request: FastifyRequest, expires: Date) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    // Secure only when the browser reached us over TLS; a Secure cookie over plain http is dropped.
    secure: request.protocol === 'https',
    expires,
  };
}

function sessionJson(method: 'session' | 'token', expiresAt: Date | undefined) {
  return { authenticated: true, via: method, expires_at: expiresAt?.toISOString() ?? null };
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('Cache-Control', 'no-store');
}

/** Registers the session routes, all open routes of the auth hook: each checks credentials for itself. */
export function registerSessionRoutes(app: FastifyInstance, context: MasterContext, auth: AdminAuth): void {
  app.post(SESSION_ROUTE, async (request, reply) => {
    const parsed = SIGN_IN.safeParse(request.body ?? {});
    if (!parsed.success) {
      throw new AppError('invalid_argument', 'send {"token": "<admin token>"} to sign in');
    }
    if (!(await context.checkAdminToken(parsed.data.token))) {
      throw new AppError('unauthenticated', 'the admin token is not valid');
    }
    const session = await context.sessions.create();
    auth.setActor(request, 'admin (web UI)');
    return noStore(reply)
      .setCookie(SESSION_COOKIE, session.secret, cookieOptions(request, session.expiresAt))
      .send(sessionJson('session', session.expiresAt));
  });

  // "Am I signed in?" is answered, not refused: the UI asks it on every load, and a 401 there would be logged
  // by the browser as an error on the sign-in page.
  app.get(SESSION_ROUTE, async (request, reply) => {
    try {
      await auth.identify(request);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthenticated') {
        return noStore(reply).send({ authenticated: false, via: null, expires_at: null });
      }
      throw error;
    }
    const method = auth.methodOf(request);
    return noStore(reply).send(sessionJson(method?.method ?? 'token', method?.session?.expiresAt));
  });

  app.delete(SESSION_ROUTE, async (request, reply) => {
    const secret = request.cookies[SESSION_COOKIE];
    if (secret !== undefined && secret !== '') {
      if ((await context.sessions.check(secret)) !== undefined) auth.setActor(request, 'admin (web UI)');
      await context.sessions.end(secret);
    }
    return noStore(reply)
      .clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict' })
      .send({ signed_out: true });
  });
}
