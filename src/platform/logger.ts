// The process logger: JSON lines (or pretty text on a terminal) on stderr, with secrets redacted on the way out.
// stdout is kept for command output, so that `docker-migrate ... | jq` never sees a log line.
import { pino } from 'pino';
import type { DestinationStream, Logger, LoggerOptions as PinoOptions } from 'pino';
import { prettyFactory } from 'pino-pretty';

import { AppError } from '../core/errors.js';
import { redactInlineSecrets, redactSecrets, redactString } from './redact.js';

export type { Logger } from 'pino';

/** Levels a person may choose; `silent` turns logging off. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `auto` is pretty on a terminal and JSON elsewhere (files, pipes, log collectors). */
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  level: string;
  format: LogFormat;
  /** Where lines go; process.stderr by default. */
  destination?: NodeJS.WritableStream;
  /** Whether the destination is a terminal; read from the destination's `isTTY` when absent. */
  isTty?: boolean;
  name?: string;
}

/** True for a level name pino accepts, so that a bad level is reported before pino throws its own error. */
export function isLogLevel(level: string): level is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(level);
}

/**
 * Creates the logger every part of the daemon and CLI logs through. Secrets are redacted here, once, so that a
 * caller logging a request, a container's Env or a config never leaks a token: logged objects, child bindings and
 * message strings all pass through redactSecrets. Pretty output is formatted in-process rather than by a pino
 * transport, because transports load worker threads by file name, which the esbuild bundle does not ship.
 */
export function createLogger(options: LoggerOptions): Logger {
  if (!isLogLevel(options.level)) {
    throw new AppError('invalid_argument', `unknown log level "${options.level}"`, {
      hint: `use one of ${LOG_LEVELS.join(', ')}`,
      details: { level: options.level },
    });
  }
  const destination = options.destination ?? process.stderr;
  const isTty = options.isTty ?? (destination as { isTTY?: boolean }).isTTY === true;
  const pretty = options.format === 'pretty' || (options.format === 'auto' && isTty);

  const pinoOptions: PinoOptions = {
    level: options.level,
    timestamp: pino.stdTimeFunctions.isoTime,
    serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
    formatters: {
      log: (object) => redactSecrets(object),
      bindings: (bindings) => redactSecrets(bindings),
    },
    hooks: {
      logMethod(args, method) {
        const redacted = args.map((arg: unknown) => (typeof arg === 'string' ? redactString(arg) : arg));
        method.apply(this, redacted as Parameters<typeof method>);
      },
      // A message pino takes from an Error (`log.error(err)`) never reaches logMethod as a string.
      streamWrite: (line) => redactInlineSecrets(line),
    },
  };
  if (options.name !== undefined) pinoOptions.name = options.name;

  const logger = pino(pinoOptions, pretty ? prettyStream(destination, isTty) : destination);
  redactChildBindings(logger);
  return logger;
}

/**
 * Formats each line synchronously with pino-pretty's formatter. pino-pretty's own stream pipes through a
 * Transform, so lines written just before `process.exit()` would be lost and it would end the destination
 * (stderr) when the logger closes.
 */
function prettyStream(destination: NodeJS.WritableStream, colorize: boolean): DestinationStream {
  const prettify = prettyFactory({ colorize, ignore: 'pid,hostname', translateTime: 'SYS:HH:MM:ss.l' });
  return {
    write(line: string): void {
      destination.write(prettify(line));
    },
  };
}

/**
 * pino passes child bindings through `formatters.bindings` only for the root logger (children get an identity
 * formatter), so `child()` and `setBindings()` are wrapped to redact their bindings. Children inherit from the
 * root by prototype, so wrapping the root covers every descendant.
 */
function redactChildBindings(logger: Logger): void {
  // Taken unbound on purpose: each wrapper calls them with the logger it was called on, a child or the root.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const { child, setBindings } = logger;
  logger.child = function redactedChild(this: Logger, bindings, childOptions) {
    return child.call(this, redactSecrets(bindings), childOptions);
  } as Logger['child'];
  logger.setBindings = function redactedSetBindings(this: Logger, bindings) {
    setBindings.call(this, redactSecrets(bindings));
  };
}
