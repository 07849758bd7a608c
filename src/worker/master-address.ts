// Reads the master address as people write it: "host:9090", "https://host:9090", "[::1]:9090".
import { AppError } from '../core/errors.js';

export interface HostPort {
  host: string;
  port: number;
  /** "host:port" as grpc-js dials it (IPv6 in brackets). */
  target: string;
}

export function parseMasterUrl(value: string): HostPort {
  const raw = value
    .trim()
    .replace(/^(grpcs?|https?|tcp):\/\//i, '')
    .replace(/\/+$/, '');
  const match = /^(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(raw);
  const port = Number(match?.[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new AppError('invalid_argument', `invalid master address "${value}"`, {
      hint: 'use HOST:PORT, e.g. --master-url master.example:9090',
    });
  }
  const host = match[1].replace(/^\[|\]$/g, '');
  return { host, port, target: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}
