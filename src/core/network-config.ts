// What recreates a user-defined network on another engine: its settings, minus any subnet the target already
// uses (the target then picks one), and the CIDR arithmetic that tells the two apart.
import type { IpamConfig, NetworkCreateSpec, NetworkDetails, NetworkSummary } from './docker-resources.js';
import { AppError } from './errors.js';
import type { Finding } from './migration.js';

/** Networks every Engine creates for itself; they exist on the target already and cannot be recreated. */
const BUILT_IN_NETWORKS = new Set(['bridge', 'host', 'none']);

interface Cidr {
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: Uint8Array;
  prefix: number;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [index, part] of parts.entries()) {
    // Decimal only, without leading zeros: Go's net.ParseIP (the Engine's parser) rejects "010" as ambiguous.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[index] = value;
  }
  return bytes;
}

/** The 16-bit groups of one side of "::", each 1 to 4 hex digits; an IPv4 tail counts as two groups. */
function ipv6Groups(text: string, allowIpv4Tail: boolean): number[] | undefined {
  if (text === '') return [];
  const parts = text.split(':');
  const groups: number[] = [];
  for (const [index, part] of parts.entries()) {
    if (allowIpv4Tail && index === parts.length - 1 && part.includes('.')) {
      const ipv4 = parseIpv4(part);
      if (!ipv4) return undefined;
      groups.push(((ipv4[0] ?? 0) << 8) | (ipv4[1] ?? 0), ((ipv4[2] ?? 0) << 8) | (ipv4[3] ?? 0));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
    groups.push(parseInt(part, 16));
  }
  return groups;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    const head = ipv6Groups(halves[0] ?? '', false);
    const tail = ipv6Groups(halves[1] ?? '', true);
    // "::" stands for at least one zero group.
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = ipv6Groups(text, true);
    if (all?.length !== 8) return undefined;
    groups = all;
  }
  const bytes = new Uint8Array(16);
  for (const [index, group] of groups.entries()) {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  }
  return bytes;
}

/** "10.1.0.0/16" or "fd00:1::/64"; undefined for anything else (no zone, no bare address). */
function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const bytes = address.includes(':') ? parseIpv6(address) : parseIpv4(address);
  if (!bytes || prefix > bytes.length * 8) return undefined;
  return { bytes, prefix };
}

/** True when the first `bits` bits of both addresses are equal. */
function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  const whole = Math.floor(bits / 8);
  for (let index = 0; index < whole; index += 1) if (a[index] !== b[index]) return false;
  const rest = bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole] ?? 0) & mask) === ((b[whole] ?? 0) & mask);
}

function overlaps(a: Cidr, b: Cidr): boolean {
  // Two prefixes share an address exactly when the shorter one contains the other's network address.
  return a.bytes.length === b.bytes.length && samePrefix(a.bytes, b.bytes, Math.min(a.prefix, b.prefix));
}

/**
 * Whether two subnets share at least one address, so that an Engine would refuse a network on one while a
 * network on the other exists. Addresses of different families never overlap; host bits are ignored, as the
 * Engine ignores them. Throws `invalid_argument` for text that is not a CIDR.
 */
export function cidrOverlaps(a: string, b: string): boolean {
  const left = parseCidr(a);
  const right = parseCidr(b);
  if (!left || !right) {
    throw new AppError('invalid_argument', `not a subnet in CIDR notation: ${left ? b : a}`, {
      hint: 'write it as address/prefix, e.g. 172.20.0.0/16 or fd00:1::/64',
    });
  }
  return overlaps(left, right);
}

function nonEmpty(record: Record<string, string>): Record<string, string> | undefined {
  const keys = Object.keys(record).sort();
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((key) => [key, record[key] ?? '']));
}

function withoutEmptyFields(config: IpamConfig): IpamConfig {
  return {
    ...(config.subnet ? { subnet: config.subnet } : {}),
    ...(config.gateway ? { gateway: config.gateway } : {}),
    ...(config.ipRange ? { ipRange: config.ipRange } : {}),
  };
}

/**
 * The spec that recreates `source` on a target whose networks are `targetNetworks`. A subnet that overlaps one
 * already used on the target would make the Engine refuse the network, so that IPAM entry is left out (the
 * target chooses a free subnet) and a `subnet_clash` warning names both subnets. A target network of the same
 * name does not count: the spec is used only when that one is replaced or the new one is renamed.
 */
export function networkCreateSpecFor(
  source: NetworkDetails | NetworkSummary,
  targetNetworks: NetworkSummary[],
  options: { name?: string } = {},
): { spec: NetworkCreateSpec; findings: Finding[] } {
  if (source.builtIn || BUILT_IN_NETWORKS.has(source.name)) {
    throw new AppError(
      'invalid_argument',
      `network ${source.name} is built into every Engine and is not migrated`,
      {
        hint: 'containers on it join the same network on the target; migrate user-defined networks only',
      },
    );
  }
  const name = options.name ?? source.name;
  const findings: Finding[] = [];
  const taken = targetNetworks
    .filter((network) => network.name !== name)
    .flatMap((network) =>
      network.ipam.config.flatMap((config) => {
        const cidr = config.subnet ? parseCidr(config.subnet) : undefined;
        return cidr && config.subnet ? [{ network: network.name, subnet: config.subnet, cidr }] : [];
      }),
    );

  const kept: IpamConfig[] = [];
  for (const config of source.ipam.config) {
    const cidr = config.subnet ? parseCidr(config.subnet) : undefined;
    const clash = cidr ? taken.find((used) => overlaps(cidr, used.cidr)) : undefined;
    if (clash) {
      findings.push({
        severity: 'warning',
        code: 'subnet_clash',
        message:
          `subnet ${config.subnet ?? ''} of network ${source.name} overlaps subnet ${clash.subnet} of network ` +
          `${clash.network} on the target: the target chooses another subnet, and fixed addresses in it may not fit`,
        resource: { type: 'network', name: source.name },
      });
      continue;
    }
    const entry = withoutEmptyFields(config);
    if (Object.keys(entry).length > 0) kept.push(entry);
  }

  const ipamOptions = nonEmpty(source.ipam.options);
  const ipam = {
    ...(source.ipam.driver ? { driver: source.ipam.driver } : {}),
    ...(kept.length > 0 ? { config: kept } : {}),
    ...(ipamOptions ? { options: ipamOptions } : {}),
  };
  const labels = nonEmpty(source.labels);
  const driverOptions = nonEmpty(source.options);
  const spec: NetworkCreateSpec = {
    name,
    ...(source.driver ? { driver: source.driver } : {}),
    ...(labels ? { labels } : {}),
    ...(driverOptions ? { options: driverOptions } : {}),
    internal: source.internal,
    attachable: source.attachable,
    ipv6: source.ipv6,
    ...(Object.keys(ipam).length > 0 ? { ipam } : {}),
  };
  return { spec, findings };
}
