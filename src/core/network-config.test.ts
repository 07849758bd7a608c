// Recreating user-defined networks on a target: settings kept, subnets the target already uses given up.
import { describe, expect, it } from 'vitest';
import type { NetworkDetails, NetworkSummary } from './docker-resources.js';
import { AppError } from './errors.js';
import { cidrOverlaps, networkCreateSpecFor } from './network-config.js';

/** A user-defined network as the adapter maps `GET /networks/{id}` of Docker 20.10 (API 1.41). */
function network(overrides: Partial<NetworkDetails> = {}): NetworkDetails {
  return {
    id: '5d0b7c3f1e2a4b6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e',
    name: 'appnet',
    driver: 'bridge',
    scope: 'local',
    internal: false,
    attachable: false,
    ipv6: false,
    labels: {},
    options: {},
    ipam: { driver: 'default', config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }], options: {} },
    builtIn: false,
    created: '2024-03-01T10:00:00.123456789Z',
    containers: {},
    ...overrides,
  };
}

/** The networks of a fresh target Engine: its default bridge, host and none. */
const freshTarget: NetworkSummary[] = [
  network({
    id: 'b1',
    name: 'bridge',
    builtIn: true,
    options: {
      'com.docker.network.bridge.default_bridge': 'true',
      'com.docker.network.bridge.name': 'docker0',
    },
    ipam: { driver: 'default', config: [{ subnet: '172.17.0.0/16', gateway: '172.17.0.1' }], options: {} },
  }),
  network({
    id: 'h1',
    name: 'host',
    driver: 'host',
    builtIn: true,
    ipam: { driver: 'default', config: [], options: {} },
  }),
  network({
    id: 'n1',
    name: 'none',
    driver: 'null',
    builtIn: true,
    ipam: { driver: 'default', config: [], options: {} },
  }),
];

describe('cidrOverlaps', () => {
  it('tells overlapping IPv4 subnets from disjoint ones', () => {
    expect(cidrOverlaps('172.20.0.0/16', '172.20.0.0/16')).toBe(true);
    expect(cidrOverlaps('172.20.0.0/16', '172.20.5.0/24')).toBe(true);
    expect(cidrOverlaps('172.20.5.0/24', '172.20.0.0/16')).toBe(true);
    expect(cidrOverlaps('10.0.0.0/8', '10.255.255.255/32')).toBe(true);
    expect(cidrOverlaps('0.0.0.0/0', '192.168.1.0/24')).toBe(true);
    expect(cidrOverlaps('172.20.0.0/16', '172.21.0.0/16')).toBe(false);
    expect(cidrOverlaps('192.168.0.0/25', '192.168.0.128/25')).toBe(false);
    expect(cidrOverlaps('172.18.0.0/15', '172.19.255.0/24')).toBe(true);
    expect(cidrOverlaps('172.18.0.0/15', '172.20.0.0/24')).toBe(false);
  });

  it('ignores host bits as the Engine does', () => {
    expect(cidrOverlaps('172.20.3.7/16', '172.20.200.0/24')).toBe(true);
    expect(cidrOverlaps('192.168.0.200/25', '192.168.0.0/25')).toBe(false);
  });

  it('tells overlapping IPv6 subnets from disjoint ones, in every notation', () => {
    expect(cidrOverlaps('fd00:dead:beef::/48', 'fd00:dead:beef:1::/64')).toBe(true);
    expect(cidrOverlaps('fd00:dead:beef:0:0:0:0:0/48', 'FD00:DEAD:BEEF::/48')).toBe(true);
    expect(cidrOverlaps('fd00:dead:beef::/48', 'fd00:dead:bef0::/48')).toBe(false);
    expect(cidrOverlaps('2001:db8::/32', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128')).toBe(true);
    expect(cidrOverlaps('2001:db8::/33', '2001:db8:8000::/33')).toBe(false);
    expect(cidrOverlaps('::/0', 'fe80::/10')).toBe(true);
    expect(cidrOverlaps('::ffff:10.0.0.0/104', '::ffff:10.1.0.0/112')).toBe(true);
    expect(cidrOverlaps('::ffff:10.0.0.0/104', '::ffff:11.0.0.0/104')).toBe(false);
    expect(cidrOverlaps('1:2:3:4:5:6:7::/112', '1:2:3:4:5:6:7:0/120')).toBe(true);
  });

  it('never finds an IPv4 subnet inside an IPv6 one', () => {
    expect(cidrOverlaps('10.0.0.0/8', '::/0')).toBe(false);
    expect(cidrOverlaps('::ffff:10.0.0.0/104', '10.0.0.0/8')).toBe(false);
  });

  it('refuses text that is not a subnet', () => {
    for (const bad of [
      '172.20.0.0',
      '172.20.0/16',
      '172.20.0.256/24',
      '172.20.0.0/33',
      '010.0.0.0/8',
      'fd00::/129',
      'fd00::1::/64',
      '1:2:3:4:5:6:7:8:9/64',
      'fd00:12345::/64',
      'fe80::1%eth0/64',
      'bridge',
    ]) {
      expect(() => cidrOverlaps(bad, '10.0.0.0/8'), bad).toThrow(AppError);
    }
    try {
      cidrOverlaps('10.0.0.0/8', 'nonsense');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(AppError);
      expect((error as AppError).code).toBe('invalid_argument');
      expect((error as AppError).message).toContain('nonsense');
    }
  });
});

describe('networkCreateSpecFor', () => {
  it('keeps driver, options, labels, flags and IPAM when the target has room', () => {
    const source = network({
      name: 'backend',
      internal: true,
      attachable: true,
      ipv6: true,
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.network': 'backend' },
      options: { 'com.docker.network.bridge.enable_icc': 'true', 'com.docker.network.driver.mtu': '1450' },
      ipam: {
        driver: 'default',
        config: [
          { subnet: '172.28.0.0/16', gateway: '172.28.0.1', ipRange: '172.28.5.0/24' },
          { subnet: 'fd00:28::/64', gateway: 'fd00:28::1' },
        ],
        options: { 'com.example.pool': 'a' },
      },
    });

    const { spec, findings } = networkCreateSpecFor(source, freshTarget);

    expect(findings).toEqual([]);
    expect(spec).toEqual({
      name: 'backend',
      driver: 'bridge',
      labels: { 'com.docker.compose.network': 'backend', 'com.docker.compose.project': 'shop' },
      options: { 'com.docker.network.bridge.enable_icc': 'true', 'com.docker.network.driver.mtu': '1450' },
      internal: true,
      attachable: true,
      ipv6: true,
      ipam: {
        driver: 'default',
        config: [
          { subnet: '172.28.0.0/16', gateway: '172.28.0.1', ipRange: '172.28.5.0/24' },
          { subnet: 'fd00:28::/64', gateway: 'fd00:28::1' },
        ],
        options: { 'com.example.pool': 'a' },
      },
    });
  });

  it('leaves out empty maps and IPAM entries', () => {
    const { spec } = networkCreateSpecFor(
      network({ ipam: { driver: 'default', config: [{ subnet: '', gateway: '' }], options: {} } }),
      freshTarget,
    );
    expect(spec).toEqual({
      name: 'appnet',
      driver: 'bridge',
      internal: false,
      attachable: false,
      ipv6: false,
      ipam: { driver: 'default' },
    });
  });

  it('gives up an IPv4 subnet the target uses and names both networks', () => {
    const target = [
      ...freshTarget,
      network({
        id: 't1',
        name: 'monitoring',
        ipam: { driver: 'default', config: [{ subnet: '172.20.128.0/17' }], options: {} },
      }),
    ];
    const source = network({
      ipam: {
        driver: 'default',
        config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }, { subnet: '192.168.77.0/24' }],
        options: {},
      },
    });

    const { spec, findings } = networkCreateSpecFor(source, target);

    expect(spec.ipam).toEqual({ driver: 'default', config: [{ subnet: '192.168.77.0/24' }] });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      severity: 'warning',
      code: 'subnet_clash',
      resource: { type: 'network', name: 'appnet' },
    });
    expect(findings[0]?.message).toContain('172.20.0.0/16');
    expect(findings[0]?.message).toContain('172.20.128.0/17');
    expect(findings[0]?.message).toContain('monitoring');
  });

  it("gives up a subnet inside the target's default bridge", () => {
    const { spec, findings } = networkCreateSpecFor(
      network({ ipam: { driver: 'default', config: [{ subnet: '172.17.42.0/24' }], options: {} } }),
      freshTarget,
    );
    expect(spec.ipam).toEqual({ driver: 'default' });
    expect(findings.map((finding) => finding.code)).toEqual(['subnet_clash']);
    expect(findings[0]?.message).toContain('bridge');
  });

  it('gives up an IPv6 subnet the target uses and keeps the IPv4 one', () => {
    const target = [
      ...freshTarget,
      network({
        id: 't2',
        name: 'v6net',
        ipv6: true,
        ipam: {
          driver: 'default',
          config: [{ subnet: '10.9.0.0/16' }, { subnet: 'fd00:dead:beef::/48' }],
          options: {},
        },
      }),
    ];
    const source = network({
      ipv6: true,
      ipam: {
        driver: 'default',
        config: [
          { subnet: '172.20.0.0/16', gateway: '172.20.0.1' },
          { subnet: 'fd00:dead:beef:10::/64', gateway: 'fd00:dead:beef:10::1' },
        ],
        options: {},
      },
    });

    const { spec, findings } = networkCreateSpecFor(source, target);

    expect(spec.ipam?.config).toEqual([{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }]);
    expect(findings).toHaveLength(1);
    expect(findings[0]?.message).toContain('fd00:dead:beef:10::/64');
    expect(findings[0]?.message).toContain('fd00:dead:beef::/48');
    expect(findings[0]?.message).toContain('v6net');
  });

  it('does not count the target network of the same name, which is replaced or kept', () => {
    const target = [...freshTarget, network({ id: 'old' })];
    expect(networkCreateSpecFor(network(), target).findings).toEqual([]);
    // Renamed, the new network would sit beside the old one: now it clashes.
    const renamed = networkCreateSpecFor(network(), target, { name: 'appnet-2' });
    expect(renamed.spec.name).toBe('appnet-2');
    expect(renamed.findings.map((finding) => finding.code)).toEqual(['subnet_clash']);
  });

  it('refuses built-in networks', () => {
    for (const builtIn of freshTarget) {
      try {
        networkCreateSpecFor(builtIn, []);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(AppError);
        expect((error as AppError).code).toBe('invalid_argument');
        expect((error as AppError).message).toContain(builtIn.name);
      }
    }
  });

  it('does not change its input', () => {
    const source = network();
    const target = [...freshTarget, network({ id: 't', name: 'other' })];
    const before = structuredClone({ source, target });
    networkCreateSpecFor(source, target);
    expect({ source, target }).toEqual(before);
  });
});
