// Translates dockerode/Engine failures into AppErrors a person can act on.
import { AppError, type ErrorCode } from '../core/errors.js';

interface EngineErrorShape {
  statusCode?: number;
  code?: string;
  message?: string;
  reason?: string;
  json?: unknown;
}

/** Socket-level failures: the engine is not there (or not for us). Messages follow the docker CLI's wording. */
const SOCKET_ERRORS: Record<string, { code: ErrorCode; text: string }> = {
  ECONNREFUSED: { code: 'unavailable', text: 'connection refused' },
  ENOENT: { code: 'unavailable', text: 'no such socket' },
  ECONNRESET: { code: 'unavailable', text: 'connection reset' },
  EPIPE: { code: 'unavailable', text: 'connection closed' },
  EHOSTUNREACH: { code: 'unavailable', text: 'host unreachable' },
  ENETUNREACH: { code: 'unavailable', text: 'network unreachable' },
  ENOTFOUND: { code: 'unavailable', text: 'host name not found' },
  EAI_AGAIN: { code: 'unavailable', text: 'host name lookup failed' },
  ETIMEDOUT: { code: 'unavailable', text: 'connection timed out' },
  EACCES: { code: 'permission_denied', text: 'permission denied' },
  EPERM: { code: 'permission_denied', text: 'permission denied' },
};

function engineMessage(error: EngineErrorShape): string {
  const json = error.json;
  if (json && typeof json === 'object' && 'message' in json && typeof json.message === 'string') {
    return json.message;
  }
  if (typeof json === 'string' && json.trim()) return json.trim();
  return error.reason ?? error.message ?? 'unknown error';
}

/** HTTP status from the Engine → our code. The Engine uses 304 for "already in that state", handled by callers. */
function codeForStatus(status: number): ErrorCode {
  if (status === 400) return 'invalid_argument';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 409) return 'conflict';
  if (status === 503) return 'unavailable';
  return 'internal';
}

function isTlsFailure(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith('ERR_SSL') ||
      code.startsWith('ERR_TLS') ||
      code.includes('CERT') ||
      code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
      code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')
  );
}

/**
 * Wraps any failure of a call to the engine at `endpoint` into an AppError. `what` names the call's object for
 * Engine answers (e.g. `volume "data"`), so a 404 reads "volume "data" not found on unix:///…".
 */
export function translateEngineError(error: unknown, endpoint: string, what?: string): AppError {
  if (error instanceof AppError) return error;
  const shape = (error ?? {}) as EngineErrorShape;
  if (typeof shape.statusCode === 'number') {
    const code = codeForStatus(shape.statusCode);
    const message = engineMessage(shape);
    const text =
      code === 'not_found' && what
        ? `${what} not found on ${endpoint}`
        : `Docker engine at ${endpoint}: ${message}`;
    return new AppError(code, text, {
      cause: error,
      details: { engine_status: shape.statusCode, engine_message: message },
    });
  }
  const socket = shape.code ? SOCKET_ERRORS[shape.code] : undefined;
  if (socket) {
    return new AppError(socket.code, `cannot reach the Docker engine at ${endpoint}: ${socket.text}`, {
      cause: error,
      hint:
        socket.code === 'permission_denied'
          ? 'run as root or as a member of the docker group'
          : 'is the Docker daemon running there? Set DOCKER_HOST (or --docker-host) to use another engine',
    });
  }
  if (isTlsFailure(shape.code)) {
    return new AppError(
      'unavailable',
      `TLS with the Docker engine at ${endpoint} failed: ${shape.message ?? shape.code ?? ''}`,
      {
        cause: error,
        hint: 'check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY',
      },
    );
  }
  return new AppError('internal', `Docker engine at ${endpoint}: ${shape.message ?? String(error)}`, {
    cause: error,
  });
}
