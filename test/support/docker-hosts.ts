// The real Docker engines the integration and end-to-end tiers run against, and helpers to use them.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { createDockerodeEngine, type DockerodeEngine } from '../../src/docker/dockerode-engine.js';

/** One engine started by scripts/docker-hosts.sh (fields as its `list --json` prints them). */
export interface TestDockerHost {
  name: string;
  /** unix:// address of the engine's socket. */
  socket: string;
  /** tcp:// address speaking mutual TLS; empty for engines not started by the script. */
  tcp: string;
  /** Folder with ca.pem, cert.pem, key.pem for the tcp address. */
  certPath: string;
  ip: string;
  netns: string;
  baseImage: string;
}

export function testDockerHosts(): TestDockerHost[] {
  return inject('dockerHosts');
}

export function testDockerHost(index: number): TestDockerHost {
  const host = testDockerHosts()[index];
  if (!host) throw new Error(`test Docker host #${index + 1} is not running`);
  return host;
}

/** The label key every Docker object a test run creates carries, unique per run. */
export function newRunLabel(): string {
  return `docker-migrate.test-run.${randomBytes(4).toString('hex')}`;
}

export function engineOverSocket(host: TestDockerHost): DockerodeEngine {
  return createDockerodeEngine({ host: host.socket, certPath: '', tlsVerify: false, tls: false });
}

export function engineOverTls(host: TestDockerHost): DockerodeEngine {
  return createDockerodeEngine({ host: host.tcp, certPath: host.certPath, tlsVerify: true, tls: false });
}

const execFileAsync = promisify(execFile);

/** Runs the docker CLI against a test engine, as a user would, and returns its trimmed output. */
export async function dockerCli(host: TestDockerHost, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('docker', ['-H', host.socket, ...args], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout.trim();
}

/**
 * A volume's content as one digest — the names and every file's bytes — read through a container on its host:
 * what must be equal on both hosts after a move.
 */
export function volumeDigest(host: TestDockerHost, volume: string): Promise<string> {
  return dockerCli(
    host,
    'run',
    '--rm',
    '-v',
    `${volume}:/data`,
    host.baseImage,
    'sh',
    '-c',
    'cd /data && find . | sort | md5sum && find . -type f | sort | xargs md5sum | md5sum',
  );
}
