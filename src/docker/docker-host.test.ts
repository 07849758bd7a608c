// DOCKER_HOST-style addresses resolve to dockerode options the way the docker CLI reads them.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { resolveDockerHost, type DockerHostSettings } from './docker-host.js';

const files: Record<string, string> = {
  '/certs/ca.pem': 'CA',
  '/certs/cert.pem': 'CERT',
  '/certs/key.pem': 'KEY',
};

function readFile(path: string): Buffer {
  const content = files[path];
  if (content === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return Buffer.from(content);
}

function resolve(overrides: Partial<DockerHostSettings>) {
  return resolveDockerHost(
    { host: '', certPath: '/certs', tlsVerify: false, tls: false, ...overrides },
    readFile,
  );
}

describe('resolveDockerHost', () => {
  it('defaults to the local unix socket', () => {
    expect(resolve({})).toEqual({
      endpoint: 'unix:///var/run/docker.sock',
      options: { socketPath: '/var/run/docker.sock' },
    });
  });

  it('takes a unix:// address', () => {
    expect(resolve({ host: 'unix:///run/user/1000/docker.sock' }).options).toEqual({
      socketPath: '/run/user/1000/docker.sock',
    });
  });

  it('speaks plain HTTP on tcp:// unless TLS is asked for, like the docker CLI', () => {
    expect(resolve({ host: 'tcp://10.0.0.5:2375' })).toEqual({
      endpoint: 'tcp://10.0.0.5:2375',
      options: { protocol: 'http', host: '10.0.0.5', port: 2375 },
    });
  });

  it('uses mutual TLS with the files of DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set', () => {
    const { options } = resolve({ host: 'tcp://docker.example:2376', tlsVerify: true });
    expect(options).toMatchObject({ protocol: 'https', host: 'docker.example', port: 2376 });
    expect(options.ca).toEqual(Buffer.from('CA'));
    expect(options.cert).toEqual(Buffer.from('CERT'));
    expect(options.key).toEqual(Buffer.from('KEY'));
    expect((options as { agent?: unknown }).agent).toBeUndefined();
  });

  it('defaults the port to 2376 for TLS and 2375 without', () => {
    expect(resolve({ host: 'tcp://h', tlsVerify: true }).options.port).toBe(2376);
    expect(resolve({ host: 'tcp://h' }).options.port).toBe(2375);
  });

  it('does not verify the engine certificate with DOCKER_TLS alone', () => {
    const { options } = resolve({ host: 'tcp://h:2376', tls: true });
    expect(options.protocol).toBe('https');
    expect(
      (options as { agent?: { options: { rejectUnauthorized?: boolean } } }).agent?.options
        .rejectUnauthorized,
    ).toBe(false);
  });

  it('fails clearly when DOCKER_TLS_VERIFY is set and the CA file is missing', () => {
    expect(() => resolve({ host: 'tcp://h:2376', tlsVerify: true, certPath: '/nowhere' })).toThrow(
      /cannot read the TLS file \/nowhere\/ca\.pem/,
    );
  });

  it('takes ssh:// addresses with a user', () => {
    expect(resolve({ host: 'ssh://deploy@web1:2222' }).options).toEqual({
      protocol: 'ssh',
      host: 'web1',
      port: 2222,
      username: 'deploy',
    });
  });

  it('rejects an address it cannot use, saying what it accepts', () => {
    const error = (() => {
      try {
        resolve({ host: 'ftp://x' });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
    expect((error as AppError).hint).toMatch(/unix:\/\//);
  });
});
