// Runs the DockerEngine contract against the in-memory fake, so that unit tests built on it stay truthful.
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { describeDockerEngineContract } from './docker-engine-contract.js';
import { FakeDockerEngine } from './fake-docker-engine.js';

describeDockerEngineContract('fake', () =>
  Promise.resolve({
    engine: new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] }),
    baseImage: 'base:latest',
    runLabel: 'docker-migrate.test-run',
  }),
);

describe('FakeDockerEngine', () => {
  it('fails every call as unavailable while it is down', async () => {
    const engine = new FakeDockerEngine();
    engine.down = true;
    await expect(engine.listVolumes()).rejects.toSatisfy(
      (error: unknown) => error instanceof AppError && error.code === 'unavailable',
    );
  });
});
