// The master's migration engine over a real in-memory SQLite store and worker registry, with a fake gateway that
// plays both workers' engines: the order of the steps, what a dry run and a refused plan leave alone, and that a
// failure or a cancel at any step leaves the target as before and the source running as before.
import { createHash } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  ContainerDetails,
  ContainerSummary,
  ImageDetails,
  ImageSummary,
  NetworkSummary,
} from '../core/docker-resources.js';
import { ManualClock, type Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { MigrationEvent, MigrationRecord, MigrationRequest } from '../core/migration.js';
import {
  sampleContainer,
  sampleImage,
  sampleNetwork,
  sampleVolume,
  sampleWorker,
} from '../core/testing/sample-resources.js';
import type {
  CommandArgs,
  CommandProgressReport,
  CommandResultOf,
  WorkerCommandKind,
  WorkerGateway,
} from '../core/worker-commands.js';
import type { Inventory } from '../core/workers.js';
import { createLogger } from '../platform/logger.js';
import { createCertificateAuthority, type CertificateAuthority } from '../platform/pki.js';
import { verifyGrant } from '../transfer/grant.js';
import { createMasterMetrics, type MasterMetrics } from './metrics.js';
import { MigrationService, type MigrationNotice } from './migration-service.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';
import { WorkerRegistry, type HelloInfo, type WorkerSession } from './worker-registry.js';

// ---- the two hosts ----

const SOURCE = 'w-aaaaaaaaaaaa';
const TARGET = 'w-bbbbbbbbbbbb';
const WEB_ID = '7c1e9f4a2b3d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7';
const DB_ID = 'd5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e77c1e9f4a2b3';
const JOB_ID = '0badc0de00000000000000000000000000000000000000000000000000000003';
const NGINX_ID = 'sha256:2b70e4aaac6b5370bf3a556f5e13156692351696dd5d7c5530d117aa21772748';
const POSTGRES_ID = 'sha256:9f1c2b3a4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f80';
const APPNET_ID = '5d0b7c3f1e2a4b6c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e';
const LAYERS: Record<string, string[]> = {
  [NGINX_ID]: ['sha256:base0001', 'sha256:nginx0002', 'sha256:nginx0003'],
  [POSTGRES_ID]: ['sha256:pgbase001', 'sha256:pg000002'],
};
/** What the target engine already has: the base layer nginx is built on. */
const TARGET_CHAINS = [['sha256:base0001'], ['sha256:other001', 'sha256:other002']];
const IMAGE_BYTES = 5000;
const VOLUME_BYTES = 1000;

const appnet: NetworkSummary = sampleNetwork({
  id: APPNET_ID,
  name: 'appnet',
  builtIn: false,
  ipam: { driver: 'default', config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }], options: {} },
  labels: { 'com.example.team': 'shop' },
});

const nginx: ImageSummary = sampleImage({ id: NGINX_ID, tags: ['nginx:1.27'], size: 190_000_000 });
const postgres: ImageSummary = sampleImage({ id: POSTGRES_ID, tags: ['postgres:16'], size: 420_000_000 });

const web: ContainerSummary = sampleContainer({
  id: WEB_ID,
  name: 'web',
  image: 'nginx:1.27',
  imageId: NGINX_ID,
  volumeNames: ['web-data'],
  networkNames: ['appnet'],
});
const db: ContainerSummary = sampleContainer({
  id: DB_ID,
  name: 'db',
  image: 'postgres:16',
  imageId: POSTGRES_ID,
  command: 'docker-entrypoint.sh postgres',
  ports: [{ privatePort: 5432, protocol: 'tcp' }],
  volumeNames: ['db-data'],
  networkNames: ['appnet'],
});
const job: ContainerSummary = sampleContainer({
  id: JOB_ID,
  name: 'job',
  state: 'exited',
  status: 'Exited (0) 1 hour ago',
  ports: [],
  volumeNames: [],
  networkNames: ['appnet'],
  image: 'nginx:1.27',
  imageId: NGINX_ID,
});

function sourceInventory(): Inventory {
  return {
    containers: [web, db, job],
    images: [nginx, postgres],
    volumes: [
      sampleVolume({ name: 'web-data', size: 10_000_000 }),
      sampleVolume({ name: 'db-data', size: 50_000_000 }),
    ],
    networks: [sampleNetwork(), appnet],
  };
}

function targetInventory(extra: Partial<Inventory> = {}): Inventory {
  return {
    containers: [
      sampleContainer({
        id: 'e'.repeat(64),
        name: 'monitoring',
        ports: [],
        volumeNames: [],
        imageId: 'sha256:ee',
      }),
    ],
    images: [],
    volumes: [sampleVolume({ name: 'unrelated' })],
    networks: [sampleNetwork({ id: 'f'.repeat(64) })],
    ...extra,
  };
}

const MOUNT_PATHS: Record<string, string> = {
  'web-data': '/usr/share/nginx/html',
  'db-data': '/var/lib/postgresql/data',
};

/** `docker inspect` of a container on Docker 27 (API 1.47), trimmed of nothing the create body reads. */
function inspectDocument(container: ContainerSummary): Record<string, unknown> {
  const running = container.state === 'running';
  const volume = container.volumeNames[0];
  const shortId = container.id.slice(0, 12);
  return {
    Id: container.id,
    Created: '2025-02-01T09:59:58.123456789Z',
    Path: '/docker-entrypoint.sh',
    Args: container.command.split(' ').slice(1),
    State: {
      Status: container.state,
      Running: running,
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: running ? 48211 : 0,
      ExitCode: 0,
      Error: '',
      StartedAt: '2025-02-01T10:00:00.001234567Z',
      FinishedAt: running ? '0001-01-01T00:00:00Z' : '2025-02-01T11:00:00.001234567Z',
    },
    Image: container.imageId,
    ResolvConfPath: `/var/lib/docker/containers/${container.id}/resolv.conf`,
    HostnamePath: `/var/lib/docker/containers/${container.id}/hostname`,
    HostsPath: `/var/lib/docker/containers/${container.id}/hosts`,
    LogPath: `/var/lib/docker/containers/${container.id}/${container.id}-json.log`,
    Name: `/${container.name}`,
    RestartCount: 0,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: 'docker-default',
    ExecIDs: null,
    HostConfig: {
      Binds: volume ? [`${volume}:${MOUNT_PATHS[volume] ?? '/data'}`] : null,
      ContainerIDFile: '',
      LogConfig: { Type: 'json-file', Config: {} },
      NetworkMode: 'appnet',
      PortBindings: Object.fromEntries(
        container.ports
          .filter((port) => port.publicPort !== undefined)
          .map((port) => [
            `${port.privatePort}/${port.protocol}`,
            [{ HostIp: '', HostPort: String(port.publicPort) }],
          ]),
      ),
      RestartPolicy: { Name: 'unless-stopped', MaximumRetryCount: 0 },
      AutoRemove: false,
      VolumeDriver: '',
      VolumesFrom: null,
      ConsoleSize: [0, 0],
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
      Isolation: '',
      CpuShares: 0,
      Memory: 0,
      NanoCpus: 0,
      CgroupParent: '',
      BlkioWeight: 0,
      BlkioWeightDevice: [],
      BlkioDeviceReadBps: [],
      BlkioDeviceWriteBps: [],
      BlkioDeviceReadIOps: [],
      BlkioDeviceWriteIOps: [],
      CpuPeriod: 0,
      CpuQuota: 0,
      CpuRealtimePeriod: 0,
      CpuRealtimeRuntime: 0,
      CpusetCpus: '',
      CpusetMems: '',
      Devices: [],
      DeviceCgroupRules: null,
      DeviceRequests: null,
      MemoryReservation: 0,
      MemorySwap: 0,
      MemorySwappiness: null,
      OomKillDisable: null,
      PidsLimit: null,
      Ulimits: [],
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      MaskedPaths: ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/sys/firmware'],
      ReadonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
    GraphDriver: {
      Data: {
        MergedDir: `/var/lib/docker/overlay2/${shortId}/merged`,
        UpperDir: `/var/lib/docker/overlay2/${shortId}/diff`,
        WorkDir: `/var/lib/docker/overlay2/${shortId}/work`,
      },
      Name: 'overlay2',
    },
    Mounts: volume
      ? [
          {
            Type: 'volume',
            Name: volume,
            Source: `/var/lib/docker/volumes/${volume}/_data`,
            Destination: MOUNT_PATHS[volume] ?? '/data',
            Driver: 'local',
            Mode: 'z',
            RW: true,
            Propagation: '',
          },
        ]
      : [],
    Config: {
      Hostname: shortId,
      Domainname: '',
      User: '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ExposedPorts: Object.fromEntries(
        container.ports.map((port) => [`${port.privatePort}/${port.protocol}`, {}]),
      ),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TZ=UTC'],
      Cmd: container.command.split(' ').slice(1),
      Image: container.image,
      Volumes: null,
      WorkingDir: '',
      Entrypoint: ['/docker-entrypoint.sh'],
      OnBuild: null,
      Labels: { 'com.example.team': 'shop' },
      StopSignal: 'SIGQUIT',
    },
    NetworkSettings: {
      Bridge: '',
      SandboxID: 'a3f0c1d2e3b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c',
      SandboxKey: '/var/run/docker/netns/a3f0c1d2e3b4',
      Ports: {},
      Networks: {
        appnet: {
          IPAMConfig: null,
          Links: null,
          Aliases: container.name === 'web' ? ['www', shortId] : [shortId],
          MacAddress: '02:42:ac:14:00:02',
          DriverOpts: null,
          NetworkID: APPNET_ID,
          EndpointID: '8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b2a1908',
          Gateway: '172.20.0.1',
          IPAddress: '172.20.0.2',
          IPPrefixLen: 16,
          IPv6Gateway: '',
          GlobalIPv6Address: '',
          GlobalIPv6PrefixLen: 0,
          DNSNames: [container.name, shortId],
        },
      },
    },
  };
}

function containerDetails(container: ContainerSummary): ContainerDetails {
  return {
    ...container,
    restartCount: 0,
    startedAt: '2025-02-01T10:00:00.001234567Z',
    mounts: container.volumeNames.map((name) => ({
      type: 'volume',
      name,
      source: `/var/lib/docker/volumes/${name}/_data`,
      destination: MOUNT_PATHS[name] ?? '/data',
      readOnly: false,
    })),
    raw: inspectDocument(container),
  };
}

function imageDetails(ref: string): ImageDetails {
  const image = [nginx, postgres].find((i) => i.id === ref || i.tags.includes(ref));
  if (!image) throw new AppError('not_found', `No such image: ${ref}`);
  return { ...image, architecture: 'amd64', os: 'linux', layers: LAYERS[image.id] ?? [] };
}

// ---- the fake gateway ----

interface Call {
  workerId: string;
  kind: WorkerCommandKind;
  args: Record<string, unknown>;
  options: { timeoutMs?: number; signal?: AbortSignal; onProgress?: (report: CommandProgressReport) => void };
}

interface Rule {
  kind: WorkerCommandKind;
  when: (call: Call) => boolean;
  remaining: number;
  act: (call: Call) => Promise<unknown>;
}

/** What a transfer of this id moves: both ends agree unless a test says otherwise. */
function transferResult(call: Call): { xxh128: string; bytes: number } {
  return {
    xxh128: createHash('md5').update(String(call.args.transferId)).digest('hex'),
    bytes: resourceOf(call)?.type === 'image' ? IMAGE_BYTES : VOLUME_BYTES,
  };
}

function resourceOf(call: Call): { type: string; name: string } | undefined {
  return call.args.resource as { type: string; name: string } | undefined;
}

/** Plays the engines of both workers; records every command; fails or hangs the ones a test names. */
class FakeWorkerGateway implements WorkerGateway {
  readonly calls: Call[] = [];
  private readonly rules: Rule[] = [];

  run<K extends WorkerCommandKind>(
    workerId: string,
    kind: K,
    args: CommandArgs<K>,
    options: Call['options'] = {},
  ): Promise<CommandResultOf<K>> {
    const call: Call = { workerId, kind, args, options };
    this.calls.push(call);
    return this.answer(call) as Promise<CommandResultOf<K>>;
  }

  /** Fails `kind` (where `when` holds) `times` times, then answers normally again. */
  fail(
    kind: WorkerCommandKind,
    error: AppError,
    options: { times?: number; when?: (call: Call) => boolean } = {},
  ): void {
    this.rules.push({
      kind,
      when: options.when ?? (() => true),
      remaining: options.times ?? Infinity,
      act: () => Promise.reject(error),
    });
  }

  /** Answers `kind` (where `when` holds) with something else than the default. */
  answerWith(
    kind: WorkerCommandKind,
    answer: (call: Call) => unknown,
    when: (call: Call) => boolean = () => true,
  ): void {
    this.rules.push({ kind, when, remaining: Infinity, act: (call) => Promise.resolve(answer(call)) });
  }

  /** Answers the next `kind` as usual, but only after `ms` (a container that takes its time to stop). */
  slowOnce(kind: WorkerCommandKind, ms: number): void {
    this.rules.push({
      kind,
      when: () => true,
      remaining: 1,
      act: async (call) => {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return this.plausibly(call);
      },
    });
  }

  /** Never answers `kind` (where `when` holds); fails with canceled when the caller aborts, as the dispatcher does. */
  hang(kind: WorkerCommandKind, when: (call: Call) => boolean = () => true): void {
    this.rules.push({
      kind,
      when,
      remaining: Infinity,
      act: (call) =>
        new Promise((_resolve, reject) => {
          call.options.signal?.addEventListener(
            'abort',
            () => {
              reject(new AppError('canceled', `${call.kind} on worker ${call.workerId} was cancelled`));
            },
            { once: true },
          );
        }),
    });
  }

  /** Commands the caller stopped waiting for that the worker still carries out (see actsAfterCancel). */
  private readonly late: Array<Promise<void>> = [];

  /**
   * Like the dispatcher: a cancel rejects the next `kind` at once, but the worker still carries it out `ms`
   * later (a stop under way finishes its grace period).
   */
  actsAfterCancel(kind: WorkerCommandKind, ms: number, when: (call: Call) => boolean = () => true): void {
    this.rules.push({
      kind,
      when,
      remaining: 1,
      act: (call) =>
        new Promise((_resolve, reject) => {
          call.options.signal?.addEventListener(
            'abort',
            () => {
              this.late.push(
                new Promise<void>((done) => {
                  setTimeout(() => {
                    this.plausibly(call);
                    done();
                  }, ms);
                }),
              );
              reject(new AppError('canceled', `${call.kind} on worker ${call.workerId} was cancelled`));
            },
            { once: true },
          );
        }),
    });
  }

  /** Waits for the commands a cancel left running on the workers, as the dispatcher does. */
  async quiesce(): Promise<boolean> {
    await Promise.all(this.late);
    return true;
  }

  private async answer(call: Call): Promise<unknown> {
    await Promise.resolve();
    const rule = this.rules.find((r) => r.kind === call.kind && r.remaining > 0 && r.when(call));
    if (rule) {
      rule.remaining -= 1;
      return rule.act(call);
    }
    return this.plausibly(call);
  }

  /** What the target engine holds besides what the migration makes: the test's target inventory. */
  target: Inventory = targetInventory();
  /** Source containers stopped by a command (inspect then says so, as an engine would). */
  readonly stoppedOnSource = new Set<string>();

  private plausiblyOnTarget(call: Call): unknown {
    const { args } = call;
    const ref = [args.ref, args.name, args.tag].find((value) => typeof value === 'string') ?? '';
    if (call.kind === 'container.inspect') {
      const found = this.target.containers.find((c) => c.id === ref || c.name === ref);
      if (!found) throw new AppError('not_found', `No such container: ${ref}`);
      return containerDetails(found);
    }
    if (call.kind === 'image.inspect') {
      const found = this.target.images.find((i) => i.id === ref || i.tags.includes(ref));
      if (!found) throw new AppError('not_found', `No such image: ${ref}`);
      return { ...found, architecture: 'amd64', os: 'linux', layers: LAYERS[found.id] ?? [] };
    }
    if (call.kind === 'volume.inspect') {
      const found = this.target.volumes.find((v) => v.name === ref);
      if (!found) throw new AppError('not_found', `get ${ref}: no such volume`);
      return found;
    }
    return undefined;
  }

  private plausibly(call: Call): unknown {
    const { args } = call;
    if (call.workerId === TARGET) {
      const answer = this.plausiblyOnTarget(call);
      if (answer !== undefined) return answer;
    }
    switch (call.kind) {
      case 'engine.describe':
        return { architecture: 'x86_64', os: 'linux', dockerRootDir: '/var/lib/docker', freeBytes: 500e9 };
      case 'container.inspect': {
        const found = [web, db, job].find((c) => c.id === args.ref || c.name === args.ref);
        if (!found) throw new AppError('not_found', `No such container: ${String(args.ref)}`);
        return containerDetails(
          this.stoppedOnSource.has(found.id) ? { ...found, state: 'exited', status: 'Exited (0)' } : found,
        );
      }
      case 'container.stop': {
        const found = [web, db, job].find((c) => c.id === args.ref);
        const wasRunning = found?.state === 'running' && !this.stoppedOnSource.has(found.id);
        if (found && call.workerId === SOURCE) this.stoppedOnSource.add(found.id);
        return { wasRunning };
      }
      case 'container.start':
        if (call.workerId === SOURCE) this.stoppedOnSource.delete(String(args.ref));
        return {};
      case 'image.tag':
        return {};
      case 'container.create':
        return { id: `target-${String(args.name)}` };
      case 'container.await_ready':
        return { state: 'running', health: 'healthy' };
      case 'container.remove':
      case 'image.remove':
      case 'volume.remove':
      case 'network.remove':
        return { removed: true };
      case 'container.rename':
        return { renamed: true };
      case 'container.changes':
        return { count: 0, paths: [] };
      case 'image.untag':
        return { removed: true, lastTag: false };
      case 'volume.inspect':
        return sampleVolume({ name: String(args.name) });
      case 'volume.measure': {
        const bytes = MEASURED_VOLUMES[String(args.name)] ?? 0;
        return {
          apparentBytes: bytes,
          allocatedBytes: bytes / 2,
          files: 3,
          method: 'walk',
          measuredAt: '2026-01-01T00:00:00.000Z',
        };
      }
      case 'volume.set_aside':
        return { moved: true };
      case 'volume.restore_aside':
        return { restored: true };
      case 'image.inspect':
        return imageDetails(String(args.ref));
      case 'image.layer_chains':
        return { chains: TARGET_CHAINS };
      case 'volume.create':
        return { created: true };
      case 'network.create':
        return { id: `target-net-${(args.spec as { name: string }).name}`, created: true };
      case 'transfer.receive':
      case 'transfer.send':
        return transferResult(call);
      case 'volume.sync_forget':
        return { forgotten: true };
    }
  }

  /** Commands as "worker kind subject", easy to compare in order. */
  lines(from = 0): string[] {
    return this.calls.slice(from).map(describeCall);
  }

  indexOf(predicate: (call: Call) => boolean): number {
    return this.calls.findIndex(predicate);
  }
}

function describeCall(call: Call): string {
  const who = call.workerId === SOURCE ? 'source' : call.workerId === TARGET ? 'target' : call.workerId;
  const { args } = call;
  if (call.kind === 'container.rename')
    return `${who} ${call.kind} ${short(String(args.ref))} → ${String(args.name)}`;
  const subject =
    resourceOf(call)?.name ??
    (typeof args.id === 'string' ? args.id : undefined) ??
    (typeof args.tag === 'string' ? args.tag : undefined) ??
    (args.spec as { name?: string } | undefined)?.name ??
    (typeof args.name === 'string' ? args.name : undefined) ??
    (typeof args.ref === 'string' ? args.ref : undefined);
  return subject === undefined ? `${who} ${call.kind}` : `${who} ${call.kind} ${short(subject)}`;
}

/** Container ids as their names, so expectations read like the plan. */
function short(subject: string): string {
  return { [WEB_ID]: 'web', [DB_ID]: 'db', [JOB_ID]: 'job' }[subject] ?? subject;
}

/** Apparent bytes the source's worker measures in each volume: more than its inventory said. */
const MEASURED_VOLUMES: Record<string, number> = { 'web-data': 12_000_000, 'db-data': 55_000_000 };

const READ_ONLY: ReadonlySet<WorkerCommandKind> = new Set([
  'engine.describe',
  'volume.measure',
  'container.inspect',
  'container.changes',
  'image.inspect',
  'image.layer_chains',
  'volume.inspect',
]);

// ---- the master ----

const HELLO: Record<string, HelloInfo> = {
  [SOURCE]: {
    name: 'alpha',
    hostname: 'alpha.example',
    labels: {},
    version: '0.1.0',
    advertiseAddress: 'alpha.example:7443',
    dockerVersion: '27.3.1',
  },
  [TARGET]: {
    name: 'beta',
    hostname: 'beta.example',
    labels: {},
    version: '0.1.0',
    advertiseAddress: 'beta.example:7443',
    dockerVersion: '27.3.1',
  },
};

class IdleSession implements WorkerSession {
  close(): void {
    // Commands go through the fake gateway, not the session.
  }
  sendCommand(): void {
    // As above.
  }
  cancelCommand(): void {
    // As above.
  }
}

function request(overrides: Partial<MigrationRequest> = {}): MigrationRequest {
  return {
    sourceWorkerId: SOURCE,
    targetWorkerId: TARGET,
    containers: ['web', 'db'],
    images: [],
    volumes: [],
    networks: [],
    composeProjects: [],
    mode: 'cold',
    strategy: 'full',
    transferMode: 'direct',
    conflictPolicy: 'fail',
    sourcePolicy: 'keep_stopped',
    bindMounts: {},
    ...overrides,
  };
}

const logger = createLogger({ level: 'silent', format: 'json' });
let ca: CertificateAuthority;
let store: SqlMasterStore;
let registry: WorkerRegistry;
let gateway: FakeWorkerGateway;
let service: MigrationService;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'Dockation test CA' });
});

async function loadRegistry(target: Inventory = targetInventory()): Promise<WorkerRegistry> {
  const loaded = await WorkerRegistry.load({ store, workerTimeoutMs: 600_000 });
  await loaded.attach(SOURCE, HELLO[SOURCE]!, new IdleSession());
  await loaded.attach(TARGET, HELLO[TARGET]!, new IdleSession());
  loaded.snapshot(SOURCE, 1, sourceInventory());
  loaded.snapshot(TARGET, 1, target);
  return loaded;
}

function createService(
  options: {
    metrics?: MasterMetrics;
    rollbackTimeoutMs?: number;
    gateway?: FakeWorkerGateway;
    clock?: Clock;
  } = {},
): MigrationService {
  return new MigrationService({
    store,
    registry,
    gateway: options.gateway ?? gateway,
    caKeyPem: ca.keyPem,
    logger,
    readyTimeoutMs: 5_000,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.rollbackTimeoutMs === undefined ? {} : { rollbackTimeoutMs: options.rollbackTimeoutMs }),
  });
}

beforeEach(async () => {
  store = await openSqliteMasterStore({ path: ':memory:' });
  await store.insertWorker(sampleWorker({ id: SOURCE, name: 'alpha' }));
  await store.insertWorker(sampleWorker({ id: TARGET, name: 'beta' }));
  registry = await loadRegistry();
  gateway = new FakeWorkerGateway();
  service = createService();
});

afterEach(async () => {
  vi.useRealTimers();
  await store.close();
});

/**
 * The master dies and a new one starts over the same database: a fresh registry and service, and a gateway to
 * engines that kept their state (stopped source containers, what the target holds).
 */
async function restartMaster(): Promise<{ restarted: MigrationService; afterRestart: FakeWorkerGateway }> {
  registry = await WorkerRegistry.load({ store, workerTimeoutMs: 600_000 });
  await registry.attach(SOURCE, HELLO[SOURCE]!, new IdleSession());
  await registry.attach(TARGET, HELLO[TARGET]!, new IdleSession());
  const afterRestart = new FakeWorkerGateway();
  afterRestart.target = gateway.target;
  for (const stopped of gateway.stoppedOnSource) afterRestart.stoppedOnSource.add(stopped);
  return { restarted: createService({ gateway: afterRestart }), afterRestart };
}

/** Waits for the migration's runner to finish and returns what the store holds. */
async function finished(
  id: string,
  on: MigrationService = service,
): Promise<{ migration: MigrationRecord; events: MigrationEvent[] }> {
  await vi.waitFor(
    () => {
      expect(on.activeCount).toBe(0);
    },
    { timeout: 4000, interval: 2 },
  );
  return on.get(id);
}

/** With fake timers: lets the runner's 2 s pauses pass until it finished. */
async function finishedWithFakeTimers(
  id: string,
): Promise<{ migration: MigrationRecord; events: MigrationEvent[] }> {
  for (let step = 0; step < 200 && service.activeCount > 0; step += 1) await vi.advanceTimersByTimeAsync(500);
  expect(service.activeCount).toBe(0);
  return service.get(id);
}

async function failureOf(work: Promise<unknown>): Promise<AppError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a failure');
}

function messages(events: MigrationEvent[]): string[] {
  return events.map((event) => event.message);
}

const isVolume = (name: string) => (call: Call) =>
  resourceOf(call)?.type === 'volume' && resourceOf(call)?.name === name;
const isNamed = (name: string) => (call: Call) => call.args.name === name;

/** How a rollback starts the source again: each container that ran is checked, then started. */
const RESTARTS_SOURCE = [
  'source container.inspect db',
  'source container.start db',
  'source container.inspect web',
  'source container.start web',
];

/** Every command of a full migration of web and db, preflight included, when nothing fails. */
const HAPPY_PATH = [
  // preflight
  'source container.inspect web',
  'source container.inspect db',
  `source image.inspect ${NGINX_ID}`,
  `source image.inspect ${POSTGRES_ID}`,
  'source volume.measure web-data',
  'source volume.measure db-data',
  'source container.changes web',
  'source container.changes db',
  'target engine.describe',
  // execute: details again, then networks and images while the source still runs
  'source container.inspect web',
  'source container.inspect db',
  'target network.create appnet',
  // (each image: is it, and is each of its tags, on the target already?)
  `source image.inspect ${NGINX_ID}`,
  `target image.inspect ${NGINX_ID}`,
  'target image.inspect nginx:1.27',
  'target image.layer_chains',
  `target transfer.receive ${NGINX_ID}`,
  `source transfer.send ${NGINX_ID}`,
  `source image.inspect ${POSTGRES_ID}`,
  `target image.inspect ${POSTGRES_ID}`,
  'target image.inspect postgres:16',
  'target image.layer_chains',
  `target transfer.receive ${POSTGRES_ID}`,
  `source transfer.send ${POSTGRES_ID}`,
  // cold: stop the source, then copy the volumes (each checked absent on the target first)
  'source container.stop web',
  'source container.stop db',
  'target volume.inspect web-data',
  'target volume.create web-data',
  'target transfer.receive web-data',
  'source transfer.send web-data',
  'target volume.inspect db-data',
  'target volume.create db-data',
  'target transfer.receive db-data',
  'source transfer.send db-data',
  // recreate and start on the target
  'target container.create web',
  'target container.create db',
  'target container.start target-web',
  'target container.await_ready target-web',
  'target container.start target-db',
  'target container.await_ready target-db',
];

describe('MigrationService', () => {
  describe('a migration that succeeds', () => {
    it('counts downtime from the stop request, so a slow stop is part of it', async () => {
      // Only the first stop is slow: counted from its request, downtime holds it; counted from its end, not.
      gateway.slowOnce('container.stop', 300);
      const started = await service.start(request());
      const { migration } = await finished(started.id);
      expect(migration.status).toBe('completed');
      expect(migration.downtimeMs).toBeGreaterThanOrEqual(300);
    });

    it('measures downtime and rate on its clock: first stop request to the last target container ready', async () => {
      const clock = new ManualClock();
      service = createService({ clock });
      gateway.answerWith(
        'container.stop',
        () => {
          clock.advance(1_000);
          return { wasRunning: true };
        },
        (call) => call.workerId === SOURCE,
      );
      gateway.answerWith('container.await_ready', () => {
        clock.advance(250);
        return { state: 'running', health: 'healthy' };
      });
      const started = await service.start(request());
      const { migration } = await finished(started.id);
      expect(migration.status).toBe('completed');
      expect(migration.downtimeMs).toBe(2 * 1_000 + 2 * 250);
      expect(migration.rateBytesPerSecond).toBe(Math.round((2 * IMAGE_BYTES + 2 * VOLUME_BYTES) / 2.5));
      expect(migration.startedAt).toBe('2026-01-01T00:00:00.000Z');
      expect(migration.completedAt).toBe('2026-01-01T00:00:02.500Z');
    });

    it('stops the source containers together, and says how long each took and when one waited out its grace period', async () => {
      const clock = new ManualClock();
      service = createService({ clock });
      // Both stops are asked for at once: db answers after 0.3 s, web only when its 10 s grace period is out.
      gateway.answerWith(
        'container.stop',
        async (call) => {
          if (call.args.ref === WEB_ID) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            clock.advance(9_700);
          } else clock.advance(300);
          return { wasRunning: true };
        },
        (call) => call.workerId === SOURCE,
      );
      const started = await service.start(request());
      const { migration, events } = await finished(started.id);
      expect(migration.status).toBe('completed');
      const stops = events.filter((e) => e.phase === 'stop_source').map((e) => `${e.level}: ${e.message}`);
      expect(stops).toEqual([
        'info: stopping containers web, db on the source together',
        'info: container db stopped on the source in 0.3 s',
        'warning: container web stopped on the source in 10.0 s: waited out the 10 s stop grace period — the process ' +
          'ignored SIGQUIT (its stop signal) and was killed (give it a stop signal it handles, or a shorter grace ' +
          'period: the stop_timeout option)',
      ]);
      // The downtime is the longest stop of the level, not the sum of both.
      expect(migration.timing.downtime?.stopMs).toBe(10_000);
    });

    it("gives each source container the request's stop timeout instead of its own, and says so", async () => {
      const clock = new ManualClock();
      service = createService({ clock });
      gateway.answerWith(
        'container.stop',
        (call) => {
          // web ignores its stop signal: killed once the grace period given is out.
          if (call.args.ref === WEB_ID) clock.advance(call.args.timeoutSeconds === 2 ? 2_000 : 10_000);
          return { wasRunning: true };
        },
        (call) => call.workerId === SOURCE,
      );
      const started = await service.start({ ...request(), stopTimeoutSeconds: 2 });
      const { migration, events } = await finished(started.id);
      expect(migration.status).toBe('completed');
      const stopCalls = gateway.calls.filter((c) => c.kind === 'container.stop' && c.workerId === SOURCE);
      expect(stopCalls.map((c) => c.args.timeoutSeconds)).toEqual([2, 2]);
      const web = events.find(
        (e) => e.phase === 'stop_source' && e.message.startsWith('container web stopped'),
      );
      expect(web?.message).toBe(
        'container web stopped on the source in 2.0 s: waited out the 2 s stop grace period this migration set — ' +
          'the process ignored SIGQUIT (its stop signal) and was killed',
      );
    });

    it('breaks the downtime into stop, final copy, create, start and ready, adding up to it, and counts one round', async () => {
      const clock = new ManualClock();
      service = createService({ clock });
      const on = (
        kind: Parameters<typeof gateway.answerWith>[0],
        ms: number,
        answer: (call: Call) => unknown,
        when?: (call: Call) => boolean,
      ) => {
        gateway.answerWith(
          kind,
          (call) => {
            clock.advance(ms);
            return answer(call);
          },
          when,
        );
      };
      // Two containers stop in 0.7 s each; two volumes copy in 0.9 s each (images go over before the stop).
      on(
        'container.stop',
        700,
        () => ({ wasRunning: true }),
        (call) => call.workerId === SOURCE,
      );
      on('transfer.receive', 900, transferResult, (call) => resourceOf(call)?.type === 'volume');
      on('container.create', 40, (call) => ({ id: `target-${String(call.args.name)}` }));
      on('container.start', 110, () => ({}));
      on('container.await_ready', 300, () => ({ state: 'running', health: 'healthy' }));
      const started = await service.start(request());
      const { migration, events } = await finished(started.id);
      expect(migration.status, events.map((e) => e.message).join('\n')).toBe('completed');
      expect(migration.timing.downtime).toEqual({
        stopMs: 1400,
        finalSyncMs: 1800,
        applyMs: 80,
        startMs: 220,
        readyMs: 600,
      });
      expect(migration.downtimeMs).toBe(1400 + 1800 + 80 + 220 + 600);
      expect(migration.timing.rounds).toEqual([
        {
          round: 1,
          final: true,
          bytes: 2 * VOLUME_BYTES,
          durationMs: 1800,
          files: expect.any(Number) as number,
        },
      ]);
    });

    it('warm: makes the target ready and copies while the source runs, stops it only for the final round', async () => {
      const started = await service.start(request({ mode: 'warm' }));
      const { migration, events } = await finished(started.id);
      expect(migration.status, events.map((e) => e.message).join('\n')).toBe('completed');
      const lines = gateway.lines();
      const at = (line: string, from = 0) => lines.indexOf(line, from);
      const round1 = at('source transfer.send web-data');
      const final = at('source transfer.send web-data', round1 + 1);
      // Containers are made on the target, and round 1 copies, before anything stops on the source.
      expect(at('target container.create web')).toBeLessThan(round1);
      expect(round1).toBeLessThan(at('source container.stop web'));
      expect(at('source container.stop db')).toBeLessThan(final);
      expect(final).toBeLessThan(at('target container.start target-web'));
      const sends = gateway.calls.filter(
        (c) => c.kind === 'transfer.send' && resourceOf(c)?.type === 'volume',
      );
      expect(sends.map((c) => c.args.sync)).toEqual([
        { session: migration.id, round: 1, final: false },
        { session: migration.id, round: 1, final: false },
        { session: migration.id, round: 2, final: true },
        { session: migration.id, round: 2, final: true },
      ]);
      const receives = gateway.calls.filter(
        (c) => c.kind === 'transfer.receive' && resourceOf(c)?.type === 'volume',
      );
      expect(receives.map((c) => c.args.update)).toEqual([
        { fsync: false },
        { fsync: false },
        { fsync: true },
        { fsync: true },
      ]);
      // 2 KB a round converged at once; the source then forgot its sync state.
      expect(events.map((e) => e.message)).toContainEqual(
        expect.stringMatching(/^pre-copy round 1 sent .*: little changes any more; .*: stopping the source$/),
      );
      expect(lines.at(-1)).toBe('source volume.sync_forget');
      expect(migration.timing.rounds.map((r) => [r.round, r.final, r.bytes])).toEqual([
        [1, false, 2 * VOLUME_BYTES],
        [2, true, 2 * VOLUME_BYTES],
      ]);
      expect(migration.timing.downtime?.finalSyncMs).not.toBeNull();
    });

    it('runs networks, images, stop, volumes, create, start and readiness in that order, and completes', async () => {
      const notices: MigrationNotice[] = [];
      service.subscribe((notice) => notices.push(notice));

      const started = await service.start(request());
      expect(started.id).toMatch(/^m-[0-9a-f]{12}$/);
      const { migration, events } = await finished(started.id);

      expect(gateway.lines()).toEqual(HAPPY_PATH);
      expect(migration).toMatchObject({
        status: 'completed',
        phase: 'done',
        progress: 1,
        bytesTransferred: 2 * IMAGE_BYTES + 2 * VOLUME_BYTES,
        // The plan estimated 610 MB of images and 67 MB of volumes; once moved, the total is what moved.
        totalBytes: 2 * IMAGE_BYTES + 2 * VOLUME_BYTES,
        error: null,
        cancelRequested: false,
      });
      expect(migration.startedAt).not.toBeNull();
      expect(migration.completedAt).not.toBeNull();
      expect(migration.downtimeMs).toBeGreaterThanOrEqual(0);
      expect(migration.plan.resources.map((r) => [r.type, r.name, r.status])).toEqual([
        ['network', 'appnet', 'done'],
        ['image', 'nginx:1.27', 'done'],
        ['image', 'postgres:16', 'done'],
        ['volume', 'web-data', 'done'],
        ['volume', 'db-data', 'done'],
        ['container', 'web', 'done'],
        ['container', 'db', 'done'],
      ]);
      expect(migration.state).toMatchObject({
        sourceRunning: [WEB_ID, DB_ID],
        // The journal: every change made on the target, in order, as rollback would undo it.
        undo: [
          { kind: 'create', type: 'network', name: 'appnet' },
          { kind: 'image', id: NGINX_ID, existed: false, added: ['nginx:1.27'], moved: [] },
          { kind: 'image', id: POSTGRES_ID, existed: false, added: ['postgres:16'], moved: [] },
          { kind: 'create', type: 'volume', name: 'web-data' },
          { kind: 'create', type: 'volume', name: 'db-data' },
          { kind: 'create', type: 'container', name: 'web' },
          { kind: 'create', type: 'container', name: 'db' },
        ],
      });

      expect(messages(events)).toEqual(
        expect.arrayContaining([
          'planned 7 resources',
          'network appnet created',
          'image nginx:1.27 sent: 5000 bytes, 1 of 3 layers already on the target',
          'image postgres:16 sent: 5000 bytes',
          'container web stopped on the source in 0.0 s',
          'container db stopped on the source in 0.0 s',
          'container web created on the target',
          'container web is healthy on the target',
          'migration completed',
        ]),
      );
      expect(messages(events).at(-1)).toBe('migration completed');
      expect(events.some((e) => e.level === 'warning' && e.message.startsWith('cold migration stops'))).toBe(
        true,
      );
      expect(events.filter((e) => e.level === 'error')).toEqual([]);

      const last = notices.filter((n) => n.type === 'migration.updated').at(-1);
      expect(last?.type === 'migration.updated' && last.migration.status).toBe('completed');
      // At no moment did the figures show more moved than the total.
      const figures = notices.flatMap((n) =>
        n.type === 'migration.updated' ? [[n.migration.bytesTransferred, n.migration.totalBytes]] : [],
      );
      expect(figures.filter(([moved = 0, total = 0]) => moved > total)).toEqual([]);
      expect(new Set(figures.map(([, total]) => total)).size).toBeGreaterThan(1);
      expect(notices.filter((n) => n.type === 'migration.event')).toHaveLength(events.length);
    });

    it('sends each image and volume with a grant for these two workers, skipping the layers the target has', async () => {
      const { id } = await service.start(request());
      await finished(id);

      const sends = gateway.calls.filter((c) => c.kind === 'transfer.send');
      const receives = gateway.calls.filter((c) => c.kind === 'transfer.receive');
      expect(sends.map((c) => c.args.skipLayers)).toEqual([1, 0, undefined, undefined]);
      expect(sends.map((c) => [c.args.route, c.args.targetAddress, c.args.targetWorkerId])).toEqual(
        Array.from({ length: 4 }, () => ['direct', 'beta.example:7443', TARGET]),
      );
      for (const [index, send] of sends.entries()) {
        const receive = receives[index]!;
        expect(receive.args.transferId).toBe(send.args.transferId);
        expect(receive.args.grant).toBe(send.args.grant);
        const grant = verifyGrant(String(send.args.grant), {
          ca: ca.certPem,
          transferId: String(send.args.transferId),
          expect: { sourceWorkerId: SOURCE, targetWorkerId: TARGET },
        });
        expect(grant.migrationId).toBe(id);
        expect(grant.resource).toEqual(resourceOf(receive));
      }
      expect(new Set(sends.map((c) => c.args.transferId)).size).toBe(4);
    });

    it('recreates networks, volumes and containers from the source’s settings', async () => {
      const { id } = await service.start(request());
      await finished(id);

      const network = gateway.calls.find((c) => c.kind === 'network.create')!;
      expect(network.args.spec).toMatchObject({
        name: 'appnet',
        driver: 'bridge',
        labels: { 'com.example.team': 'shop' },
        ipam: { config: [{ subnet: '172.20.0.0/16', gateway: '172.20.0.1' }] },
      });
      const volume = gateway.calls.find((c) => c.kind === 'volume.create')!;
      // The source's labels, and the one that names the migration that made this copy.
      expect(volume.args.spec).toEqual({
        name: 'web-data',
        driver: 'local',
        labels: {
          'io.dockation.migration': id,
          'io.dockation.source': `${request().sourceWorkerId}/web-data`,
        },
        options: {},
      });
      const create = gateway.calls.find((c) => c.kind === 'container.create' && c.args.name === 'web')!;
      expect(create.args.networks).toEqual([{ name: 'appnet', aliases: ['www'] }]);
      expect(create.args.body).toMatchObject({
        Image: 'nginx:1.27',
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TZ=UTC'],
        HostConfig: {
          Binds: ['web-data:/usr/share/nginx/html'],
          NetworkMode: 'appnet',
          PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] },
          RestartPolicy: { Name: 'unless-stopped' },
        },
      });
      const ready = gateway.calls.find((c) => c.kind === 'container.await_ready')!;
      expect(ready.args.timeoutMs).toBe(5_000);
    });

    it('returns the migration as it was when started, unchanged by the runner', async () => {
      const started = await service.start(request());
      const snapshot = structuredClone(started);
      await finished(started.id);
      expect(started).toEqual(snapshot);
      expect(started).toMatchObject({ status: 'pending', phase: 'preflight', progress: 0 });
    });

    it('counts a volume in its own bytes, holes included, and says how many went over the wire', async () => {
      gateway.answerWith(
        'transfer.send',
        (call) => ({ ...transferResult(call), coveredBytes: 64 * 1024 * 1024 }),
        isVolume('db-data'),
      );
      const { id } = await service.start(request());
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('completed');
      const volume = migration.plan.resources.find((resource) => resource.name === 'db-data');
      expect(volume?.bytes).toBe(64 * 1024 * 1024);
      expect(events.map((event) => event.message)).toContainEqual(
        expect.stringMatching(
          /^volume db-data: 67108864 bytes \(1000 bytes sent: holes and runs of zeros travel as none\), XXH3-128 .* equal on both ends$/,
        ),
      );
    });

    it('leaves the source stopped by default', async () => {
      const { id } = await service.start(request());
      await finished(id);
      const afterReady = gateway.indexOf(
        (c) => c.kind === 'container.await_ready' && c.args.ref === 'target-db',
      );
      expect(gateway.lines(afterReady + 1)).toEqual([]);
    });

    it('removes the source containers under the remove policy, once the target runs them', async () => {
      const { id } = await service.start(request({ sourcePolicy: 'remove' }));
      const { migration, events } = await finished(id);

      const afterReady = gateway.indexOf(
        (c) => c.kind === 'container.await_ready' && c.args.ref === 'target-db',
      );
      expect(gateway.lines(afterReady + 1)).toEqual([
        'source container.remove web',
        'source container.remove db',
      ]);
      expect(migration.status).toBe('completed');
      expect(messages(events)).toContain('container web removed from the source');
    });

    it('starts again, under keep_running, only the source containers that were running', async () => {
      const { id } = await service.start(
        request({ containers: ['web', 'job'], sourcePolicy: 'keep_running' }),
      );
      const { migration } = await finished(id);

      expect(migration.status).toBe('completed');
      expect(migration.state.sourceRunning).toEqual([WEB_ID]);
      // The exited job is created on the target but not started there either.
      expect(gateway.lines().filter((line) => line.includes('container.create'))).toEqual([
        'target container.create web',
        'target container.create job',
      ]);
      expect(gateway.lines().filter((line) => line.includes('container.start'))).toEqual([
        'target container.start target-web',
        'source container.start web',
      ]);
      expect(gateway.lines().at(-1)).toBe('source container.start web');
    });

    it('relays through the master in auto mode when the sender cannot reach the receiver', async () => {
      gateway.fail(
        'transfer.send',
        new AppError(
          'unavailable',
          'cannot reach the receiving worker at beta.example:7443: connect ECONNREFUSED',
        ),
        { times: 1 },
      );
      const { id } = await service.start(request({ transferMode: 'auto' }));
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('completed');
      const nginxSends = gateway.calls.filter(
        (c) => c.kind === 'transfer.send' && resourceOf(c)?.name === NGINX_ID,
      );
      expect(nginxSends.map((c) => c.args.route)).toEqual(['direct', 'proxy']);
      expect(nginxSends[0]!.args.transferId).not.toBe(nginxSends[1]!.args.transferId);
      const nginxReceives = gateway.calls.filter(
        (c) => c.kind === 'transfer.receive' && resourceOf(c)?.name === NGINX_ID,
      );
      expect(nginxReceives.map((c) => c.args.route)).toEqual(['direct', 'proxy']);
      expect(nginxReceives[0]!.options.signal?.aborted).toBe(true);
      expect(
        events.some((e) => e.level === 'warning' && e.message.includes('relaying through the master')),
      ).toBe(true);
      // Each later transfer tries the direct route first again.
      expect(gateway.calls.filter((c) => c.kind === 'transfer.send').map((c) => c.args.route)).toEqual([
        'direct',
        'proxy',
        'direct',
        'direct',
        'direct',
      ]);
    });

    it('relays in auto mode when the sender says the receiver is unreachable, whatever its words', async () => {
      gateway.fail(
        'transfer.send',
        new AppError('unavailable', 'no TLS connection to beta.example:7443 within 10 s', {
          reason: 'peer_unreachable',
        }),
        { times: 1 },
      );
      const { id } = await service.start(request({ transferMode: 'auto' }));
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('completed');
      const routes = gateway.calls.filter((c) => c.kind === 'transfer.send').map((c) => c.args.route);
      expect(routes.slice(0, 2)).toEqual(['direct', 'proxy']);
      expect(
        events.some((e) => e.level === 'warning' && e.message.includes('relaying through the master')),
      ).toBe(true);
    });

    it('does not fall back to the relay in direct mode', async () => {
      gateway.fail(
        'transfer.send',
        new AppError('unavailable', 'cannot reach the receiving worker at beta'),
        {
          times: 1,
        },
      );
      const { id } = await service.start(request({ transferMode: 'direct' }));
      const { migration } = await finished(id);
      expect(migration.status).toBe('rolled_back');
      expect(gateway.calls.filter((c) => c.kind === 'transfer.send')).toHaveLength(1);
    });

    it('sends everything through the master in proxy mode', async () => {
      const { id } = await service.start(request({ transferMode: 'proxy' }));
      await finished(id);
      const routes = gateway.calls.filter((c) => c.kind.startsWith('transfer.')).map((c) => c.args.route);
      expect(routes).toEqual(Array.from({ length: 8 }, () => 'proxy'));
    });

    it('asks only the sending worker to compress, and only when the migration asks for zstd', async () => {
      const compressed = await service.start(request({ transferMode: 'direct', compression: 'zstd' }));
      await finished(compressed.id);
      const sends = gateway.calls.filter((c) => c.kind === 'transfer.send');
      expect(sends.map((c) => c.args.compression)).toEqual(Array.from({ length: 4 }, () => 'zstd'));
      const receives = gateway.calls.filter((c) => c.kind === 'transfer.receive');
      expect(receives.map((c) => 'compression' in c.args)).toEqual(Array.from({ length: 4 }, () => false));

      const plain = await service.start(request({ transferMode: 'direct', compression: 'none' }));
      await finished(plain.id);
      const plainSends = gateway.calls.filter((c) => c.kind === 'transfer.send').slice(4);
      expect(plainSends).toHaveLength(4);
      expect(plainSends.map((c) => 'compression' in c.args)).toEqual(Array.from({ length: 4 }, () => false));
    });

    it('counts finished migrations by status and the bytes moved', async () => {
      const metrics = createMasterMetrics({ onlineWorkers: () => registry.onlineCount() });
      service = createService({ metrics });

      const completed = await service.start(request());
      await finished(completed.id);
      gateway.fail('container.create', new AppError('conflict', 'name in use'), { times: 1 });
      const rolledBack = await service.start(request());
      await finished(rolledBack.id);

      const byStatus = Object.fromEntries(
        (await metrics.migrations.get()).values.map((v) => [String(v.labels.status), v.value]),
      );
      expect(byStatus).toEqual({ completed: 1, rolled_back: 1 });
      expect((await metrics.transferBytes.get()).values[0]?.value).toBe(
        2 * (2 * IMAGE_BYTES + 2 * VOLUME_BYTES),
      );
      expect(
        (await metrics.transferDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value,
      ).toBe(8);
      expect((await metrics.activeMigrations.get()).values[0]?.value).toBe(0);
      const text = await metrics.registry.metrics();
      expect(text).toContain('docker_migrate_migrations_total{status="completed"} 1');
      expect(text).toContain('docker_migrate_connected_peers 2');
    });
  });

  describe('before anything moves', () => {
    it('answers a dry run with the plan and findings, issuing no state-changing command and storing nothing', async () => {
      const answer = await service.dryRun(request());

      expect(answer.blocked).toBe(false);
      expect(answer.plan.resources.map((r) => `${r.type} ${r.targetName} ${r.action}`)).toEqual([
        'network appnet create',
        'image nginx:1.27 create',
        'image postgres:16 create',
        'volume web-data create',
        'volume db-data create',
        'container web create',
        'container db create',
      ]);
      // Volumes count with the bytes their worker measured, not the inventory's figure.
      expect(answer.plan.totalBytes).toBe(190_000_000 + 420_000_000 + 12_000_000 + 55_000_000);
      expect(answer.plan.resources.find((r) => r.name === 'db-data')?.measured).toMatchObject({
        apparentBytes: 55_000_000,
        allocatedBytes: 27_500_000,
      });
      expect(answer.findings.map((f) => f.code)).toContain('container_running_source');
      expect(gateway.calls.every((c) => READ_ONLY.has(c.kind))).toBe(true);
      expect(gateway.calls.length).toBeGreaterThan(0);
      expect(await store.listMigrations()).toEqual([]);
      expect(service.activeCount).toBe(0);
    });

    it('plans a volume its worker cannot measure with an unknown size and says so, without failing', async () => {
      gateway.fail(
        'volume.measure',
        new AppError('deadline_exceeded', 'worker "alpha" did not finish in time'),
        {
          when: (call) => call.args.name === 'db-data',
        },
      );
      const answer = await service.dryRun(request());
      expect(answer.blocked).toBe(false);
      expect(answer.plan.resources.find((r) => r.name === 'db-data')).toMatchObject({
        estimatedBytes: 0,
        measured: { apparentBytes: null, method: 'unknown', reason: 'worker "alpha" did not finish in time' },
      });
      expect(answer.plan.totalBytes).toBe(190_000_000 + 420_000_000 + 12_000_000);
      expect(answer.findings).toContainEqual(
        expect.objectContaining({
          severity: 'warning',
          code: 'volume_size_unknown',
          resource: { type: 'volume', name: 'db-data' },
        }),
      );
    });

    it('refuses, with the findings, a plan that preflight blocks, and runs nothing', async () => {
      registry.snapshot(
        TARGET,
        2,
        targetInventory({ containers: [sampleContainer({ id: 'f'.repeat(64), name: 'web', ports: [] })] }),
      );

      const error = await failureOf(service.start(request({ conflictPolicy: 'fail' })));

      expect(error.code).toBe('failed_precondition');
      expect(error.message).toMatch(
        /^preflight found 1 problem: a container named "web" already exists on "beta"/,
      );
      const findings = error.details?.findings as Array<{ code: string; severity: string }>;
      expect(findings).toEqual(
        expect.arrayContaining([expect.objectContaining({ code: 'name_conflict', severity: 'error' })]),
      );
      expect(gateway.calls.every((c) => READ_ONLY.has(c.kind))).toBe(true);
      expect(await store.listMigrations()).toEqual([]);
      expect(service.activeCount).toBe(0);
    });

    it('refuses a migration whose source worker is offline', async () => {
      const session = new IdleSession();
      await registry.attach(SOURCE, HELLO[SOURCE]!, session);
      registry.detach(SOURCE, session, 'stream closed');

      const error = await failureOf(service.start(request()));
      expect(error.code).toBe('failed_precondition');
      expect(error.message).toBe('source worker "alpha" is offline');
      expect(gateway.calls).toEqual([]);
    });

    it('refuses to start once closed', async () => {
      await service.close();
      expect((await failureOf(service.start(request()))).code).toBe('unavailable');
    });

    it('tells a migration it does not know as not_found', async () => {
      expect((await failureOf(service.get('m-000000000000'))).code).toBe('not_found');
      expect((await failureOf(service.cancel('m-000000000000'))).code).toBe('not_found');
    });
  });

  describe('a migration that fails', () => {
    const stepFailures: Array<{
      step: string;
      kind: WorkerCommandKind;
      when?: (call: Call) => boolean;
      undo: string[];
    }> = [
      // A command that fails may still have acted: rollback removes what it was about to create, if present.
      { step: 'network creation', kind: 'network.create', undo: ['target network.remove appnet'] },
      {
        step: 'a volume transfer',
        kind: 'transfer.send',
        when: isVolume('web-data'),
        undo: [
          'target volume.remove web-data',
          'target image.untag postgres:16',
          `target image.remove ${POSTGRES_ID}`,
          'target image.untag nginx:1.27',
          `target image.remove ${NGINX_ID}`,
          'target network.remove appnet',
          ...RESTARTS_SOURCE,
        ],
      },
      {
        step: 'the second container’s creation',
        kind: 'container.create',
        when: isNamed('db'),
        undo: [
          'target container.remove db',
          'target container.remove web',
          'target volume.remove db-data',
          'target volume.remove web-data',
          'target image.untag postgres:16',
          `target image.remove ${POSTGRES_ID}`,
          'target image.untag nginx:1.27',
          `target image.remove ${NGINX_ID}`,
          'target network.remove appnet',
          ...RESTARTS_SOURCE,
        ],
      },
      {
        step: 'readiness on the target',
        kind: 'container.await_ready',
        undo: [
          'target container.remove db',
          'target container.remove web',
          'target volume.remove db-data',
          'target volume.remove web-data',
          'target image.untag postgres:16',
          `target image.remove ${POSTGRES_ID}`,
          'target image.untag nginx:1.27',
          `target image.remove ${NGINX_ID}`,
          'target network.remove appnet',
          ...RESTARTS_SOURCE,
        ],
      },
    ];

    it.each(stepFailures)(
      'at $step, removes exactly what it created, newest first, and restarts the source',
      async ({ kind, when, undo }) => {
        const reason = `${kind} failed: Error response from daemon: something broke`;
        gateway.fail(kind, new AppError('internal', reason), { times: 1, ...(when ? { when } : {}) });

        const { id } = await service.start(request());
        const { migration, events } = await finished(id);

        const failedAt = gateway.indexOf((c) => c.kind === kind && (when?.(c) ?? true));
        expect(failedAt).toBeGreaterThan(0);
        expect(gateway.lines(failedAt + 1)).toEqual(undo);
        expect(migration).toMatchObject({ status: 'rolled_back', phase: 'done', error: reason });
        expect(migration.completedAt).not.toBeNull();
        expect(migration.plan.resources.every((r) => r.status === 'rolled_back')).toBe(true);
        expect(messages(events)).toEqual(
          expect.arrayContaining([`failed: ${reason}`, `rolling back: ${reason}`]),
        );
        expect(messages(events).at(-1)).toBe(
          'rolled back: the target is as before and the source runs as before',
        );
      },
    );

    it('stops before stopping the source when network creation fails', async () => {
      gateway.fail('network.create', new AppError('conflict', 'network with name appnet already exists'));
      const { id } = await service.start(request());
      const { migration } = await finished(id);
      expect(migration.status).toBe('rolled_back');
      expect(gateway.calls.some((c) => c.kind === 'container.stop')).toBe(false);
      expect(migration.state.undo).toEqual([]);
    });

    it('rolls back when the target received other bytes than the source sent', async () => {
      gateway.answerWith(
        'transfer.receive',
        (call) => ({ xxh128: 'f'.repeat(32), bytes: transferResult(call).bytes }),
        isVolume('db-data'),
      );
      const { id } = await service.start(request());
      const { migration } = await finished(id);

      expect(migration.status).toBe('rolled_back');
      expect(migration.error).toContain('volume db-data: the target received 1000 bytes (XXH3-128 ffff');
      expect(gateway.lines().filter((line) => line.includes('.remove'))).toEqual([
        'target volume.remove db-data',
        'target volume.remove web-data',
        `target image.remove ${POSTGRES_ID}`,
        `target image.remove ${NGINX_ID}`,
        'target network.remove appnet',
      ]);
      expect(gateway.calls.some((c) => c.kind === 'container.create')).toBe(false);
    });

    it('rolls back when the byte counts differ although the hashes agree', async () => {
      gateway.answerWith(
        'transfer.receive',
        (call) => ({ ...transferResult(call), bytes: 999 }),
        isVolume('web-data'),
      );
      const { id } = await service.start(request());
      expect((await finished(id)).migration.status).toBe('rolled_back');
    });

    it('stops a hanging transfer on cancel, rolls back, and ends "cancelled" — no phase failed', async () => {
      gateway.hang('transfer.receive', isVolume('db-data'));
      gateway.hang('transfer.send', isVolume('db-data'));
      const { id } = await service.start(request());
      await vi.waitFor(() => {
        expect(gateway.calls.some((c) => c.kind === 'transfer.send' && isVolume('db-data')(c))).toBe(true);
      });

      const answer = await service.cancel(id);
      expect(answer.cancelRequested).toBe(true);
      const { migration, events } = await finished(id);

      expect(migration).toMatchObject({ status: 'cancelled', cancelRequested: true });
      expect(migration.error).toContain('cancelled');
      const hung = gateway.calls.filter((c) => c.kind.startsWith('transfer.') && isVolume('db-data')(c));
      expect(hung.map((c) => c.options.signal?.aborted)).toEqual([true, true]);
      const sendAt = gateway.indexOf((c) => c.kind === 'transfer.send' && isVolume('db-data')(c));
      expect(gateway.lines(sendAt + 1)).toEqual([
        'target volume.remove db-data',
        'target volume.remove web-data',
        'target image.untag postgres:16',
        `target image.remove ${POSTGRES_ID}`,
        'target image.untag nginx:1.27',
        `target image.remove ${NGINX_ID}`,
        'target network.remove appnet',
        ...RESTARTS_SOURCE,
      ]);
      expect(messages(events)).toContain('cancelled by the user during transfer');
      expect(messages(events).some((m) => m.startsWith('failed'))).toBe(false);
      expect(messages(events)).toContain('cancelled: the target is as before and the source runs as before');
    });

    it('refuses to cancel a finished migration (conflict), and leaves it as it is', async () => {
      const { id } = await service.start(request());
      await finished(id);
      const refusal = await failureOf(service.cancel(id));
      expect(refusal.code).toBe('conflict');
      expect(refusal.message).toBe(`migration ${id} already ended (completed); there is nothing to cancel`);
      expect((await service.get(id)).migration).toMatchObject({
        status: 'completed',
        cancelRequested: false,
      });
    });

    it('ends failed, naming what is left, when a rollback step keeps failing', async () => {
      gateway.fail('container.create', new AppError('internal', 'no space left on device'), {
        when: isNamed('db'),
      });
      gateway.fail('volume.remove', new AppError('conflict', 'volume is in use'), {
        when: (c) => c.args.name === 'db-data',
      });

      const { id } = await service.start(request());
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('failed');
      expect(migration.error).toBe(
        'no space left on device; rollback incomplete, left: volume db-data on the target (volume is in use)',
      );
      // Everything else is still undone.
      const createdAt = gateway.indexOf((c) => c.kind === 'container.create' && c.args.name === 'db');
      expect(gateway.lines(createdAt + 1)).toEqual([
        'target container.remove db',
        'target container.remove web',
        'target volume.remove db-data',
        'target volume.remove web-data',
        'target image.untag postgres:16',
        `target image.remove ${POSTGRES_ID}`,
        'target image.untag nginx:1.27',
        `target image.remove ${NGINX_ID}`,
        'target network.remove appnet',
        ...RESTARTS_SOURCE,
      ]);
      expect(events.at(-1)).toMatchObject({
        level: 'error',
        message: 'rollback incomplete: volume db-data on the target (volume is in use)',
      });
    });

    it('names a source container it could not start again', async () => {
      gateway.fail('container.await_ready', new AppError('deadline_exceeded', 'web did not become healthy'), {
        times: 1,
      });
      gateway.fail('container.start', new AppError('internal', 'port is already allocated'), {
        when: (c) => c.workerId === SOURCE && c.args.ref === WEB_ID,
      });
      const { id } = await service.start(request());
      const { migration } = await finished(id);
      expect(migration.status).toBe('failed');
      expect(migration.error).toContain(
        'left: container web stopped on the source (port is already allocated)',
      );
    });

    it('does not remove, on rollback, a volume that appeared on the target after preflight', async () => {
      // The master's inventory lags: preflight saw no db-data, the engine has one by the time it is created.
      gateway.target = targetInventory({ volumes: [sampleVolume({ name: 'db-data' })] });
      const { id } = await service.start(request());
      const { migration } = await finished(id);
      expect(migration.status).toBe('rolled_back');
      expect(migration.error).toBe('a volume named "db-data" appeared on the target; it is left as it is');
      expect(gateway.lines().filter((line) => line.includes('volume.create'))).toEqual([
        'target volume.create web-data',
      ]);
      expect(gateway.lines().filter((line) => line.includes('volume.remove'))).toEqual([
        'target volume.remove web-data',
      ]);
    });

    it('does not remove, on rollback, a container whose create the engine refused because the name was taken', async () => {
      gateway.fail(
        'container.create',
        new AppError('conflict', 'Conflict. The container name "/db" is already in use'),
        {
          when: isNamed('db'),
        },
      );
      const { id } = await service.start(request());
      const { migration } = await finished(id);
      expect(migration.status).toBe('rolled_back');
      expect(gateway.lines().filter((line) => line.includes('container.remove'))).toEqual([
        'target container.remove web',
      ]);
    });

    it('keeps what runs on the target when removing a source container fails afterwards', async () => {
      gateway.fail(
        'container.remove',
        new AppError('internal', 'removal of container db is already in progress'),
        {
          when: (c) => c.workerId === SOURCE && c.args.ref === DB_ID,
        },
      );
      const { id } = await service.start(request({ sourcePolicy: 'remove' }));
      await finished(id);
      const afterReady = gateway.indexOf(
        (c) => c.kind === 'container.await_ready' && c.args.ref === 'target-db',
      );
      expect(gateway.lines(afterReady + 1).filter((line) => line.startsWith('target'))).toEqual([]);
    });
  });

  describe('rolling back while a worker is away', () => {
    it('retries a step while the target is unavailable and completes the rollback once it answers', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
      service = createService({ rollbackTimeoutMs: 10_000 });
      gateway.fail('container.create', new AppError('internal', 'no space left on device'), {
        when: isNamed('db'),
      });
      gateway.fail('container.remove', new AppError('unavailable', 'worker "beta" is offline'), { times: 1 });
      gateway.fail(
        'container.remove',
        new AppError('deadline_exceeded', 'worker "beta" did not finish container.remove'),
        {
          times: 1,
        },
      );

      const { id } = await service.start(request());
      const { migration } = await finishedWithFakeTimers(id);

      expect(migration).toMatchObject({ status: 'rolled_back', error: 'no space left on device' });
      expect(gateway.lines().filter((line) => line.includes('container.remove'))).toEqual([
        'target container.remove db',
        'target container.remove db',
        'target container.remove db',
        'target container.remove web',
      ]);
      expect(gateway.lines().slice(-4)).toEqual(RESTARTS_SOURCE);
    });

    it('gives up after the rollback timeout and ends failed, naming everything left', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
      service = createService({ rollbackTimeoutMs: 10_000 });
      gateway.fail('transfer.send', new AppError('internal', 'disk full'), {
        times: 1,
        when: isVolume('web-data'),
      });
      gateway.fail('volume.remove', new AppError('unavailable', 'worker "beta" is offline'));
      gateway.fail('image.remove', new AppError('unavailable', 'worker "beta" is offline'));
      gateway.fail('network.remove', new AppError('unavailable', 'worker "beta" is offline'));

      const started = Date.now();
      const { id } = await service.start(request());
      const { migration } = await finishedWithFakeTimers(id);

      expect(migration.status).toBe('failed');
      expect(migration.error).toBe(
        'disk full; rollback incomplete, left: ' +
          [
            'volume web-data on the target (worker "beta" is offline)',
            'image postgres:16 on the target (worker "beta" is offline)',
            'image nginx:1.27 on the target (worker "beta" is offline)',
            'network appnet on the target (worker "beta" is offline)',
          ].join('; '),
      );
      // The source, which answers, runs again.
      expect(gateway.lines().slice(-4)).toEqual(RESTARTS_SOURCE);
      expect(Date.now() - started).toBeGreaterThanOrEqual(10_000);
      expect(Date.now() - started).toBeLessThan(20_000);
    });

    it('does not retry a step that fails for another reason than the worker being away', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
      service = createService({ rollbackTimeoutMs: 10_000 });
      gateway.fail('container.await_ready', new AppError('internal', 'exited with code 1'), { times: 1 });
      gateway.fail('container.remove', new AppError('permission_denied', 'not allowed'), {
        when: (c) => c.args.ref === 'db',
      });

      const { id } = await service.start(request());
      const { migration } = await finishedWithFakeTimers(id);
      expect(migration.status).toBe('failed');
      expect(gateway.lines().filter((line) => line === 'target container.remove db')).toHaveLength(1);
    });
  });

  describe("a warm migration's sync session on a source worker that is away when it ends", () => {
    /** The source worker's connection drops and comes back: the registry announces it online again. */
    async function reconnectSource(): Promise<void> {
      const dropped = new IdleSession();
      await registry.attach(SOURCE, HELLO[SOURCE]!, dropped);
      registry.detach(SOURCE, dropped, 'stream closed');
      await registry.attach(SOURCE, HELLO[SOURCE]!, new IdleSession());
    }

    async function keptUntilReconnect(id: string): Promise<MigrationEvent[]> {
      const forgets = (): string[] => gateway.lines().filter((line) => line === 'source volume.sync_forget');
      expect((await service.get(id)).migration.state.syncSessionKept).toBe(true);
      expect(forgets()).toHaveLength(1);
      await reconnectSource();
      await vi.waitFor(async () => {
        expect((await service.get(id)).migration.state.syncSessionKept).toBeUndefined();
      });
      expect(forgets()).toHaveLength(2);
      return (await service.get(id)).events;
    }

    it('is dropped once the worker is back, after a rollback that could not tell it', async () => {
      gateway.fail('transfer.send', new AppError('unavailable', 'lost worker "alpha" during transfer.send'), {
        times: 1,
        when: isVolume('web-data'),
      });
      gateway.fail('volume.sync_forget', new AppError('unavailable', 'worker "alpha" is offline'), {
        times: 1,
      });

      const { id } = await service.start(request({ mode: 'warm' }));
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('rolled_back');
      expect(events.map((e) => e.message)).toContainEqual(
        'the source worker keeps what it kept between the copy rounds for now (worker "alpha" is offline); it is told to drop it once it is back online',
      );
      const after = await keptUntilReconnect(id);
      expect(after.at(-1)?.message).toBe(
        'the source worker is back online and dropped what it kept between the copy rounds',
      );
    });

    it('is dropped once the worker is back, after a completed migration that could not tell it', async () => {
      gateway.fail('volume.sync_forget', new AppError('unavailable', 'worker "alpha" is offline'), {
        times: 1,
      });

      const { id } = await service.start(request({ mode: 'warm' }));
      const { migration } = await finished(id);

      expect(migration.status).toBe('completed');
      const after = await keptUntilReconnect(id);
      expect(after.at(-1)?.message).toBe(
        'the source worker is back online and dropped what it kept between the copy rounds',
      );
    });

    it('is not asked about again once dropped', async () => {
      const { id } = await service.start(request({ mode: 'warm' }));
      await finished(id);
      await reconnectSource();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(gateway.lines().filter((line) => line === 'source volume.sync_forget')).toHaveLength(1);
    });
  });

  describe('after a master restart', () => {
    it('rolls back a migration that was left running', async () => {
      gateway.hang('transfer.receive', isVolume('db-data'));
      gateway.hang('transfer.send', isVolume('db-data'));
      const { id } = await service.start(request());
      await vi.waitFor(async () => {
        const stored = await store.getMigration(id);
        expect(stored?.state.undo).toContainEqual({ kind: 'create', type: 'volume', name: 'db-data' });
      });
      // The master dies here: its runner never hears back. A new one starts over the same database.
      const { restarted, afterRestart } = await restartMaster();

      await restarted.recover();
      expect(restarted.activeCount).toBe(1);
      const { migration, events } = await finished(id, restarted);

      expect(afterRestart.lines()).toEqual([
        'target volume.remove db-data',
        'target volume.remove web-data',
        'target image.untag postgres:16',
        `target image.remove ${POSTGRES_ID}`,
        'target image.untag nginx:1.27',
        `target image.remove ${NGINX_ID}`,
        'target network.remove appnet',
        ...RESTARTS_SOURCE,
      ]);
      expect(migration).toMatchObject({
        status: 'rolled_back',
        phase: 'done',
        error:
          'the master running this migration stopped (a restart, or another master took over) before its switch-over point',
      });
      expect(messages(events)).toContain(
        'rolling back: the master running this migration stopped (a restart, or another master took over) before its switch-over point',
      );
    });

    it('leaves finished migrations alone', async () => {
      const { id } = await service.start(request());
      await finished(id);
      const afterRestart = new FakeWorkerGateway();
      const restarted = createService({ gateway: afterRestart });
      await restarted.recover();
      expect(restarted.activeCount).toBe(0);
      expect(afterRestart.calls).toEqual([]);
      expect((await restarted.get(id)).migration.status).toBe('completed');
    });
  });

  describe('safety under faults', () => {
    it('after a restart past the switch-over point, finishes the migration and never touches the target', async () => {
      // The master dies while removing the source containers: everything already runs on the target.
      gateway.hang('container.remove', (c) => c.workerId === SOURCE);
      const { id } = await service.start(request({ sourcePolicy: 'remove' }));
      await vi.waitFor(async () => {
        const stored = await store.getMigration(id);
        expect(stored?.phase).toBe('finalize');
      });
      const { restarted, afterRestart } = await restartMaster();

      await restarted.recover();
      const { migration, events } = await finished(id, restarted);

      expect(migration.status).toBe('completed');
      expect(migration.state.switchedOverAt).toEqual(expect.any(String));
      expect(afterRestart.lines()).toEqual(['source container.remove web', 'source container.remove db']);
      expect(messages(events)).toContain(
        'the master running this migration stopped after everything was running on the target: finishing the migration',
      );
    });

    it('rolls back a migration the master left just before its switch-over point', async () => {
      gateway.hang('container.await_ready', (c) => c.args.ref === 'target-db');
      const { id } = await service.start(request());
      await vi.waitFor(async () => {
        expect((await store.getMigration(id))?.phase).toBe('start');
        expect(gateway.lines()).toContain('target container.await_ready target-db');
      });
      const { restarted, afterRestart } = await restartMaster();
      await restarted.recover();
      const { migration } = await finished(id, restarted);
      expect(migration.status).toBe('rolled_back');
      expect(afterRestart.lines().slice(0, 2)).toEqual([
        'target container.remove db',
        'target container.remove web',
      ]);
      expect(afterRestart.stoppedOnSource.size).toBe(0);
    });

    it('starts the source again when a cancelled stop still lands on the worker after the cancel', async () => {
      gateway.actsAfterCancel('container.stop', 30, (c) => c.args.ref === WEB_ID);
      const { id } = await service.start(request());
      await vi.waitFor(() => {
        expect(gateway.lines()).toContain('source container.stop web');
      });
      await service.cancel(id);
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('cancelled');
      // The stop's answer was lost, but the worker stopped web anyway: rollback waited for it, saw it, started it.
      expect(gateway.stoppedOnSource.has(WEB_ID)).toBe(false);
      expect(gateway.lines().slice(-2)).toEqual([
        'source container.inspect web',
        'source container.start web',
      ]);
      expect(messages(events)).toContain('container web running again on the source');
    });

    it('keeps the target’s objects aside under overwrite and restores them on rollback', async () => {
      const oldWeb = sampleContainer({
        id: 'a'.repeat(64),
        name: 'web',
        state: 'running',
        ports: [],
        volumeNames: ['web-data'],
      });
      const target = targetInventory({
        containers: [oldWeb],
        volumes: [sampleVolume({ name: 'web-data' })],
        networks: [sampleNetwork({ id: 'f'.repeat(64) }), { ...appnet, id: 'c'.repeat(64) }],
      });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;
      gateway.fail('container.await_ready', new AppError('deadline_exceeded', 'web is unhealthy'), {
        times: 1,
      });

      const { id } = await service.start(request({ containers: ['web'], conflictPolicy: 'overwrite' }));
      const { migration, events } = await finished(id);

      expect(migration.status).toBe('rolled_back');
      const aside = `-dm-aside-${id.slice(2, 14)}`;
      const changes = gateway
        .lines()
        .filter((line) => line.startsWith('target') && !/inspect|layer_chains|describe/.test(line));
      expect(changes).toEqual([
        `target transfer.receive ${NGINX_ID}`,
        // Nothing of the target's is removed: its network is kept, its volume's content and container set aside.
        'target volume.set_aside web-data',
        'target transfer.receive web-data',
        `target container.stop ${'a'.repeat(64)}`,
        `target container.rename ${'a'.repeat(64)} → web${aside}`,
        'target container.create web',
        'target container.start target-web',
        'target container.await_ready target-web',
        // Rollback, newest first: the new container goes, the old one comes back and runs, the volume's content too.
        'target container.remove web',
        `target container.rename web${aside} → web`,
        'target container.start web',
        'target volume.restore_aside web-data',
        'target image.untag nginx:1.27',
        `target image.remove ${NGINX_ID}`,
      ]);
      expect(messages(events)).toContain(
        'network appnet already exists on the target with the same settings; kept',
      );
    });

    it('never repeats an undone step when a rollback starts again after a restart', async () => {
      const oldWeb = sampleContainer({
        id: 'a'.repeat(64),
        name: 'web',
        state: 'exited',
        ports: [],
        volumeNames: ['web-data'],
      });
      const target = targetInventory({ containers: [oldWeb], volumes: [sampleVolume({ name: 'web-data' })] });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;
      gateway.fail('container.await_ready', new AppError('deadline_exceeded', 'web is unhealthy'), {
        times: 1,
      });
      // The master dies while restoring the volume: the new container is gone, the old one is back as "web".
      gateway.hang('volume.restore_aside');
      const { id } = await service.start(request({ containers: ['web'], conflictPolicy: 'overwrite' }));
      await vi.waitFor(() => {
        expect(gateway.lines().at(-1)).toBe('target volume.restore_aside web-data');
      });
      const { restarted, afterRestart } = await restartMaster();
      await restarted.recover();
      const { migration } = await finished(id, restarted);

      expect(migration.status).toBe('rolled_back');
      expect(afterRestart.lines().filter((line) => !line.includes('inspect'))).toEqual([
        'target volume.restore_aside web-data',
        'target image.untag nginx:1.27',
        `target image.remove ${NGINX_ID}`,
        'target network.remove appnet',
        'source container.start web',
      ]);
    });

    it('under overwrite, removes what it kept aside only once everything runs: containers before their volumes', async () => {
      const oldWeb = sampleContainer({
        id: 'a'.repeat(64),
        name: 'web',
        state: 'exited',
        ports: [],
        volumeNames: ['web-data'],
      });
      const target = targetInventory({ containers: [oldWeb], volumes: [sampleVolume({ name: 'web-data' })] });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;

      const { id } = await service.start(request({ containers: ['web'], conflictPolicy: 'overwrite' }));
      const { migration } = await finished(id);

      expect(migration.status).toBe('completed');
      const aside = `-dm-aside-${id.slice(2, 14)}`;
      const ready = gateway.indexOf((c) => c.kind === 'container.await_ready');
      expect(gateway.lines(ready + 1)).toEqual([
        `target container.remove web${aside}`,
        `target volume.remove web-data${aside}`,
      ]);
      expect(gateway.lines()).not.toContain(`target container.stop ${'a'.repeat(64)}`);
    });

    it('loads an image under its renamed tags under rename, and never moves or removes the target’s tag', async () => {
      const other = sampleImage({ id: 'sha256:' + '0'.repeat(64), tags: ['nginx:1.27'] });
      const target = targetInventory({ images: [other] });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;
      gateway.fail('container.create', new AppError('internal', 'boom'), { times: 1 });

      const { id } = await service.start(request({ containers: ['web'], conflictPolicy: 'rename' }));
      const { migration } = await finished(id);

      expect(migration.status).toBe('rolled_back');
      const receive = gateway.calls.find(
        (c) => c.kind === 'transfer.receive' && resourceOf(c)?.type === 'image',
      );
      expect(receive?.args.resource).toEqual({
        type: 'image',
        name: NGINX_ID,
        tags: ['nginx:1.27-migrated'],
      });
      const grant = verifyGrant(String(receive?.args.grant), {
        ca: ca.certPem,
        transferId: String(receive?.args.transferId),
        expect: { sourceWorkerId: SOURCE, targetWorkerId: TARGET },
      });
      expect(grant.resource).toEqual({ type: 'image', name: NGINX_ID, tags: ['nginx:1.27-migrated'] });
      const touched = gateway.lines().filter((line) => /image\.(tag|untag|remove)/.test(line));
      // Only what this migration made: the renamed tag it loaded, then its image.
      expect(touched).toEqual(['target image.untag nginx:1.27-migrated', `target image.remove ${NGINX_ID}`]);
    });

    it('under overwrite, points a moved tag back at the target’s image on rollback', async () => {
      const otherId = 'sha256:' + '0'.repeat(64);
      const target = targetInventory({ images: [sampleImage({ id: otherId, tags: ['nginx:1.27'] })] });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;
      gateway.fail('container.create', new AppError('internal', 'boom'), { times: 1 });

      const { id } = await service.start(request({ containers: ['web'], conflictPolicy: 'overwrite' }));
      const { migration } = await finished(id);

      expect(migration.status).toBe('rolled_back');
      const touched = gateway.lines().filter((line) => /image\.(tag|untag|remove)/.test(line));
      expect(touched).toEqual([`target image.tag ${otherId}`, `target image.remove ${NGINX_ID}`]);
      expect(gateway.calls.find((c) => c.kind === 'image.tag')?.args.tags).toEqual(['nginx:1.27']);
    });

    it('adds the asked-for tag to an image the target holds under another tag, and removes only that tag on rollback', async () => {
      const target = targetInventory({ images: [sampleImage({ id: NGINX_ID, tags: ['nginx:old'] })] });
      registry.snapshot(TARGET, 2, target);
      gateway.target = target;

      const { id } = await service.start(request({ containers: ['web'] }));
      const { migration } = await finished(id);
      expect(migration.status).toBe('completed');
      const tag = gateway.calls.find((c) => c.kind === 'image.tag');
      expect(tag?.args).toEqual({ id: NGINX_ID, tags: ['nginx:1.27'] });
      expect(gateway.lines()).not.toContain(`target transfer.receive ${NGINX_ID}`);

      gateway.fail('container.create', new AppError('internal', 'boom'), { times: 1 });
      const again = await service.start(request({ containers: ['web'] }));
      const rolledBack = await finished(again.id);
      expect(rolledBack.migration.status).toBe('rolled_back');
      const touched = gateway.lines().filter((line) => /image\.(untag|remove)/.test(line));
      expect(touched).toEqual(['target image.untag nginx:1.27']);
    });

    it('refuses with 409 a second migration of a container another one is moving, naming it', async () => {
      gateway.hang('transfer.send', isVolume('web-data'));
      const first = await service.start(request({ containers: ['web'] }));
      const error = await failureOf(service.start(request({ containers: ['web'] })));
      expect(error.code).toBe('conflict');
      expect(error.message).toContain(first.id);
      expect(error.details).toMatchObject({ migrationId: first.id });
      expect((await store.listMigrations()).map((m) => m.id)).toEqual([first.id]);

      await service.cancel(first.id);
      await finished(first.id);
      gateway.calls.length = 0;
      const third = await service.start(request({ containers: ['db'] }));
      expect(third.status).toBe('pending');
    });

    it('aborts a transfer that makes no progress for the stall timeout and rolls back', async () => {
      service = new MigrationService({
        store,
        registry,
        gateway,
        caKeyPem: ca.keyPem,
        logger,
        transferStallTimeoutMs: 50,
      });
      gateway.hang('transfer.receive', isVolume('web-data'));
      gateway.hang('transfer.send', isVolume('web-data'));
      const { id } = await service.start(request({ containers: ['web'] }));
      const { migration } = await finished(id);
      expect(migration.status).toBe('rolled_back');
      expect(migration.error).toBe(
        'volume web-data: the transfer made no progress for 0 s (the workers may no longer reach each other)',
      );
    });

    it('holds a migration at a failpoint and announces it', async () => {
      service = new MigrationService({
        store,
        registry,
        gateway,
        caKeyPem: ca.keyPem,
        logger,
        failpoints: { pause: { create: 40 } },
      });
      const { id } = await service.start(request({ containers: ['web'] }));
      const { migration, events } = await finished(id);
      expect(migration.status).toBe('completed');
      const paused = events.findIndex((e) => e.message === 'failpoint: paused 40 ms before create');
      expect(paused).toBeGreaterThan(0);
      // Held before create begins: in the phase before it.
      expect(events[paused]?.phase).toBe('transfer');
    });
  });
});
