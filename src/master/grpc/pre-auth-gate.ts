// What the master's gRPC port takes before a caller is authenticated: only enrollment, in one small message, a few
// calls at a time, for a short while. Everything else needs a client certificate of this fleet.
import type { Http2Session, ServerHttp2Stream } from 'node:http2';
import { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { AppError } from '../../core/errors.js';
import { toGrpcError } from '../../platform/grpc-support.js';

/** A status as an intercepting call sends it (grpc-js does not export the type by name). */
type Status = Parameters<grpc.ServerInterceptingCallInterface['sendStatus']>[0];

export interface PreAuthLimits {
  /** Bytes one unauthenticated call may send in all (enrollment: a token and a CSR, a few KiB). */
  maxRequestBytes: number;
  /** Unauthenticated calls in progress at once, from everyone. */
  maxConcurrentCalls: number;
  /** … and from one address. */
  maxCallsPerAddress: number;
  /** How long an unauthenticated call, and an unauthenticated connection, may last. */
  callTimeoutMs: number;
  /** Unauthenticated connections open at once; more are dropped as they open. */
  maxConnections: number;
}

export const DEFAULT_PRE_AUTH_LIMITS: PreAuthLimits = {
  maxRequestBytes: 16 * 1024,
  maxConcurrentCalls: 64,
  maxCallsPerAddress: 8,
  callTimeoutMs: 20_000,
  maxConnections: 256,
};

export interface PreAuthGate {
  interceptor: grpc.ServerInterceptor;
  /** Call once the server is bound: watches its HTTP/2 listeners (see below). */
  watch(server: grpc.Server): void;
  /** Unauthenticated calls in progress. */
  readonly active: number;
}

/** Whether the TLS peer presented a certificate that chains to our CA (grpc-js's auth context says the same). */
function isAuthenticated(session: Http2Session | undefined): boolean {
  const socket = session?.socket;
  return socket instanceof TLSSocket && socket.authorized;
}

/**
 * grpc-js applies one maximum message size to a whole server, and the control server must take large messages
 * (inventories, relayed transfer data) from authenticated workers. Enrollment stays on the same port (the join
 * command names one address), so the limits for callers without a certificate are enforced here instead:
 *
 * - an interceptor refuses any method but the allowed ones before a single message is read (grpc-js reads a
 *   call's messages only once its handler starts, which a refused call never does);
 * - the bytes of an allowed call are counted on its HTTP/2 stream as they arrive; past `maxRequestBytes` the
 *   call is ended with RESOURCE_EXHAUSTED, long before grpc-js's own 64 MiB limit;
 * - concurrent unauthenticated calls are capped (RESOURCE_EXHAUSTED, which our workers treat as "try again");
 * - unauthenticated connections keep HTTP/2's small default flow-control windows, and few streams each; only
 *   authenticated ones get the wide windows bulk transfers need. They are few, and short-lived: enrollment
 *   needs one call, and a worker dials again with its certificate afterwards. (A connection dropped for being
 *   one too many gets no gRPC status: there is no call yet to carry one.)
 *
 * The interceptor has no handle on the HTTP/2 stream, so `watch` hands it over: grpc-js creates a call (and runs
 * the interceptors) synchronously in its 'stream' listener, which runs right after ours (prepended).
 */
export function createPreAuthGate(options: {
  allowedPaths: ReadonlySet<string>;
  limits?: Partial<PreAuthLimits>;
}): PreAuthGate {
  const limits = { ...DEFAULT_PRE_AUTH_LIMITS, ...options.limits };
  const perAddress = new Map<string, number>();
  let active = 0;
  let handedOver: ServerHttp2Stream | undefined;
  let connections = 0;

  function refusal(code: grpc.status, error: AppError): Status {
    const status = toGrpcError(error);
    return { code, details: error.message, metadata: status.metadata ?? null };
  }

  function admit(
    call: grpc.ServerInterceptingCallInterface,
    stream: ServerHttp2Stream,
    address: string,
  ): void {
    active += 1;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let bytes = 0;
    let open = true;
    const release = (): void => {
      if (!open) return;
      open = false;
      clearTimeout(timer);
      active -= 1;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    };
    const end = (status: Status): void => {
      call.sendStatus(status);
      release();
      // The caller has its answer; whatever else it sends is not read.
      setImmediate(() => {
        if (!stream.destroyed) stream.close();
      });
    };
    const timer = setTimeout(() => {
      end(
        refusal(
          grpc.status.DEADLINE_EXCEEDED,
          new AppError('deadline_exceeded', 'an unauthenticated call must finish within its time limit'),
        ),
      );
    }, limits.callTimeoutMs);
    stream.once('close', release);
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (open && bytes > limits.maxRequestBytes)
        end(
          refusal(
            grpc.status.RESOURCE_EXHAUSTED,
            new AppError(
              'invalid_argument',
              `a request without a client certificate is limited to ${limits.maxRequestBytes / 1024} KiB`,
            ),
          ),
        );
    });
  }

  const interceptor: grpc.ServerInterceptor = (method, call) => {
    const stream = handedOver;
    handedOver = undefined;
    if (call.getAuthContext().sslPeerCertificate) return new grpc.ServerInterceptingCall(call);
    const address = call.getConnectionInfo().remoteAddress ?? 'unknown';
    const refuse = (status: Status): void => {
      call.sendStatus(status);
    };
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        if (!options.allowedPaths.has(method.path)) {
          refuse(
            refusal(
              grpc.status.UNAUTHENTICATED,
              new AppError('unauthenticated', 'a client certificate from this master is required', {
                hint: 'enroll the worker first (docker-migrate worker --token …)',
              }),
            ),
          );
        } else if (!stream || stream.session?.socket.remotePort !== call.getConnectionInfo().remotePort) {
          // Fails closed should grpc-js ever stop creating calls within its 'stream' listener.
          refuse(refusal(grpc.status.INTERNAL, new AppError('internal', 'the request could not be checked')));
        } else if (
          active >= limits.maxConcurrentCalls ||
          (perAddress.get(address) ?? 0) >= limits.maxCallsPerAddress
        ) {
          refuse(
            refusal(
              grpc.status.RESOURCE_EXHAUSTED,
              new AppError('unavailable', 'too many unauthenticated calls in progress; try again shortly'),
            ),
          );
        } else {
          admit(call, stream, address);
          next(metadata);
        }
      })
      .build();
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => {
        next(listener);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };

  function admitConnection(session: Http2Session): void {
    if (connections >= limits.maxConnections) {
      session.destroy();
      return;
    }
    connections += 1;
    session.settings({ maxConcurrentStreams: limits.maxCallsPerAddress });
    const timer = setTimeout(() => {
      session.close();
      // A peer that does not finish its streams is not waited for.
      setTimeout(() => {
        if (!session.destroyed) session.destroy();
      }, 1_000).unref();
    }, limits.callTimeoutMs);
    timer.unref();
    session.once('close', () => {
      clearTimeout(timer);
      connections -= 1;
    });
  }

  function watch(server: grpc.Server): void {
    // grpc-js keeps its HTTP/2 servers private; the map has been stable across 1.x .
    const servers = (server as unknown as { http2Servers?: Map<NodeJS.EventEmitter, unknown> }).http2Servers;
    if (!(servers instanceof Map)) throw new Error('grpc-js internals changed: cannot watch the server');
    for (const http2Server of servers.keys()) {
      http2Server.prependListener('stream', (stream: ServerHttp2Stream) => {
        handedOver = isAuthenticated(stream.session) ? undefined : stream;
      });
      http2Server.on('session', (session: Http2Session) => {
        try {
          if (!isAuthenticated(session)) admitConnection(session);
        } catch {
          // A session closing as it opens: nothing to set.
        }
      });
    }
  }

  return {
    interceptor,
    watch,
    get active() {
      return active;
    },
  };
}
