// The body of every error answer of the REST API.
import type { ErrorCode } from './codes.js';

export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    /** Structured facts a client may act on (never secrets); present only when there are some. */
    details?: Record<string, unknown>;
  };
}
