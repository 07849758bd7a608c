// `docker-migrate ui`: one node that is a master and a worker for the local engine; other hosts pair with a code.
import { rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { AppError } from '../core/errors.js';
import { buildInfo } from '../platform/build-info.js';
import { runWorker } from '../worker/start-worker.js';
import { configuredEngine, createContext, logStrayErrors, shutdownSignal } from './context.js';
import {
  addMasterOptions,
  adminTokenLines,
  installLines,
  masterFlagsToConfig,
  startConfiguredMaster,
  webUiLine,
  type MasterFlags,
} from './master-command.js';

interface UiFlags extends MasterFlags {
  name?: string;
  labels?: string;
}

/**
 * Removes the plain-text copy of the admin token that earlier versions kept in a `ui` node's data dir: like a
 * plain `master`, a `ui` node keeps only the token's hash and shows the token once, when it creates it.
 */
function forgetPlainAdminToken(dataDir: string): void {
  rmSync(join(dataDir, 'master', 'admin-token'), { force: true });
}

export function uiCommand(out: NodeJS.WritableStream): Command {
  return addMasterOptions(
    new Command('ui').description(
      'run a master with a worker for the local Docker engine in one process; other hosts join with a pairing code',
    ),
  )
    .option('--name <name>', 'name of the local worker (default: the host name)')
    .option('--labels <k=v,...>', 'labels of the local worker')
    .action(async (flags: UiFlags, command: Command) => {
      const context = createContext(command, out, {
        ...masterFlagsToConfig('ui', flags),
        worker: {
          ...(flags.name === undefined ? {} : { name: flags.name }),
          ...(flags.labels === undefined ? {} : { labels: flags.labels }),
        },
      });
      const { config, logger } = context;
      logStrayErrors(logger);
      const { signal, stopped } = shutdownSignal();
      const engine = configuredEngine(context);
      await engine.ping();
      const master = await startConfiguredMaster(context);
      const localWorker = runWorker({
        masterUrl: `127.0.0.1:${master.grpcPort}`,
        token: master.enrollment().token,
        caHash: master.caHash,
        name: config.worker.name ?? hostname(),
        hostname: hostname(),
        labels: config.worker.labels,
        dataDir: config.data_dir,
        // The local worker serves transfers beside the master's gRPC port.
        grpcAddr: config.worker.grpc_addr ?? `:${master.grpcPort + 1}`,
        advertiseAddr: config.worker.advertise_addr,
        reconnectIntervalMs: config.worker.reconnect_interval,
        maxReconnectIntervalMs: config.worker.max_reconnect_interval,
        volumeAccess: config.worker.volume_access,
        engine,
        logger: logger.child({ component: 'local-worker' }),
        version: buildInfo().version,
        signal,
      });
      forgetPlainAdminToken(config.data_dir);
      const pairing = await master.createPairingCode();
      out.write(
        [
          'docker-migrate ui is running (a master with a worker for this host)',
          `  REST API:        ${master.httpUrl}/api`,
          webUiLine(master),
          ...adminTokenLines(master, config.master.admin_token !== undefined),
          '',
          `Pair another host (code valid until ${pairing.expiresAt.toLocaleTimeString()}, once):`,
          `  ${pairing.joinCommand}`,
          ...installLines(master, pairing.code),
          '',
        ].join('\n'),
      );
      const outcome = await Promise.race([
        stopped.then((name) => ({ stopped: name })),
        localWorker.then(
          () => ({ stopped: 'worker ended' }),
          (error: unknown) => ({ failed: AppError.from(error) }),
        ),
      ]);
      if ('failed' in outcome) {
        logger.error({ err: outcome.failed }, 'the local worker stopped');
        await master.close();
        throw outcome.failed;
      }
      logger.info({ reason: outcome.stopped }, 'shutting down');
      await localWorker.catch(() => undefined);
      await master.close();
    });
}
