// Planning a migration: what a request resolves to on the source, what comes along with it, and in what order.
import { describe, expect, it } from 'vitest';
import type { ContainerDetails, ContainerSummary, ImageSummary } from './docker-resources.js';
import { AppError } from './errors.js';
import type { MigrationPlan, MigrationRequest } from './migration.js';
import { normaliseImageRef, planMigration, type PlanSource } from './migration-plan.js';
import { sampleContainer, sampleImage, sampleNetwork, sampleVolume } from './testing/sample-resources.js';

const NGINX = 'sha256:1111aaaa00000000000000000000000000000000000000000000000000000000';
const POSTGRES = 'sha256:2222bbbb00000000000000000000000000000000000000000000000000000000';
const ALPINE = 'sha256:abcd000000000000000000000000000000000000000000000000000000000000';
const DANGLING = 'sha256:abce000000000000000000000000000000000000000000000000000000000000';

const WEB_ID = 'c0ffee0100000000000000000000000000000000000000000000000000000001';
const DB_ID = 'c0ffee0200000000000000000000000000000000000000000000000000000002';
const API_ID = 'abc1230000000000000000000000000000000000000000000000000000000003';
const FRONT_ID = 'f00d000000000000000000000000000000000000000000000000000000000001';
const BACK_ID = 'ba5e000000000000000000000000000000000000000000000000000000000002';

const shop = (service: string, extra: Record<string, string> = {}): Record<string, string> => ({
  'com.docker.compose.project': 'shop',
  'com.docker.compose.service': service,
  ...extra,
});

const web = sampleContainer({
  id: WEB_ID,
  name: 'web',
  image: 'nginx:1.27',
  imageId: NGINX,
  volumeNames: ['web-data'],
  networkNames: ['bridge', 'front'],
});
const db = sampleContainer({
  id: DB_ID,
  name: 'db',
  image: 'postgres:16',
  imageId: POSTGRES,
  labels: shop('db'),
  ports: [],
  volumeNames: ['db-data'],
  networkNames: ['back'],
});
const api = sampleContainer({
  id: API_ID,
  name: 'api',
  image: 'alpine',
  imageId: ALPINE,
  labels: shop('api', { 'com.docker.compose.depends_on': 'db:service_started:false' }),
  ports: [],
  volumeNames: [],
  networkNames: ['back', 'front'],
});

const images: ImageSummary[] = [
  sampleImage({ id: NGINX, tags: ['nginx:1.27'], size: 190_000_000 }),
  sampleImage({ id: POSTGRES, tags: ['postgres:16', 'postgres:latest'], size: 400_000_000 }),
  sampleImage({ id: ALPINE, tags: ['alpine:latest'], size: 8_000_000 }),
  sampleImage({ id: DANGLING, tags: [], size: 1_000 }),
];

/** Inspect details whose mounts follow the summary's volume names. */
function details(summary: ContainerSummary, extra: Partial<ContainerDetails> = {}): ContainerDetails {
  return {
    ...summary,
    restartCount: 0,
    mounts: summary.volumeNames.map((name) => ({
      type: 'volume' as const,
      name,
      source: `/var/lib/docker/volumes/${name}/_data`,
      destination: `/data/${name}`,
      readOnly: false,
    })),
    raw: {},
    ...extra,
  };
}

function source(overrides: Partial<PlanSource> = {}): PlanSource {
  return {
    name: 'alpha',
    inventory: {
      // api before db, so that ordering by depends_on shows.
      containers: [web, api, db],
      images,
      volumes: [
        sampleVolume({ name: 'web-data', size: 1_000 }),
        sampleVolume({ name: 'db-data', size: 5_000, labels: shop('db') }),
        sampleVolume({ name: 'shop_unused', size: null, labels: { 'com.docker.compose.project': 'shop' } }),
        sampleVolume({ name: 'cache' }),
      ],
      networks: [
        sampleNetwork(),
        sampleNetwork({
          id: 'n0000000000000000000000000000000000000000000000000000000000000002',
          name: 'host',
        }),
        sampleNetwork({ id: FRONT_ID, name: 'front', builtIn: false }),
        sampleNetwork({
          id: BACK_ID,
          name: 'back',
          builtIn: false,
          labels: { 'com.docker.compose.project': 'shop' },
        }),
      ],
    },
    containers: { [WEB_ID]: details(web), [DB_ID]: details(db), [API_ID]: details(api) },
    ...overrides,
  };
}

function request(overrides: Partial<MigrationRequest> = {}): MigrationRequest {
  return {
    sourceWorkerId: 'w-000000000001',
    targetWorkerId: 'w-000000000002',
    containers: [],
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
    ...overrides,
  };
}

/** "type:name:reason" per resource, in plan order. */
function summary(plan: MigrationPlan): string[] {
  return plan.resources.map((r) => `${r.type}:${r.name}:${r.reason}`);
}

function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('expected an AppError');
}

describe('planMigration: containers', () => {
  it.each([
    ['its exact name', 'web'],
    ['its name with the leading slash the Engine uses', '/web'],
    ['its full id', WEB_ID],
    ['a unique id prefix', 'c0ffee01'],
    ['a unique id prefix in upper case', 'C0FFEE01'],
  ])('finds a container by %s', (_how, ref) => {
    const plan = planMigration(request({ containers: [ref] }), source());
    expect(plan.resources.filter((r) => r.type === 'container')).toEqual([
      expect.objectContaining({ name: 'web', sourceId: WEB_ID, reason: 'requested' }),
    ]);
  });

  it('refuses an id prefix that matches several containers, naming them', () => {
    const error = thrown(() => planMigration(request({ containers: ['c0ffee'] }), source()));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('container "c0ffee" is ambiguous on worker alpha');
    expect(error.message).toContain('web (c0ffee010000)');
    expect(error.message).toContain('db (c0ffee020000)');
  });

  it('does not guess from an id prefix shorter than 4 characters', () => {
    const error = thrown(() => planMigration(request({ containers: ['abc'] }), source()));
    expect(error.code).toBe('not_found');
  });

  it('names the worker when a container is not found', () => {
    const error = thrown(() => planMigration(request({ containers: ['nope'] }), source()));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('container "nope" not found on worker alpha');
  });

  it('names the worker by id when its name is not given', () => {
    const error = thrown(() =>
      planMigration(request({ containers: ['nope'] }), { ...source(), name: undefined }),
    );
    expect(error.message).toBe('container "nope" not found on worker w-000000000001');
  });

  it('brings along the image, named volumes and user-defined networks, never the built-in bridge', () => {
    const plan = planMigration(request({ containers: ['web'] }), source());
    expect(summary(plan)).toEqual([
      'network:front:dependency',
      'image:nginx:1.27:dependency',
      'volume:web-data:dependency',
      'container:web:requested',
    ]);
    expect(plan.resources.find((r) => r.type === 'network')?.sourceId).toBe(FRONT_ID);
    expect(plan.resources.find((r) => r.type === 'image')?.sourceId).toBe(NGINX);
  });

  it('estimates bytes: image size and volume size, nothing for containers and networks', () => {
    const plan = planMigration(request({ containers: ['web'] }), source());
    expect(plan.resources.map((r) => [r.name, r.estimatedBytes])).toEqual([
      ['front', 0],
      ['nginx:1.27', 190_000_000],
      ['web-data', 1_000],
      ['web', 0],
    ]);
    expect(plan.totalBytes).toBe(190_001_000);
    expect(plan.findings).toEqual([]);
  });

  it("takes a volume's estimate from its measured apparent bytes and keeps the measurement", () => {
    const measured = {
      apparentBytes: 1024 ** 3,
      allocatedBytes: 8_192,
      files: 1,
      method: 'walk' as const,
      measuredAt: '2026-01-01T00:00:00.000Z',
    };
    const plan = planMigration(
      request({ containers: ['web'] }),
      source({ volumeSizes: { 'web-data': measured } }),
    );
    expect(plan.resources.find((r) => r.name === 'web-data')).toMatchObject({
      estimatedBytes: 1024 ** 3,
      measured,
    });
    expect(plan.totalBytes).toBe(190_000_000 + 1024 ** 3);
  });

  it('starts every resource pending, to be created under its own name, with nothing moved', () => {
    const plan = planMigration(request({ composeProjects: ['shop'], containers: ['web'] }), source());
    for (const r of plan.resources) {
      expect(r).toMatchObject({ status: 'pending', bytes: 0, action: 'create', targetName: r.name });
    }
  });

  it('takes volumes from the inspected mounts, leaving out bind mounts', () => {
    const inspected = details(web, {
      mounts: [
        {
          type: 'volume',
          name: 'cache',
          source: '/var/lib/docker/volumes/cache/_data',
          destination: '/c',
          readOnly: false,
        },
        { type: 'bind', source: '/srv/html', destination: '/usr/share/nginx/html', readOnly: true },
        { type: 'tmpfs', source: '', destination: '/tmp', readOnly: false },
      ],
    });
    const plan = planMigration(
      request({ containers: ['web'] }),
      source({ containers: { [WEB_ID]: inspected } }),
    );
    expect(plan.resources.filter((r) => r.type === 'volume').map((r) => r.name)).toEqual(['cache']);
  });

  it('counts a volume whose size the Engine cannot tell as 0 bytes', () => {
    const inspected = details({ ...web, volumeNames: ['cache'] });
    const plan = planMigration(
      request({ containers: ['web'] }),
      source({ containers: { [WEB_ID]: inspected } }),
    );
    expect(plan.resources.find((r) => r.name === 'cache')?.estimatedBytes).toBe(0);
  });

  it('falls back to the summary when a container has no inspect details', () => {
    const plan = planMigration(request({ containers: ['web'] }), source({ containers: {} }));
    expect(summary(plan)).toContain('volume:web-data:dependency');
  });

  it("names an untagged image after the container's image reference", () => {
    const untagged = { ...web, image: 'nginx:old', imageId: DANGLING };
    const plan = planMigration(
      request({ containers: ['web'] }),
      source({ containers: { [WEB_ID]: details(untagged) } }),
    );
    expect(plan.resources.find((r) => r.type === 'image')).toMatchObject({
      name: 'nginx:old',
      sourceId: DANGLING,
      estimatedBytes: 1_000,
    });
  });

  it('takes a network id from the inspect document when the inventory lacks the network', () => {
    const inspected = details(
      { ...web, networkNames: ['gone'] },
      { raw: { NetworkSettings: { Networks: { gone: { NetworkID: 'beef' } } } } },
    );
    const plan = planMigration(
      request({ containers: ['web'] }),
      source({ containers: { [WEB_ID]: inspected } }),
    );
    expect(plan.resources.find((r) => r.type === 'network')).toMatchObject({
      name: 'gone',
      sourceId: 'beef',
    });
  });
});

describe('planMigration: images, volumes, networks', () => {
  it.each([
    ['"repo:tag"', 'postgres:16'],
    ['"repo" meaning repo:latest', 'postgres'],
    ['a fully qualified Docker Hub reference', 'docker.io/library/postgres:16'],
    ['its full id', POSTGRES],
    ['its id without the sha256: prefix', POSTGRES.slice('sha256:'.length)],
    ['an id prefix', 'sha256:2222'],
    ['a bare id prefix', '2222bb'],
  ])('finds an image by %s', (_how, ref) => {
    const plan = planMigration(request({ images: [ref] }), source());
    expect(plan.resources).toEqual([
      expect.objectContaining({
        type: 'image',
        name: 'postgres:16',
        sourceId: POSTGRES,
        reason: 'requested',
        estimatedBytes: 400_000_000,
      }),
    ]);
    expect(plan.totalBytes).toBe(400_000_000);
  });

  it('does not take "repo" for a tag other than latest', () => {
    const error = thrown(() => planMigration(request({ images: ['nginx'] }), source()));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('image "nginx" not found on worker alpha');
  });

  it('does not guess an image from fewer than 4 id characters', () => {
    expect(thrown(() => planMigration(request({ images: ['abc'] }), source())).code).toBe('not_found');
    expect(thrown(() => planMigration(request({ images: ['sha256:abc'] }), source())).code).toBe('not_found');
  });

  it('names both candidates of an ambiguous image prefix', () => {
    const twins = [
      ...images,
      sampleImage({
        id: 'sha256:abcd100000000000000000000000000000000000000000000000000000000000',
        tags: ['twin:1'],
      }),
    ];
    const error = thrown(() =>
      planMigration(
        request({ images: ['abcd'] }),
        source({ inventory: { ...source().inventory, images: twins } }),
      ),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('alpine:latest (abcd00000000)');
    expect(error.message).toContain('twin:1 (abcd10000000)');
  });

  it('names an untagged requested image by its id', () => {
    const plan = planMigration(request({ images: ['abce'] }), source());
    expect(plan.resources[0]).toMatchObject({ name: DANGLING, sourceId: DANGLING });
  });

  it('finds a volume by its exact name only', () => {
    const plan = planMigration(request({ volumes: ['web-data'] }), source());
    expect(summary(plan)).toEqual(['volume:web-data:requested']);
    expect(plan.totalBytes).toBe(1_000);
    const error = thrown(() => planMigration(request({ volumes: ['web'] }), source()));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('volume "web" not found on worker alpha');
  });

  it.each([
    ['name', 'front'],
    ['id', FRONT_ID],
    ['id prefix', 'f00d'],
  ])('finds a network by %s', (_how, ref) => {
    const plan = planMigration(request({ networks: [ref] }), source());
    expect(plan.resources).toEqual([
      expect.objectContaining({ type: 'network', name: 'front', sourceId: FRONT_ID, estimatedBytes: 0 }),
    ]);
  });

  it.each(['bridge', 'host', 'n0000000000000000000000000000000000000000000000000000000000000001'])(
    'refuses to migrate the built-in network %s',
    (ref) => {
      const error = thrown(() => planMigration(request({ networks: [ref] }), source()));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(/^built-in network "(bridge|host)" is never migrated$/);
    },
  );

  it('refuses a network name two networks share, naming their ids', () => {
    const inventory = source().inventory;
    const twin = sampleNetwork({
      id: 'f00e000000000000000000000000000000000000000000000000000000000009',
      name: 'front',
      builtIn: false,
    });
    const error = thrown(() =>
      planMigration(
        request({ networks: ['front'] }),
        source({ inventory: { ...inventory, networks: [...inventory.networks, twin] } }),
      ),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('front (f00d00000000), front (f00e00000000)');
  });
});

describe('planMigration: compose projects', () => {
  it('takes every container, volume and network of the project, with what its containers need', () => {
    const plan = planMigration(request({ composeProjects: ['shop'] }), source());
    expect(summary(plan)).toEqual([
      'network:back:compose',
      'network:front:dependency',
      'image:alpine:latest:dependency',
      'image:postgres:16:dependency',
      'volume:db-data:compose',
      'volume:shop_unused:compose',
      'container:db:compose',
      'container:api:compose',
    ]);
    expect(plan.totalBytes).toBe(400_000_000 + 8_000_000 + 5_000);
  });

  it('says which label it looked for when a project has nothing', () => {
    const error = thrown(() => planMigration(request({ composeProjects: ['blog'] }), source()));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('compose project "blog" not found on worker alpha');
    expect(error.hint).toContain('com.docker.compose.project=blog');
  });
});

describe('planMigration: duplicates and order', () => {
  it('lists a resource once, as requested when it was asked for and also needed', () => {
    const plan = planMigration(
      request({ containers: ['web', WEB_ID], volumes: ['web-data'], networks: ['front'] }),
      source(),
    );
    expect(summary(plan)).toEqual([
      'network:front:requested',
      'image:nginx:1.27:dependency',
      'volume:web-data:requested',
      'container:web:requested',
    ]);
  });

  it('lists a resource once under its strongest reason: requested, then compose, then dependency', () => {
    const plan = planMigration(
      request({ containers: ['db'], composeProjects: ['shop'], images: ['alpine'] }),
      source(),
    );
    expect(plan.resources.find((r) => r.name === 'db')?.reason).toBe('requested');
    expect(plan.resources.find((r) => r.name === 'api')?.reason).toBe('compose');
    expect(plan.resources.find((r) => r.name === 'alpine:latest')?.reason).toBe('requested');
    expect(plan.resources.find((r) => r.name === 'db-data')?.reason).toBe('compose');
    expect(plan.resources.filter((r) => r.name === 'db')).toHaveLength(1);
  });

  it('creates a container after the containers it needs: compose depends_on, network mode, links, volumes-from', () => {
    const other = sampleContainer({
      id: 'dd00000000000000000000000000000000000000000000000000000000000004',
      name: 'sidecar',
      ports: [],
      volumeNames: [],
      networkNames: [],
    });
    const linker = sampleContainer({
      id: 'ee00000000000000000000000000000000000000000000000000000000000005',
      name: 'linker',
      ports: [],
      volumeNames: [],
      networkNames: [],
    });
    const inventory = { ...source().inventory, containers: [web, api, db, other, linker] };
    const containers = {
      ...source().containers,
      // web shares the network stack of sidecar; linker links to web and takes volumes from db.
      [WEB_ID]: details(web, { raw: { HostConfig: { NetworkMode: `container:${other.id}` } } }),
      [other.id]: details(other),
      [linker.id]: details(linker, {
        raw: { HostConfig: { Links: ['/web:/linker/web'], VolumesFrom: ['db:ro'] } },
      }),
    };
    const plan = planMigration(
      request({ containers: ['linker', 'web', 'api', 'sidecar', 'db'] }),
      source({ inventory, containers }),
    );
    expect(plan.resources.filter((r) => r.type === 'container').map((r) => r.name)).toEqual([
      'sidecar',
      'web',
      'db',
      'linker',
      'api',
    ]);
    // What each needs is kept, so that the source stops them in the reverse order (stopLevels).
    const needs = Object.fromEntries(
      plan.resources.filter((r) => r.type === 'container').map((r) => [r.name, r.needs ?? []]),
    );
    expect(needs.web).toEqual([other.id]);
    expect([...(needs.linker ?? [])].sort()).toEqual([WEB_ID, DB_ID].sort());
    expect(needs.sidecar).toEqual([]);
  });

  it('keeps the requested order for containers that need each other in a cycle', () => {
    const a = details(web, { raw: { HostConfig: { Links: ['/db:/web/db'] } } });
    const b = details(db, { labels: {}, raw: { HostConfig: { Links: ['/web:/db/web'] } } });
    const plan = planMigration(
      request({ containers: ['web', 'db'] }),
      source({ containers: { [WEB_ID]: a, [DB_ID]: b } }),
    );
    expect(plan.resources.filter((r) => r.type === 'container').map((r) => r.name)).toEqual(['web', 'db']);
  });
});

describe('planMigration: modes and empty requests', () => {
  it('refuses live migration, saying why and what to use instead', () => {
    const error = thrown(() => planMigration(request({ containers: ['web'], mode: 'live' }), source()));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('CRIU');
    expect(error.message).toContain('"cold"');
    expect(error.message).toContain('warm');
  });

  it('plans a warm migration as it plans a cold one: the mode decides how it runs, not what moves', () => {
    const warm = planMigration(request({ containers: ['web'], mode: 'warm' }), source());
    const cold = planMigration(request({ containers: ['web'], mode: 'cold' }), source());
    expect(warm.resources).toEqual(cold.resources);
  });

  it('refuses a request with nothing to move', () => {
    const error = thrown(() => planMigration(request(), source()));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('nothing to migrate');
  });
});

describe('normaliseImageRef', () => {
  it.each([
    ['nginx', 'nginx:latest'],
    ['nginx:1.27', 'nginx:1.27'],
    ['docker.io/library/nginx', 'nginx:latest'],
    ['docker.io/grafana/grafana:11', 'grafana/grafana:11'],
    ['localhost:5000/app', 'localhost:5000/app:latest'],
    ['localhost:5000/app:2', 'localhost:5000/app:2'],
    ['nginx@sha256:abcd', 'nginx@sha256:abcd'],
  ])('lists %s as %s', (ref, listed) => {
    expect(normaliseImageRef(ref)).toBe(listed);
  });
});
