// grpc-js's own log lines ("E No address added out of total 1 resolved") go through the product's logger, as
// warnings with secrets redacted, instead of raw lines on stderr beside the product's JSON or pretty logs.
import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';

import type { Logger } from './logger.js';

/**
 * What grpc-js logs through: its errors become warnings of the `grpc` component (the product says in its own words
 * what failed, and retries what it can; grpc-js's line is the detail beside it). Its info and debug lines are
 * dropped: they describe channel internals, one line per state change.
 */
export function grpcLogSink(logger: Logger): Partial<Console> {
  const grpcLogger = logger.child({ component: 'grpc' });
  const drop = (): void => undefined;
  return {
    error(message?: unknown, ...rest: unknown[]): void {
      // grpc-js writes printf-style arguments; the line is formatted here so the logger redacts it as one message.
      grpcLogger.warn(format(message, ...rest));
    },
    info: drop,
    debug: drop,
  };
}

/**
 * Routes grpc-js's logging through `logger` for the rest of the process, errors only: grpc-js has no warning
 * level, and its default logger writes every error to stderr with console.error. GRPC_VERBOSITY no longer widens
 * what is logged; the product's --log-level says what a person sees.
 */
export function routeGrpcLogs(logger: Logger): void {
  grpc.setLogger(grpcLogSink(logger));
  grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
}
