// Turns a source engine's container inspect document into what recreates the container on another engine:
// the Engine API create body, the networks to attach, and findings for what cannot come along.
import type { BindMountDetails, FindingCode } from '../contract/codes.js';
import type { BindMountRule, Finding, FindingSeverity } from './migration.js';

type Json = Record<string, unknown>;

export interface PortableContainerOptions {
  /** Name of the container on the target. */
  name: string;
  /** Source host path → rule, as in the migration request. */
  bindMounts: Record<string, BindMountRule>;
  /** Source network name → target network name; networks not listed keep their name. */
  networkNames?: Record<string, string>;
  /** Source volume name → target volume name; volumes not listed keep their name. */
  volumeNames?: Record<string, string>;
  /** Image reference to create from instead of the source's `Config.Image`. */
  imageRef?: string;
}

/** A network the recreated container joins, with what the Engine lets `POST /networks/{id}/connect` carry. */
export interface PortableNetworkAttachment {
  name: string;
  aliases: string[];
  ipv4Address?: string;
  ipv6Address?: string;
}

export interface PortableContainerConfig {
  name: string;
  /** `POST /containers/create` body (API 1.41): Config fields at the top, HostConfig, NetworkingConfig. */
  createBody: Record<string, unknown>;
  /**
   * Networks to attach, in order. The first is the body's NetworkMode and its only NetworkingConfig endpoint
   * (API 1.41 accepts one endpoint at create); the others are connected after the create. `bridge` is listed
   * last when the source container was on it besides user-defined networks, since it then has to be connected
   * too; built-in networks appear nowhere else but in NetworkMode.
   */
  networks: PortableNetworkAttachment[];
  findings: Finding[];
}

const BUILT_IN_NETWORKS = new Set(['bridge', 'host', 'none', 'default']);

/** Config fields copied as they are when not empty. */
const CONFIG_VALUES = [
  'User',
  'ExposedPorts',
  'Env',
  'Cmd',
  'Volumes',
  'WorkingDir',
  'Entrypoint',
  'StopSignal',
] as const;

/** Config booleans whose default is false. */
const CONFIG_FLAGS = [
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'NetworkDisabled',
] as const;

/** HostConfig fields copied as they are when not empty (strings, lists, maps). */
const HOST_VALUES = [
  'PortBindings',
  'VolumeDriver',
  'CapAdd',
  'CapDrop',
  'CgroupnsMode',
  'Dns',
  'DnsOptions',
  'DnsSearch',
  'ExtraHosts',
  'GroupAdd',
  'SecurityOpt',
  'StorageOpt',
  'Tmpfs',
  'Sysctls',
  'Runtime',
  'Isolation',
  'CpusetCpus',
  'CpusetMems',
  'BlkioWeightDevice',
  'BlkioDeviceReadBps',
  'BlkioDeviceWriteBps',
  'BlkioDeviceReadIOps',
  'BlkioDeviceWriteIOps',
  'Devices',
  'DeviceCgroupRules',
  'DeviceRequests',
  'Ulimits',
  'Annotations',
] as const;

/** HostConfig numbers where 0 means "not set" (the Engine's default applies). */
const HOST_NUMBERS = [
  'OomScoreAdj',
  'ShmSize',
  'CpuShares',
  'Memory',
  'NanoCpus',
  'BlkioWeight',
  'CpuPeriod',
  'CpuQuota',
  'CpuRealtimePeriod',
  'CpuRealtimeRuntime',
  'MemoryReservation',
  'MemorySwap',
  'PidsLimit',
] as const;

/** HostConfig booleans whose default is false. */
const HOST_FLAGS = [
  'AutoRemove',
  'Privileged',
  'PublishAllPorts',
  'ReadonlyRootfs',
  'OomKillDisable',
] as const;

/** Namespace modes and the values that mean the same on any host; "container:<id>" never does. */
const NAMESPACE_MODES: Record<string, readonly string[]> = {
  IpcMode: ['host', 'none'],
  PidMode: ['host'],
  UTSMode: ['host'],
  UsernsMode: ['host'],
};

function record(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function texts(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/** The objects of a list, skipping anything else. */
function records(value: unknown): Json[] {
  return list(value).flatMap((item) => {
    const object = record(item);
    return object ? [object] : [];
  });
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  const object = record(value);
  return object !== undefined && Object.keys(object).length === 0;
}

/** The same record with its keys sorted, so that equal maps serialise equally. */
function sortedRecord(value: Json): Json {
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, value[key]]),
  );
}

/** A struct without its unset members (empty, 0, false): what the Engine would fill in by itself. */
function compactStruct(value: Json): Json {
  return Object.fromEntries(
    Object.entries(value).filter(([, member]) => !isEmpty(member) && member !== 0 && member !== false),
  );
}

function shortId(id: string): string {
  return id.slice(0, 12);
}

function normaliseHostPath(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

type BindOutcome = { kind: 'mapped'; path: string } | { kind: 'skip' } | { kind: 'unmapped' };

/** The rule for a host path, written with or without a trailing slash on either side. */
function bindOutcome(source: string, rules: Record<string, BindMountRule>): BindOutcome {
  const path = normaliseHostPath(source);
  const rule =
    rules[source] ?? Object.entries(rules).find(([rulePath]) => normaliseHostPath(rulePath) === path)?.[1];
  if (!rule) return { kind: 'unmapped' };
  return 'skip' in rule ? { kind: 'skip' } : { kind: 'mapped', path: rule.path };
}

/** "source:destination[:options]" of `HostConfig.Binds`; undefined for an entry of another shape. */
function parseBind(bind: string): { source: string; destination: string; options: string } | undefined {
  const [source, destination, ...options] = bind.split(':');
  if (!source || !destination) return undefined;
  return { source, destination, options: options.join(':') };
}

function formatBind(source: string, destination: string, options: string): string {
  return options ? `${source}:${destination}:${options}` : `${source}:${destination}`;
}

/** A `HostConfig.Mounts` entry without unset members, its option structs compacted too (their maps kept). */
function compactMount(mount: Json): Json {
  return compactStruct(
    Object.fromEntries(
      Object.entries(mount).map(([key, value]) => {
        const options = ['BindOptions', 'VolumeOptions', 'TmpfsOptions'].includes(key)
          ? record(value)
          : undefined;
        if (!options) return [key, value];
        const driver = record(options.DriverConfig);
        return [key, compactStruct({ ...options, DriverConfig: driver ? compactStruct(driver) : undefined })];
      }),
    ),
  );
}

interface Context {
  sourceName: string;
  findings: Finding[];
  /** Settings left out that a user may miss, reported together in one info finding. */
  dropped: string[];
}

function report(
  context: Context,
  severity: FindingSeverity,
  code: FindingCode,
  message: string,
  details?: BindMountDetails,
): void {
  context.findings.push({
    severity,
    code,
    message,
    resource: { type: 'container', name: context.sourceName },
    ...(details ? { details } : {}),
  });
}

interface Endpoint {
  name: string;
  settings: Json;
}

function endpointsOf(inspect: Json): Endpoint[] {
  const networks = record(record(inspect.NetworkSettings)?.Networks) ?? {};
  return Object.entries(networks)
    .map(([name, settings]) => ({ name, settings: record(settings) ?? {} }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The endpoint `NetworkMode` names: by name, or by id as `docker run --network <id>` stores it. */
function endpointOfMode(mode: string, endpoints: Endpoint[]): Endpoint | undefined {
  return (
    endpoints.find((endpoint) => endpoint.name === mode) ??
    endpoints.find((endpoint) => text(endpoint.settings.NetworkID)?.startsWith(mode))
  );
}

/** Aliases the user gave: without the short id (and the id) the Engine adds on user-defined networks. */
function userAliases(settings: Json, id: string): string[] {
  const generated = new Set([id, shortId(id)]);
  return [...new Set(texts(settings.Aliases))].filter((alias) => alias !== '' && !generated.has(alias));
}

/** The addresses the user fixed (`--ip`, `--ip6`); the ones the Engine assigned are not in IPAMConfig. */
function fixedAddresses(settings: Json): { ipv4Address?: string; ipv6Address?: string; linkLocal: string[] } {
  const ipam = record(settings.IPAMConfig) ?? {};
  const ipv4Address = text(ipam.IPv4Address);
  const ipv6Address = text(ipam.IPv6Address);
  return {
    ...(ipv4Address ? { ipv4Address } : {}),
    ...(ipv6Address ? { ipv6Address } : {}),
    linkLocal: texts(ipam.LinkLocalIPs),
  };
}

function userNetworkMode(mode: string): boolean {
  return !BUILT_IN_NETWORKS.has(mode) && !mode.startsWith('container:');
}

interface NetworkPlan {
  mode?: string;
  endpointsConfig?: Json;
  networks: PortableNetworkAttachment[];
}

function planNetworks(
  inspect: Json,
  host: Json,
  id: string,
  networkNames: Record<string, string>,
  context: Context,
): NetworkPlan {
  const endpoints = endpointsOf(inspect);
  const mode = text(host.NetworkMode) ?? 'default';
  const targetName = (name: string): string => networkNames[name] ?? name;

  for (const endpoint of endpoints) {
    const links = texts(endpoint.settings.Links);
    if (links.length > 0) {
      report(
        context,
        'warning',
        'links_dropped',
        `legacy links on network ${endpoint.name} (${links.join(', ')}) are not carried over: ` +
          'containers on a user-defined network reach each other by name or alias',
      );
    }
  }

  if (mode.startsWith('container:')) {
    report(
      context,
      'error',
      'container_namespace',
      `it shares the network stack of container ${mode.slice('container:'.length)} (NetworkMode ${mode}), ` +
        'which cannot be recreated on another engine: migrate that container and recreate this one by hand',
    );
    return { networks: [] };
  }

  const user = endpoints.filter((endpoint) => !BUILT_IN_NETWORKS.has(endpoint.name));
  const modeEndpoint = userNetworkMode(mode) ? endpointOfMode(mode, user) : undefined;
  const ordered = modeEndpoint
    ? [modeEndpoint, ...user.filter((endpoint) => endpoint !== modeEndpoint)]
    : user;
  const [primary, ...others] = ordered;

  if (!primary) {
    // On a built-in network only, or on a user-defined one the inspect data does not list.
    if (!userNetworkMode(mode)) return { mode, networks: [] };
    return {
      mode: targetName(mode),
      endpointsConfig: { [targetName(mode)]: {} },
      networks: [{ name: targetName(mode), aliases: [] }],
    };
  }

  const attachment = (endpoint: Endpoint): PortableNetworkAttachment => {
    const { linkLocal: _linkLocal, ...addresses } = fixedAddresses(endpoint.settings);
    return { name: targetName(endpoint.name), aliases: userAliases(endpoint.settings, id), ...addresses };
  };

  const first = attachment(primary);
  const { ipv4Address, ipv6Address, linkLocal } = fixedAddresses(primary.settings);
  const ipamConfig = compactStruct({
    IPv4Address: ipv4Address,
    IPv6Address: ipv6Address,
    LinkLocalIPs: linkLocal,
  });
  const driverOptions = record(primary.settings.DriverOpts);
  const endpointConfig = compactStruct({
    Aliases: first.aliases,
    IPAMConfig: Object.keys(ipamConfig).length > 0 ? ipamConfig : undefined,
    DriverOpts: driverOptions && !isEmpty(driverOptions) ? sortedRecord(driverOptions) : undefined,
  });

  for (const endpoint of others) {
    const lost = [
      ...(fixedAddresses(endpoint.settings).linkLocal.length > 0 ? ['LinkLocalIPs'] : []),
      ...(isEmpty(endpoint.settings.DriverOpts) ? [] : ['DriverOpts']),
    ];
    if (lost.length > 0) context.dropped.push(`${lost.join(' and ')} on network ${endpoint.name}`);
  }

  const networks = [first, ...others.map(attachment)];
  // The create body can carry one endpoint, and an endpoint in it replaces the NetworkMode network, so a
  // container that was on bridge as well gets bridge connected afterwards like its other networks.
  if (endpoints.some((endpoint) => endpoint.name === 'bridge'))
    networks.push({ name: 'bridge', aliases: [] });
  return { mode: first.name, endpointsConfig: { [first.name]: endpointConfig }, networks };
}

interface MountPlan {
  binds: string[];
  mounts: Json[];
}

function planMounts(
  inspect: Json,
  host: Json,
  options: PortableContainerOptions,
  context: Context,
): MountPlan {
  const volumeName = (name: string): string => options.volumeNames?.[name] ?? name;
  const covered = new Set<string>();
  const resolvedMounts = records(inspect.Mounts);

  /** The target path of a bind source, or undefined when the mount is left out. */
  const bindSource = (source: string, destination: string): string | undefined => {
    const outcome = bindOutcome(source, options.bindMounts);
    switch (outcome.kind) {
      case 'mapped':
        return outcome.path;
      case 'skip':
        report(
          context,
          'info',
          'bind_mount_skipped',
          `bind mount of host path ${source} at ${destination} is left out, as its bind mount rule says`,
          { host_path: source, container_path: destination },
        );
        return undefined;
      case 'unmapped':
        report(
          context,
          'error',
          'bind_mount_unmapped',
          `bind mount of host path ${source} at ${destination} has no bind mount rule: its data does not move ` +
            'with the container; give it a target path (the same path to keep it) or skip it',
          { host_path: source, container_path: destination },
        );
        return source;
    }
  };

  const binds: string[] = [];
  for (const bind of texts(host.Binds)) {
    const parsed = parseBind(bind);
    if (!parsed) {
      binds.push(bind);
      continue;
    }
    covered.add(parsed.destination);
    if (parsed.source.startsWith('/')) {
      const source = bindSource(parsed.source, parsed.destination);
      if (source !== undefined) binds.push(formatBind(source, parsed.destination, parsed.options));
    } else {
      binds.push(formatBind(volumeName(parsed.source), parsed.destination, parsed.options));
    }
  }

  const mounts: Json[] = [];
  for (const mount of records(host.Mounts)) {
    const target = text(mount.Target) ?? '';
    covered.add(target);
    const source = text(mount.Source);
    if (mount.Type === 'bind' && source) {
      const path = bindSource(source, target);
      if (path !== undefined) mounts.push(compactMount({ ...mount, Source: path }));
    } else if (mount.Type === 'volume') {
      // `--mount type=volume,dst=…` without a source makes an anonymous volume; name it, so its data follows.
      const name = source ?? text(resolvedMounts.find((resolved) => resolved.Destination === target)?.Name);
      mounts.push(compactMount({ ...mount, Source: name === undefined ? undefined : volumeName(name) }));
    } else {
      mounts.push(compactMount(mount));
    }
  }

  // Volumes no Binds or Mounts entry names: anonymous ones (image VOLUME, `-v /path`) and those VolumesFrom
  // brought. Mounting them by name attaches the data the migration moved instead of new empty volumes.
  for (const resolved of resolvedMounts) {
    const destination = text(resolved.Destination);
    const name = text(resolved.Name);
    if (resolved.Type !== 'volume' || !destination || !name || covered.has(destination)) continue;
    covered.add(destination);
    mounts.push(
      compactStruct({
        Type: 'volume',
        Source: volumeName(name),
        Target: destination,
        ReadOnly: resolved.RW === false,
      }),
    );
  }

  const volumesFrom = texts(host.VolumesFrom);
  if (volumesFrom.length > 0) {
    report(
      context,
      'warning',
      'volumes_from_dropped',
      `VolumesFrom (${volumesFrom.join(', ')}) is not carried over: the volumes it brought are mounted by name ` +
        'instead, the bind mounts it brought are left out',
    );
  }
  return { binds, mounts };
}

function imageOf(inspect: Json, config: Json, options: PortableContainerOptions, context: Context): unknown {
  if (options.imageRef) return options.imageRef;
  const reference = text(config.Image);
  const id = text(inspect.Image);
  // `docker save`/`load` keeps ids and tags but not repository digests, so "repo@sha256:…" would not resolve.
  if (reference?.includes('@') && id) {
    report(
      context,
      'info',
      'image_digest_reference',
      `it was created from ${reference}; a moved image keeps its id and tags but not its digest, so the target ` +
        `container refers to ${id}`,
    );
    return id;
  }
  return reference ?? id;
}

function hostConfigOf(host: Json, network: NetworkPlan, mounts: MountPlan, context: Context): Json {
  const result: Json = {};
  const set = (key: string, value: unknown): void => {
    if (!isEmpty(value)) result[key] = value;
  };

  set('Binds', mounts.binds);
  const logConfig = record(host.LogConfig);
  if (logConfig && text(logConfig.Type)) {
    const logOptions = record(logConfig.Config) ?? {};
    set('LogConfig', {
      Type: logConfig.Type,
      ...(isEmpty(logOptions) ? {} : { Config: sortedRecord(logOptions) }),
    });
  }
  set('NetworkMode', network.mode);

  const restart = record(host.RestartPolicy);
  const restartName = text(restart?.Name);
  if (restart && restartName && restartName !== 'no') {
    const retries = restart.MaximumRetryCount;
    // Only on-failure takes a count; newer Engines reject one with the other policies.
    set('RestartPolicy', {
      Name: restartName,
      ...(restartName === 'on-failure' && typeof retries === 'number' && retries > 0
        ? { MaximumRetryCount: retries }
        : {}),
    });
  }

  for (const [key, portable] of Object.entries(NAMESPACE_MODES)) {
    const mode = text(host[key]);
    if (!mode) continue;
    if (portable.includes(mode)) set(key, mode);
    else if (mode.startsWith('container:')) {
      report(
        context,
        'error',
        'container_namespace',
        `it shares a namespace of container ${mode.slice('container:'.length)} (${key} ${mode}), which cannot ` +
          'be recreated on another engine: migrate that container and recreate this one by hand',
      );
    }
    // Other values ("private", "shareable") are what the Engine resolved its default to: leave it to the target's.
  }

  for (const key of HOST_VALUES) {
    const value = host[key];
    set(key, record(value) ? sortedRecord(record(value) ?? {}) : value);
  }
  for (const key of HOST_NUMBERS) {
    if (typeof host[key] === 'number' && host[key] !== 0) result[key] = host[key];
  }
  const swappiness = host.MemorySwappiness;
  if (typeof swappiness === 'number' && swappiness >= 0) result.MemorySwappiness = swappiness;
  for (const key of HOST_FLAGS) {
    if (host[key] === true) result[key] = true;
  }
  // Init is tri-state: unset follows the daemon's default, false turns a daemon-wide init off.
  if (typeof host.Init === 'boolean') result.Init = host.Init;
  set('Mounts', mounts.mounts);

  const links = texts(host.Links);
  if (links.length > 0) {
    report(
      context,
      'warning',
      'links_dropped',
      `legacy links (${links.join(', ')}) are not carried over: put the containers on a user-defined network, ` +
        'where they reach each other by name',
    );
  }
  const cgroupParent = text(host.CgroupParent);
  if (cgroupParent) context.dropped.push(`CgroupParent ${cgroupParent} (a cgroup of the source host)`);
  if (typeof host.KernelMemory === 'number' && host.KernelMemory > 0) {
    context.dropped.push('KernelMemory (deprecated; recent kernels ignore it)');
  }

  const devices = [
    ...records(host.Devices).map((device) => text(device.PathOnHost)),
    ...[
      'BlkioWeightDevice',
      'BlkioDeviceReadBps',
      'BlkioDeviceWriteBps',
      'BlkioDeviceReadIOps',
      'BlkioDeviceWriteIOps',
    ]
      .flatMap((key) => records(host[key]))
      .map((device) => text(device.Path)),
    ...records(host.DeviceRequests).map((request) => {
      const driver = text(request.Driver);
      return `devices of driver ${driver ?? '(any)'}`;
    }),
  ].filter((device): device is string => device !== undefined);
  if (devices.length > 0) {
    report(
      context,
      'warning',
      'host_devices',
      `it uses host devices (${[...new Set(devices)].join(', ')}): the target host must have them too`,
    );
  }
  const runtime = text(host.Runtime);
  if (runtime && runtime !== 'runc') {
    report(
      context,
      'warning',
      'runtime_required',
      `it runs with runtime ${runtime}: the target Engine must have it`,
    );
  }
  return result;
}

/**
 * What recreates a container on another engine, from its `GET /containers/{id}/json` document (API 1.41).
 * Copies the settings a user chose and leaves out what the source Engine generated (hostname, MAC and IP
 * addresses, ids, the short-id alias) or resolved from its own defaults, so that the target Engine fills those
 * in as it would for a new container. Host paths follow the bind mount rules, volume and network names the
 * given maps. What cannot come along is reported as findings, never thrown: an unmapped bind mount or a shared
 * namespace is an error, a dropped legacy setting a warning.
 */
export function portableContainerConfig(
  inspect: Record<string, unknown>,
  options: PortableContainerOptions,
): PortableContainerConfig {
  const id = text(inspect.Id) ?? '';
  const config = record(inspect.Config) ?? {};
  const host = record(inspect.HostConfig) ?? {};
  const context: Context = {
    sourceName: (text(inspect.Name) ?? options.name).replace(/^\//, ''),
    findings: [],
    dropped: [],
  };

  const network = planNetworks(inspect, host, id, options.networkNames ?? {}, context);
  const mounts = planMounts(inspect, host, options, context);

  const body: Json = {};
  const set = (key: string, value: unknown): void => {
    if (!isEmpty(value)) body[key] = value;
  };
  const names = userHostname(inspect);
  if (names.dropped) context.dropped.push(names.dropped);
  set('Hostname', names.hostname);
  set('Domainname', names.domainname);
  for (const key of CONFIG_VALUES) set(key, config[key]);
  for (const key of CONFIG_FLAGS) {
    if (config[key] === true) body[key] = true;
  }
  const healthcheck = record(config.Healthcheck);
  if (healthcheck) set('Healthcheck', compactStruct(healthcheck));
  set('Image', imageOf(inspect, config, options, context));
  const labels = record(config.Labels);
  if (labels) set('Labels', sortedRecord(labels));
  // 0 is a real stop timeout (stop at once); unset means the Engine's 10 s.
  if (typeof config.StopTimeout === 'number') body.StopTimeout = config.StopTimeout;

  const mac = text(config.MacAddress);
  if (mac) context.dropped.push(`MacAddress ${mac} (the target Engine assigns one)`);

  body.HostConfig = hostConfigOf(host, network, mounts, context);
  if (network.endpointsConfig) body.NetworkingConfig = { EndpointsConfig: network.endpointsConfig };

  if (context.dropped.length > 0) {
    report(context, 'info', 'settings_dropped', `not carried over: ${context.dropped.join('; ')}`);
  }
  return { name: options.name, createBody: body, networks: network.networks, findings: context.findings };
}

/**
 * The hostname and domain name the user set. The Engine makes up a hostname when none is given: the short id,
 * or on the host network the source host's own name, which the target replaces with its own.
 */
function userHostname(inspect: Json): { hostname?: string; domainname?: string; dropped?: string } {
  const config = record(inspect.Config) ?? {};
  const mode = text(record(inspect.HostConfig)?.NetworkMode) ?? '';
  const hostname = text(config.Hostname);
  const domainname = text(config.Domainname);
  if (mode.startsWith('container:')) return {};
  if (mode === 'host') {
    return hostname ? { dropped: `Hostname ${hostname} (on the host network it is the host's name)` } : {};
  }
  const generated = hostname === shortId(text(inspect.Id) ?? '');
  return {
    ...(hostname && !generated ? { hostname } : {}),
    ...(domainname ? { domainname } : {}),
  };
}

function normaliseCapabilities(value: unknown): string[] | undefined {
  const caps = texts(value).map((cap) => {
    const upper = cap.toUpperCase();
    return upper === 'ALL' || upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  });
  return caps.length > 0 ? [...new Set(caps)].sort() : undefined;
}

function sortedBy<T>(items: T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined;
}

function nonEmptyEntries(entries: [string, unknown][]): Json {
  return Object.fromEntries(entries.filter(([, value]) => !isEmpty(value)));
}

/**
 * The settings a user would check on both sides of a migration, normalised so that equal settings compare equal
 * (sorted lists and maps, unset and empty alike, generated hostname and aliases left out). Two containers
 * configured alike give deep-equal digests, whatever ids, addresses and defaults their Engines filled in.
 */
export function portableSettingsDigest(inspect: Record<string, unknown>): Record<string, unknown> {
  const id = text(inspect.Id) ?? '';
  const config = record(inspect.Config) ?? {};
  const host = record(inspect.HostConfig) ?? {};
  const names = userHostname(inspect);
  const numberOf = (key: string): number | undefined => {
    const value = host[key];
    return typeof value === 'number' && value !== 0 ? value : undefined;
  };

  const portBindings = Object.entries(record(host.PortBindings) ?? {}).map(
    ([port, bindings]): [string, Json[]] => [
      port.includes('/') ? port : `${port}/tcp`,
      sortedBy(
        list(bindings).map((binding) =>
          nonEmptyEntries([
            ['hostIp', text(record(binding)?.HostIp)],
            ['hostPort', text(record(binding)?.HostPort)],
          ]),
        ),
        (binding) => JSON.stringify(binding),
      ),
    ],
  );
  const restart = record(host.RestartPolicy);
  const restartName = text(restart?.Name);
  const healthcheck = record(config.Healthcheck);
  const logConfig = record(host.LogConfig);
  const pidsLimit = numberOf('PidsLimit');

  const networks = endpointsOf(inspect).map(({ name, settings }) => {
    const { linkLocal: _linkLocal, ...addresses } = fixedAddresses(settings);
    return [name, { aliases: userAliases(settings, id).sort(), ...addresses }] as const;
  });

  return nonEmptyEntries([
    ['hostname', names.hostname],
    ['domainname', names.domainname],
    ['user', text(config.User)],
    ['workingDir', text(config.WorkingDir)],
    ['env', [...texts(config.Env)].sort()],
    ['cmd', texts(config.Cmd)],
    ['entrypoint', texts(config.Entrypoint)],
    ['labels', sortedRecord(record(config.Labels) ?? {})],
    ['exposedPorts', Object.keys(record(config.ExposedPorts) ?? {}).sort()],
    ['portBindings', Object.fromEntries(sortedBy(portBindings, ([port]) => port))],
    [
      'restartPolicy',
      restartName && restartName !== 'no'
        ? nonEmptyEntries([
            ['name', restartName],
            [
              'maximumRetryCount',
              restartName === 'on-failure' ? positive(restart?.MaximumRetryCount) : undefined,
            ],
          ])
        : undefined,
    ],
    ['healthcheck', healthcheck ? compactStruct(healthcheck) : undefined],
    ['stopSignal', text(config.StopSignal)],
    ['stopTimeout', typeof config.StopTimeout === 'number' ? config.StopTimeout : undefined],
    ['capAdd', normaliseCapabilities(host.CapAdd)],
    ['capDrop', normaliseCapabilities(host.CapDrop)],
    ['privileged', host.Privileged === true || undefined],
    ['readonlyRootfs', host.ReadonlyRootfs === true || undefined],
    [
      'ulimits',
      sortedBy(records(host.Ulimits), (ulimit) => String(ulimit.Name)).map((ulimit) => ({
        name: ulimit.Name,
        soft: ulimit.Soft,
        hard: ulimit.Hard,
      })),
    ],
    [
      'resources',
      nonEmptyEntries([
        ['memory', numberOf('Memory')],
        ['memoryReservation', numberOf('MemoryReservation')],
        ['memorySwap', numberOf('MemorySwap')],
        ['nanoCpus', numberOf('NanoCpus')],
        ['cpuShares', numberOf('CpuShares')],
        ['cpuQuota', numberOf('CpuQuota')],
        ['cpuPeriod', numberOf('CpuPeriod')],
        ['cpusetCpus', text(host.CpusetCpus)],
        ['cpusetMems', text(host.CpusetMems)],
        // 0 and -1 both mean unlimited, and Engines store one or the other.
        ['pidsLimit', pidsLimit !== undefined && pidsLimit > 0 ? pidsLimit : undefined],
        ['shmSize', numberOf('ShmSize')],
        ['blkioWeight', numberOf('BlkioWeight')],
      ]),
    ],
    [
      'devices',
      sortedBy(
        records(host.Devices).map((device) =>
          nonEmptyEntries([
            ['pathOnHost', text(device.PathOnHost)],
            ['pathInContainer', text(device.PathInContainer)],
            ['cgroupPermissions', text(device.CgroupPermissions)],
          ]),
        ),
        (device) => JSON.stringify(device),
      ),
    ],
    [
      'logConfig',
      logConfig && text(logConfig.Type)
        ? nonEmptyEntries([
            ['type', logConfig.Type],
            ['config', sortedRecord(record(logConfig.Config) ?? {})],
          ])
        : undefined,
    ],
    ['tmpfs', sortedRecord(record(host.Tmpfs) ?? {})],
    ['extraHosts', [...texts(host.ExtraHosts)].sort()],
    ['networks', Object.fromEntries(networks)],
  ]);
}
