// Sample workers and Docker resources for tests: one plausible value of each type, changed by overrides.
import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from '../docker-resources.js';
import type { MigrationRecord, MigrationRequest } from '../migration.js';
import type { Inventory, WorkerRecord } from '../workers.js';

/** An enrolled worker that has not been seen yet; a test overrides the fields it is about. */
export function sampleWorker(overrides: Partial<WorkerRecord> = {}): WorkerRecord {
  return {
    id: 'w-000000000001',
    name: 'alpha',
    hostname: 'alpha.example.internal',
    labels: { zone: 'eu-west-1a' },
    version: '0.1.0',
    advertiseAddress: '10.0.0.1:7443',
    dockerVersion: '27.3.1',
    enrolledAt: '2025-01-02T03:04:05.000Z',
    lastSeenAt: null,
    system: null,
    activeTasks: 0,
    revokedAt: null,
    ...overrides,
  };
}

/** A running nginx container publishing port 80 as 8080, with one volume on the default bridge. */
export function sampleContainer(overrides: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    id: 'c0ffee0000000000000000000000000000000000000000000000000000000001',
    name: 'web',
    image: 'nginx:1.27',
    imageId: 'sha256:1111',
    command: 'nginx -g daemon off;',
    state: 'running',
    status: 'Up 3 minutes',
    created: 1_735_000_000,
    labels: {},
    ports: [{ privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' }],
    volumeNames: ['web-data'],
    networkNames: ['bridge'],
    ...overrides,
  };
}

/** The image of sampleContainer(). */
export function sampleImage(overrides: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id: 'sha256:1111',
    tags: ['nginx:1.27'],
    digests: [],
    size: 190_000_000,
    created: 1_734_000_000,
    labels: {},
    containers: 1,
    ...overrides,
  };
}

/** A local volume whose mountpoint follows its name, as the Engine's local driver places it. */
export function sampleVolume(overrides: Partial<VolumeSummary> = {}): VolumeSummary {
  const name = overrides.name ?? 'web-data';
  return {
    name,
    driver: 'local',
    mountpoint: `/var/lib/docker/volumes/${name}/_data`,
    labels: {},
    options: {},
    scope: 'local',
    ...overrides,
  };
}

/** The Engine's built-in bridge network. */
export function sampleNetwork(overrides: Partial<NetworkSummary> = {}): NetworkSummary {
  return {
    id: 'n0000000000000000000000000000000000000000000000000000000000000001',
    name: 'bridge',
    driver: 'bridge',
    scope: 'local',
    internal: false,
    attachable: false,
    ipv6: false,
    labels: {},
    options: {},
    ipam: { driver: 'default', config: [{ subnet: '172.17.0.0/16' }], options: {} },
    builtIn: true,
    ...overrides,
  };
}

/** An inventory with one running and one exited container, an image, a volume and a network. */
export function sampleInventory(): Inventory {
  return {
    containers: [
      sampleContainer(),
      sampleContainer({
        id: 'dead000000000000000000000000000000000000000000000000000000000002',
        name: 'job',
        state: 'exited',
        status: 'Exited (0) 1 hour ago',
      }),
    ],
    images: [sampleImage()],
    volumes: [sampleVolume()],
    networks: [sampleNetwork()],
  };
}

/** A cold migration of one container from worker "a" to "b", nothing planned; a test overrides what it is about. */
export function sampleMigration(
  overrides: Partial<Omit<MigrationRecord, 'request'>> & { request?: Partial<MigrationRequest> } = {},
): MigrationRecord {
  const { request, ...rest } = overrides;
  return {
    id: 'm-000000000001',
    status: 'completed',
    phase: 'done',
    plan: { resources: [], findings: [], totalBytes: 0 },
    progress: 1,
    bytesTransferred: 0,
    totalBytes: 0,
    rateBytesPerSecond: 0,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: '2026-01-01T00:00:00.000Z',
    completedAt: '2026-01-01T00:01:00.000Z',
    downtimeMs: null,
    timing: { downtime: null, rounds: [] },
    error: null,
    cancelRequested: false,
    state: { sourceRunning: [], sourceStopped: [], created: [], completedSteps: [] },
    ...rest,
    request: {
      sourceWorkerId: 'a',
      targetWorkerId: 'b',
      containers: ['web'],
      images: [],
      volumes: [],
      networks: [],
      composeProjects: [],
      mode: 'cold',
      strategy: 'full',
      transferMode: 'auto',
      conflictPolicy: 'fail',
      sourcePolicy: 'keep_stopped',
      bindMounts: {},
      ...request,
    },
  };
}
