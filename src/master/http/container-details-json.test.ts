// Unit tests of a container's details as the API shows them: read from an Engine inspect document, secrets hidden.
import { describe, expect, it } from 'vitest';

import type { ContainerDetails } from '../../core/docker-resources.js';
import { sampleContainer } from '../../core/testing/sample-resources.js';
import {
  HEALTH_OUTPUT_LIMIT,
  containerDetailsJson,
  envJson,
  healthOutput,
} from './container-details-json.js';

/** An inspect document as Engine 27 writes it for a running container with a volume, a bind, a port and a check. */
function inspectDocument(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Id: 'c0ffee0000000000000000000000000000000000000000000000000000000001',
    Created: '2025-01-02T03:04:05.123456789Z',
    Path: '/docker-entrypoint.sh',
    Args: ['nginx', '-g', 'daemon off;'],
    State: {
      Status: 'running',
      Running: true,
      ExitCode: 0,
      StartedAt: '2025-01-02T03:04:06.5Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: {
        Status: 'unhealthy',
        FailingStreak: 3,
        Log: [
          { Start: '2025-01-02T03:05:00Z', End: '2025-01-02T03:05:01Z', ExitCode: 0, Output: 'ok\n' },
          {
            Start: '2025-01-02T03:06:00Z',
            End: '2025-01-02T03:06:01Z',
            ExitCode: 1,
            Output: '  curl: (7) Failed to connect\n',
          },
        ],
      },
    },
    Image: 'sha256:1111',
    RestartCount: 2,
    Name: '/web',
    HostConfig: {
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 },
      PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
    },
    Mounts: [
      {
        Type: 'volume',
        Name: 'web-data',
        Source: '/var/lib/docker/volumes/web-data/_data',
        Destination: '/usr/share/nginx/html',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
      {
        Type: 'bind',
        Source: '/etc/web',
        Destination: '/etc/nginx/conf.d',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate',
      },
    ],
    Config: {
      Image: 'nginx:1.27',
      Env: ['SECRET_KEY=hunter2', 'db_password=p@ss', 'PLAIN=y', 'EMPTY=', 'BARE', 'PATH=/usr/bin:/bin'],
      Cmd: ['nginx', '-g', 'daemon off;', '--api-token=abc123'],
      Entrypoint: ['/docker-entrypoint.sh'],
      Labels: { tier: 'front' },
    },
    NetworkSettings: {
      Ports: {
        '80/tcp': [
          { HostIp: '0.0.0.0', HostPort: '8080' },
          { HostIp: '::', HostPort: '8080' },
        ],
        '443/tcp': null,
      },
      Networks: {
        bridge: {
          IPAddress: '172.17.0.2',
          Gateway: '172.17.0.1',
          GlobalIPv6Address: '',
          MacAddress: '02:42:ac:11:00:02',
          Aliases: null,
        },
        app: {
          IPAddress: '10.5.0.3',
          Gateway: '10.5.0.1',
          GlobalIPv6Address: 'fd00::3',
          MacAddress: '02:42:0a:05:00:03',
          Aliases: ['web', 'c0ffee000000'],
        },
      },
    },
    ...overrides,
  };
}

function details(raw: Record<string, unknown>, overrides: Partial<ContainerDetails> = {}): ContainerDetails {
  return {
    ...sampleContainer({ labels: { tier: 'front' } }),
    restartCount: 2,
    mounts: [],
    raw,
    ...overrides,
  };
}

describe('container details', () => {
  it('reads mounts, ports, restart policy, health, command, networks and times from the inspect document', () => {
    const json = containerDetailsJson(details(inspectDocument()));
    expect(json).toEqual({
      id: 'c0ffee0000000000000000000000000000000000000000000000000000000001',
      name: 'web',
      image: 'nginx:1.27',
      image_id: 'sha256:1111',
      state: 'running',
      exit_code: 0,
      restart_count: 2,
      created_at: '2025-01-02T03:04:05.123456789Z',
      started_at: '2025-01-02T03:04:06.5Z',
      finished_at: null,
      entrypoint: ['/docker-entrypoint.sh'],
      command: ['nginx', '-g', 'daemon off;', '--api-token=[redacted]'],
      restart_policy: { name: 'on-failure', maximum_retry_count: 5 },
      health: {
        status: 'unhealthy',
        failing_streak: 3,
        last_output: 'curl: (7) Failed to connect',
        last_exit_code: 1,
        last_checked_at: '2025-01-02T03:06:01Z',
      },
      mounts: [
        {
          type: 'volume',
          source: '/var/lib/docker/volumes/web-data/_data',
          volume_name: 'web-data',
          destination: '/usr/share/nginx/html',
          read_only: false,
        },
        {
          type: 'bind',
          source: '/etc/web',
          volume_name: null,
          destination: '/etc/nginx/conf.d',
          read_only: true,
        },
      ],
      ports: [
        { container_port: 80, protocol: 'tcp', host_ip: '0.0.0.0', host_port: 8080 },
        { container_port: 80, protocol: 'tcp', host_ip: '::', host_port: 8080 },
      ],
      labels: { tier: 'front' },
      env: [
        { name: 'SECRET_KEY', value: '[redacted]', redacted: true },
        { name: 'db_password', value: '[redacted]', redacted: true },
        { name: 'PLAIN', value: 'y', redacted: false },
        { name: 'EMPTY', value: '', redacted: false },
        { name: 'BARE', value: null, redacted: false },
        { name: 'PATH', value: '/usr/bin:/bin', redacted: false },
      ],
      networks: [
        {
          name: 'app',
          ip_address: '10.5.0.3',
          ipv6_address: 'fd00::3',
          gateway: '10.5.0.1',
          mac_address: '02:42:0a:05:00:03',
          aliases: ['web', 'c0ffee000000'],
        },
        {
          name: 'bridge',
          ip_address: '172.17.0.2',
          ipv6_address: null,
          gateway: '172.17.0.1',
          mac_address: '02:42:ac:11:00:02',
          aliases: [],
        },
      ],
    });
    const body = JSON.stringify(json);
    expect(body).not.toContain('hunter2');
    expect(body).not.toContain('p@ss');
    expect(body).not.toContain('abc123');
  });

  it('shows a stopped container’s configured ports, its finish time, and no health without a healthcheck', () => {
    const raw = inspectDocument({
      State: {
        Status: 'exited',
        ExitCode: 137,
        StartedAt: '2025-01-02T03:04:06Z',
        FinishedAt: '2025-01-02T04:00:00Z',
      },
      NetworkSettings: { Ports: {}, Networks: {} },
      HostConfig: {
        RestartPolicy: { Name: '', MaximumRetryCount: 0 },
        PortBindings: { '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }] },
      },
    });
    const json = containerDetailsJson(details(raw, { state: 'exited' }));
    expect(json).toMatchObject({
      state: 'exited',
      exit_code: 137,
      finished_at: '2025-01-02T04:00:00Z',
      restart_policy: { name: 'no', maximum_retry_count: 0 },
      health: null,
      ports: [{ container_port: 53, protocol: 'udp', host_ip: '127.0.0.1', host_port: null }],
      networks: [],
    });
  });

  it('says a container that never ran has no start time, and a check not yet run has no output', () => {
    const raw = inspectDocument({
      State: {
        Status: 'created',
        StartedAt: '0001-01-01T00:00:00Z',
        FinishedAt: '0001-01-01T00:00:00Z',
        Health: { Status: 'starting', FailingStreak: 0, Log: [] },
      },
    });
    const json = containerDetailsJson(details(raw, { state: 'created' }));
    expect(json.started_at).toBeNull();
    expect(json.finished_at).toBeNull();
    expect(json.health).toEqual({
      status: 'starting',
      failing_streak: 0,
      last_output: null,
      last_exit_code: null,
      last_checked_at: null,
    });
  });

  it('keeps a document with fields missing or null readable', () => {
    const json = containerDetailsJson(details({ Config: { Env: null, Cmd: null }, Mounts: null }));
    expect(json).toMatchObject({
      image: 'nginx:1.27',
      env: [],
      command: [],
      entrypoint: [],
      mounts: [],
      ports: [],
      networks: [],
      health: null,
    });
  });
});

describe('environment values', () => {
  it('hides the value of every name the logs treat as a secret, whatever its case', () => {
    const names = [
      'API_KEY',
      'github_token',
      'MyPassword',
      'AWS_SECRET_ACCESS_KEY',
      'CREDENTIALS',
      'OAUTH_URL',
    ];
    for (const name of names) {
      expect(envJson([`${name}=s3cr3t`])).toEqual([{ name, value: '[redacted]', redacted: true }]);
    }
  });

  it('keeps the value of other names, with any "=" after the first', () => {
    expect(envJson(['QUERY=a=b&c=d', 'HOME=/root'])).toEqual([
      { name: 'QUERY', value: 'a=b&c=d', redacted: false },
      { name: 'HOME', value: '/root', redacted: false },
    ]);
  });
});

describe('health check output', () => {
  it('is trimmed and cut to the limit', () => {
    const output = healthOutput(`\n${'x'.repeat(HEALTH_OUTPUT_LIMIT * 2)}\n`);
    expect(output).toHaveLength(HEALTH_OUTPUT_LIMIT);
    expect(output.endsWith('…')).toBe(true);
  });

  it('hides a bearer token or a URL password it prints', () => {
    expect(healthOutput('GET https://user:pw@db/ with Bearer abc.def')).toBe(
      'GET https://user:[redacted]@db/ with Bearer [redacted]',
    );
  });
});
