// `docker-migrate master`: the control plane — REST API, gRPC control service, state — until SIGINT/SIGTERM.
import { Command } from 'commander';
import { startMaster, type RunningMaster } from '../master/start-master.js';
import { parseFailpoints } from '../platform/config.js';
import { AppError } from '../core/errors.js';
import {
  buildInfo,
  bundledAsset,
  defaultDownloadsDir,
  installScriptFile,
  masterAddonMissing,
} from '../platform/build-info.js';
import {
  createContext,
  definedOnly,
  logStrayErrors,
  shutdownSignal,
  type CommandContext,
} from './context.js';

export interface MasterFlags {
  httpAddr?: string;
  grpcAddr?: string;
  dataDir?: string;
  enrollmentToken?: string;
  adminToken?: string;
  advertiseAddr?: string;
  workerTimeout?: string;
  heartbeatInterval?: string;
  inventoryInterval?: string;
  readyTimeout?: string;
  rollbackTimeout?: string;
  transferStallTimeout?: string;
  relayAddr?: string;
  sessionTtl?: string;
  httpTlsCert?: string;
  httpTlsKey?: string;
  trustProxy?: boolean;
  downloadsDir?: string;
  storeUrl?: string;
  caKeyKek?: string;
}

/** The master's options, shared by `master` and `ui`. */
export function addMasterOptions(command: Command): Command {
  return command
    .option('--http-addr <addr>', 'HTTP address of the API and web UI (default ":8080")')
    .option('--grpc-addr <addr>', 'gRPC address workers connect to (default ":9090")')
    .option('--data-dir <dir>', 'state, CA and keys (default "~/.docker-migrate")')
    .option(
      '--store-url <url>',
      'keep the state in PostgreSQL (postgres://user:password@host:5432/db) instead of SQLite in the data dir',
    )
    .option(
      '--ca-key-kek <file>',
      'key-encryption key (32 bytes: raw, hex or base64) sealing the CA key in PostgreSQL; the same file for every master (required with --store-url)',
    )
    .option('--enrollment-token <token>', 'token workers enroll with (default: generated once and kept)')
    .option('--admin-token <token>', 'token for the API and web UI (default: generated once, shown once)')
    .option('--advertise-addr <host:port>', 'gRPC address workers should dial, for the join command')
    .option('--worker-timeout <duration>', 'a worker without heartbeat this long is offline (default "30s")')
    .option('--heartbeat-interval <duration>', 'how often workers send heartbeats (default "10s")')
    .option(
      '--inventory-interval <duration>',
      'how often workers resend their full inventory (default "60s")',
    )
    .option(
      '--ready-timeout <duration>',
      'how long a migrated container may take to run (and be healthy) on the target (default "2m")',
    )
    .option(
      '--rollback-timeout <duration>',
      'how long a rollback waits for an offline worker before reporting what is left (default "10m")',
    )
    .option(
      '--transfer-stall-timeout <duration>',
      'a transfer that moves no byte for this long is aborted and the migration rolled back (default "60s")',
    )
    .option(
      '--relay-addr <addr>',
      'address of the transfer relay, for workers that cannot reach each other (default ":9091")',
    )
    .option('--session-ttl <duration>', 'how long a web UI sign-in lasts (default "12h")')
    .option('--http-tls-cert <file>', 'serve the API and web UI over HTTPS with this PEM certificate (chain)')
    .option('--http-tls-key <file>', 'the PEM private key of --http-tls-cert')
    .option(
      '--trust-proxy',
      'believe X-Forwarded-For/-Proto from a reverse proxy in front of the HTTP address (default: off)',
    )
    .option(
      '--downloads-dir <dir>',
      'release archives and SHA256SUMS that /install.sh installs workers from (default: dist/ of a source tree, else the folder the release was unpacked in)',
    );
}

/** The master's flags in the configuration's shape (absent flags left out, so lower sources apply). */
export function masterFlagsToConfig(role: 'master' | 'ui', flags: MasterFlags): Record<string, unknown> {
  return definedOnly({
    role,
    http_addr: flags.httpAddr,
    grpc_addr: flags.grpcAddr,
    data_dir: flags.dataDir,
    store_url: flags.storeUrl,
    ca_key_kek: flags.caKeyKek,
    master: definedOnly({
      enrollment_token: flags.enrollmentToken,
      admin_token: flags.adminToken,
      advertise_addr: flags.advertiseAddr,
      worker_timeout: flags.workerTimeout,
      heartbeat_interval: flags.heartbeatInterval,
      inventory_interval: flags.inventoryInterval,
      ready_timeout: flags.readyTimeout,
      rollback_timeout: flags.rollbackTimeout,
      transfer_stall_timeout: flags.transferStallTimeout,
      relay_addr: flags.relayAddr,
      session_ttl: flags.sessionTtl,
      http_tls_cert: flags.httpTlsCert,
      http_tls_key: flags.httpTlsKey,
      trust_proxy: flags.trustProxy,
      downloads_dir: flags.downloadsDir,
    }),
  });
}

/** Where people open the web UI, or how to get it when this build has none. */
export function webUiLine(master: RunningMaster): string {
  return master.webUi
    ? `  web UI:          ${master.httpUrl}/  (sign in with the admin token)`
    : '  web UI:          not in this build (make build-full builds it)';
}

/**
 * What `master` and `ui` print about the admin token: the token itself only on the start that created it, since
 * only its hash is kept; afterwards where it came from.
 */
export function adminTokenLines(master: RunningMaster, given: boolean): string[] {
  if (master.newAdminToken !== undefined) {
    return [
      `  admin token:     ${master.newAdminToken}`,
      '                   (shown once: keep it now; only its hash is stored)',
    ];
  }
  return given
    ? ['  admin token:     as given (--admin-token or DOCKER_MIGRATE_ADMIN_TOKEN)']
    : ['  admin token:     as set on first start (only its hash is stored; --admin-token replaces it)'];
}

/** The one-line service install for new hosts, when this master serves archives. */
export function installLines(master: RunningMaster, token: string): string[] {
  const command = master.installCommand(token);
  return command === undefined
    ? []
    : ['', 'Or install it there as a service (Linux, as root):', `  ${command}`];
}

/** Starts the master the configuration describes. */
export function startConfiguredMaster(context: CommandContext): Promise<RunningMaster> {
  const { config, logger } = context;
  if (masterAddonMissing()) {
    // Release archives for other platforms than the build machine's carry the worker and the CLI only.
    return Promise.reject(
      new AppError(
        'failed_precondition',
        `this build (${process.platform}-${process.arch}) carries no master`,
        {
          hint: 'its SQLite add-on is built for linux-x64 only: run the master from the linux-x64 archive or the container image (README, "Install")',
        },
      ),
    );
  }
  return startMaster({
    httpAddr: config.http_addr,
    grpcAddr: config.grpc_addr,
    dataDir: config.data_dir,
    enrollmentToken: config.master.enrollment_token,
    adminToken: config.master.admin_token,
    advertiseAddr: config.master.advertise_addr,
    workerTimeoutMs: config.master.worker_timeout,
    heartbeatIntervalMs: config.master.heartbeat_interval,
    inventoryIntervalMs: config.master.inventory_interval,
    readyTimeoutMs: config.master.ready_timeout,
    rollbackTimeoutMs: config.master.rollback_timeout,
    transferStallTimeoutMs: config.master.transfer_stall_timeout,
    relayAddr: config.master.relay_addr,
    failpoints: parseFailpoints(config.master.failpoints),
    sessionTtlMs: config.master.session_ttl,
    httpTls:
      config.master.http_tls_cert !== undefined && config.master.http_tls_key !== undefined
        ? { certFile: config.master.http_tls_cert, keyFile: config.master.http_tls_key }
        : undefined,
    trustProxy: config.master.trust_proxy,
    logger,
    version: buildInfo().version,
    sqliteNativeBinding: bundledAsset('better_sqlite3.node'),
    storeUrl: config.store_url,
    caKeyKekFile: config.ca_key_kek,
    downloadsDir: config.master.downloads_dir ?? defaultDownloadsDir(),
    installScriptFile: installScriptFile(),
  });
}

export function masterCommand(out: NodeJS.WritableStream): Command {
  return addMasterOptions(
    new Command('master').description(
      'run the master: REST API and web UI, gRPC control service for workers, state in SQLite',
    ),
  ).action(async (flags: MasterFlags, command: Command) => {
    const context = createContext(command, out, masterFlagsToConfig('master', flags));
    const { config, logger } = context;
    logStrayErrors(logger);
    const { stopped } = shutdownSignal();
    const master = await startConfiguredMaster(context);
    const enrollment = master.enrollment();
    out.write(
      [
        'docker-migrate master is running',
        `  REST API:        ${master.httpUrl}/api`,
        webUiLine(master),
        `  workers dial:    ${enrollment.masterUrl}`,
        `  CA hash:         ${enrollment.caHash}`,
        ...adminTokenLines(master, config.master.admin_token !== undefined),
        '',
        'Join a worker to this master by running on its Docker host:',
        `  ${enrollment.joinCommand}`,
        ...installLines(master, enrollment.token),
        '',
      ].join('\n'),
    );
    const signalName = await stopped;
    logger.info({ signal: signalName }, 'shutting down');
    await master.close();
    logger.info('master stopped');
  });
}
