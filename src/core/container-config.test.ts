// Recreating a container from its inspect document: user settings copied, Engine-made values left out.
import { describe, expect, it } from 'vitest';
import {
  portableContainerConfig,
  portableSettingsDigest,
  type PortableContainerConfig,
  type PortableContainerOptions,
} from './container-config.js';

type Json = Record<string, unknown>;

const WEB_ID = '7c1e9f4a2b3d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7';
const WEB_SHORT_ID = WEB_ID.slice(0, 12);
const ANONYMOUS_VOLUME = '3f1c2b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c';
const APPNET_ID = '5d0b7c3f1e2a4b6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e';
const BACKEND_ID = '9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081';

/**
 * `docker inspect web` on Docker 20.10.24 (API 1.41), for a container made with
 *   docker network create --subnet 172.20.0.0/16 appnet && docker network create backend
 *   docker run -d --name web --hostname web01 --domainname example.internal --user 101:101 \
 *     -e TZ=UTC -e APP_ENV=production --label com.example.team=web --label com.example.tier=frontend \
 *     -p 8080:80 -p 127.0.0.1:8443:443 --restart on-failure:5 --cap-add NET_ADMIN --cap-drop MKNOD \
 *     --ulimit nofile=1024:2048 --memory 256m --memory-reservation 128m --cpus 1.5 --cpu-shares 512 \
 *     --cpuset-cpus 0-1 --pids-limit 200 --device /dev/fuse --device-cgroup-rule 'c 10:229 rwm' \
 *     --log-opt max-size=10m --log-opt max-file=3 --tmpfs /run:rw,size=64m --read-only \
 *     --security-opt no-new-privileges --add-host db.internal:10.0.0.5 --dns 1.1.1.1 \
 *     --dns-search example.internal --dns-option ndots:2 --init --shm-size 128m \
 *     --sysctl net.core.somaxconn=1024 --group-add 2000 --oom-score-adj 100 --stop-timeout 20 \
 *     --health-cmd 'curl -f http://localhost/ || exit 1' --health-interval 30s --health-timeout 5s \
 *     --health-retries 3 --health-start-period 10s -w /usr/share/nginx/html \
 *     -v /srv/web/html:/usr/share/nginx/html:ro -v web-data:/var/lib/web -v /var/cache/nginx \
 *     --mount type=bind,src=/etc/ssl/certs,dst=/etc/ssl/certs,readonly \
 *     --network appnet --network-alias www --ip 172.20.0.10 --mac-address 02:42:ac:14:00:0a \
 *     nginx:1.25-alpine
 *   docker network connect --alias api backend web
 */
function webInspect(): Json {
  return {
    Id: WEB_ID,
    Created: '2024-03-01T10:15:42.123456789Z',
    Path: '/docker-entrypoint.sh',
    Args: ['nginx', '-g', 'daemon off;'],
    State: {
      Status: 'running',
      Running: true,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: 48211,
      ExitCode: 0,
      Error: '',
      StartedAt: '2024-03-01T10:15:43.001234567Z',
      FinishedAt: '0001-01-01T00:00:00Z',
      Health: { Status: 'healthy', FailingStreak: 0, Log: [] },
    },
    Image: 'sha256:2b70e4aaac6b5370bf3a556f5e13156692351696dd5d7c5530d117aa21772748',
    ResolvConfPath: `/var/lib/docker/containers/${WEB_ID}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${WEB_ID}/hostname`,
    HostsPath: `/var/lib/docker/containers/${WEB_ID}/hosts`,
    LogPath: `/var/lib/docker/containers/${WEB_ID}/${WEB_ID}-json.log`,
    Name: '/web',
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    ExecIDs: null,
    HostConfig: {
      Binds: ['/srv/web/html:/usr/share/nginx/html:ro', 'web-data:/var/lib/web'],
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
      NetworkMode: 'appnet',
      PortBindings: {
        '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }],
        '80/tcp': [{ HostIp: '', HostPort: '8080' }],
      },
      RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 },
      AutoRemove: false,
      VolumeDriver: '',
      VolumesFrom: null,
      CapAdd: ['CAP_NET_ADMIN'],
      CapDrop: ['CAP_MKNOD'],
      CgroupnsMode: 'private',
      Dns: ['1.1.1.1'],
      DnsOptions: ['ndots:2'],
      DnsSearch: ['example.internal'],
      ExtraHosts: ['db.internal:10.0.0.5'],
      GroupAdd: ['2000'],
      IpcMode: 'private',
      Cgroup: '',
      Links: null,
      OomScoreAdj: 100,
      PidMode: '',
      Privileged: false,
      PublishAllPorts: false,
      ReadonlyRootfs: true,
      SecurityOpt: ['no-new-privileges'],
      Tmpfs: { '/run': 'rw,size=64m' },
      UTSMode: '',
      UsernsMode: '',
      ShmSize: 134217728,
      Sysctls: { 'net.core.somaxconn': '1024' },
      Runtime: 'runc',
      ConsoleSize: [0, 0],
      Isolation: '',
      CpuShares: 512,
      Memory: 268435456,
      NanoCpus: 1500000000,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: null,
      BlkioDeviceWriteBps: null,
      BlkioDeviceReadIOps: null,
      BlkioDeviceWriteIOps: null,
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: '0-1',
      CpusetMems: '',
      Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
      DeviceCgroupRules: ['c 10:229 rwm'],
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: 134217728,
      MemorySwap: 536870912,
      MemorySwappiness: null,
      OomKillDisable: false,
      PidsLimit: 200,
      Ulimits: [{ Name: 'nofile', Hard: 2048, Soft: 1024 }],
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      Mounts: [{ Type: 'bind', Source: '/etc/ssl/certs', Target: '/etc/ssl/certs', ReadOnly: true }],
      MaskedPaths: [
        '/proc/asound',
        '/proc/acpi',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/proc/scsi',
        '/sys/firmware',
      ],
      ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      Init: true,
    },
    GraphDriver: {
      Data: {
        LowerDir: `/var/lib/docker/overlay2/4b5c6d7e8f90-init/diff:/var/lib/docker/overlay2/1a2b3c4d5e6f/diff`,
        MergedDir: '/var/lib/docker/overlay2/4b5c6d7e8f90/merged',
        UpperDir: '/var/lib/docker/overlay2/4b5c6d7e8f90/diff',
        WorkDir: '/var/lib/docker/overlay2/4b5c6d7e8f90/work',
      },
      Name: 'overlay2',
    },
    Mounts: [
      {
        Type: 'bind',
        Source: '/srv/web/html',
        Destination: '/usr/share/nginx/html',
        Mode: 'ro',
        RW: false,
        Propagation: 'rprivate',
      },
      {
        Type: 'volume',
        Name: 'web-data',
        Source: '/var/lib/docker/volumes/web-data/_data',
        Destination: '/var/lib/web',
        Driver: 'local',
        Mode: 'z',
        RW: true,
        Propagation: '',
      },
      {
        Type: 'volume',
        Name: ANONYMOUS_VOLUME,
        Source: `/var/lib/docker/volumes/${ANONYMOUS_VOLUME}/_data`,
        Destination: '/var/cache/nginx',
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: '',
      },
      {
        Type: 'bind',
        Source: '/etc/ssl/certs',
        Destination: '/etc/ssl/certs',
        Mode: '',
        RW: false,
        Propagation: 'rprivate',
      },
    ],
    Config: {
      Hostname: 'web01',
      Domainname: 'example.internal',
      User: '101:101',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: { '443/tcp': {}, '80/tcp': {} },
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: [
        'TZ=UTC',
        'APP_ENV=production',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'NGINX_VERSION=1.25.3',
        'PKG_RELEASE=1',
        'NJS_VERSION=0.8.2',
      ],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Healthcheck: {
        Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
        Interval: 30000000000,
        Timeout: 5000000000,
        StartPeriod: 10000000000,
        Retries: 3,
      },
      Image: 'nginx:1.25-alpine',
      Volumes: { '/var/cache/nginx': {} },
      WorkingDir: '/usr/share/nginx/html',
      Entrypoint: ['/docker-entrypoint.sh'],
      OnBuild: null,
      Labels: {
        'com.example.tier': 'frontend',
        'com.example.team': 'web',
        maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>',
      },
      StopSignal: 'SIGQUIT',
      StopTimeout: 20,
      MacAddress: '02:42:ac:14:00:0a',
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: {
        '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }],
        '80/tcp': [
          { HostIp: '0.0.0.0', HostPort: '8080' },
          { HostIp: '::', HostPort: '8080' },
        ],
      },
      SandboxKey: '/var/run/docker/netns/e3b0c44298fc',
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: '',
      Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      MacAddress: '',
      Networks: {
        appnet: {
          IPAMConfig: { IPv4Address: '172.20.0.10' },
          Links: null,
          Aliases: ['www', WEB_SHORT_ID],
          NetworkID: APPNET_ID,
          EndpointID: '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0',
          Gateway: '172.20.0.1',
          IPAddress: '172.20.0.10',
          IPPrefixLen: 16,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '02:42:ac:14:00:0a',
          DriverOpts: null,
        },
        backend: {
          IPAMConfig: {},
          Links: null,
          Aliases: ['api', WEB_SHORT_ID],
          NetworkID: BACKEND_ID,
          EndpointID: '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809',
          Gateway: '172.21.0.1',
          IPAddress: '172.21.0.3',
          IPPrefixLen: 16,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '02:42:ac:15:00:03',
          DriverOpts: {},
        },
      },
    },
  };
}

const WORKER_ID = 'd4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3';

/**
 * `docker inspect worker` on Docker 20.10.24 for the plainest container:
 *   docker run -d --name worker docker-migrate-test/base:latest sleep 1000
 */
function workerInspect(): Json {
  return {
    Id: WORKER_ID,
    Created: '2024-03-01T11:00:00.5Z',
    Path: 'sleep',
    Args: ['1000'],
    State: { Status: 'running', Running: true, Pid: 50123, ExitCode: 0 },
    Image: 'sha256:8a1f2e3d4c5b6a798877665544332211ffeeddccbbaa99887766554433221100',
    Name: '/worker',
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    HostConfig: {
      Binds: null,
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: {} },
      NetworkMode: 'default',
      PortBindings: {},
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: false,
      VolumeDriver: '',
      VolumesFrom: null,
      CapAdd: null,
      CapDrop: null,
      CgroupnsMode: 'private',
      Dns: [],
      DnsOptions: [],
      DnsSearch: [],
      ExtraHosts: null,
      GroupAdd: null,
      IpcMode: 'private',
      Cgroup: '',
      Links: null,
      OomScoreAdj: 0,
      PidMode: '',
      Privileged: false,
      PublishAllPorts: false,
      ReadonlyRootfs: false,
      SecurityOpt: null,
      UTSMode: '',
      UsernsMode: '',
      ShmSize: 67108864,
      Runtime: 'runc',
      ConsoleSize: [0, 0],
      Isolation: '',
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: null,
      BlkioDeviceWriteBps: null,
      BlkioDeviceReadIOps: null,
      BlkioDeviceWriteIOps: null,
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: '',
      CpusetMems: '',
      Devices: [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      KernelMemory: 0,
      KernelMemoryTCP: 0,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: null,
      OomKillDisable: false,
      PidsLimit: null,
      Ulimits: null,
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore'],
      ReadonlyPaths: ['/proc/bus', '/proc/fs'],
    },
    Mounts: [],
    Config: {
      Hostname: WORKER_ID.slice(0, 12),
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      Cmd: ['sleep', '1000'],
      Image: 'docker-migrate-test/base:latest',
      Volumes: null,
      WorkingDir: '',
      Entrypoint: null,
      OnBuild: null,
      Labels: {},
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: 'aa11bb22cc33dd44ee55ff6600112233445566778899aabbccddeeff00112233',
      Ports: {},
      EndpointID: 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf',
      Gateway: '172.17.0.1',
      IPAddress: '172.17.0.2',
      IPPrefixLen: 16,
      MacAddress: '02:42:ac:11:00:02',
      Networks: {
        bridge: {
          IPAMConfig: null,
          Links: null,
          Aliases: null,
          NetworkID: 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f',
          EndpointID: 'c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf',
          Gateway: '172.17.0.1',
          IPAddress: '172.17.0.2',
          IPPrefixLen: 16,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          MacAddress: '02:42:ac:11:00:02',
          DriverOpts: null,
        },
      },
    },
  };
}

/** A copy of an inspect document with some of its sections changed, one level deep. */
function changed(
  inspect: Json,
  sections: { Config?: Json; HostConfig?: Json; [key: string]: unknown },
): Json {
  const copy = structuredClone(inspect);
  for (const [key, value] of Object.entries(sections)) {
    copy[key] =
      key === 'Config' || key === 'HostConfig' ? { ...(copy[key] as Json), ...(value as Json) } : value;
  }
  return copy;
}

function endpoints(inspect: Json, networks: Json): Json {
  return { ...inspect, NetworkSettings: { ...(inspect.NetworkSettings as Json), Networks: networks } };
}

const webRules: PortableContainerOptions['bindMounts'] = {
  '/srv/web/html': { path: '/data/web/html' },
  '/etc/ssl/certs': { path: '/etc/ssl/certs' },
};

function portWeb(overrides: Partial<PortableContainerOptions> = {}): PortableContainerConfig {
  return portableContainerConfig(webInspect(), { name: 'web', bindMounts: webRules, ...overrides });
}

function hostConfigOf(result: PortableContainerConfig): Json {
  return result.createBody.HostConfig as Json;
}

function codes(result: PortableContainerConfig): string[] {
  return result.findings.map((finding) => `${finding.severity}:${finding.code}`);
}

let recreatedCount = 0;

/**
 * What the target Engine reports after creating the container from the body and connecting its other
 * networks: its own id, the short-id hostname and alias, new addresses, and the defaults it fills in.
 */
function recreate(result: PortableContainerConfig): Json {
  recreatedCount += 1;
  const id = recreatedCount.toString(16).padStart(64, 'e');
  const body = structuredClone(result.createBody);
  const {
    HostConfig: hostConfig = {},
    NetworkingConfig: networking,
    ...config
  } = body as {
    HostConfig?: Json;
    NetworkingConfig?: { EndpointsConfig: Json };
  } & Json;
  const mode = (hostConfig.NetworkMode as string | undefined) ?? 'default';
  const networks: Json = {};
  const attach = (name: string, aliases: string[], ipv4Address?: string): void => {
    const builtIn = name === 'bridge' || name === 'host' || name === 'none';
    networks[name] = {
      IPAMConfig: ipv4Address ? { IPv4Address: ipv4Address } : null,
      Links: null,
      Aliases: builtIn ? null : [...aliases, id.slice(0, 12)],
      NetworkID: `${name}-on-target`,
      EndpointID: `endpoint-${String(recreatedCount)}-${name}`,
      IPAddress: '10.99.0.7',
      MacAddress: '02:42:0a:63:00:07',
      DriverOpts: null,
    };
  };
  const [first, ...others] = result.networks;
  if (networking && first) {
    const endpoint = networking.EndpointsConfig[first.name] as {
      Aliases?: string[];
      IPAMConfig?: { IPv4Address?: string };
    };
    attach(first.name, endpoint.Aliases ?? [], endpoint.IPAMConfig?.IPv4Address);
  } else if (mode !== 'host' && mode !== 'none' && !mode.startsWith('container:')) {
    attach(mode === 'default' ? 'bridge' : mode, []);
  } else {
    attach(mode, []);
  }
  for (const network of others) attach(network.name, network.aliases, network.ipv4Address);
  return {
    Id: id,
    Name: `/${result.name}`,
    Image: 'sha256:2b70e4aaac6b5370bf3a556f5e13156692351696dd5d7c5530d117aa21772748',
    Config: {
      Hostname: mode === 'host' ? 'target-host' : id.slice(0, 12),
      Domainname: '',
      User: '',
      Env: null,
      Cmd: null,
      Entrypoint: null,
      Labels: {},
      ...config,
    },
    HostConfig: {
      NetworkMode: 'default',
      LogConfig: { Type: 'json-file', Config: {} },
      RestartPolicy: { Name: 'no', MaximumRetryCount: 0 },
      CapAdd: null,
      CapDrop: null,
      Dns: [],
      Memory: 0,
      PidsLimit: null,
      ShmSize: 67108864,
      Ulimits: null,
      MaskedPaths: ['/proc/asound'],
      ...hostConfig,
    },
    NetworkSettings: { IPAddress: '', MacAddress: '', Networks: networks },
  };
}

describe('portableContainerConfig', () => {
  it('copies every setting the user chose', () => {
    const result = portWeb();

    expect(result.name).toBe('web');
    expect(result.createBody).toEqual({
      Hostname: 'web01',
      Domainname: 'example.internal',
      User: '101:101',
      ExposedPorts: { '443/tcp': {}, '80/tcp': {} },
      Env: [
        'TZ=UTC',
        'APP_ENV=production',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'NGINX_VERSION=1.25.3',
        'PKG_RELEASE=1',
        'NJS_VERSION=0.8.2',
      ],
      Cmd: ['nginx', '-g', 'daemon off;'],
      Volumes: { '/var/cache/nginx': {} },
      WorkingDir: '/usr/share/nginx/html',
      Entrypoint: ['/docker-entrypoint.sh'],
      StopSignal: 'SIGQUIT',
      Healthcheck: {
        Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
        Interval: 30000000000,
        Timeout: 5000000000,
        StartPeriod: 10000000000,
        Retries: 3,
      },
      Image: 'nginx:1.25-alpine',
      Labels: {
        'com.example.team': 'web',
        'com.example.tier': 'frontend',
        maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>',
      },
      StopTimeout: 20,
      HostConfig: {
        Binds: ['/data/web/html:/usr/share/nginx/html:ro', 'web-data:/var/lib/web'],
        LogConfig: { Type: 'json-file', Config: { 'max-file': '3', 'max-size': '10m' } },
        NetworkMode: 'appnet',
        RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 5 },
        PortBindings: {
          '443/tcp': [{ HostIp: '127.0.0.1', HostPort: '8443' }],
          '80/tcp': [{ HostIp: '', HostPort: '8080' }],
        },
        CapAdd: ['CAP_NET_ADMIN'],
        CapDrop: ['CAP_MKNOD'],
        CgroupnsMode: 'private',
        Dns: ['1.1.1.1'],
        DnsOptions: ['ndots:2'],
        DnsSearch: ['example.internal'],
        ExtraHosts: ['db.internal:10.0.0.5'],
        GroupAdd: ['2000'],
        SecurityOpt: ['no-new-privileges'],
        Tmpfs: { '/run': 'rw,size=64m' },
        Sysctls: { 'net.core.somaxconn': '1024' },
        Runtime: 'runc',
        CpusetCpus: '0-1',
        Devices: [{ PathOnHost: '/dev/fuse', PathInContainer: '/dev/fuse', CgroupPermissions: 'rwm' }],
        DeviceCgroupRules: ['c 10:229 rwm'],
        Ulimits: [{ Name: 'nofile', Hard: 2048, Soft: 1024 }],
        OomScoreAdj: 100,
        ShmSize: 134217728,
        CpuShares: 512,
        Memory: 268435456,
        NanoCpus: 1500000000,
        MemoryReservation: 134217728,
        MemorySwap: 536870912,
        PidsLimit: 200,
        ReadonlyRootfs: true,
        Init: true,
        Mounts: [
          { Type: 'bind', Source: '/etc/ssl/certs', Target: '/etc/ssl/certs', ReadOnly: true },
          { Type: 'volume', Source: ANONYMOUS_VOLUME, Target: '/var/cache/nginx' },
        ],
      },
      NetworkingConfig: {
        EndpointsConfig: { appnet: { Aliases: ['www'], IPAMConfig: { IPv4Address: '172.20.0.10' } } },
      },
    });
  });

  it('copies the settings the web container leaves at their defaults', () => {
    const inspect = changed(webInspect(), {
      Config: {
        Tty: true,
        OpenStdin: true,
        StdinOnce: true,
        AttachStdin: true,
        AttachStdout: true,
        AttachStderr: true,
      },
      HostConfig: {
        PublishAllPorts: true,
        AutoRemove: true,
        Privileged: true,
        OomKillDisable: true,
        CpuQuota: 50000,
        CpuPeriod: 100000,
        CpusetMems: '0',
        MemorySwappiness: 10,
        BlkioWeight: 300,
        StorageOpt: { size: '10G' },
        Runtime: 'runsc',
        Isolation: 'default',
        VolumeDriver: 'local',
        IpcMode: 'host',
        PidMode: 'host',
        UTSMode: 'host',
        UsernsMode: 'host',
        Init: false,
      },
    });

    const result = portableContainerConfig(inspect, { name: 'web', bindMounts: webRules });

    expect(result.createBody).toMatchObject({
      Tty: true,
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        PublishAllPorts: true,
        AutoRemove: true,
        Privileged: true,
        OomKillDisable: true,
        CpuQuota: 50000,
        CpuPeriod: 100000,
        CpusetMems: '0',
        MemorySwappiness: 10,
        BlkioWeight: 300,
        StorageOpt: { size: '10G' },
        Runtime: 'runsc',
        Isolation: 'default',
        VolumeDriver: 'local',
        IpcMode: 'host',
        PidMode: 'host',
        UTSMode: 'host',
        UsernsMode: 'host',
        Init: false,
      },
    });
    expect(codes(result)).toContain('warning:runtime_required');
  });

  it('drops the generated hostname and keeps a user-set one', () => {
    expect(portWeb().createBody).toMatchObject({ Hostname: 'web01', Domainname: 'example.internal' });

    const worker = portableContainerConfig(workerInspect(), { name: 'worker', bindMounts: {} });
    expect(worker.createBody).not.toHaveProperty('Hostname');
    expect(worker.createBody).not.toHaveProperty('Domainname');
  });

  it('drops the hostname of a host-network container, which is the source host name', () => {
    const inspect = endpoints(
      changed(workerInspect(), {
        Config: { Hostname: 'source-host-01' },
        HostConfig: { NetworkMode: 'host' },
      }),
      { host: { IPAMConfig: null, Aliases: null, NetworkID: 'hostnet', EndpointID: 'e', MacAddress: '' } },
    );

    const result = portableContainerConfig(inspect, { name: 'worker', bindMounts: {} });

    expect(result.createBody).not.toHaveProperty('Hostname');
    expect(hostConfigOf(result).NetworkMode).toBe('host');
    expect(result.networks).toEqual([]);
    expect(result.createBody).not.toHaveProperty('NetworkingConfig');
    const info = result.findings.find((finding) => finding.code === 'settings_dropped');
    expect(info?.severity).toBe('info');
    expect(info?.message).toContain('source-host-01');
  });

  it('keeps only what a plain container was given, leaving empty and default values out', () => {
    const result = portableContainerConfig(workerInspect(), { name: 'worker', bindMounts: {} });

    expect(result).toEqual({
      name: 'worker',
      createBody: {
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        Cmd: ['sleep', '1000'],
        Image: 'docker-migrate-test/base:latest',
        HostConfig: {
          LogConfig: { Type: 'json-file' },
          NetworkMode: 'default',
          CgroupnsMode: 'private',
          Runtime: 'runc',
          ShmSize: 67108864,
        },
      },
      networks: [],
      findings: [],
    });
  });

  it('does not copy MAC addresses, and says so when the user had fixed one', () => {
    const result = portWeb();
    const body = JSON.stringify(result.createBody);

    expect(body).not.toContain('02:42:ac:14:00:0a');
    expect(body).not.toContain('02:42:ac:15:00:03');
    expect(body).not.toContain('MacAddress');
    const info = result.findings.find((finding) => finding.code === 'settings_dropped');
    expect(info).toMatchObject({ severity: 'info', resource: { type: 'container', name: 'web' } });
    expect(info?.message).toContain('MacAddress 02:42:ac:14:00:0a');

    // A generated MAC (on the endpoint only) is not worth a finding.
    const worker = portableContainerConfig(workerInspect(), { name: 'worker', bindMounts: {} });
    expect(JSON.stringify(worker.createBody)).not.toContain('02:42:ac:11:00:02');
    expect(worker.findings).toEqual([]);
  });

  it('does not copy ids or the addresses the Engine assigned', () => {
    const body = JSON.stringify(portWeb().createBody);
    // Quoted, so that 172.20.0.1 does not match inside 172.20.0.10.
    for (const generated of [WEB_ID, WEB_SHORT_ID, APPNET_ID, BACKEND_ID, '172.21.0.3', '172.20.0.1']) {
      expect(body).not.toContain(JSON.stringify(generated));
    }
    expect(body).not.toContain('EndpointID');
    expect(body).not.toContain('NetworkID');
    // The address the user fixed with --ip stays.
    expect(body).toContain('"172.20.0.10"');
  });

  it('attaches every user-defined network with the aliases the user gave, the NetworkMode one first', () => {
    const result = portWeb();

    expect(result.networks).toEqual([
      { name: 'appnet', aliases: ['www'], ipv4Address: '172.20.0.10' },
      { name: 'backend', aliases: ['api'] },
    ]);
    expect(hostConfigOf(result).NetworkMode).toBe('appnet');
    expect(result.createBody.NetworkingConfig).toEqual({
      EndpointsConfig: { appnet: { Aliases: ['www'], IPAMConfig: { IPv4Address: '172.20.0.10' } } },
    });
  });

  it('leaves out the full id as an alias too', () => {
    const inspect = webInspect();
    const networks = (inspect.NetworkSettings as { Networks: Record<string, Json> }).Networks;
    networks.backend = { ...networks.backend, Aliases: ['api', WEB_ID, WEB_SHORT_ID, 'api'] };
    const result = portableContainerConfig(inspect, { name: 'web', bindMounts: webRules });
    expect(result.networks[1]).toEqual({ name: 'backend', aliases: ['api'] });
  });

  it('renames networks as asked', () => {
    const result = portWeb({ networkNames: { appnet: 'shop_appnet', backend: 'shop_backend' } });

    expect(result.networks.map((network) => network.name)).toEqual(['shop_appnet', 'shop_backend']);
    expect(hostConfigOf(result).NetworkMode).toBe('shop_appnet');
    expect(
      Object.keys((result.createBody.NetworkingConfig as { EndpointsConfig: Json }).EndpointsConfig),
    ).toEqual(['shop_appnet']);
  });

  it('finds the NetworkMode network when the container was created with the network id', () => {
    const inspect = changed(webInspect(), { HostConfig: { NetworkMode: BACKEND_ID.slice(0, 12) } });
    const result = portableContainerConfig(inspect, { name: 'web', bindMounts: webRules });
    expect(result.networks.map((network) => network.name)).toEqual(['backend', 'appnet']);
    expect(hostConfigOf(result).NetworkMode).toBe('backend');
  });

  it('connects bridge after the create when the container was on it besides a user-defined network', () => {
    // docker run --name worker … (default bridge), then docker network connect --alias jobs backend worker
    const inspect = endpoints(workerInspect(), {
      ...((workerInspect().NetworkSettings as Json).Networks as Json),
      backend: {
        IPAMConfig: null,
        Links: null,
        Aliases: ['jobs', WORKER_ID.slice(0, 12)],
        NetworkID: BACKEND_ID,
        EndpointID: 'ab'.repeat(32),
        IPAddress: '172.21.0.4',
        MacAddress: '02:42:ac:15:00:04',
        DriverOpts: null,
      },
    });

    const result = portableContainerConfig(inspect, { name: 'worker', bindMounts: {} });

    expect(result.networks).toEqual([
      { name: 'backend', aliases: ['jobs'] },
      { name: 'bridge', aliases: [] },
    ]);
    expect(hostConfigOf(result).NetworkMode).toBe('backend');
    expect(result.createBody.NetworkingConfig).toEqual({
      EndpointsConfig: { backend: { Aliases: ['jobs'] } },
    });
  });

  it('applies bind mount rules to -v and --mount binds', () => {
    const result = portWeb();
    expect(hostConfigOf(result).Binds).toEqual([
      '/data/web/html:/usr/share/nginx/html:ro',
      'web-data:/var/lib/web',
    ]);
    expect(hostConfigOf(result).Mounts).toContainEqual({
      Type: 'bind',
      Source: '/etc/ssl/certs',
      Target: '/etc/ssl/certs',
      ReadOnly: true,
    });
    expect(result.findings.filter((finding) => finding.severity === 'error')).toEqual([]);
  });

  it('leaves out a bind mount whose rule says skip, and says so', () => {
    const result = portWeb({
      bindMounts: { '/srv/web/html': { skip: true }, '/etc/ssl/certs': { skip: true } },
    });

    expect(hostConfigOf(result).Binds).toEqual(['web-data:/var/lib/web']);
    expect(hostConfigOf(result).Mounts).toEqual([
      { Type: 'volume', Source: ANONYMOUS_VOLUME, Target: '/var/cache/nginx' },
    ]);
    expect(codes(result).filter((code) => code.includes('bind'))).toEqual([
      'info:bind_mount_skipped',
      'info:bind_mount_skipped',
    ]);
  });

  it('reports a bind mount without a rule as an error and keeps it as it is', () => {
    // The rule for the certs is written with a trailing slash; it still applies.
    const result = portWeb({ bindMounts: { '/etc/ssl/certs/': { path: '/etc/pki/certs' } } });

    expect(hostConfigOf(result).Binds).toEqual([
      '/srv/web/html:/usr/share/nginx/html:ro',
      'web-data:/var/lib/web',
    ]);
    expect(hostConfigOf(result).Mounts).toContainEqual({
      Type: 'bind',
      Source: '/etc/pki/certs',
      Target: '/etc/ssl/certs',
      ReadOnly: true,
    });
    const errors = result.findings.filter((finding) => finding.severity === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      code: 'bind_mount_unmapped',
      resource: { type: 'container', name: 'web' },
    });
    expect(errors[0]?.message).toContain('/srv/web/html');
  });

  it('renames volumes in -v and --mount entries, and mounts anonymous volumes by name', () => {
    const inspect = changed(webInspect(), {
      HostConfig: {
        Mounts: [
          { Type: 'bind', Source: '/etc/ssl/certs', Target: '/etc/ssl/certs', ReadOnly: true },
          {
            Type: 'volume',
            Source: 'uploads',
            Target: '/uploads',
            VolumeOptions: { NoCopy: true, Labels: {} },
          },
        ],
      },
    });

    const result = portableContainerConfig(inspect, {
      name: 'web',
      bindMounts: webRules,
      volumeNames: { 'web-data': 'web-data-2', uploads: 'uploads-2', [ANONYMOUS_VOLUME]: 'web-cache' },
    });

    expect(hostConfigOf(result).Binds).toEqual([
      '/data/web/html:/usr/share/nginx/html:ro',
      'web-data-2:/var/lib/web',
    ]);
    expect(hostConfigOf(result).Mounts).toEqual([
      { Type: 'bind', Source: '/etc/ssl/certs', Target: '/etc/ssl/certs', ReadOnly: true },
      { Type: 'volume', Source: 'uploads-2', Target: '/uploads', VolumeOptions: { NoCopy: true } },
      { Type: 'volume', Source: 'web-cache', Target: '/var/cache/nginx' },
    ]);
  });

  it('reports namespaces shared with another container as errors', () => {
    const inspect = changed(workerInspect(), {
      HostConfig: {
        NetworkMode: `container:${WEB_ID}`,
        IpcMode: `container:${WEB_ID}`,
        PidMode: 'container:web',
      },
      NetworkSettings: { Networks: {} },
    });

    const result = portableContainerConfig(inspect, { name: 'worker', bindMounts: {} });

    expect(codes(result)).toEqual([
      'error:container_namespace',
      'error:container_namespace',
      'error:container_namespace',
    ]);
    expect(result.findings.map((finding) => finding.message).join('\n')).toContain(WEB_ID);
    const hostConfig = hostConfigOf(result);
    expect(hostConfig).not.toHaveProperty('NetworkMode');
    expect(hostConfig).not.toHaveProperty('IpcMode');
    expect(hostConfig).not.toHaveProperty('PidMode');
    expect(result.createBody).not.toHaveProperty('Hostname');
    expect(result.networks).toEqual([]);
  });

  it('drops VolumesFrom and legacy links with a warning', () => {
    const inspect = changed(workerInspect(), {
      HostConfig: { VolumesFrom: ['data-box:ro'], Links: ['/db:/worker/db'] },
      Mounts: [
        {
          Type: 'volume',
          Name: 'shared-data',
          Source: '/var/lib/docker/volumes/shared-data/_data',
          Destination: '/shared',
          Driver: 'local',
          Mode: '',
          RW: false,
          Propagation: '',
        },
      ],
    });

    const result = portableContainerConfig(inspect, { name: 'worker', bindMounts: {} });

    expect(codes(result)).toEqual(['warning:volumes_from_dropped', 'warning:links_dropped']);
    expect(result.findings[0]?.message).toContain('data-box:ro');
    expect(result.findings[1]?.message).toContain('/db:/worker/db');
    const hostConfig = hostConfigOf(result);
    expect(hostConfig).not.toHaveProperty('VolumesFrom');
    expect(hostConfig).not.toHaveProperty('Links');
    expect(hostConfig.Mounts).toEqual([
      { Type: 'volume', Source: 'shared-data', Target: '/shared', ReadOnly: true },
    ]);
  });

  it('uses the image reference given, and the image id for a digest reference', () => {
    expect(portWeb({ imageRef: 'registry.example/nginx:1.25' }).createBody.Image).toBe(
      'registry.example/nginx:1.25',
    );

    const pinned = changed(webInspect(), {
      Config: { Image: 'nginx@sha256:4c0fdaa8b6341bfdeca5f18f7837462c80cff90527ee35ef185571e1c327beac' },
    });
    const result = portableContainerConfig(pinned, { name: 'web', bindMounts: webRules });
    expect(result.createBody.Image).toBe(webInspect().Image);
    expect(codes(result)).toContain('info:image_digest_reference');
  });

  it('keeps a stop timeout of 0, which means stop at once', () => {
    const result = portableContainerConfig(changed(workerInspect(), { Config: { StopTimeout: 0 } }), {
      name: 'worker',
      bindMounts: {},
    });
    expect(result.createBody.StopTimeout).toBe(0);
  });

  it('gives the same result for the same input and leaves the input as it was', () => {
    const inspect = webInspect();
    const before = structuredClone(inspect);
    const options = { name: 'web', bindMounts: webRules, networkNames: { backend: 'be' } };
    const first = portableContainerConfig(inspect, options);
    expect(JSON.stringify(portableContainerConfig(inspect, options))).toBe(JSON.stringify(first));
    expect(inspect).toEqual(before);
  });
});

describe('portableSettingsDigest', () => {
  it('is equal for a container and the container recreated from its body', () => {
    const source = webInspect();
    const target = recreate(portWeb());

    expect(portableSettingsDigest(target)).toEqual(portableSettingsDigest(source));
    expect(JSON.stringify(target)).not.toContain(WEB_SHORT_ID);
  });

  it('is equal for a plain container and its recreation, on bridge beside a user network too', () => {
    const worker = workerInspect();
    expect(
      portableSettingsDigest(recreate(portableContainerConfig(worker, { name: 'w', bindMounts: {} }))),
    ).toEqual(portableSettingsDigest(worker));

    const twoNetworks = endpoints(worker, {
      ...((worker.NetworkSettings as Json).Networks as Json),
      backend: { IPAMConfig: null, Aliases: ['jobs', WORKER_ID.slice(0, 12)], NetworkID: BACKEND_ID },
    });
    const recreated = recreate(portableContainerConfig(twoNetworks, { name: 'w', bindMounts: {} }));
    expect(portableSettingsDigest(recreated)).toEqual(portableSettingsDigest(twoNetworks));
  });

  it('holds the settings a user checks, normalised', () => {
    expect(portableSettingsDigest(webInspect())).toEqual({
      hostname: 'web01',
      domainname: 'example.internal',
      user: '101:101',
      workingDir: '/usr/share/nginx/html',
      env: [
        'APP_ENV=production',
        'NGINX_VERSION=1.25.3',
        'NJS_VERSION=0.8.2',
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'PKG_RELEASE=1',
        'TZ=UTC',
      ],
      cmd: ['nginx', '-g', 'daemon off;'],
      entrypoint: ['/docker-entrypoint.sh'],
      labels: {
        'com.example.team': 'web',
        'com.example.tier': 'frontend',
        maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>',
      },
      exposedPorts: ['443/tcp', '80/tcp'],
      portBindings: {
        '443/tcp': [{ hostIp: '127.0.0.1', hostPort: '8443' }],
        '80/tcp': [{ hostPort: '8080' }],
      },
      restartPolicy: { name: 'on-failure', maximumRetryCount: 5 },
      healthcheck: {
        Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
        Interval: 30000000000,
        Timeout: 5000000000,
        StartPeriod: 10000000000,
        Retries: 3,
      },
      stopSignal: 'SIGQUIT',
      stopTimeout: 20,
      capAdd: ['CAP_NET_ADMIN'],
      capDrop: ['CAP_MKNOD'],
      readonlyRootfs: true,
      ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }],
      resources: {
        memory: 268435456,
        memoryReservation: 134217728,
        memorySwap: 536870912,
        nanoCpus: 1500000000,
        cpuShares: 512,
        cpusetCpus: '0-1',
        pidsLimit: 200,
        shmSize: 134217728,
      },
      devices: [{ pathOnHost: '/dev/fuse', pathInContainer: '/dev/fuse', cgroupPermissions: 'rwm' }],
      logConfig: { type: 'json-file', config: { 'max-file': '3', 'max-size': '10m' } },
      tmpfs: { '/run': 'rw,size=64m' },
      extraHosts: ['db.internal:10.0.0.5'],
      networks: {
        appnet: { aliases: ['www'], ipv4Address: '172.20.0.10' },
        backend: { aliases: ['api'] },
      },
    });
  });

  it('compares equal settings written differently as equal', () => {
    const reordered = changed(webInspect(), {
      Config: {
        Env: [...((webInspect().Config as Json).Env as string[])].reverse(),
        Labels: {
          maintainer: 'NGINX Docker Maintainers <docker-maint@nginx.com>',
          'com.example.team': 'web',
          'com.example.tier': 'frontend',
        },
      },
      HostConfig: { CapAdd: ['net_admin'], CapDrop: ['MKNOD'], PidsLimit: 200, Dns: [] },
    });
    expect(portableSettingsDigest(reordered)).toEqual(portableSettingsDigest(webInspect()));

    const unlimited = portableSettingsDigest(changed(workerInspect(), { HostConfig: { PidsLimit: -1 } }));
    expect(unlimited).toEqual(portableSettingsDigest(workerInspect()));
  });

  it('tells containers configured differently apart', () => {
    const digest = portableSettingsDigest(webInspect());
    const differences: { Config?: Json; HostConfig?: Json }[] = [
      { Config: { Env: ['TZ=UTC'] } },
      { Config: { Hostname: 'web02' } },
      { Config: { User: 'root' } },
      { HostConfig: { RestartPolicy: { Name: 'always', MaximumRetryCount: 0 } } },
      { HostConfig: { Memory: 536870912 } },
      { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8081' }] } } },
      { HostConfig: { CapAdd: ['CAP_SYS_ADMIN'] } },
      { HostConfig: { Tmpfs: { '/run': 'rw,size=32m' } } },
      { HostConfig: { LogConfig: { Type: 'local', Config: {} } } },
    ];
    for (const difference of differences) {
      expect(
        portableSettingsDigest(changed(webInspect(), difference)),
        JSON.stringify(difference),
      ).not.toEqual(digest);
    }
    const renamed = portableSettingsDigest(recreate(portWeb({ networkNames: { backend: 'shop_backend' } })));
    expect(renamed.networks).toEqual({
      appnet: { aliases: ['www'], ipv4Address: '172.20.0.10' },
      shop_backend: { aliases: ['api'] },
    });
  });
});
