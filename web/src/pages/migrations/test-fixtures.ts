// Realistic API answers for the migration pages' tests: two online workers and an offline one, a compose project.
import type {
  ContainerJson,
  DryRunJson,
  FindingJson,
  MigrationJson,
  MigrationWorkerJson,
  ResourceJson,
  WorkerResourcesJson,
} from '../../api/migration-types';

export const MIB = 1024 * 1024;

export const WORKERS: MigrationWorkerJson[] = [
  { id: 'w-alpha', name: 'alpha', online: true, status: 'online' },
  { id: 'w-beta', name: 'beta', online: true, status: 'online' },
  { id: 'w-gamma', name: 'gamma', online: false, status: 'offline' },
];

function container(partial: Partial<ContainerJson> & Pick<ContainerJson, 'id' | 'name'>): ContainerJson {
  return {
    image: 'busybox:latest',
    imageId: 'sha256:busybox',
    state: 'running',
    status: 'Up 3 hours',
    labels: {},
    volumeNames: [],
    networkNames: ['bridge'],
    ...partial,
  };
}

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
    { id: 'sha256:img-nginx', tags: ['nginx:1.27'], size: 190 * MIB, labels: {} },
    { id: 'sha256:img-postgres', tags: ['postgres:16'], size: 420 * MIB, labels: {} },
    { id: 'sha256:img-redis', tags: ['redis:7'], size: 110 * MIB, labels: {} },
    { id: 'sha256:0123456789abcdef', tags: [], size: 5 * MIB, labels: {} },
  ],
  volumes: [
    { name: 'app-data', driver: 'local', labels: { 'com.docker.compose.project': 'shop' }, size: 12 * MIB },
    { name: 'db-data', driver: 'local', labels: {}, size: 300 * MIB },
    { name: 'scratch', driver: 'local', labels: {} },
  ],
  networks: [
    { id: 'n-bridge', name: 'bridge', driver: 'bridge', labels: {}, builtIn: true },
    { id: 'n-host', name: 'host', driver: 'host', labels: {}, builtIn: true },
    { id: 'n-none', name: 'none', driver: 'null', labels: {}, builtIn: true },
    { id: 'n-shop', name: 'shop_default', driver: 'bridge', labels: {}, builtIn: false },
    { id: 'n-tools', name: 'tools', driver: 'bridge', labels: {}, builtIn: false },
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
    error: null,
    cancel_requested: false,
    source_worker_id: 'w-alpha',
    target_worker_id: 'w-beta',
    mode: 'cold',
    strategy: 'full',
    transfer_mode: 'auto',
    conflict_policy: 'fail',
    source_policy: 'keep_stopped',
    resources: APP_PLAN,
    findings: [],
    ...partial,
  };
}
