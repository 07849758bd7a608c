// Sign-in and sign-out of the web UI: POST /api/session trades the admin token for an HttpOnly session cookie.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';

import type { SessionJson } from '../../contract/index.js';
import { AppError } from '../../core/errors.js';
import type { MasterContext } from '../master-context.js';
import { SESSION_COOKIE, type AdminAuth } from './admin-auth.js';
import type { AuditHook } from './audit-hook.js';
import { TooManyRequestsError } from './http-errors.js';
import type { FailureOutcome, SignInLimiter } from './sign-in-limiter.js';

export const SESSION_ROUTE = '/api/session';

const SIGN_IN = z.strictObject({ token: z.string().min(1, 'token is empty') });

/** The cookie's attributes: script cannot read it, no other site sends it, and it ends when the session does. */
function cookieOptions(request: FastifyRequest, expires: Date) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'strict' as const,
    // Secure only when the browser reached us over TLS (ours, or a trusted proxy's X-Forwarded-Proto: https); a
    // Secure cookie over plain http is dropped.
    secure: request.protocol === 'https',
    expires,
  };
}

function sessionJson(method: 'session' | 'token', expiresAt: Date | undefined): SessionJson {
  return { authenticated: true, via: method, expires_at: expiresAt?.toISOString() ?? null };
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('Cache-Control', 'no-store');
}

/**
 * Audits a failed sign-in as the limiter's outcome says: the first failure of a streak gets the usual row, the
 * others are counted in one row written when they lock the address out.
 */
function auditFailure(request: FastifyRequest, audit: AuditHook, outcome: FailureOutcome, at: Date): void {
  if (outcome.kind === 'first') return;
  audit.skip(request);
  if (outcome.kind === 'counted') return;
  audit.record({
    at: at.toISOString(),
    actor: 'anonymous',
    action: `POST ${SESSION_ROUTE}`,
    target: null,
    outcome: 'error',
    status: 429,
    details: {
      reason: 'too many failed sign-in attempts',
      failed_attempts: outcome.failedAttempts,
      refused_attempts: outcome.refusedAttempts,
      locked_seconds: Math.ceil(outcome.lockoutMs / 1000),
    },
    remoteAddress: request.ip,
  });
}

/**
 * Registers the session routes, all open routes of the auth hook: each checks credentials for itself. Sign-in is
 * limited per client address (request.ip: the proxy's client when --trust-proxy is set).
 */
export function registerSessionRoutes(
  app: FastifyInstance,
  context: MasterContext,
  auth: AdminAuth,
  options: { audit: AuditHook; limiter: SignInLimiter },
): void {
  const { audit, limiter } = options;

  app.post(SESSION_ROUTE, async (request, reply) => {
    const address = request.ip;
    const waitMs = limiter.refuse(address);
    if (waitMs > 0) {
      // Counted by the limiter and written with its next lockout row, not one row per refusal.
      audit.skip(request);
      const seconds = Math.ceil(waitMs / 1000);
      throw new TooManyRequestsError(
        `too many failed sign-in attempts from this address: try again in ${seconds} s`,
        seconds,
      );
    }
    const parsed = SIGN_IN.safeParse(request.body ?? {});
    const valid = parsed.success && (await context.checkAdminToken(parsed.data.token));
    if (!valid) {
      auditFailure(request, audit, limiter.failed(address), new Date());
      if (!parsed.success) {
        throw new AppError('invalid_argument', 'send {"token": "<admin token>"} to sign in');
      }
      throw new AppError('unauthenticated', 'the admin token is not valid');
    }
    limiter.succeeded(address);
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
        return noStore(reply).send({
          authenticated: false,
          via: null,
          expires_at: null,
        } satisfies SessionJson);
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
      .clearCookie(SESSION_COOKIE, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: request.protocol === 'https',
      })
      .send({ signed_out: true });
  });
}
