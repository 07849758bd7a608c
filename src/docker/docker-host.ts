// Turns a DOCKER_HOST-style address and TLS settings into dockerode connection options, the way the docker CLI does.
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import type { DockerOptions } from 'dockerode';
import { AppError } from '../core/errors.js';

export interface DockerHostSettings {
  /** unix:///path, tcp://host:port, http(s)://host:port or ssh://user@host[:port]. */
  host: string;
  /** Folder holding ca.pem, cert.pem and key.pem (DOCKER_CERT_PATH). */
  certPath: string;
  /** DOCKER_TLS_VERIFY: use TLS and verify the engine's certificate against ca.pem. */
  tlsVerify: boolean;
  /** DOCKER_TLS: use TLS without verifying the engine's certificate. */
  tls: boolean;
}

export interface ResolvedDockerHost {
  /** The address as a person would write it, for messages. */
  endpoint: string;
  options: DockerOptions;
}

const DEFAULT_PORT: Record<'http' | 'https', number> = { http: 2375, https: 2376 };

/**
 * Resolves the settings into dockerode options. Like the docker CLI, a tcp:// address speaks TLS only when
 * DOCKER_TLS_VERIFY or DOCKER_TLS is set, and the client certificate comes from the cert path.
 */
export function resolveDockerHost(
  settings: DockerHostSettings,
  readFile: (path: string) => Buffer = readFileSync,
): ResolvedDockerHost {
  const host = settings.host.trim() || 'unix:///var/run/docker.sock';
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length) || '/var/run/docker.sock';
    return { endpoint: `unix://${socketPath}`, options: { socketPath } };
  }
  if (host.startsWith('/')) {
    return { endpoint: `unix://${host}`, options: { socketPath: host } };
  }
  let url: URL;
  try {
    url = new URL(host);
  } catch {
    throw invalidHost(host);
  }
  switch (url.protocol) {
    case 'tcp:':
    case 'http:':
    case 'https:': {
      const useTls = url.protocol === 'https:' || settings.tlsVerify || settings.tls;
      const protocol = useTls ? 'https' : 'http';
      if (!url.hostname) throw invalidHost(host);
      const port = url.port ? Number(url.port) : DEFAULT_PORT[protocol];
      const options: DockerOptions = { protocol, host: url.hostname.replace(/^\[|\]$/g, ''), port };
      if (useTls) Object.assign(options, readTlsFiles(settings, readFile));
      return { endpoint: `${url.protocol === 'tcp:' ? 'tcp' : protocol}://${url.host}`, options };
    }
    case 'ssh:': {
      if (!url.hostname) throw invalidHost(host);
      const options: DockerOptions = {
        protocol: 'ssh',
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      };
      return { endpoint: `ssh://${url.host}`, options };
    }
    default:
      throw invalidHost(host);
  }
}

function readTlsFiles(
  settings: DockerHostSettings,
  readFile: (path: string) => Buffer,
): Pick<DockerOptions, 'ca' | 'cert' | 'key'> & { agent?: Agent } {
  const files = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;
  const read = (name: string, required: boolean): Buffer | undefined => {
    const path = join(settings.certPath, name);
    try {
      return readFile(path);
    } catch (error) {
      if (!required) return undefined;
      throw new AppError('invalid_argument', `cannot read the TLS file ${path} for the Docker engine`, {
        cause: error,
        hint: 'set DOCKER_CERT_PATH to the folder holding ca.pem, cert.pem and key.pem',
      });
    }
  };
  const ca = read(files.ca, settings.tlsVerify);
  const cert = read(files.cert, false);
  const key = read(files.key, false);
  const tls = { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
  if (settings.tlsVerify) return tls;
  // Without DOCKER_TLS_VERIFY the docker CLI does not check the engine's certificate. docker-modem has no
  // option for that, so an agent carries it (with the client certificate, which the engine may still ask for).
  return { ...tls, agent: new Agent({ ...tls, rejectUnauthorized: false }) };
}

function invalidHost(host: string): AppError {
  return new AppError('invalid_argument', `invalid Docker host "${host}"`, {
    hint: 'use unix:///path/to/docker.sock, tcp://host:2376 or ssh://user@host',
  });
}
