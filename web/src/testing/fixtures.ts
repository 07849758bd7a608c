// Realistic API answers for the tests of every page: workers (two online, one offline), their Docker resources,
// a migration's plan, preflight findings and migrations.
import type { DryRunJson, FindingJson, MigrationJson, ResourceJson } from '../api/migration-types';
import type {
  ContainerSummary,
  ImageSummary,
  NetworkSummary,
  VolumeSummary,
  WorkerJson,
  WorkerResourcesJson,
} from '../api/worker-types';

export const MIB = 1024 * 1024;
const GIB = 1024 * MIB;

export function sampleWorker(overrides: Partial<WorkerJson> = {}): WorkerJson {
  return {
    id: 'w-alpha',
    name: 'alpha',
    hostname: 'alpha.lan',
    labels: { site: 'paris' },
    version: '0.1.0',
    status: 'online',
    online: true,
    last_heartbeat: new Date(Date.now() - 12_000).toISOString(),
    enrolled_at: '2026-11-01T10:00:00.000Z',
    grpc_address: '10.0.0.2:7443',
    docker_version: '28.1.1',
    active_tasks: 0,
    counts: { containers: 3, running_containers: 2, images: 4, volumes: 3, networks: 5 },
    system: {
      cpu_percent: 12.5,
      cpus: 4,
      memory_total_bytes: 8 * GIB,
      memory_used_bytes: 3 * GIB,
      docker_root_free_bytes: 20 * GIB,
    },
    ...overrides,
  };
}

export const WORKERS: WorkerJson[] = [
  sampleWorker(),
  sampleWorker({ id: 'w-beta', name: 'beta', hostname: 'beta.lan', labels: {} }),
  sampleWorker({ id: 'w-gamma', name: 'gamma', hostname: 'gamma.lan', online: false, status: 'offline' }),
];

export function container(
  partial: Partial<ContainerSummary> & Pick<ContainerSummary, 'id' | 'name'>,
): ContainerSummary {
  return {
    image: 'busybox:latest',
    imageId: 'sha256:busybox',
    command: 'sh',
    state: 'running',
    status: 'Up 3 hours',
    created: 1_764_000_000,
    labels: {},
    ports: [],
    volumeNames: [],
    networkNames: ['bridge'],
    ...partial,
  };
}

function image(id: string, tags: string[], size: number): ImageSummary {
  return { id, tags, digests: [], size, created: 1_760_000_000, labels: {}, containers: -1 };
}

function volume(name: string, partial: Partial<VolumeSummary> = {}): VolumeSummary {
  return {
    name,
    driver: 'local',
    mountpoint: `/var/lib/docker/volumes/${name}/_data`,
    labels: {},
    options: {},
    scope: 'local',
    ...partial,
  };
}

function network(
  partial: Partial<NetworkSummary> & Pick<NetworkSummary, 'id' | 'name'>,
  subnet?: string,
): NetworkSummary {
  return {
    driver: 'bridge',
    scope: 'local',
    internal: false,
    attachable: false,
    ipv6: false,
    labels: {},
    options: {},
    ipam: { driver: 'default', config: subnet === undefined ? [] : [{ subnet }], options: {} },
    builtIn: false,
    ...partial,
  };
}

/** A small worker for the worker page: a web server with a published port, a stopped database. */
export function sampleResources(workerId = 'w-alpha'): WorkerResourcesJson {
  return {
    worker_id: workerId,
    containers: [
      container({
        id: 'c-web',
        name: 'web',
        image: 'nginx:1.27',
        imageId: 'sha256:aaaa1111bbbb2222',
        status: 'Up 3 minutes (healthy)',
        ports: [{ privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' }],
        volumeNames: ['site-data'],
        networkNames: ['frontend'],
      }),
      container({
        id: 'c-db',
        name: 'db',
        image: 'postgres:17',
        imageId: 'sha256:cccc3333dddd4444',
        state: 'exited',
        status: 'Exited (0) 2 hours ago',
        volumeNames: ['pg-data'],
        networkNames: ['backend'],
      }),
    ],
    images: [
      image('sha256:aaaa1111bbbb2222', ['nginx:1.27'], 190 * MIB),
      image('sha256:cccc3333dddd4444', ['postgres:17'], 450 * MIB),
    ],
    volumes: [volume('site-data', { labels: { app: 'web' } }), volume('pg-data', { size: 5 * MIB })],
    networks: [
      network({ id: 'n-frontend', name: 'frontend' }, '172.20.0.0/16'),
      network({ id: 'n-backend', name: 'backend', internal: true }, '172.21.0.0/16'),
    ],
  };
}

/** The wizard's source: a compose project "shop" (app-1 and db-1), a lone container, built-in networks. */
export const ALPHA_RESOURCES: WorkerResourcesJson = {
  worker_id: 'w-alpha',
  containers: [
    container({
      id: 'c0ffee000001',
      name: 'app-1',
      image: 'nginx:1.27',
      imageId: 'sha256:img-nginx',
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'app' },
      volumeNames: ['app-data'],
      networkNames: ['shop_default', 'bridge'],
    }),
    container({
      id: 'c0ffee000002',
      name: 'db-1',
      image: 'postgres:16',
      imageId: 'sha256:img-postgres',
      state: 'exited',
      status: 'Exited (0) 2 minutes ago',
      labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'db' },
      volumeNames: ['db-data'],
      networkNames: ['shop_default'],
    }),
    container({
      id: 'c0ffee000003',
      name: 'cache',
      image: 'redis:7',
      imageId: 'sha256:img-redis',
      networkNames: ['host'],
    }),
  ],
  images: [
    image('sha256:img-nginx', ['nginx:1.27'], 190 * MIB),
    image('sha256:img-postgres', ['postgres:16'], 420 * MIB),
    image('sha256:img-redis', ['redis:7'], 110 * MIB),
    image('sha256:0123456789abcdef', [], 5 * MIB),
  ],
  volumes: [
    volume('app-data', { labels: { 'com.docker.compose.project': 'shop' }, size: 12 * MIB }),
    volume('db-data', { size: 300 * MIB }),
    volume('scratch'),
  ],
  networks: [
    network({ id: 'n-bridge', name: 'bridge', builtIn: true }),
    network({ id: 'n-host', name: 'host', driver: 'host', builtIn: true }),
    network({ id: 'n-none', name: 'none', driver: 'null', builtIn: true }),
    network({ id: 'n-shop', name: 'shop_default' }),
    network({ id: 'n-tools', name: 'tools' }),
  ],
};

export function planned(partial: Partial<ResourceJson> & Pick<ResourceJson, 'type' | 'name'>): ResourceJson {
  return {
    source_id: partial.name,
    target_name: partial.name,
    reason: 'dependency',
    action: 'create',
    status: 'pending',
    bytes: 0,
    estimated_bytes: 0,
    ...partial,
  };
}

export const APP_PLAN: ResourceJson[] = [
  planned({ type: 'network', name: 'shop_default', source_id: 'n-shop' }),
  planned({ type: 'image', name: 'nginx:1.27', source_id: 'sha256:img-nginx', estimated_bytes: 190 * MIB }),
  planned({ type: 'volume', name: 'app-data', estimated_bytes: 12 * MIB }),
  planned({ type: 'container', name: 'app-1', source_id: 'c0ffee000001', reason: 'requested' }),
];

export function dryRun(
  findings: FindingJson[],
  blocked = findings.some((f) => f.severity === 'error'),
): DryRunJson {
  return {
    dry_run: true,
    plan: { resources: APP_PLAN, total_bytes: 202 * MIB, findings },
    findings,
    blocked,
  };
}

export const RUNNING_WARNING: FindingJson = {
  severity: 'warning',
  code: 'container_running_source',
  message:
    'cold migration stops this running container on "alpha" while their data is copied (downtime until they start on "beta"), left stopped there afterwards: app-1',
};

export const NAME_CONFLICT_ERROR: FindingJson = {
  severity: 'error',
  code: 'name_conflict',
  message:
    'a container named "app-1" already exists on "beta"; remove it there or choose the skip, rename or overwrite conflict policy',
  resource: { type: 'container', name: 'app-1' },
};

export const UNMAPPED_BIND_ERROR: FindingJson = {
  severity: 'error',
  code: 'bind_mount_unmapped',
  message:
    'container "app-1" bind-mounts /srv/app/config (at /etc/nginx/conf.d), which has no rule; add a bind mount rule for /srv/app/config: the same path or another path on "beta", or skip',
  resource: { type: 'container', name: 'app-1' },
  details: { host_path: '/srv/app/config', container_path: '/etc/nginx/conf.d' },
};

export const ALREADY_PRESENT_INFO: FindingJson = {
  severity: 'info',
  code: 'already_present',
  message: 'image nginx:1.27 is already on "beta" with the same id; nothing to copy',
  resource: { type: 'image', name: 'nginx:1.27' },
};

export function migration(partial: Partial<MigrationJson> = {}): MigrationJson {
  return {
    id: 'm-0a1b2c3d4e5f',
    status: 'running',
    phase: 'transfer',
    progress: 0.4,
    bytes_transferred: 80 * MIB,
    total_bytes: 200 * MIB,
    rate_bytes_per_s: 10 * MIB,
    created_at: '2026-11-29T11:59:00.000Z',
    started_at: '2026-11-29T11:59:01.000Z',
    completed_at: null,
    downtime_ms: null,
    downtime_phases: null,
    rounds: [],
    error: null,
    cancel_requested: false,
    source_worker_id: 'w-alpha',
    target_worker_id: 'w-beta',
    mode: 'cold',
    strategy: 'full',
    transfer_mode: 'auto',
    compression: 'none',
    conflict_policy: 'fail',
    source_policy: 'keep_stopped',
    acknowledge: [],
    resources: APP_PLAN,
    findings: [],
    ...partial,
  };
}
