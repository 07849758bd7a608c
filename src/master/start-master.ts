// Composition root of the master: state, trust material, the gRPC control service and the HTTP API, wired together.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { parseListenAddress } from '../platform/listen-address.js';
import type { Logger } from '../platform/logger.js';
import { generateToken, tokenMatches, tokenMatchesHash } from '../platform/secrets.js';
import { startControlServer, type ControlTerm } from './grpc/control-server.js';
import { createHttpApp } from './http/http-app.js';
import { loadHttpTls } from './http/http-tls.js';
import { findWebRoot } from './http/web-ui.js';
import type { EnrollmentInfo, MasterContext } from './master-context.js';
import {
  SETTING_ADMIN_TOKEN_HASH,
  SETTING_ENROLLMENT_TOKEN,
  ensureTokens,
  loadMasterTls,
  readCaKeyKek,
  watchEnrollmentToken,
} from './master-identity.js';
import { createMasterMetrics } from './metrics.js';
import { PairingCodes, type PairingCode } from './pairing-codes.js';
import { createReleaseDownloads, offeredInstallCommand } from './release-downloads.js';
import { createSessionManager } from './sessions.js';
import { lockInstance } from './instance-lock.js';
import {
  openPostgresMasterStore,
  openSqliteMasterStore,
  type SqlMasterStore,
} from './store/sql-master-store.js';
import { WorkerRegistry } from './worker-registry.js';
import { startBulkRelay } from './bulk-relay.js';
import { CommandDispatcher } from './command-dispatcher.js';
import { EventLog } from './event-log.js';
import { MigrationService, type Failpoints } from './migration-service.js';

export interface MasterOptions {
  httpAddr: string;
  grpcAddr: string;
  dataDir: string;
  enrollmentToken?: string | undefined;
  adminToken?: string | undefined;
  /** host:port workers dial (shown in the join command); derived from grpcAddr and the host name when absent. */
  advertiseAddr?: string | undefined;
  workerTimeoutMs: number;
  heartbeatIntervalMs: number;
  inventoryIntervalMs: number;
  /** Lifetime of worker certificates (days). */
  certificateValidityDays?: number;
  logger: Logger;
  version: string;
  /** How long a migrated container may take to run and be healthy on the target. */
  readyTimeoutMs?: number;
  /** How long rollback waits for an offline worker before naming what it leaves behind. */
  rollbackTimeoutMs?: number;
  /** A transfer moving no byte this long is aborted. */
  transferStallTimeoutMs?: number;
  /** Where the transfer relay listens (bulk channel); absent: the gRPC host on a port of the system's choosing. */
  relayAddr?: string | undefined;
  /** Fault injection (see MigrationServiceOptions.failpoints). */
  failpoints?: Failpoints;
  /** How long a web UI session lasts after sign-in (default 12 h). */
  sessionTtlMs?: number;
  /** Serve the API and UI over HTTPS with these PEM files (checked before anything starts); plain HTTP without. */
  httpTls?: { certFile: string; keyFile: string } | undefined;
  /** Believe X-Forwarded-For/-Proto from a reverse proxy in front of the HTTP listener. */
  trustProxy?: boolean | undefined;
  /** Folder of the built web UI (index.html, assets/); absent: looked for beside the binary. */
  webRoot?: string | undefined;
  /** better-sqlite3's native add-on, when it is not where the package expects it (the bundled binary). */
  sqliteNativeBinding?: string | undefined;
  /** postgres://… to keep the state in PostgreSQL; absent: SQLite in <dataDir>/master/state.db. */
  storeUrl?: string | undefined;
  /** The file of the key that seals the CA key in the store (--ca-key-kek); required with storeUrl. */
  caKeyKekFile?: string | undefined;
  /** The folder of release archives and SHA256SUMS served at /downloads/ (none: /downloads/ serves nothing). */
  downloadsDir?: string | undefined;
  /** The worker install script served at /install.sh (packaging/install-worker.sh); absent: not served. */
  installScriptFile?: string | undefined;
}

/** How long a web UI session lasts when not configured. */
export const DEFAULT_SESSION_TTL_MS = 12 * 3600_000;

/** How long a pairing code stays valid. */
export const PAIRING_CODE_TTL_MS = 10 * 60_000;

/** How long GET /api/containers/:id waits for a worker's inspect: a page waits on it, so seconds, not minutes. */
const INSPECT_TIMEOUT_MS = 15_000;

export interface RunningMaster {
  httpUrl: string;
  /** Whether this build serves the web UI (built by `make build-full`). */
  webUi: boolean;
  httpPort: number;
  grpcPort: number;
  enrollment(): EnrollmentInfo;
  /** A short-lived, single-use code another host can join with (as its --token). */
  createPairingCode(): Promise<PairingCode & { joinCommand: string }>;
  caHash: string;
  /** The one-line service install for a new host, when this master serves archives; else undefined. */
  installCommand(token: string): string | undefined;
  /** The admin token when this start created it (shown once), else undefined. */
  newAdminToken: string | undefined;
  registry: WorkerRegistry;
  migrations: MigrationService;
  close(): Promise<void>;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

/**
 * The store the options name: PostgreSQL at storeUrl, else this master's own SQLite file, which it locks. Closing
 * gives the lock back after the store.
 */
async function openConfiguredStore(
  options: MasterOptions,
): Promise<{ store: SqlMasterStore; close(): Promise<void> }> {
  if (options.storeUrl !== undefined) {
    const store = await openPostgresMasterStore({ url: options.storeUrl });
    return { store, close: () => store.close() };
  }
  const path = join(options.dataDir, 'master', 'state.db');
  mkdirSync(join(options.dataDir, 'master'), { recursive: true, mode: 0o700 });
  const lock = lockInstance(`${path}.lock`, `the database at ${path}`);
  try {
    const store = await openSqliteMasterStore({ path, nativeBinding: options.sqliteNativeBinding });
    return {
      store,
      close: async () => {
        await store.close();
        lock.release();
      },
    };
  } catch (error) {
    lock.release();
    throw error;
  }
}

/** Starts a master; resolves once both servers listen. */
export async function startMaster(options: MasterOptions): Promise<RunningMaster> {
  const { logger } = options;
  const http = parseListenAddress(options.httpAddr);
  // Read before the data dir, the store or any socket: a wrong path is a configuration error, nothing to undo.
  const httpsPem = options.httpTls === undefined ? undefined : loadHttpTls(options.httpTls);
  const warn = (message: string): void => {
    logger.warn(message);
  };
  const kek = readCaKeyKek({ file: options.caKeyKekFile, shared: options.storeUrl !== undefined, warn });
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const grpcListen = parseListenAddress(options.grpcAddr);
  const opened = await openConfiguredStore(options);
  const { store } = opened;
  const closers: (() => Promise<void>)[] = [() => opened.close()];
  let closed = false;
  const closeAll = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const close of [...closers].reverse()) {
      await close().catch((error: unknown) => {
        logger.warn({ err: error }, 'error while shutting down');
      });
    }
  };
  try {
    const { dataDir, advertiseAddr } = options;
    const tls = await loadMasterTls({ dataDir, store, kek, advertiseAddr, warn });
    const tokens = await ensureTokens(store, {
      enrollmentToken: options.enrollmentToken,
      adminToken: options.adminToken,
    });
    const enrollmentToken = watchEnrollmentToken(store, tokens.enrollmentToken, {
      onError: (error) => {
        logger.warn({ err: error }, 'cannot read the enrollment token from the store');
      },
    });
    closers.push(() => enrollmentToken.close());
    const registry = await WorkerRegistry.load({
      store,
      workerTimeoutMs: options.workerTimeoutMs,
      onError: (error) => {
        logger.error({ err: error }, 'cannot persist worker state');
      },
    });
    // One master per database for now: it writes the live events (a standby would follow the leader's).
    const events = new EventLog({ store, source: registry, logger });
    await events.start({ mode: 'write' });
    closers.push(() => events.stop());
    const metrics = createMasterMetrics({ onlineWorkers: () => registry.onlineCount() });
    let ready = false;
    const pairing = new PairingCodes(store);
    const dispatcher = new CommandDispatcher(registry, 0, (operation, outcome) => {
      metrics.dockerOperations.inc({ operation, outcome });
    });
    const relay = await startBulkRelay({
      address:
        options.relayAddr ?? `${grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:0`,
      caPem: tls.ca.certPem,
      certPem: tls.serverCertPem,
      keyPem: tls.serverKeyPem,
      store,
      logger,
    });
    closers.push(async () => {
      dispatcher.closeAll('the master is shutting down');
      await relay.close();
    });

    // One term for the master's whole life until it elects a leader.
    const term: ControlTerm = {
      epoch: 0,
      registry,
      dispatcher,
      acceptEnrollmentToken: (token) =>
        tokenMatches(token, enrollmentToken.current()) ? Promise.resolve(true) : pairing.consume(token),
    };
    const control = await startControlServer({
      address: `${grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:${grpcListen.port}`,
      tls,
      store,
      term: () => term,
      leaderAddress: () => undefined,
      logger,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      inventoryIntervalMs: options.inventoryIntervalMs,
      ...(options.certificateValidityDays === undefined
        ? {}
        : { certificateValidityDays: options.certificateValidityDays }),
    });
    closers.push(() => control.close());
    registry.subscribe((event) => {
      if (event.type === 'worker.online' || event.type === 'worker.offline') {
        logger.info({ workerId: event.worker.id, name: event.worker.name }, `worker ${event.worker.status}`);
      }
    });

    const masterUrl =
      options.advertiseAddr ??
      `${isWildcard(grpcListen.host) ? hostname() : grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:${control.port}`;
    const joinCommand = (token: string): string =>
      `docker-migrate worker --master-url ${masterUrl} --token ${token} --ca-hash ${tls.caHash}`;
    const enrollment = (): EnrollmentInfo => ({
      token: enrollmentToken.current(),
      caHash: tls.caHash,
      masterUrl,
      joinCommand: joinCommand(enrollmentToken.current()),
    });
    const createPairingCode = async (): Promise<PairingCode & { joinCommand: string }> => {
      const created = await pairing.create(PAIRING_CODE_TTL_MS);
      return { ...created, joinCommand: joinCommand(created.code) };
    };
    const migrations = new MigrationService({
      store,
      registry,
      gateway: dispatcher,
      caKeyPem: tls.ca.keyPem,
      relayPort: relay.port,
      logger,
      metrics,
      clock: systemClock(),
      ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
      ...(options.rollbackTimeoutMs === undefined ? {} : { rollbackTimeoutMs: options.rollbackTimeoutMs }),
      ...(options.transferStallTimeoutMs === undefined
        ? {}
        : { transferStallTimeoutMs: options.transferStallTimeoutMs }),
      ...(options.failpoints === undefined ? {} : { failpoints: options.failpoints }),
    });
    migrations.subscribe((notice) => {
      registry.publish(notice);
    });
    closers.push(() => migrations.close());
    const sessions = createSessionManager({
      store,
      logger,
      ttlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
      adminTokenHash: () => store.getSetting(SETTING_ADMIN_TOKEN_HASH),
    });
    closers.push(() => {
      sessions.close();
      return Promise.resolve();
    });
    const releases = createReleaseDownloads(options.downloadsDir);
    const context: MasterContext = {
      registry,
      events,
      sessions,
      store,
      metrics,
      migrations,
      enrollment,
      async regenerateEnrollmentToken() {
        const token = generateToken('dm-enroll');
        await store.setSetting(SETTING_ENROLLMENT_TOKEN, token);
        enrollmentToken.set(token);
        logger.info('enrollment token regenerated');
        return enrollment();
      },
      async checkAdminToken(token) {
        const stored = await store.getSetting(SETTING_ADMIN_TOKEN_HASH);
        return stored !== undefined && tokenMatchesHash(token, stored);
      },
      ready: () => ready,
      version: options.version,
      createPairingCode,
      releases,
      installScript:
        options.installScriptFile !== undefined && existsSync(options.installScriptFile)
          ? readFileSync(options.installScriptFile, 'utf8')
          : undefined,
      inspectContainer: (workerId, ref) =>
        dispatcher.run(workerId, 'container.inspect', { ref }, { timeoutMs: INSPECT_TIMEOUT_MS }),
    };

    const webRoot = options.webRoot ?? findWebRoot();
    const app = await createHttpApp(context, {
      logger,
      webRoot,
      https: httpsPem,
      trustProxy: options.trustProxy ?? false,
    });
    await app.listen({ host: http.host, port: http.port }).catch((error: unknown) => {
      throw new AppError(
        'unavailable',
        `cannot listen for HTTP on ${options.httpAddr}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    });
    closers.push(() => app.close());
    const address = app.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : http.port;
    const shownHost = isWildcard(http.host)
      ? 'localhost'
      : http.host.includes(':')
        ? `[${http.host}]`
        : http.host;
    const httpUrl = `${httpsPem === undefined ? 'http' : 'https'}://${shownHost}:${httpPort}`;
    logger.info({ address: `${http.host}:${httpPort}`, url: httpUrl }, 'HTTP API listening');

    const sweeper = setInterval(() => {
      registry.sweep();
    }, 1_000);
    closers.push(() => {
      clearInterval(sweeper);
      registry.closeAll(new AppError('unavailable', 'the master is shutting down'));
      return Promise.resolve();
    });
    ready = true;
    await migrations.recover();

    // A new host reaches the master's HTTP port on the host workers dial (the HTTP URL above may say localhost).
    const installBase = `${httpsPem === undefined ? 'http' : 'https'}://${masterUrl.replace(/:\d+$/, '')}:${httpPort}`;
    return {
      httpUrl,
      installCommand: (token) => offeredInstallCommand(context, installBase, token, tls.caHash),
      webUi: webRoot !== undefined,
      httpPort,
      grpcPort: control.port,
      enrollment,
      createPairingCode,
      caHash: tls.caHash,
      newAdminToken: tokens.newAdminToken,
      registry,
      migrations,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
