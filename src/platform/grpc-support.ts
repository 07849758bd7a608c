// gRPC plumbing shared by master and worker: error ↔ status translation, static certificate providers, addresses.
import * as grpc from '@grpc/grpc-js';
import { AppError, ERROR_CODES, GRPC_STATUS, isErrorReason, type ErrorCode } from '../core/errors.js';

/** A gRPC error carrying our code, message, hint, reason and details, for a handler's callback or `call.destroy`. */
export function toGrpcError(error: unknown): Partial<grpc.StatusObject> & Error {
  const appError = AppError.from(error);
  const metadata = new grpc.Metadata();
  metadata.set('dm-error-code', appError.code);
  // Metadata values must be printable ASCII: the hint and the details (JSON) travel percent-encoded.
  if (appError.hint) metadata.set('dm-error-hint', encodeURIComponent(appError.hint));
  if (appError.reason) metadata.set('dm-error-reason', appError.reason);
  const details = detailsJson(appError.details);
  if (details) metadata.set('dm-error-details', encodeURIComponent(details));
  // GRPC_STATUS holds grpc's status numbers; the core cannot import grpc-js's enum.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment
  return Object.assign(new Error(appError.message), {
    code: GRPC_STATUS[appError.code],
    details: appError.message,
    metadata,
  });
}

const CODE_BY_STATUS = new Map<number, ErrorCode>(ERROR_CODES.map((code) => [GRPC_STATUS[code], code]));

/** Reads a failed call back into an AppError, preferring the code the peer put in the trailers. */
export function fromGrpcError(error: unknown, context: string): AppError {
  if (error instanceof AppError) return error;
  const status = error as Partial<grpc.ServiceError>;
  const sent = status.metadata?.get('dm-error-code')[0];
  const hint = status.metadata?.get('dm-error-hint')[0];
  const reason = status.metadata?.get('dm-error-reason')[0];
  const details = status.metadata?.get('dm-error-details')[0];
  const code: ErrorCode =
    typeof sent === 'string' && (ERROR_CODES as readonly string[]).includes(sent)
      ? (sent as ErrorCode)
      : (CODE_BY_STATUS.get(status.code ?? -1) ??
        (status.code === grpc.status.UNKNOWN ? 'internal' : 'unavailable'));
  const message = status.details ?? (error instanceof Error ? error.message : String(error));
  return new AppError(code, `${context}: ${message}`, {
    cause: error,
    ...(typeof hint === 'string' ? { hint: safeDecode(hint) } : {}),
    ...(typeof reason === 'string' && isErrorReason(reason) ? { reason } : {}),
    ...receivedDetails(details),
  });
}

/** An error's details for the trailers: a JSON object, or undefined when there are none or they do not serialise. */
function detailsJson(details: Record<string, unknown> | undefined): string | undefined {
  if (details === undefined) return undefined;
  try {
    return JSON.stringify(details);
  } catch {
    return undefined;
  }
}

/** The peer's details trailer as AppError options: a JSON object, or nothing when absent or anything else. */
function receivedDetails(value: unknown): { details?: Record<string, unknown> } {
  if (typeof value !== 'string') return {};
  try {
    const parsed: unknown = JSON.parse(safeDecode(value));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? { details: parsed as Record<string, unknown> }
      : {};
  } catch {
    return {};
  }
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** A value that grpc-js watches: each listener hears the current value once, then every later one. */
class WatchedValue<T> {
  private value: T | null = null;
  private readonly listeners = new Set<(update: T | null) => void>();

  set(value: T): void {
    this.value = value;
    for (const listener of this.listeners) listener(value);
  }

  // grpc-js registers its watcher only after adding the listener, so the first update must come asynchronously
  // (as from its own file-watching provider), or the credentials stay "unloaded".
  add(listener: (update: T | null) => void): void {
    this.listeners.add(listener);
    queueMicrotask(() => {
      if (this.listeners.has(listener)) listener(this.value);
    });
  }

  remove(listener: (update: T | null) => void): void {
    this.listeners.delete(listener);
  }
}

type CaListener = (update: { caCertificate: Buffer } | null) => void;
type IdentityListener = (update: { certificate: Buffer; privateKey: Buffer } | null) => void;

/**
 * A certificate provider whose certificates can be swapped at run time (renewal) without restarting the server
 * or channel. grpc-js's certificate-provider credentials are the only public way to request client certificates
 * without requiring them, which enrollment (no certificate yet) needs on the same port as the control stream.
 */
export class MutableCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly ca = new WatchedValue<{ caCertificate: Buffer }>();
  private readonly identity = new WatchedValue<{ certificate: Buffer; privateKey: Buffer }>();

  setCa(caPem: string): void {
    this.ca.set({ caCertificate: Buffer.from(caPem) });
  }

  setIdentity(certPem: string, keyPem: string): void {
    this.identity.set({ certificate: Buffer.from(certPem), privateKey: Buffer.from(keyPem) });
  }

  addCaCertificateListener(listener: CaListener): void {
    this.ca.add(listener);
  }
  removeCaCertificateListener(listener: CaListener): void {
    this.ca.remove(listener);
  }
  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identity.add(listener);
  }
  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identity.remove(listener);
  }
}

/** Channel options for long-lived control streams: keepalives find dead peers, large inventories fit. */
export const CONTROL_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  // Channelz keeps trace data per connection; nothing reads it here, and a master holds a thousand connections.
  'grpc.enable_channelz': 0,
};

/** Server side of the same: allow the clients' keepalive pings. */
export const CONTROL_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
  'grpc.enable_channelz': 0,
};

/**
 * Turns a listen address as people write it (":9090", "0.0.0.0:9090", "[::1]:9090", "localhost:0") into what
 * grpc-js binds; a bare ":port" listens on every interface, like Go's net.Listen.
 */
export function grpcBindAddress(address: string): string {
  const trimmed = address.trim();
  if (/^:\d+$/.test(trimmed)) return `0.0.0.0${trimmed}`;
  if (/^\d+$/.test(trimmed)) return `0.0.0.0:${trimmed}`;
  return trimmed;
}

/** "ipv4:1.2.3.4:5678" / "ipv6:[::1]:5678" (grpc-js peer strings) → "1.2.3.4" / "::1". */
export function peerHost(peer: string): string {
  const withoutScheme = peer.replace(/^ipv[46]:/, '');
  const bracket = /^\[([^\]]+)\]/.exec(withoutScheme);
  if (bracket?.[1]) return bracket[1];
  const colon = withoutScheme.lastIndexOf(':');
  return colon > 0 ? withoutScheme.slice(0, colon) : withoutScheme;
}
