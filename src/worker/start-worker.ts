// Composition root of a worker: enroll once (or load the stored identity), then keep the control stream up.
import { networkInterfaces } from 'node:os';
import { Backoff } from '../core/backoff.js';
import { AppError } from '../core/errors.js';
import type { DockerEngine } from '../core/ports.js';
import type { Logger } from '../platform/logger.js';
import { logNativeAddon } from '../platform/native-addon.js';
import { runControlLoop } from './control-client.js';
import { enrollWorker } from './enroll.js';
import { parseMasterUrls, sameMasters, type HostPort } from './master-address.js';
import {
  identityDir,
  loadWorkerIdentity,
  saveWorkerIdentity,
  type WorkerIdentity,
} from './worker-identity.js';
import type { Welcome } from '../gen/dockation/v1/control.js';
import { CommandExecutor } from './command-executor.js';
import { TransferInbox } from './transfer-inbox.js';
import { startTransferServer } from './transfer-server.js';
import { VolumeAccess, type VolumeAccessMode } from './volume-access.js';
import { SyncSessions } from './sync-sessions.js';
import { VolumeCopies } from './volume-copies.js';
import { sleep } from '../platform/sleep.js';

/** Sync sessions (what a sender keeps between warm rounds) older than this are removed when the worker starts. */
const SYNC_SESSION_MAX_AGE_MS = 7 * 86_400_000;

export interface WorkerOptions {
  /** The master's gRPC address, or several separated by commas (masters sharing one database). */
  masterUrl?: string | undefined;
  token?: string | undefined;
  caHash?: string | undefined;
  name: string;
  hostname: string;
  labels: Record<string, string>;
  /** The worker keeps its identity in `<dataDir>/worker`. */
  dataDir: string;
  /** Where this worker serves peer transfers. */
  grpcAddr: string;
  advertiseAddr?: string | undefined;
  /** How volume content is read and written (see VolumeAccess). */
  volumeAccess?: VolumeAccessMode;
  reconnectIntervalMs: number;
  maxReconnectIntervalMs: number;
  engine: DockerEngine;
  logger: Logger;
  version: string;
  signal: AbortSignal;
  onConnected?: (welcome: Welcome, identity: WorkerIdentity) => void;
}

/**
 * What other workers should dial: the explicit --advertise-addr, else the host of --grpc-addr when it is a real
 * address, else this host's first non-loopback IPv4 address. Never a bare ":port".
 */
export function defaultAdvertiseAddress(grpcAddr: string, interfaces = networkInterfaces()): string {
  const trimmed = grpcAddr.trim();
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(/^\d+$/.test(trimmed) ? `:${trimmed}` : trimmed);
  const port = match?.[3] ?? '9090';
  const host = match?.[1] ?? match?.[2] ?? '';
  if (host && host !== '0.0.0.0' && host !== '::')
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  for (const addresses of Object.values(interfaces)) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) return `${address.address}:${port}`;
    }
  }
  return `127.0.0.1:${port}`;
}

/** Enrolls, retrying while no master is reachable or leads; refusals (token, CA, name) end it at once. */
async function enrollWithRetry(
  options: WorkerOptions,
  masters: HostPort[] | undefined,
): Promise<WorkerIdentity | undefined> {
  if (!masters || !options.token) {
    throw new AppError(
      'invalid_argument',
      'this worker is not enrolled yet: --master-url and --token are required',
      {
        hint: 'copy the join command the master printed (or GET /api/enrollment-token)',
      },
    );
  }
  const backoff = new Backoff({
    initialMs: options.reconnectIntervalMs,
    maxMs: options.maxReconnectIntervalMs,
  });
  while (!options.signal.aborted) {
    try {
      return await enrollWorker({
        masters,
        token: options.token,
        ...(options.caHash ? { caHash: options.caHash } : {}),
        name: options.name,
        hostname: options.hostname,
        labels: options.labels,
        version: options.version,
        logger: options.logger,
      });
    } catch (error) {
      const appError = AppError.from(error);
      if (appError.code !== 'unavailable' && appError.code !== 'deadline_exceeded') throw appError;
      const delay = backoff.next();
      options.logger.warn({ err: appError, delayMs: delay }, `cannot enroll yet: ${appError.message}`);
      await sleep(delay, options.signal);
    }
  }
  return undefined;
}

function mastersAt(masters: readonly string[]): string {
  return `${masters.length === 1 ? 'master' : 'masters'} at ${masters.join(', ')}`;
}

/**
 * The stored identity with the masters given now. A list sharing a master with the enrolled one names the same
 * masters (one added or gone): it replaces the stored list. One with none in common is another master: refused.
 */
function withGivenMasters(
  identity: WorkerIdentity,
  masters: HostPort[],
  dir: string,
  logger: Logger,
): WorkerIdentity {
  const given = masters.map((master) => master.target);
  if (!sameMasters(identity.masterUrls, masters)) {
    throw new AppError(
      'failed_precondition',
      `this worker is enrolled with the ${mastersAt(identity.masterUrls)}, not ${given.join(', ')}`,
      { hint: `to move it to another master, remove ${dir} and enroll again` },
    );
  }
  if (given.join(',') === identity.masterUrls.join(',')) return identity;
  const updated = { ...identity, masterUrls: given };
  saveWorkerIdentity(dir, updated);
  logger.info(
    { was: identity.masterUrls, masters: given },
    'the list of masters changed; keeping the new one',
  );
  return updated;
}

/** Runs a worker until `signal` aborts; rejects when it cannot (or may no longer) work with its master. */
export async function runWorker(options: WorkerOptions): Promise<void> {
  const { logger } = options;
  logNativeAddon(logger);
  await options.engine.ping();
  const dir = identityDir(options.dataDir);
  let identity = loadWorkerIdentity(dir);
  const masters = options.masterUrl ? parseMasterUrls(options.masterUrl) : undefined;
  if (identity && masters) identity = withGivenMasters(identity, masters, dir, logger);
  if (!identity) {
    identity = await enrollWithRetry(options, masters);
    if (!identity) return;
    saveWorkerIdentity(dir, identity);
    logger.info({ workerId: identity.workerId, masters: identity.masterUrls }, 'enrolled with the master');
  } else {
    logger.info(
      { workerId: identity.workerId, masters: identity.masterUrls },
      'using the stored worker identity',
    );
  }
  const current = identity;
  // The relay of relayed transfers is the leading master's: the one this worker is connected to.
  let connectedMaster = current.masterUrls[0] ?? '';
  const inbox = new TransferInbox();
  const serve = (address: string) =>
    startTransferServer({
      address,
      workerId: current.workerId,
      caPem: current.caPem,
      certPem: current.certPem,
      keyPem: current.keyPem,
      inbox,
      logger,
      awaitRevocations: true,
    });
  let transfers: Awaited<ReturnType<typeof serve>>;
  try {
    transfers = await serve(options.grpcAddr);
  } catch (error) {
    // Typically a master on the same host holds the default port: serve on a free one and announce that.
    if (AppError.from(error).code !== 'unavailable') throw error;
    const fallback = /^\d+$/.test(options.grpcAddr.trim()) ? ':0' : options.grpcAddr.replace(/:\d+$/, ':0');
    transfers = await serve(fallback);
    logger.warn(
      { wanted: options.grpcAddr, address: transfers.address },
      `cannot serve transfers on ${options.grpcAddr} (in use?); serving them on port ${transfers.port} instead`,
    );
  }
  const syncSessions = new SyncSessions(options.dataDir);
  // A session whose migration never said it ended (its master lost) is of no use after a week.
  await syncSessions.clean(SYNC_SESSION_MAX_AGE_MS).catch((error: unknown) => {
    logger.warn({ err: error }, 'cannot clean old sync sessions');
  });
  const volumes = new VolumeAccess(options.engine, options.volumeAccess ?? 'auto');
  const copies = new VolumeCopies(options.engine, volumes, syncSessions, options.dataDir);
  await copies.clean().catch((error: unknown) => {
    logger.warn({ err: error }, 'cannot clean half-written volume descriptions');
  });
  const executor = new CommandExecutor({
    engine: options.engine,
    volumes,
    inbox,
    // Renewal rewrites the identity on disk; transfers always use the current certificate.
    identity: () => loadWorkerIdentity(dir) ?? current,
    connectedMaster: () => connectedMaster,
    logger,
    syncSessions,
    copies,
  });
  // The announced address carries the port actually bound (port 0 in tests, or the fallback above).
  const listen = /^\d+$/.test(options.grpcAddr.trim()) ? `:${options.grpcAddr.trim()}` : options.grpcAddr;
  const advertised = options.advertiseAddr
    ? options.advertiseAddr.replace(/:0$/, `:${transfers.port}`)
    : defaultAdvertiseAddress(listen.replace(/:\d+$/, `:${transfers.port}`));
  try {
    await runControlLoop({
      identity: current,
      identityDir: dir,
      engine: options.engine,
      executor,
      hello: {
        name: options.name,
        hostname: options.hostname,
        labels: options.labels,
        version: options.version,
        advertiseAddress: advertised,
      },
      logger,
      reconnectIntervalMs: options.reconnectIntervalMs,
      maxReconnectIntervalMs: options.maxReconnectIntervalMs,
      signal: options.signal,
      // Peers dial the transfer service with a fresh connection per transfer: they see the renewed certificate.
      onRenewed: (renewed) => {
        transfers.setIdentity(renewed.certPem, renewed.keyPem);
      },
      onRevocations: (revocations) => {
        transfers.setRevocations(revocations);
      },
      onConnected: (welcome: Welcome, master: string) => {
        connectedMaster = master;
        options.onConnected?.(welcome, current);
      },
    });
  } finally {
    await transfers.close();
  }
}
