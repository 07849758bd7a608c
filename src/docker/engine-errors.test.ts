// Engine and socket failures become AppErrors with the right code and a message a person can act on.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { translateEngineError } from './engine-errors.js';

const endpoint = 'unix:///var/run/docker.sock';

function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} /var/run/docker.sock`), { code });
}

function engineError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) - ${message}`), {
    statusCode,
    json: { message },
  });
}

describe('translateEngineError', () => {
  it('reads a refused connection as an unreachable engine, with a hint', () => {
    const error = translateEngineError(socketError('ECONNREFUSED'), endpoint);
    expect(error.code).toBe('unavailable');
    expect(error.message).toBe(
      'cannot reach the Docker engine at unix:///var/run/docker.sock: connection refused',
    );
    expect(error.hint).toMatch(/DOCKER_HOST/);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('reads a missing socket as an unreachable engine', () => {
    expect(translateEngineError(socketError('ENOENT'), endpoint).message).toBe(
      'cannot reach the Docker engine at unix:///var/run/docker.sock: no such socket',
    );
  });

  it('reads EACCES as permission denied and says how to get access', () => {
    const error = translateEngineError(socketError('EACCES'), endpoint);
    expect(error.code).toBe('permission_denied');
    expect(error.hint).toMatch(/docker group/);
  });

  it.each([
    [400, 'invalid_argument'],
    [401, 'unauthenticated'],
    [403, 'permission_denied'],
    [404, 'not_found'],
    [409, 'conflict'],
    [500, 'internal'],
    [503, 'unavailable'],
  ] as const)('maps Engine status %i to %s', (status, code) => {
    expect(translateEngineError(engineError(status, 'boom'), endpoint).code).toBe(code);
  });

  it('names the missing object on a 404 when the caller says what it asked for', () => {
    const error = translateEngineError(engineError(404, 'no such volume'), endpoint, 'volume "data"');
    expect(error.message).toBe('volume "data" not found on unix:///var/run/docker.sock');
  });

  it("keeps the Engine's own words otherwise", () => {
    const error = translateEngineError(engineError(409, 'container name "/web" is already in use'), endpoint);
    expect(error.message).toBe(
      'Docker engine at unix:///var/run/docker.sock: container name "/web" is already in use',
    );
    expect(error.details).toMatchObject({ engine_status: 409 });
  });

  it('reports TLS failures as unavailable and points at the certificate settings', () => {
    const error = translateEngineError(
      Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
      'tcp://10.0.0.1:2376',
    );
    expect(error.code).toBe('unavailable');
    expect(error.hint).toMatch(/DOCKER_CERT_PATH/);
  });

  it('passes AppErrors through untouched', () => {
    const original = new AppError('canceled', 'stopped');
    expect(translateEngineError(original, endpoint)).toBe(original);
  });
});
