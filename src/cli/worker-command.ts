// `docker-migrate worker`: enroll once with the master, then report this host's Docker engine until stopped.
import { hostname } from 'node:os';
import { Command } from 'commander';
import { buildInfo } from '../platform/build-info.js';
import { runWorker } from '../worker/start-worker.js';
import { configuredEngine, createContext, definedOnly, logStrayErrors, shutdownSignal } from './context.js';

interface WorkerFlags {
  masterUrl?: string;
  token?: string;
  caHash?: string;
  name?: string;
  labels?: string;
  dataDir?: string;
  grpcAddr?: string;
  advertiseAddr?: string;
  reconnectInterval?: string;
  maxReconnectInterval?: string;
  volumeAccess?: string;
}

export function workerCommand(out: NodeJS.WritableStream): Command {
  return new Command('worker')
    .description("run a worker for this host's Docker engine (DOCKER_HOST), connected to a master")
    .option(
      '--master-url <host:port,...>',
      "the master's gRPC address, host:port from its join command — not the HTTP URL `migrate` and `migrations` take; several masters sharing one database: a comma-separated list, tried in order (default: $DOCKER_MIGRATE_MASTER_URL)",
    )
    .option('--token <token>', 'enrollment token (needed only the first time)')
    .option('--ca-hash <sha256:hex>', "the master CA's hash (from its join command); pins the master")
    .option('--name <name>', 'worker name (default: the host name)')
    .option('--labels <k=v,...>', 'labels, e.g. region=eu,env=prod')
    .option('--data-dir <dir>', 'where the worker keeps its identity (default "~/.docker-migrate")')
    .option('--grpc-addr <addr>', 'where this worker serves peer transfers (default ":9090")')
    .option(
      '--advertise-addr <host:port>',
      "what other workers dial (default: this host's address and the gRPC port)",
    )
    .option('--reconnect-interval <duration>', 'first reconnect delay (default "5s")')
    .option('--max-reconnect-interval <duration>', 'longest reconnect delay (default "5m")')
    .option(
      '--volume-access <mode>',
      'how volume data is read and written: auto (the mountpoint when reachable, else the Engine archive API), mountpoint, engine (default "auto")',
    )
    .action(async (flags: WorkerFlags, command: Command) => {
      const context = createContext(
        command,
        out,
        definedOnly({
          role: 'worker',
          worker: definedOnly({
            master_url: flags.masterUrl,
            token: flags.token,
            ca_hash: flags.caHash,
            name: flags.name,
            labels: flags.labels,
            data_dir: flags.dataDir,
            grpc_addr: flags.grpcAddr,
            advertise_addr: flags.advertiseAddr,
            reconnect_interval: flags.reconnectInterval,
            max_reconnect_interval: flags.maxReconnectInterval,
            volume_access: flags.volumeAccess,
          }),
        }),
      );
      const { config, logger } = context;
      logStrayErrors(logger);
      const { signal, stopped } = shutdownSignal();
      stopped
        .then((name) => {
          logger.info({ signal: name }, 'shutting down');
        })
        .catch(() => undefined);
      await runWorker({
        masterUrl: config.worker.master_url,
        token: config.worker.token,
        caHash: config.worker.ca_hash,
        name: config.worker.name ?? hostname(),
        hostname: hostname(),
        labels: config.worker.labels,
        dataDir: config.worker.data_dir ?? config.data_dir,
        grpcAddr: config.worker.grpc_addr ?? config.grpc_addr,
        advertiseAddr: config.worker.advertise_addr,
        reconnectIntervalMs: config.worker.reconnect_interval,
        maxReconnectIntervalMs: config.worker.max_reconnect_interval,
        volumeAccess: config.worker.volume_access,
        engine: configuredEngine(context),
        logger,
        version: buildInfo().version,
        signal,
      });
      logger.info('worker stopped');
    });
}
