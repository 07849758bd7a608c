import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import type { PlannedResource } from '../core/migration.js';
import { readable } from './migration-support.js';

const WEB = 'c0ffee0100000000000000000000000000000000000000000000000000000001';
const IMAGE = 'sha256:1111aaaa00000000000000000000000000000000000000000000000000000000';
const OTHER = '9ddb837e9c53aaaa00000000000000000000000000000000000000000000000b';

function planned(type: PlannedResource['type'], name: string, sourceId: string): PlannedResource {
  return {
    type,
    name,
    sourceId,
    targetName: name,
    reason: 'requested',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
  };
}

const migration = {
  plan: {
    resources: [planned('container', 'web', WEB), planned('image', 'nginx:1.27', IMAGE)],
    findings: [],
    totalBytes: 0,
  },
};

describe('readable', () => {
  it('names objects the plan knows, shortens ids it does not, and drops the engine address', () => {
    const error = new AppError(
      'not_found',
      `Docker engine at unix:///var/lib/docker-migrate-test-hosts/h2/docker.sock: No such container: ${WEB}; ` +
        `image ${IMAGE} is used by ${OTHER}`,
    );
    expect(readable(error, migration)).toBe(
      'Docker engine: No such container: web; image nginx:1.27 is used by 9ddb837e9c53',
    );
  });

  it('drops tcp addresses with their port, and leaves shorter hex alone', () => {
    const error = new Error(
      'cannot reach the Docker engine at tcp://10.231.1.2:2376: connection refused (c0ffee01)',
    );
    expect(readable(error, migration)).toBe('cannot reach the Docker engine: connection refused (c0ffee01)');
  });
});
