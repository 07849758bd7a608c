// The one error type of the project: a closed set of codes with gRPC meaning, a readable message and a hint.

import { ERROR_CODES, ERROR_REASONS, type ErrorCode, type ErrorReason } from '../contract/codes.js';

/** The closed code sets live in the API contract, which clients share; re-exported for the server's code. */
export { ERROR_CODES, ERROR_REASONS, type ErrorCode, type ErrorReason } from '../contract/codes.js';

/** HTTP status for each code; a Record so that a new code cannot be forgotten. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  invalid_argument: 400,
  not_found: 404,
  conflict: 409,
  failed_precondition: 412,
  permission_denied: 403,
  unauthenticated: 401,
  unavailable: 503,
  deadline_exceeded: 504,
  canceled: 499,
  internal: 500,
};

/** gRPC status number for each code (see grpc/status.h). */
export const GRPC_STATUS: Record<ErrorCode, number> = {
  canceled: 1,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  conflict: 6,
  permission_denied: 7,
  failed_precondition: 9,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
};

export interface AppErrorOptions {
  /** What the user can do about it, printed under the message by the CLI. */
  hint?: string;
  /** Structured details safe to show a user (never secrets). */
  details?: Record<string, unknown>;
  /** The finer cause a caller acts on (e.g. another route when a peer is unreachable); kept across processes. */
  reason?: ErrorReason;
  cause?: unknown;
}

/**
 * An error a person may read. Adapters translate their own failures into it, so that the CLI, the REST API and
 * gRPC can each present it the same way without knowing where it came from.
 */
export class AppError extends Error {
  override readonly name = 'AppError';
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;
  readonly reason: ErrorReason | undefined;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
    this.reason = options.reason;
  }

  /** Wraps anything thrown into an AppError, keeping the original as the cause; AppErrors pass through. */
  static from(error: unknown, code: ErrorCode = 'internal'): AppError {
    if (error instanceof AppError) return error;
    if (error instanceof Error) return new AppError(code, error.message, { cause: error });
    return new AppError(code, String(error), { cause: error });
  }
}

/** True for the names of our error codes (e.g. a code received from another process). */
export function isErrorCode(value: string): value is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(value);
}

/** True for the names of our error reasons (e.g. one received from another process). */
export function isErrorReason(value: string): value is ErrorReason {
  return (ERROR_REASONS as readonly string[]).includes(value);
}
