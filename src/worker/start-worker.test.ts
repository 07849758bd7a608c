// What a worker tells other workers to dial when no --advertise-addr is given.
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultAdvertiseAddress } from './start-worker.js';

function ipv4(address: string, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: '255.255.255.0',
    family: 'IPv4',
    mac: '02:42:ac:11:00:02',
    internal,
    cidr: `${address}/24`,
  };
}

function ipv6(address: string, internal = false): NetworkInterfaceInfo {
  return {
    address,
    netmask: 'ffff:ffff:ffff:ffff::',
    family: 'IPv6',
    mac: '02:42:ac:11:00:02',
    internal,
    cidr: `${address}/64`,
    scopeid: 0,
  };
}

const HOST_INTERFACES: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [ipv4('127.0.0.1', true), ipv6('::1', true)],
  docker0: undefined,
  eth0: [ipv6('fe80::42:acff:fe11:2'), ipv4('192.168.1.20')],
  eth1: [ipv4('10.0.0.9')],
};

describe('defaultAdvertiseAddress', () => {
  it('keeps an explicit host of --grpc-addr', () => {
    expect(defaultAdvertiseAddress('10.1.2.3:9090', HOST_INTERFACES)).toBe('10.1.2.3:9090');
    expect(defaultAdvertiseAddress('worker-1.example:7000', HOST_INTERFACES)).toBe('worker-1.example:7000');
  });

  it('brackets an explicit IPv6 host', () => {
    expect(defaultAdvertiseAddress('[fd00::5]:9090', HOST_INTERFACES)).toBe('[fd00::5]:9090');
  });

  it('uses the first non-internal IPv4 address for ":port" and the wildcard addresses', () => {
    expect(defaultAdvertiseAddress(':9090', HOST_INTERFACES)).toBe('192.168.1.20:9090');
    expect(defaultAdvertiseAddress('0.0.0.0:9191', HOST_INTERFACES)).toBe('192.168.1.20:9191');
    expect(defaultAdvertiseAddress('[::]:9292', HOST_INTERFACES)).toBe('192.168.1.20:9292');
  });

  it('falls back to the loopback address when the host has no other IPv4 address', () => {
    const loopbackOnly = { lo: [ipv4('127.0.0.1', true)], eth0: [ipv6('fe80::1')] };
    expect(defaultAdvertiseAddress(':9090', loopbackOnly)).toBe('127.0.0.1:9090');
    expect(defaultAdvertiseAddress(':9090', {})).toBe('127.0.0.1:9090');
  });

  it('never answers a bare ":port"', () => {
    for (const grpcAddr of [':9090', '0.0.0.0:9090', '[::]:9090', ' :9090 ']) {
      expect(defaultAdvertiseAddress(grpcAddr, {})).toMatch(/^[^:]+:\d+$/);
    }
  });
});
