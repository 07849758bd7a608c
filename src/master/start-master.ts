// Composition root of the master: state, trust material, the gRPC control service and the HTTP API, wired together.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import { parseListenAddress } from '../platform/listen-address.js';
import type { Logger } from '../platform/logger.js';
import { generateToken, newId, tokenMatches, tokenMatchesHash } from '../platform/secrets.js';
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
import { Leadership } from './leadership.js';
import { MigrationService, type Failpoints, type MigrationNotice } from './migration-service.js';
import type { MasterEvent } from './worker-registry.js';

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
  /** The current term's workers and migrations; throws `unavailable` (not_leader) while this master stands by. */
  readonly registry: WorkerRegistry;
  readonly migrations: MigrationService;
  /** This master's epoch while it leads, else undefined. */
  leadingEpoch(): number | undefined;
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

/** What one term of leadership runs: the workers' streams, their commands, and the migrations. */
interface Term {
  epoch: number;
  registry: WorkerRegistry;
  dispatcher: CommandDispatcher;
  migrations: MigrationService;
  control: ControlTerm;
  close(reason: string): Promise<void>;
}

function notLeading(): AppError {
  return new AppError('unavailable', 'this master does not lead right now', { reason: 'not_leader' });
}

/** Starts a master; resolves once both servers listen and it either leads or knows it stands by. */
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
    const holder = newId('master');
    let term: Term | undefined;
    // Read by closures made before it exists (metrics, the control server's referral).
    // eslint-disable-next-line prefer-const
    let leadership: Leadership | undefined;
    const currentTerm = (): Term => {
      if (term === undefined) throw notLeading();
      return term;
    };
    const metrics = createMasterMetrics({
      onlineWorkers: () => term?.registry.onlineCount() ?? 0,
      leadingEpoch: () => leadership?.leadingEpoch(),
    });
    let ready = false;
    const pairing = new PairingCodes(store);
    // The notices of whichever term runs, for listeners that outlive terms (the HTTP app's audit of migration ends).
    const migrationListeners = new Set<(notice: MigrationNotice) => void>();
    // The registry events of whichever term runs, which the event log records while this master leads.
    const termEventListeners = new Set<(event: MasterEvent) => void>();
    const events = new EventLog({
      store,
      logger,
      source: {
        subscribe(listener) {
          termEventListeners.add(listener);
          return () => termEventListeners.delete(listener);
        },
      },
    });
    closers.push(() => events.stop());
    const relay = await startBulkRelay({
      address:
        options.relayAddr ?? `${grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:0`,
      caPem: tls.ca.certPem,
      certPem: tls.serverCertPem,
      keyPem: tls.serverKeyPem,
      store,
      logger,
    });
    closers.push(() => relay.close());
    const control = await startControlServer({
      address: `${grpcListen.host.includes(':') ? `[${grpcListen.host}]` : grpcListen.host}:${grpcListen.port}`,
      tls,
      store,
      term: () => term?.control,
      leaderAddress: () => {
        const seen = leadership?.lastSeen();
        return seen !== undefined && seen.grpcUrl !== '' ? seen.grpcUrl : undefined;
      },
      logger,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      inventoryIntervalMs: options.inventoryIntervalMs,
      ...(options.certificateValidityDays === undefined
        ? {}
        : { certificateValidityDays: options.certificateValidityDays }),
    });
    closers.push(() => control.close());

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

    const startTerm = async (epoch: number): Promise<Term> => {
      const registry = await WorkerRegistry.load({
        store,
        workerTimeoutMs: options.workerTimeoutMs,
        onError: (error) => {
          logger.error({ err: error }, 'cannot persist worker state');
        },
      });
      const dispatcher = new CommandDispatcher(registry, epoch, (operation, outcome) => {
        metrics.dockerOperations.inc({ operation, outcome });
      });
      const unrelay = registry.subscribe((event) => {
        for (const listener of termEventListeners) listener(event);
      });
      registry.subscribe((event) => {
        if (event.type === 'worker.online' || event.type === 'worker.offline') {
          logger.info(
            { workerId: event.worker.id, name: event.worker.name },
            `worker ${event.worker.status}`,
          );
        }
      });
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
        for (const listener of migrationListeners) listener(notice);
      });
      const sweeper = setInterval(() => {
        registry.sweep();
      }, 1_000);
      return {
        epoch,
        registry,
        dispatcher,
        migrations,
        control: {
          epoch,
          registry,
          dispatcher,
          acceptEnrollmentToken: (token) =>
            tokenMatches(token, enrollmentToken.current()) ? Promise.resolve(true) : pairing.consume(token),
        },
        async close(reason) {
          clearInterval(sweeper);
          registry.closeAll(new AppError('unavailable', reason, { reason: 'not_leader' }));
          await migrations.close();
          dispatcher.closeAll(reason);
          unrelay();
        },
      };
    };

    const sessions = createSessionManager({
      store,
      logger,
      ttlMs: options.sessionTtlMs ?? DEFAULT_SESSION_TTL_MS,
      adminTokenHash: () => store.getSetting(SETTING_ADMIN_TOKEN_HASH),
      sweeps: () => term !== undefined,
    });
    closers.push(() => {
      sessions.close();
      return Promise.resolve();
    });
    const releases = createReleaseDownloads(options.downloadsDir);
    const context: MasterContext = {
      get registry() {
        return currentTerm().registry;
      },
      get migrations() {
        return currentTerm().migrations;
      },
      events,
      subscribeMigrations(listener) {
        migrationListeners.add(listener);
        return () => migrationListeners.delete(listener);
      },
      sessions,
      store,
      metrics,
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
      leadership: () => {
        const epoch = leadership?.leadingEpoch();
        if (epoch !== undefined) return { leader: true, epoch };
        const seen = leadership?.lastSeen();
        return { leader: false, epoch: seen?.epoch ?? 0, leaderHttpUrl: seen?.httpUrl || undefined };
      },
      version: options.version,
      createPairingCode,
      releases,
      installScript:
        options.installScriptFile !== undefined && existsSync(options.installScriptFile)
          ? readFileSync(options.installScriptFile, 'utf8')
          : undefined,
      inspectContainer: (workerId, ref) =>
        currentTerm().dispatcher.run(
          workerId,
          'container.inspect',
          { ref },
          { timeoutMs: INSPECT_TIMEOUT_MS },
        ),
    };

    const webRoot = options.webRoot ?? findWebRoot();
    let reachableHttpUrl = '';
    const app = await createHttpApp(context, {
      logger,
      webRoot,
      https: httpsPem,
      trustProxy: options.trustProxy ?? false,
      selfUrl: () => reachableHttpUrl,
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
    const httpScheme = httpsPem === undefined ? 'http' : 'https';
    const httpUrl = `${httpScheme}://${shownHost}:${httpPort}`;
    logger.info({ address: `${http.host}:${httpPort}`, url: httpUrl }, 'HTTP API listening');
    // A new host, and the other masters, reach this one's HTTP port on the host workers dial (httpUrl may say
    // localhost).
    reachableHttpUrl = `${httpScheme}://${masterUrl.replace(/:\d+$/, '')}:${httpPort}`;

    leadership = new Leadership({
      store,
      candidate: { holder, grpcUrl: masterUrl, httpUrl: reachableHttpUrl },
      exclusive: options.storeUrl === undefined,
      clock: systemClock(),
      logger,
      onElected: async (epoch) => {
        const started = await startTerm(epoch);
        // The log first reads what the previous leader wrote, then records this term's events.
        await events.start({ mode: 'write' });
        term = started;
        await started.migrations.recover();
      },
      onDeposed: async (_epoch, reason) => {
        const ending = term;
        term = undefined;
        await ending?.close(`this master no longer leads: ${reason}`);
        await events.start({ mode: 'follow' });
      },
    });
    const running = leadership;
    // Registered last, so closed first: the term ends and the lease is given back before anything else stops.
    closers.push(() => running.close());
    await events.start({ mode: 'follow' });
    await leadership.start();
    ready = true;

    return {
      httpUrl,
      installCommand: (token) => offeredInstallCommand(context, reachableHttpUrl, token, tls.caHash),
      webUi: webRoot !== undefined,
      httpPort,
      grpcPort: control.port,
      enrollment,
      createPairingCode,
      caHash: tls.caHash,
      newAdminToken: tokens.newAdminToken,
      get registry() {
        return currentTerm().registry;
      },
      get migrations() {
        return currentTerm().migrations;
      },
      leadingEpoch: () => running.leadingEpoch(),
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
