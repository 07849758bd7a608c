// Reads the master addresses as people write them: "host:9090", "https://host:9090", "[::1]:9090", and a
// comma-separated list of them for a master with standbys ("a:9090,b:9090").
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

/**
 * Reads --master-url: one address, or several separated by commas (the masters sharing one database; whichever
 * leads takes the worker). Order is kept (it is the order they are tried in); a repeated address counts once.
 */
export function parseMasterUrls(value: string): HostPort[] {
  const entries = value.split(',').map((entry) => entry.trim());
  if (entries.every((entry) => entry === '')) {
    throw new AppError('invalid_argument', 'no master address given', {
      hint: 'use HOST:PORT, or several separated by commas, e.g. --master-url m1.example:9090,m2.example:9090',
    });
  }
  const masters = new Map<string, HostPort>();
  entries.forEach((entry, index) => {
    if (entry === '') {
      throw new AppError(
        'invalid_argument',
        `invalid master address list "${value}": address ${index + 1} is empty`,
        { hint: 'separate addresses with single commas, e.g. --master-url m1.example:9090,m2.example:9090' },
      );
    }
    const master = parseMasterUrl(entry);
    if (!masters.has(master.target)) masters.set(master.target, master);
  });
  return [...masters.values()];
}

/**
 * Whether a worker enrolled with the masters `enrolled` may run with `given`: yes when the lists share an address
 * (the same masters, one added or gone), no when they have none in common (another master, or a typing mistake).
 */
export function sameMasters(enrolled: readonly string[], given: readonly HostPort[]): boolean {
  return given.some((master) => enrolled.includes(master.target));
}

/**
 * The leader a master's refusal names (a standby answers not_leader with `details.leader`), to be dialled next;
 * undefined for any other failure or an address that does not parse.
 */
export function leaderReferral(error: AppError): HostPort | undefined {
  const leader = error.details?.leader;
  if (error.reason !== 'not_leader' || typeof leader !== 'string') return undefined;
  try {
    return parseMasterUrl(leader);
  } catch {
    return undefined;
  }
}
