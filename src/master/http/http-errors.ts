// The REST API's one error handler and its 404 handler: every failure leaves as {"error":{"code","message"}}.
import type { FastifyReply, FastifyRequest } from 'fastify';

import type { ErrorBody } from '../../contract/index.js';
import { AppError, HTTP_STATUS, type ErrorCode } from '../../core/errors.js';
import type { Logger } from '../../platform/logger.js';
import { redactSecrets } from '../../platform/redact.js';

export type { ErrorBody };

/**
 * A refusal that says when to come back (too many failed sign-ins): `unavailable`, as the same refusal of an
 * enrollment is over gRPC, but answered 429 Too Many Requests with Retry-After, which clients and proxies honour.
 */
export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('unavailable', message, { details: { retry_after_seconds: retryAfterSeconds } });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** What fastify (and ajv through it) puts on the errors it raises itself. */
interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
  validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}

/** Words for where a validation error was found, as a user writes them. */
const LOCATIONS: Record<string, string> = {
  querystring: 'query parameter',
  params: 'path parameter',
  body: 'body field',
  headers: 'header',
};

/** The JSON body of an error; `details` only when there are some, so clients can test for its presence. */
export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): ErrorBody {
  return details === undefined ? { error: { code, message } } : { error: { code, message, details } };
}

/**
 * Turns anything thrown by a route or hook into a status and an ErrorBody. AppErrors keep their code; fastify's own
 * client errors (validation, body too large, bad JSON, wrong media type) become invalid_argument with their status;
 * everything else is a bug and is reported as "internal error" only, its text and stack kept for the log.
 */
export function toErrorResponse(
  error: unknown,
  bodyLimitBytes: number,
): { status: number; body: ErrorBody; unexpected: boolean } {
  if (error instanceof TooManyRequestsError) {
    return {
      status: 429,
      body: errorBody(error.code, error.message, error.details),
      unexpected: false,
    };
  }
  if (error instanceof AppError) {
    // An internal AppError usually wraps a failure (AppError.from) whose text was never meant for a user.
    if (error.code === 'internal') return internalError();
    // The reason, when there is one, is a detail a client may branch on, as the master does with a worker's.
    const details = error.reason === undefined ? error.details : { ...error.details, reason: error.reason };
    return {
      status: HTTP_STATUS[error.code],
      body: errorBody(error.code, error.message, details),
      unexpected: false,
    };
  }
  const framework = (typeof error === 'object' && error !== null ? error : {}) as FrameworkError;
  if (Array.isArray(framework.validation)) {
    return { status: 400, body: validationBody(framework), unexpected: false };
  }
  if (framework.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return {
      status: 413,
      body: errorBody('invalid_argument', `request body is larger than the limit of ${bodyLimitBytes} bytes`),
      unexpected: false,
    };
  }
  if (framework.code === 'FST_ERR_BAD_URL') {
    // fastify's own text repeats the URL, which may carry a token (?access_token=): say what is wrong only.
    return {
      status: 400,
      body: errorBody('invalid_argument', 'the request URL is not valid (bad percent-encoding)'),
      unexpected: false,
    };
  }
  if (framework.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return {
      status: 400,
      body: errorBody('invalid_argument', 'request body is not valid JSON'),
      unexpected: false,
    };
  }
  const status = framework.statusCode;
  if (
    typeof framework.code === 'string' &&
    framework.code.startsWith('FST_') &&
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    error instanceof Error
  ) {
    // Fastify's other client errors (empty JSON body, unsupported media type, bad Content-Length) say it well.
    return { status, body: errorBody('invalid_argument', error.message), unexpected: false };
  }
  return internalError();
}

function internalError(): { status: number; body: ErrorBody; unexpected: boolean } {
  return { status: 500, body: errorBody('internal', 'internal error'), unexpected: true };
}

function validationBody(error: FrameworkError): ErrorBody {
  const where = LOCATIONS[error.validationContext ?? ''] ?? 'field';
  const problems = (error.validation ?? []).map((item) => {
    const field =
      item.instancePath !== undefined && item.instancePath !== ''
        ? item.instancePath.replace(/^\//, '').replaceAll('/', '.')
        : typeof item.params?.missingProperty === 'string'
          ? item.params.missingProperty
          : '';
    return { field, message: `${where} "${field}" ${item.message ?? 'is invalid'}` };
  });
  const message = problems.map((problem) => problem.message).join('; ') || 'invalid request';
  return errorBody('invalid_argument', message, { problems });
}

/**
 * Creates fastify's error handler. Unexpected errors are logged with their cause (redacted) and the request's
 * route, never its headers; a 401 carries `WWW-Authenticate: Bearer` as RFC 6750 asks.
 */
export function createErrorHandler(options: { logger: Logger; bodyLimitBytes: number }) {
  return function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
    const { status, body, unexpected } = toErrorResponse(error, options.bodyLimitBytes);
    const route = request.routeOptions.url ?? 'unmatched';
    if (unexpected) {
      options.logger.error(redactSecrets({ err: error, method: request.method, route }), 'request failed');
    } else if (status >= 500) {
      options.logger.warn(redactSecrets({ err: error, method: request.method, route }), 'request failed');
    }
    if (body.error.code === 'unauthenticated') void reply.header('WWW-Authenticate', 'Bearer');
    if (error instanceof TooManyRequestsError) {
      void reply.header('Retry-After', String(error.retryAfterSeconds));
    }
    return reply.code(status).type('application/json; charset=utf-8').send(body);
  };
}

/** Unknown routes answer JSON like every other error; the query string is left out of the message (tokens). */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = request.url.split('?')[0] ?? '';
  return reply
    .code(404)
    .type('application/json; charset=utf-8')
    .send(errorBody('not_found', `no route ${request.method} ${path}`));
}
