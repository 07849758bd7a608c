// What every command starts from: the global options turned into validated configuration, a logger and an engine.
import type { Command } from 'commander';
import { AppError } from '../core/errors.js';
import { withDeadline } from '../core/deadline.js';
import type { DockerEngine } from '../core/ports.js';
import { createDockerodeEngine } from '../docker/dockerode-engine.js';
import { loadConfigFromProcess, type Config } from '../platform/config.js';
import { routeGrpcLogs } from '../platform/grpc-logging.js';
import { createLogger, type Logger } from '../platform/logger.js';

/** Options every command accepts (defined on the root program). */
export interface GlobalOptions {
  config?: string;
  logLevel?: string;
  debug?: boolean;
  dockerHost?: string;
}

export interface CommandContext {
  config: Config;
  logger: Logger;
  out: NodeJS.WritableStream;
  debug: boolean;
}

/** How long a command waits for the engine's first answer before calling it unreachable. */
const ENGINE_ANSWER_MS = 10_000;

/**
 * Loads configuration (flags > DOCKER_MIGRATE_* env > file > defaults) and makes the logger. `commandFlags` are
 * the command's own options, already in the config's nested shape.
 */
export function createContext(
  command: Command,
  out: NodeJS.WritableStream,
  commandFlags: Record<string, unknown> = {},
): CommandContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  const flags: Record<string, unknown> = { ...commandFlags };
  const level = options.logLevel ?? (options.debug ? 'debug' : undefined);
  if (level !== undefined) flags.log_level = level;
  if (options.dockerHost !== undefined) flags.docker = { host: options.dockerHost };
  return createContextFromFlags(flags, options, out);
}

function createContextFromFlags(
  flags: Record<string, unknown>,
  options: GlobalOptions,
  out: NodeJS.WritableStream,
): CommandContext {
  const config = loadConfigFromProcess(flags, options.config);
  const logger = createLogger({ level: config.log_level, format: config.log_format });
  routeGrpcLogs(logger);
  return { config, logger, out, debug: options.debug ?? false };
}

/** The engine named by the configuration (not contacted yet). */
export function configuredEngine(context: CommandContext): DockerEngine {
  const { docker } = context.config;
  return createDockerodeEngine({
    host: docker.host,
    certPath: docker.cert_path,
    tlsVerify: docker.tls_verify,
    tls: docker.tls,
  });
}

/** Drops undefined values, so that absent flags do not hide lower configuration sources. */
export function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}

/** Resolves when SIGINT or SIGTERM arrives; the signal aborts then too. */
export function shutdownSignal(): { signal: AbortSignal; stopped: Promise<string> } {
  const controller = new AbortController();
  const stopped = new Promise<string>((resolve) => {
    const stop = (name: string): void => {
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      controller.abort();
      resolve(name);
    };
    const onInt = (): void => {
      stop('SIGINT');
    };
    const onTerm = (): void => {
      stop('SIGTERM');
    };
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
  return { signal: controller.signal, stopped };
}

/** The engine named by the configuration, checked to answer, so that later calls fail only for their own reasons. */
export async function connectEngine(context: CommandContext): Promise<DockerEngine> {
  const engine = configuredEngine(context);
  context.logger.debug({ endpoint: engine.endpoint }, 'connecting to the Docker engine');
  await withDeadline(
    engine.ping(),
    ENGINE_ANSWER_MS,
    () =>
      new AppError(
        'unavailable',
        `cannot reach the Docker engine at ${engine.endpoint}: no answer within 10 s`,
        {
          hint: 'is the Docker daemon running there? Set DOCKER_HOST (or --docker-host) to use another engine',
        },
      ),
  );
  return engine;
}

/**
 * For daemons: a stray rejected promise is logged instead of ending the process, which serves many workers or
 * sessions that one bug in one of them should not take down.
 */
export function logStrayErrors(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unexpected error (the process keeps running)');
  });
}
