// Ports, health, volume and network users and filtering as the worker pages show them.
import { describe, expect, it } from 'vitest';

import type { ContainerSummary } from '../api/worker-types';
import { containerHealth, formatPort, formatPorts, matchesFilter, usersBy } from './worker-resources';

function container(name: string, volumeNames: string[]): ContainerSummary {
  return {
    id: `id-${name}`,
    name,
    image: 'nginx:1.27',
    imageId: 'sha256:1',
    command: 'nginx',
    state: 'running',
    status: 'Up 1 minute',
    created: 0,
    labels: {},
    ports: [],
    volumeNames,
    networkNames: [],
  };
}

describe('formatPort', () => {
  it('reads like docker ps', () => {
    expect(formatPort({ privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' })).toBe(
      '0.0.0.0:8080→80/tcp',
    );
    expect(formatPort({ privatePort: 53, protocol: 'udp' })).toBe('53/udp');
    expect(formatPort({ privatePort: 80, publicPort: 8080, hostIp: '::', protocol: 'tcp' })).toBe(
      '[::]:8080→80/tcp',
    );
  });
  it('lists a port bound twice the same way once', () => {
    const binding = { privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' } as const;
    expect(formatPorts([binding, binding])).toEqual(['0.0.0.0:8080→80/tcp']);
  });
});

describe('containerHealth', () => {
  it('finds the health check verdict in the status text', () => {
    expect(containerHealth('Up 3 minutes (healthy)')).toBe('healthy');
    expect(containerHealth('Up 3 seconds (health: starting)')).toBe('starting');
    expect(containerHealth('Up 1 hour (unhealthy)')).toBe('unhealthy');
    expect(containerHealth('Exited (0) 2 hours ago')).toBeUndefined();
  });
});

describe('usersBy', () => {
  it('names each volume’s containers once', () => {
    const users = usersBy(
      [container('web', ['data', 'data']), container('db', ['data', 'pg'])],
      (c) => c.volumeNames,
    );
    expect(users.get('data')).toEqual(['web', 'db']);
    expect(users.get('pg')).toEqual(['db']);
    expect(users.get('other')).toBeUndefined();
  });
});

describe('matchesFilter', () => {
  it('matches any name, ignoring case and surrounding spaces', () => {
    expect(matchesFilter(' WEB ', 'db', 'my-web-1')).toBe(true);
    expect(matchesFilter('cache', 'db', 'web')).toBe(false);
    expect(matchesFilter('', 'anything')).toBe(true);
  });
  it('skips fields a resource does not have', () => {
    expect(matchesFilter('shop', undefined, 'db')).toBe(false);
    expect(matchesFilter('shop', undefined, 'shop_default')).toBe(true);
  });
});
