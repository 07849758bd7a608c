// A standby master answers the API by forwarding it to the leader: one writer, whichever master a browser, the CLI
// or a load balancer reaches. Probes, metrics, downloads and the UI's files stay local.
import fastifyReplyFrom from '@fastify/reply-from';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

import type { LeadershipInfo } from '../master-context.js';
import { errorBody } from './http-errors.js';

/** The header a standby adds so that the leader's log and audit can tell a forwarded call. */
export const FORWARDED_BY_HEADER = 'x-dockation-forwarded-by';

export interface LeaderForwardOptions {
  leadership(): LeadershipInfo;
  /** This master's own HTTP base URL, named in the forwarded-by header. */
  self: () => string;
  /** Believe X-Forwarded-For from the client side (the master sits behind a proxy), as the app does. */
  trustProxy: boolean;
  /** The request is answered elsewhere: the audit log leaves it out (the leader writes the entry). */
  forwarded(request: FastifyRequest): void;
}

function isApi(url: string): boolean {
  return url === '/api' || url.startsWith('/api/') || url.startsWith('/api?');
}

function notLeading(reply: FastifyReply, message: string): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', '2')
    .send(errorBody('unavailable', message, { reason: 'not_leader' }));
}

/**
 * Registers the forwarding: an onRequest hook, before authentication (the leader checks the credentials, the
 * sign-in limits and writes the audit), that sends /api calls to the leader's HTTP URL as the lease names it. The
 * body streams through unread; event streams stay open as long as the client keeps them (no body timeout).
 */
export async function registerLeaderForward(
  app: FastifyInstance,
  options: LeaderForwardOptions,
): Promise<void> {
  await app.register(fastifyReplyFrom, {
    undici: {
      connections: 64,
      headersTimeout: 60_000,
      bodyTimeout: 0,
      // The leader's HTTPS certificate is checked like any server's (NODE_EXTRA_CA_CERTS for a private CA).
      connect: { rejectUnauthorized: true },
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    if (!isApi(request.url)) return;
    const state = options.leadership();
    if (state.leader) return;
    if (request.headers[FORWARDED_BY_HEADER] !== undefined) {
      // Forwarded once already: two masters each thinking the other leads must not bounce a call for ever.
      return notLeading(
        reply,
        'this master does not lead, and the call was already forwarded once; try again',
      );
    }
    const target = state.leaderHttpUrl;
    if (target === undefined) {
      return notLeading(
        reply,
        'no master leads right now (an election is under way); try again in a few seconds',
      );
    }
    options.forwarded(request);
    // Unparsed in onRequest: reply-from sends a request body it finds as a stream as is, with its own headers.
    if (request.method !== 'GET' && request.method !== 'HEAD') request.body = request.raw;
    // Client first, then each proxy, as X-Forwarded-For lists them; without trust, only the peer this master sees.
    const client =
      options.trustProxy && request.ips !== undefined
        ? [...request.ips].reverse().join(', ')
        : (request.socket.remoteAddress ?? request.ip);
    return reply.from(`${target}${request.url}`, {
      rewriteRequestHeaders: (_request, headers) => ({
        ...headers,
        'x-forwarded-for': client,
        'x-forwarded-proto': request.protocol,
        [FORWARDED_BY_HEADER]: options.self(),
      }),
      onError: (failed, { error }) => {
        void notLeading(
          failed as unknown as FastifyReply,
          `the leading master at ${target} did not answer (${error.message}); try again`,
        );
      },
    });
  });
}
