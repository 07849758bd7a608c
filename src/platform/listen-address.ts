// Where a server listens, as every listen setting is written: HOST:PORT, :PORT or PORT.
import { AppError } from '../core/errors.js';

/**
 * ":8080" or "8080" → all IPv4 interfaces; "127.0.0.1:0" → loopback, any port; "[::1]:8080" → IPv6 loopback. Every
 * listener takes its address this way: HTTP, gRPC, the transfer server and the relay.
 */
export function parseListenAddress(address: string): { host: string; port: number } {
  const trimmed = address.trim();
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(/^\d+$/.test(trimmed) ? `:${trimmed}` : trimmed);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port > 65535) {
    throw new AppError('invalid_argument', `invalid listen address "${address}"`, {
      hint: 'use HOST:PORT or :PORT, e.g. 127.0.0.1:8080 or :8080',
    });
  }
  const host = match[1] ?? match[2] ?? '';
  return { host: host || '0.0.0.0', port };
}
