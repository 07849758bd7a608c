// The DockerEngine contract and adapter specifics against real engines: one over its unix socket, one over TCP+TLS.
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { describeDockerEngineContract, removeLabelled } from '../core/testing/docker-engine-contract.js';
import {
  engineOverSocket,
  engineOverTls,
  newRunLabel,
  testDockerHost,
} from '../../test/support/docker-hosts.js';
import { createDockerodeEngine } from './dockerode-engine.js';

describeDockerEngineContract('real engine h1 over its unix socket', () => {
  const host = testDockerHost(0);
  return Promise.resolve({
    engine: engineOverSocket(host),
    baseImage: host.baseImage,
    runLabel: newRunLabel(),
  });
});

describeDockerEngineContract('real engine h2 over TCP with mutual TLS', () => {
  const host = testDockerHost(1);
  if (!host.tcp) throw new Error('host h2 has no TLS address (engines from DM_TEST_DOCKER_HOSTS have none)');
  return Promise.resolve({ engine: engineOverTls(host), baseImage: host.baseImage, runLabel: newRunLabel() });
});

describe('DockerodeEngine on a real engine', () => {
  const host = testDockerHost(0);
  const engine = engineOverSocket(host);
  const runLabel = newRunLabel();

  afterAll(async () => {
    await removeLabelled(engine, runLabel);
  });

  it('measures the bytes a volume holds', async () => {
    const volume = `dmtest-size-${runLabel.slice(-8)}`;
    await engine.createVolume({ name: volume, labels: { [runLabel]: '1' } });
    const writer = await engine.createContainer({
      name: `${volume}-writer`,
      image: host.baseImage,
      cmd: ['dd', 'if=/dev/zero', 'of=/data/blob', 'bs=1024', 'count=2048'],
      labels: { [runLabel]: '1' },
      volumes: { [volume]: '/data' },
    });
    await engine.startContainer(writer);
    for (let i = 0; i < 100 && (await engine.inspectContainer(writer)).state !== 'exited'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const sized = (await engine.listVolumes({ sizes: true })).find((v) => v.name === volume);
    expect(sized?.size).toBeGreaterThanOrEqual(2048 * 1024);
    expect(sized?.refCount).toBe(1);
  });

  it('reports an engine that is not there as unavailable, naming its address', async () => {
    const missing = createDockerodeEngine({
      host: 'unix:///nonexistent/docker.sock',
      certPath: '',
      tlsVerify: false,
      tls: false,
    });
    const error = await missing.listContainers().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('unavailable');
    expect((error as AppError).message).toBe(
      'cannot reach the Docker engine at unix:///nonexistent/docker.sock: no such socket',
    );
  });

  it('refuses a TLS engine whose certificate the client cannot verify', async () => {
    const tlsHost = testDockerHost(1);
    const untrusting = createDockerodeEngine({
      host: tlsHost.tcp,
      certPath: '/nonexistent',
      tlsVerify: false,
      tls: false,
    });
    // Plain HTTP against the TLS port: the engine closes or answers 400; either way, no data and a clear error.
    const error = await untrusting.listVolumes().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(['unavailable', 'invalid_argument', 'internal']).toContain((error as AppError).code);
  });
});
