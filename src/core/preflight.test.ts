// Preflight: what a user is told before anything moves, and how name conflicts are settled per policy.
import { describe, expect, it } from 'vitest';
import type { ContainerDetails, ContainerSummary, ImageDetails } from './docker-resources.js';
import {
  VOLUME_COPY_LABEL,
  VOLUME_SOURCE_LABEL,
  type Finding,
  type MigrationPlan,
  type MigrationRequest,
  type PlannedResource,
  type ResourceType,
} from './migration.js';
import { planMigration } from './migration-plan.js';
import { formatBytes, normaliseArchitecture, preflight, type PreflightInput } from './preflight.js';
import { sampleContainer, sampleImage, sampleNetwork, sampleVolume } from './testing/sample-resources.js';
import type { Inventory } from './workers.js';

const NGINX = 'sha256:1111aaaa00000000000000000000000000000000000000000000000000000000';
const WEB_ID = 'c0ffee0100000000000000000000000000000000000000000000000000000001';
const FRONT_ID = 'f00d000000000000000000000000000000000000000000000000000000000001';

/** A stopped web container on the source: no ports in its summary, port 8080 in its configuration. */
const web = sampleContainer({
  id: WEB_ID,
  name: 'web',
  imageId: NGINX,
  state: 'exited',
  status: 'Exited (0) 1 minute ago',
  ports: [],
  volumeNames: ['web-data'],
  networkNames: ['front'],
});

function webDetails(extra: Partial<ContainerDetails> = {}): ContainerDetails {
  return {
    ...web,
    restartCount: 0,
    mounts: [
      {
        type: 'volume',
        name: 'web-data',
        source: '/var/lib/docker/volumes/web-data/_data',
        destination: '/data',
        readOnly: false,
      },
    ],
    raw: {
      HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } },
      Mounts: [{ Type: 'volume', Name: 'web-data', Driver: 'local' }],
    },
    ...extra,
  };
}

function nginxDetails(extra: Partial<ImageDetails> = {}): ImageDetails {
  return {
    ...sampleImage({ id: NGINX, tags: ['nginx:1.27'], size: 1_000_000 }),
    architecture: 'amd64',
    os: 'linux',
    layers: [],
    ...extra,
  };
}

function planned(type: ResourceType, name: string, extra: Partial<PlannedResource> = {}): PlannedResource {
  return {
    type,
    name,
    sourceId: name,
    targetName: name,
    reason: 'dependency',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
    ...extra,
  };
}

/** What planMigration makes of a request for "web": its network, image, volume and itself. */
function webPlan(): MigrationPlan {
  const resources = [
    planned('network', 'front', { sourceId: FRONT_ID }),
    planned('image', 'nginx:1.27', { sourceId: NGINX, estimatedBytes: 1_000_000 }),
    planned('volume', 'web-data', { estimatedBytes: 500_000 }),
    planned('container', 'web', { sourceId: WEB_ID, reason: 'requested' }),
  ];
  return { resources, findings: [], totalBytes: 1_500_000 };
}

function request(overrides: Partial<MigrationRequest> = {}): MigrationRequest {
  return {
    sourceWorkerId: 'w-000000000001',
    targetWorkerId: 'w-000000000002',
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
    ...overrides,
  };
}

function inventory(parts: Partial<Inventory> = {}): Inventory {
  return { containers: [], images: [], volumes: [], networks: [sampleNetwork()], ...parts };
}

interface InputOverrides {
  source?: Partial<PreflightInput['source']>;
  target?: Partial<PreflightInput['target']>;
  images?: PreflightInput['images'];
}

/** Two healthy workers, an empty target with room to spare, the same architecture on both. */
function input(overrides: InputOverrides = {}): PreflightInput {
  return {
    source: { online: true, name: 'alpha', containers: { [WEB_ID]: webDetails() }, ...overrides.source },
    target: {
      online: true,
      name: 'beta',
      inventory: inventory(),
      freeBytes: 10_000_000_000,
      architecture: 'x86_64',
      os: 'linux',
      ...overrides.target,
    },
    images: overrides.images ?? { [NGINX]: nginxDetails() },
  };
}

function codes(findings: Finding[]): string[] {
  return findings.map((f) => `${f.severity}:${f.code}`);
}

function resourceNamed(plan: MigrationPlan, type: ResourceType, name: string): PlannedResource | undefined {
  return plan.resources.find((r) => r.type === type && r.name === name);
}

/** A container on the target, running and publishing the given host ports. */
function targetContainer(name: string, ports: ContainerSummary['ports']): ContainerSummary {
  return sampleContainer({
    id: `${name}-id`,
    name,
    ports,
    volumeNames: [],
    networkNames: ['bridge'],
  });
}

describe('preflight: a clean plan', () => {
  it('finds nothing and does not block', () => {
    const report = preflight(webPlan(), request(), input());
    expect(report.findings).toEqual([]);
    expect(report.blocked).toBe(false);
    expect(report.plan.findings).toEqual([]);
    expect(report.plan.totalBytes).toBe(1_500_000);
  });

  it('leaves the plan it was given untouched and can run again on its own output', () => {
    const plan = webPlan();
    const before = structuredClone(plan);
    const target = { inventory: inventory({ containers: [targetContainer('web', [])] }) };
    const first = preflight(plan, request({ conflictPolicy: 'rename' }), input({ target }));
    expect(plan).toEqual(before);
    const second = preflight(first.plan, request({ conflictPolicy: 'rename' }), input({ target }));
    expect(second).toEqual(first);
    expect(resourceNamed(second.plan, 'container', 'web')?.targetName).toBe('web-migrated');
  });
});

describe('preflight: workers', () => {
  it('blocks when either worker is offline, naming it', () => {
    const report = preflight(
      webPlan(),
      request(),
      input({ source: { online: false }, target: { online: false } }),
    );
    expect(codes(report.findings)).toEqual(['error:worker_offline', 'error:worker_offline']);
    expect(report.findings[0]?.message).toContain('source worker "alpha" is offline');
    expect(report.findings[1]?.message).toContain('target worker "beta" is offline');
    expect(report.blocked).toBe(true);
  });

  it('blocks a migration onto the worker it comes from', () => {
    const report = preflight(webPlan(), request({ targetWorkerId: 'w-000000000001' }), input());
    expect(codes(report.findings)).toEqual(['error:same_worker']);
    expect(report.blocked).toBe(true);
  });
});

describe('preflight: name conflicts', () => {
  const crowded = inventory({
    containers: [targetContainer('web', [])],
    volumes: [sampleVolume({ name: 'web-data' })],
    networks: [sampleNetwork(), sampleNetwork({ id: 'other-front', name: 'front', builtIn: false })],
  });

  it('blocks on every container, volume and network name taken on the target under "fail"', () => {
    const report = preflight(webPlan(), request(), input({ target: { inventory: crowded } }));
    expect(codes(report.findings)).toEqual([
      'error:name_conflict',
      'error:name_conflict',
      'error:name_conflict',
    ]);
    expect(report.findings.map((f) => f.resource)).toEqual([
      { type: 'network', name: 'front' },
      { type: 'volume', name: 'web-data' },
      { type: 'container', name: 'web' },
    ]);
    expect(report.findings[2]?.message).toContain('a container named "web" already exists on "beta"');
    expect(report.findings[2]?.message).toContain('skip, rename or overwrite');
    expect(report.blocked).toBe(true);
  });

  it('keeps what the target has under "skip" and does not count its bytes', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({ target: { inventory: crowded } }),
    );
    expect(codes(report.findings)).toEqual([
      'warning:name_conflict',
      'warning:name_conflict',
      'warning:name_conflict',
    ]);
    expect(report.plan.resources.map((r) => `${r.name}:${r.action}`)).toEqual([
      'front:skip',
      'nginx:1.27:create',
      'web-data:skip',
      'web:skip',
    ]);
    expect(report.findings[1]?.message).toContain('migrated containers use it');
    expect(report.plan.totalBytes).toBe(1_000_000);
    expect(report.blocked).toBe(false);
  });

  it('replaces what the target has under "overwrite", with a warning', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'overwrite' }),
      input({ target: { inventory: crowded } }),
    );
    expect(codes(report.findings)).toEqual([
      'warning:name_conflict',
      'warning:name_conflict',
      'warning:name_conflict',
    ]);
    expect(report.plan.resources.map((r) => r.action)).toEqual([
      'overwrite',
      'create',
      'overwrite',
      'overwrite',
    ]);
    expect(report.plan.totalBytes).toBe(1_500_000);
    expect(report.blocked).toBe(false);
  });

  it('creates a renamed copy under "rename", saying so', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'rename' }),
      input({ target: { inventory: crowded } }),
    );
    expect(codes(report.findings)).toEqual([
      'info:name_conflict',
      'info:name_conflict',
      'info:name_conflict',
    ]);
    expect(report.plan.resources.map((r) => r.targetName)).toEqual([
      'front-migrated',
      'nginx:1.27',
      'web-data-migrated',
      'web-migrated',
    ]);
    expect(report.plan.resources.every((r) => r.action === 'create')).toBe(true);
    expect(report.findings[2]?.message).toContain('created there as "web-migrated"');
  });

  it('numbers a rename until the name is free on the target and unique in the plan', () => {
    const plan = webPlan();
    plan.resources.push(planned('container', 'web-migrated-2', { sourceId: 'other-id' }));
    const target = inventory({
      containers: [targetContainer('web', []), targetContainer('web-migrated', [])],
    });
    const report = preflight(
      plan,
      request({ conflictPolicy: 'rename' }),
      input({
        target: { inventory: target },
        source: { containers: { [WEB_ID]: webDetails(), 'other-id': webDetails() } },
      }),
    );
    expect(resourceNamed(report.plan, 'container', 'web')?.targetName).toBe('web-migrated-3');
    expect(resourceNamed(report.plan, 'container', 'web-migrated-2')?.targetName).toBe('web-migrated-2');
  });

  it('gives two renamed resources of one plan different names', () => {
    const plan = { ...webPlan(), resources: [planned('volume', 'data'), planned('volume', 'data-migrated')] };
    const target = inventory({
      volumes: [sampleVolume({ name: 'data' }), sampleVolume({ name: 'data-migrated' })],
    });
    const report = preflight(
      plan,
      request({ conflictPolicy: 'rename' }),
      input({ target: { inventory: target } }),
    );
    expect(report.plan.resources.map((r) => r.targetName)).toEqual([
      'data-migrated-2',
      'data-migrated-migrated',
    ]);
  });

  it('skips an image the target already holds under the same id, whatever the policy', () => {
    const target = inventory({ images: [sampleImage({ id: NGINX, tags: ['nginx:1.27'] })] });
    const report = preflight(webPlan(), request(), input({ target: { inventory: target } }));
    expect(codes(report.findings)).toEqual(['info:already_present']);
    expect(resourceNamed(report.plan, 'image', 'nginx:1.27')?.action).toBe('skip');
    expect(report.plan.totalBytes).toBe(500_000);
    expect(report.blocked).toBe(false);
  });

  it('treats a tag on the target that points at another image as a conflict', () => {
    const target = inventory({ images: [sampleImage({ id: 'sha256:9999', tags: ['nginx:1.27'] })] });
    const report = preflight(webPlan(), request(), input({ target: { inventory: target } }));
    expect(codes(report.findings)).toEqual(['error:name_conflict']);
    expect(report.findings[0]?.message).toContain('tag nginx:1.27 on "beta" points at another image');
  });

  it("finds a clash on any of the source image's tags", () => {
    const target = inventory({ images: [sampleImage({ id: 'sha256:9999', tags: ['nginx:latest'] })] });
    const images = { [NGINX]: nginxDetails({ tags: ['nginx:1.27', 'nginx:latest'] }) };
    const report = preflight(webPlan(), request(), input({ target: { inventory: target }, images }));
    expect(codes(report.findings)).toEqual(['error:name_conflict']);
    expect(report.findings[0]?.message).toContain('tag nginx:latest');
  });

  it('renames a clashing image tag by its tag', () => {
    const target = inventory({
      images: [
        sampleImage({ id: 'sha256:9999', tags: ['nginx:1.27'] }),
        sampleImage({ id: 'sha256:8888', tags: ['nginx:1.27-migrated'] }),
      ],
    });
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'rename' }),
      input({ target: { inventory: target } }),
    );
    expect(resourceNamed(report.plan, 'image', 'nginx:1.27')?.targetName).toBe('nginx:1.27-migrated-2');
  });
});

describe('preflight: a plan that would move nothing', () => {
  const everythingThere = inventory({
    containers: [targetContainer('web', [])],
    volumes: [sampleVolume({ name: 'web-data' })],
    networks: [sampleNetwork(), sampleNetwork({ id: 'other-front', name: 'front', builtIn: false })],
    images: [sampleImage({ id: NGINX, tags: ['nginx:1.27'] })],
  });

  it('is refused before anything stops when every resource is skipped', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({ target: { inventory: everythingThere } }),
    );
    expect(codes(report.findings)[0]).toBe('error:nothing_to_move');
    expect(report.findings[0]?.message).toBe(
      'nothing would move: network front, image nginx:1.27, volume web-data, container web are already on "beta" or ' +
        'skipped there; nothing is stopped or changed on either side',
    );
    expect(report.blocked).toBe(true);
  });

  it('goes ahead when an image already there still lacks a tag, or when one resource moves', () => {
    const untagged = inventory({ ...everythingThere, images: [sampleImage({ id: NGINX, tags: [] })] });
    const tags = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({ target: { inventory: untagged } }),
    );
    expect(codes(tags.findings)).not.toContain('error:nothing_to_move');
    const volumeMoves = inventory({ ...everythingThere, volumes: [] });
    const moving = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({ target: { inventory: volumeMoves } }),
    );
    expect(codes(moving.findings)).not.toContain('error:nothing_to_move');
  });
});

describe('preflight: the incremental strategy', () => {
  const volumePlan = (): MigrationPlan => ({
    resources: [planned('volume', 'web-data', { reason: 'requested', estimatedBytes: 500_000 })],
    findings: [],
    totalBytes: 500_000,
  });
  const ours = sampleVolume({
    name: 'web-data',
    labels: { [VOLUME_COPY_LABEL]: 'm-earlier', [VOLUME_SOURCE_LABEL]: 'w-000000000001/web-data' },
  });
  const volumeOnly = request({ containers: [], volumes: ['web-data'], strategy: 'incremental' });

  it("brings the target's copy an earlier migration made up to date, whatever the conflict policy", () => {
    for (const conflictPolicy of ['fail', 'skip', 'rename', 'overwrite'] as const) {
      const report = preflight(
        volumePlan(),
        { ...volumeOnly, conflictPolicy },
        input({ target: { inventory: inventory({ volumes: [ours] }) } }),
      );
      expect(codes(report.findings)).toEqual(['info:incremental_update']);
      expect(report.findings[0]?.message).toContain('a copy migration m-earlier made');
      expect(resourceNamed(report.plan, 'volume', 'web-data')).toMatchObject({
        action: 'update',
        targetName: 'web-data',
      });
      expect(report.blocked).toBe(false);
    }
  });

  it('leaves a copy brought up to date out of the disk-space check', () => {
    const report = preflight(
      volumePlan(),
      volumeOnly,
      input({ target: { inventory: inventory({ volumes: [ours] }), freeBytes: 1000 } }),
    );
    expect(codes(report.findings)).toEqual(['info:incremental_update']);
    const full = preflight(
      volumePlan(),
      { ...volumeOnly, strategy: 'full', conflictPolicy: 'overwrite' },
      input({ target: { inventory: inventory({ volumes: [ours] }), freeBytes: 1000 } }),
    );
    expect(codes(full.findings)).toContain('error:disk_space');
  });

  it('keeps a volume no migration made a conflict, and says why', () => {
    const report = preflight(
      volumePlan(),
      volumeOnly,
      input({ target: { inventory: inventory({ volumes: [sampleVolume({ name: 'web-data' })] }) } }),
    );
    expect(codes(report.findings)).toEqual(['error:name_conflict']);
    expect(report.findings[0]?.message).toContain('not a copy a migration made');
    expect(report.blocked).toBe(true);
  });

  it("keeps a copy of another volume, or of another worker's, a conflict", () => {
    for (const source of ['w-000000000009/web-data', 'w-000000000001/other-data']) {
      const copy = sampleVolume({
        name: 'web-data',
        labels: { [VOLUME_COPY_LABEL]: 'm-earlier', [VOLUME_SOURCE_LABEL]: source },
      });
      const report = preflight(
        volumePlan(),
        volumeOnly,
        input({ target: { inventory: inventory({ volumes: [copy] }) } }),
      );
      expect(codes(report.findings)).toEqual(['error:name_conflict']);
      expect(report.findings[0]?.message).toContain(`made of another volume, ${source}`);
    }
  });

  it('keeps our copy a conflict while a container on the target uses it', () => {
    const user = { ...targetContainer('reader', []), volumeNames: ['web-data'] };
    const report = preflight(
      volumePlan(),
      { ...volumeOnly, conflictPolicy: 'skip' },
      input({ target: { inventory: inventory({ volumes: [ours], containers: [user] }) } }),
    );
    // Skipped, it is the only resource: nothing would move, which is refused too.
    expect(codes(report.findings)).toEqual(['error:nothing_to_move', 'warning:name_conflict']);
    expect(report.findings[1]?.message).toContain('used by container reader there');
  });

  it('under the full strategy, treats our copy as any other volume of that name', () => {
    const report = preflight(
      volumePlan(),
      { ...volumeOnly, strategy: 'full' },
      input({ target: { inventory: inventory({ volumes: [ours] }) } }),
    );
    expect(codes(report.findings)).toEqual(['error:name_conflict']);
  });
});

describe('preflight: a move back', () => {
  // "web" moved from beta to alpha as "web"; beta kept its stopped container, volume and network (keep_stopped).
  const LEFT_WEB = 'beefbeef00000000000000000000000000000000000000000000000000000001';
  const reverse = (strategy: MigrationRequest['strategy'] = 'full'): Partial<MigrationRequest> => ({
    strategy,
    reverse: {
      of: 'm-forth',
      leftovers: [
        { type: 'container', name: 'web', id: LEFT_WEB, movedAs: 'web' },
        { type: 'volume', name: 'web-data', id: 'web-data', movedAs: 'web-data' },
        { type: 'network', name: 'front', id: FRONT_ID, movedAs: 'front' },
      ],
    },
  });
  const leftovers = (state: ContainerSummary['state'] = 'exited'): InputOverrides => ({
    target: {
      inventory: inventory({
        containers: [
          sampleContainer({
            id: LEFT_WEB,
            name: 'web',
            state,
            volumeNames: ['web-data'],
            networkNames: ['front'],
          }),
        ],
        volumes: [sampleVolume({ name: 'web-data' })],
        networks: [sampleNetwork({ id: FRONT_ID, name: 'front' })],
      }),
    },
  });

  it('reuses what the forward migration left instead of conflicting: container replaced, volume overwritten, network kept', () => {
    const report = preflight(webPlan(), request(reverse()), input(leftovers()));
    expect(report.blocked).toBe(false);
    const action = (type: ResourceType, name: string) => resourceNamed(report.plan, type, name)?.action;
    expect(action('container', 'web')).toBe('overwrite');
    expect(action('volume', 'web-data')).toBe('overwrite');
    expect(action('network', 'front')).toBe('skip');
    expect(report.findings.filter((f) => f.code === 'leftover_reused').map((f) => f.message)).toContain(
      'container web on "beta" is what migration m-forth left there: it is replaced by the one moving back (kept aside until the migration completes)',
    );
  });

  it('with the incremental strategy brings the volume left there up to date in place', () => {
    const report = preflight(webPlan(), request(reverse('incremental')), input(leftovers()));
    expect(resourceNamed(report.plan, 'volume', 'web-data')?.action).toBe('update');
  });

  it('goes back under the name it had there, when the forward migration renamed it', () => {
    const plan = webPlan();
    const moved = plan.resources.find((r) => r.type === 'container');
    if (moved) moved.name = 'web-migrated';
    const req = request(reverse());
    req.reverse?.leftovers.splice(0, 1, {
      type: 'container',
      name: 'web',
      id: LEFT_WEB,
      movedAs: 'web-migrated',
    });
    const report = preflight(plan, req, input(leftovers()));
    const container = resourceNamed(report.plan, 'container', 'web-migrated');
    expect(container?.targetName).toBe('web');
    expect(container?.action).toBe('overwrite');
  });

  it('treats another object under a leftover name as any conflict (fail)', () => {
    const other = leftovers();
    const containers = other.target?.inventory?.containers ?? [];
    containers.splice(0, 1, sampleContainer({ id: 'other-id', name: 'web', state: 'exited' }));
    const report = preflight(webPlan(), request(reverse()), input(other));
    expect(report.blocked).toBe(true);
    expect(codes(report.findings)).toContain('error:name_conflict');
  });

  it('refuses to change a volume left there while a container runs on it', () => {
    const report = preflight(webPlan(), request(reverse('incremental')), input(leftovers('running')));
    expect(report.blocked).toBe(true);
    expect(report.findings.find((f) => f.code === 'leftover_in_use')?.message).toMatch(
      /container web runs there using it: stop it first/,
    );
  });
});

describe('preflight: ports', () => {
  const withTarget = (...containers: ContainerSummary[]): InputOverrides => ({
    target: { inventory: inventory({ containers }) },
  });

  it('blocks when a target container already publishes the host port', () => {
    const report = preflight(
      webPlan(),
      request(),
      input(
        withTarget(
          targetContainer('proxy', [
            { privatePort: 80, publicPort: 8080, hostIp: '0.0.0.0', protocol: 'tcp' },
          ]),
        ),
      ),
    );
    expect(codes(report.findings)).toEqual(['error:port_in_use']);
    expect(report.findings[0]?.message).toContain('container "web" publishes host port 8080/tcp');
    expect(report.findings[0]?.message).toContain('container "proxy" already publishes on "beta"');
    expect(report.findings[0]?.resource).toEqual({ type: 'container', name: 'web' });
  });

  it.each([
    ['another protocol', { hostIp: '0.0.0.0', protocol: 'udp' as const }, '', false],
    ['another specific address', { hostIp: '10.0.0.5', protocol: 'tcp' as const }, '127.0.0.1', false],
    ['the same specific address', { hostIp: '10.0.0.5', protocol: 'tcp' as const }, '10.0.0.5', true],
    ['a wildcard on the target', { hostIp: '::', protocol: 'tcp' as const }, '127.0.0.1', true],
    ['a wildcard on the source', { hostIp: '10.0.0.5', protocol: 'tcp' as const }, '0.0.0.0', true],
  ])('on %s: conflict is %s', (_case, used, sourceIp, conflict) => {
    const details = webDetails({
      raw: { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: sourceIp, HostPort: '8080' }] } } },
    });
    const report = preflight(
      webPlan(),
      request(),
      input({
        source: { containers: { [WEB_ID]: details } },
        ...withTarget(targetContainer('proxy', [{ privatePort: 80, publicPort: 8080, ...used }])),
      }),
    );
    expect(codes(report.findings)).toEqual(conflict ? ['error:port_in_use'] : []);
  });

  it('claims nothing for a port the Engine picks (empty HostPort), though the summary shows one', () => {
    const details = webDetails({
      state: 'exited',
      ports: [{ privatePort: 80, publicPort: 32768, hostIp: '0.0.0.0', protocol: 'tcp' }],
      raw: { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '' }] } } },
    });
    const report = preflight(
      webPlan(),
      request(),
      input({
        source: { containers: { [WEB_ID]: details } },
        ...withTarget(targetContainer('x', [{ privatePort: 1, publicPort: 32768, protocol: 'tcp' }])),
      }),
    );
    expect(report.findings).toEqual([]);
  });

  it('reads the summary ports when the inspect document has no port bindings', () => {
    const details = webDetails({
      ports: [{ privatePort: 80, publicPort: 9090, hostIp: '0.0.0.0', protocol: 'tcp' }],
      raw: {},
    });
    const report = preflight(
      webPlan(),
      request(),
      input({
        source: { containers: { [WEB_ID]: details } },
        ...withTarget(targetContainer('x', [{ privatePort: 1, publicPort: 9090, protocol: 'tcp' }])),
      }),
    );
    expect(codes(report.findings)).toEqual(['error:port_in_use']);
  });

  it('sees a port inside a published range', () => {
    const details = webDetails({
      raw: { HostConfig: { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] } } },
    });
    const report = preflight(
      webPlan(),
      request(),
      input({
        source: { containers: { [WEB_ID]: details } },
        ...withTarget(targetContainer('x', [{ privatePort: 1, publicPort: 8005, protocol: 'tcp' }])),
      }),
    );
    expect(codes(report.findings)).toEqual(['error:port_in_use']);
    expect(report.findings[0]?.message).toContain('8000-8010/tcp');
  });

  it('ignores the port of the target container the migration overwrites', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'overwrite' }),
      input(withTarget(targetContainer('web', [{ privatePort: 80, publicPort: 8080, protocol: 'tcp' }]))),
    );
    expect(codes(report.findings)).toEqual(['warning:name_conflict']);
    expect(report.blocked).toBe(false);
  });

  it('still sees the port of a target container that is only renamed around', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'rename' }),
      input(withTarget(targetContainer('web', [{ privatePort: 80, publicPort: 8080, protocol: 'tcp' }]))),
    );
    expect(codes(report.findings)).toEqual(['error:port_in_use', 'info:name_conflict']);
  });

  it('does not check a container that is skipped', () => {
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input(withTarget(targetContainer('web', [{ privatePort: 80, publicPort: 8080, protocol: 'tcp' }]))),
    );
    expect(codes(report.findings)).toEqual(['warning:name_conflict']);
  });
});

describe('preflight: disk space', () => {
  it('blocks when the target has less than the bytes to move plus 10%', () => {
    const report = preflight(webPlan(), request(), input({ target: { freeBytes: 1_649_999 } }));
    expect(codes(report.findings)).toEqual(['error:disk_space']);
    expect(report.findings[0]?.message).toContain('"beta" has 1.6 MiB free');
  });

  it('passes with exactly the bytes to move plus 10%', () => {
    const report = preflight(webPlan(), request(), input({ target: { freeBytes: 1_650_000 } }));
    expect(report.findings).toEqual([]);
  });

  it("checks a measured volume's allocated bytes against the free space, and totals its apparent bytes", () => {
    const plan = webPlan();
    const measuredAt = '2026-01-01T00:00:00.000Z';
    // A volume of one sparse 1 GiB file: 1 GiB to go through, 40 kB on disk.
    plan.resources[2] = planned('volume', 'web-data', {
      estimatedBytes: 1024 ** 3,
      measured: { apparentBytes: 1024 ** 3, allocatedBytes: 40_000, files: 1, method: 'walk', measuredAt },
    });
    const report = preflight(plan, request(), input({ target: { freeBytes: 1_200_000 } }));
    expect(report.findings).toEqual([]);
    expect(report.plan.totalBytes).toBe(1_000_000 + 1024 ** 3);
    const short = preflight(plan, request(), input({ target: { freeBytes: 1_100_000 } }));
    expect(codes(short.findings)).toEqual(['error:disk_space']);
    expect(short.findings[0]?.message).toContain('(1015.6 KiB on disk plus 10%)');
  });

  it('says when a volume could not be measured, and leaves it out of the totals', () => {
    const plan = webPlan();
    plan.resources[2] = planned('volume', 'web-data', {
      estimatedBytes: 0,
      measured: {
        apparentBytes: null,
        allocatedBytes: null,
        files: null,
        method: 'unknown',
        reason: 'its content is on a network share, not measured from here',
        measuredAt: '2026-01-01T00:00:00.000Z',
      },
    });
    const report = preflight(plan, request(), input({ target: { freeBytes: 10e9 } }));
    expect(codes(report.findings)).toEqual(['warning:volume_size_unknown']);
    expect(report.findings[0]?.message).toBe(
      'the size of volume web-data is unknown (its content is on a network share, not measured from here); ' +
        'it is left out of the bytes to move and of the disk-space check',
    );
    expect(report.plan.totalBytes).toBe(1_000_000);
  });

  it('warns when the free space is unknown', () => {
    const report = preflight(webPlan(), request(), input({ target: { freeBytes: null } }));
    expect(codes(report.findings)).toEqual(['warning:disk_space']);
    expect(report.findings[0]?.message).toContain('cannot tell the free space on "beta"');
    expect(report.blocked).toBe(false);
  });

  it('counts only what moves', () => {
    const target = inventory({ images: [sampleImage({ id: NGINX })] });
    const report = preflight(
      webPlan(),
      request(),
      input({ target: { inventory: target, freeBytes: 550_000 } }),
    );
    expect(codes(report.findings)).toEqual(['info:already_present']);
  });
});

describe('preflight: platform', () => {
  it.each([
    ['amd64', 'x86_64'],
    ['arm64', 'aarch64'],
    ['arm64', 'arm64'],
  ])('accepts an %s image on a %s engine', (image, engine) => {
    const report = preflight(
      webPlan(),
      request(),
      input({ target: { architecture: engine }, images: { [NGINX]: nginxDetails({ architecture: image }) } }),
    );
    expect(report.findings).toEqual([]);
  });

  it('blocks an image built for another architecture', () => {
    const report = preflight(webPlan(), request(), input({ target: { architecture: 'aarch64' } }));
    expect(codes(report.findings)).toEqual(['error:architecture_mismatch']);
    expect(report.findings[0]?.message).toContain(
      'image nginx:1.27 is built for amd64 but "beta" runs aarch64',
    );
  });

  it('blocks an image built for another OS', () => {
    const report = preflight(webPlan(), request(), input({ target: { os: 'windows' } }));
    expect(codes(report.findings)).toEqual(['error:os_mismatch']);
  });

  it('does not check an image that is already on the target or whose platform is unknown', () => {
    const present = inventory({ images: [sampleImage({ id: NGINX })] });
    expect(
      codes(
        preflight(webPlan(), request(), input({ target: { architecture: 'aarch64', inventory: present } }))
          .findings,
      ),
    ).toEqual(['info:already_present']);
    expect(preflight(webPlan(), request(), input({ target: { architecture: null } })).findings).toEqual([]);
    expect(preflight(webPlan(), request(), input({ images: {} })).findings).toEqual([]);
  });

  it('normalises architecture names', () => {
    expect(['x86_64', 'AMD64', 'aarch64', 'armv7l', 'riscv64'].map(normaliseArchitecture)).toEqual([
      'amd64',
      'amd64',
      'arm64',
      'arm',
      'riscv64',
    ]);
  });
});

describe('preflight: bind mounts', () => {
  const bound = webDetails({
    mounts: [{ type: 'bind', source: '/srv/html', destination: '/usr/share/nginx/html', readOnly: true }],
  });
  const withBind: InputOverrides = { source: { containers: { [WEB_ID]: bound } } };

  it('blocks a bind mount without a rule, saying how to add one', () => {
    const report = preflight(webPlan(), request(), input(withBind));
    expect(codes(report.findings)).toEqual(['error:bind_mount_unmapped']);
    const message = report.findings[0]?.message ?? '';
    expect(message).toContain('container "web"');
    expect(message).toContain('/srv/html');
    expect(message).toContain('add a bind mount rule for /srv/html');
    expect(report.findings[0]?.details).toEqual({
      host_path: '/srv/html',
      container_path: '/usr/share/nginx/html',
    });
  });

  it('describes a rule that maps the path', () => {
    const report = preflight(
      webPlan(),
      request({ bindMounts: { '/srv/html/': { path: '/data/html' } } }),
      input(withBind),
    );
    expect(codes(report.findings)).toEqual(['info:bind_mount_mapped']);
    expect(report.findings[0]?.message).toContain('/srv/html is mounted from /data/html on "beta"');
  });

  it('describes a rule that leaves the mount out', () => {
    const report = preflight(
      webPlan(),
      request({ bindMounts: { '/srv/html': { skip: true } } }),
      input(withBind),
    );
    expect(codes(report.findings)).toEqual(['info:bind_mount_skipped']);
  });

  it('blocks a planned container whose inspect details are missing', () => {
    const report = preflight(webPlan(), request(), input({ source: { containers: {} } }));
    expect(codes(report.findings)).toEqual(['error:container_details_missing']);
  });
});

describe('preflight: volume drivers', () => {
  it('blocks a planned volume of another driver, known from the source inventory', () => {
    const sourceInventory = inventory({
      volumes: [sampleVolume({ name: 'web-data', driver: 'rexray/ebs' })],
    });
    const report = preflight(
      webPlan(),
      request(),
      input({ source: { inventory: sourceInventory, containers: { [WEB_ID]: webDetails({ raw: {} }) } } }),
    );
    expect(codes(report.findings)).toEqual(['error:volume_driver']);
    expect(report.findings[0]?.message).toContain(
      'volume "web-data" (mounted by "web") uses the "rexray/ebs" driver',
    );
  });

  it('blocks a mounted volume of another driver, known from the inspect document, even when not planned', () => {
    const plan = { ...webPlan(), resources: webPlan().resources.filter((r) => r.type !== 'volume') };
    const details = webDetails({ raw: { Mounts: [{ Type: 'volume', Name: 'web-data', Driver: 'nfs' }] } });
    const report = preflight(plan, request(), input({ source: { containers: { [WEB_ID]: details } } }));
    expect(codes(report.findings)).toEqual(['error:volume_driver']);
    expect(report.findings[0]?.resource).toEqual({ type: 'volume', name: 'web-data' });
  });

  it('does not mind a volume the target keeps under "skip"', () => {
    const sourceInventory = inventory({ volumes: [sampleVolume({ name: 'web-data', driver: 'nfs' })] });
    const target = inventory({ volumes: [sampleVolume({ name: 'web-data' })] });
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({
        source: { inventory: sourceInventory, containers: { [WEB_ID]: webDetails({ raw: {} }) } },
        target: { inventory: target },
      }),
    );
    expect(codes(report.findings)).toEqual(['warning:name_conflict']);
  });
});

describe('preflight: where volume content lives', () => {
  function withVolumeOptions(options: Record<string, string>): PreflightInput {
    const sourceInventory = inventory({ volumes: [sampleVolume({ name: 'web-data', options })] });
    return input({ source: { inventory: sourceInventory } });
  }

  it('blocks a volume bound to a host folder, saying the content is written into that folder on the target', () => {
    const report = preflight(
      webPlan(),
      request(),
      withVolumeOptions({ type: 'none', o: 'bind', device: '/srv/web' }),
    );
    expect(codes(report.findings)).toEqual(['error:volume_host_path']);
    expect(report.findings[0]?.message).toContain('host folder /srv/web on "beta"');
    expect(report.findings[0]?.resource).toEqual({ type: 'volume', name: 'web-data' });
    expect(report.blocked).toBe(true);
    expect(resourceNamed(report.plan, 'volume', 'web-data')?.copyContent).toBeUndefined();
  });

  it('only warns about the host folder once the request acknowledges volume_host_path', () => {
    const report = preflight(
      webPlan(),
      request({ acknowledge: ['volume_host_path'] }),
      withVolumeOptions({ type: 'none', o: 'bind', device: '/srv/web' }),
    );
    expect(codes(report.findings)).toEqual(['warning:volume_host_path']);
    expect(report.blocked).toBe(false);
  });

  it('leaves the content of an NFS or CIFS volume on its share and does not copy it', () => {
    const shares: Record<string, string>[] = [
      { type: 'nfs', o: 'addr=10.0.0.5,rw', device: ':/exports/web' },
      { type: 'cifs', o: 'username=web', device: '//nas/web' },
      { o: 'addr=nas.local', device: ':/exports/web' },
    ];
    for (const options of shares) {
      const report = preflight(webPlan(), request(), withVolumeOptions(options));
      expect(codes(report.findings)).toEqual(['warning:volume_network_share']);
      expect(report.findings[0]?.message).toContain('is not copied');
      const volume = resourceNamed(report.plan, 'volume', 'web-data');
      expect(volume?.copyContent).toBe(false);
      expect(report.plan.totalBytes).toBe(1_000_000);
    }
  });

  it('has nothing to copy for a tmpfs volume', () => {
    const report = preflight(webPlan(), request(), withVolumeOptions({ type: 'tmpfs', device: 'tmpfs' }));
    expect(codes(report.findings)).toEqual(['info:volume_tmpfs']);
    expect(resourceNamed(report.plan, 'volume', 'web-data')?.copyContent).toBe(false);
  });

  it('says nothing about a volume the target keeps under "skip"', () => {
    const sourceInventory = inventory({
      volumes: [sampleVolume({ name: 'web-data', options: { type: 'none', o: 'bind', device: '/srv/web' } })],
    });
    const report = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip' }),
      input({
        source: { inventory: sourceInventory },
        target: { inventory: inventory({ volumes: [sampleVolume({ name: 'web-data' })] }) },
      }),
    );
    expect(codes(report.findings)).toEqual(['warning:name_conflict']);
  });
});

describe('preflight: the writable layer', () => {
  const changes = {
    [WEB_ID]: { count: 7, paths: ['/etc/web.conf', '/var/cache/web/index', '/root/.history'] },
  };

  it('warns that files changed outside volumes are not migrated, naming how many and some of them', () => {
    const report = preflight(webPlan(), request(), input({ source: { changes } }));
    expect(codes(report.findings)).toEqual(['warning:writable_layer_changes']);
    expect(report.findings[0]?.message).toContain('container "web" has 7 files changed outside its volumes');
    expect(report.findings[0]?.message).toContain('/etc/web.conf, /var/cache/web/index, /root/.history');
    expect(report.findings[0]?.resource).toEqual({ type: 'container', name: 'web' });
  });

  it('blocks when the source container is removed afterwards, until writable_layer_changes is acknowledged', () => {
    const blocked = preflight(webPlan(), request({ sourcePolicy: 'remove' }), input({ source: { changes } }));
    expect(codes(blocked.findings)).toEqual(['error:writable_layer_changes']);
    expect(blocked.findings[0]?.message).toContain('removing it');
    expect(blocked.blocked).toBe(true);
    const acknowledged = preflight(
      webPlan(),
      request({ sourcePolicy: 'remove', acknowledge: ['writable_layer_changes'] }),
      input({ source: { changes } }),
    );
    expect(codes(acknowledged.findings)).toEqual(['warning:writable_layer_changes']);
    expect(acknowledged.blocked).toBe(false);
  });

  it('says nothing for a container without changes or one that does not move', () => {
    const none = preflight(
      webPlan(),
      request(),
      input({ source: { changes: { [WEB_ID]: { count: 0, paths: [] } } } }),
    );
    expect(none.findings).toEqual([]);
    const target = inventory({ containers: [targetContainer('web', [])] });
    const skipped = preflight(
      webPlan(),
      request({ conflictPolicy: 'skip', sourcePolicy: 'remove' }),
      input({ source: { changes }, target: { inventory: target } }),
    );
    expect(codes(skipped.findings)).toEqual(['warning:name_conflict']);
  });
});

describe('preflight: downtime', () => {
  it('notes, without a warning to acknowledge, that a warm migration stops the running containers only briefly', () => {
    const containers = { [WEB_ID]: webDetails({ state: 'running' }) };
    const report = preflight(
      webPlan(),
      request({ mode: 'warm', downtimeBudgetMs: 1500 }),
      input({ source: { containers } }),
    );
    expect(codes(report.findings)).toEqual(['info:container_running_source']);
    expect(report.findings[0]?.message).toContain(
      'warm migration copies the data of this running container on "alpha" while it runs',
    );
    expect(report.findings[0]?.message).toContain('aimed at 1.5 s');
  });

  it('warns once, listing the running source containers a cold migration stops', () => {
    const plan = webPlan();
    plan.resources.push(
      planned('container', 'api', { sourceId: 'api-id' }),
      planned('container', 'job', { sourceId: 'job-id' }),
    );
    const containers = {
      [WEB_ID]: webDetails({ state: 'running' }),
      'api-id': webDetails({ id: 'api-id', name: 'api', state: 'restarting', raw: {} }),
      'job-id': webDetails({ id: 'job-id', name: 'job', state: 'exited', raw: {} }),
    };
    const report = preflight(plan, request(), input({ source: { containers } }));
    expect(codes(report.findings)).toEqual(['warning:container_running_source']);
    expect(report.findings[0]?.message).toContain(
      'cold migration stops these 2 running containers on "alpha"',
    );
    expect(report.findings[0]?.message).toMatch(/downtime.*: web, api$/);
    expect(report.blocked).toBe(false);
  });

  it('says what becomes of the source containers afterwards', () => {
    const containers = { [WEB_ID]: webDetails({ state: 'running' }) };
    const report = preflight(
      webPlan(),
      request({ sourcePolicy: 'keep_running' }),
      input({ source: { containers } }),
    );
    expect(report.findings[0]?.message).toContain('this running container');
    expect(report.findings[0]?.message).toContain('restarted there afterwards');
  });
});

describe('preflight: containers whose stop signal is likely ignored', () => {
  const shellRaw = (config: Record<string, unknown>, hostConfig: Record<string, unknown> = {}) => ({
    Config: config,
    HostConfig: hostConfig,
  });

  it('warns that a shell as PID 1 without STOPSIGNAL waits out the stop timeout, and how to shorten it', () => {
    const containers = {
      [WEB_ID]: webDetails({
        state: 'running',
        raw: shellRaw({ Cmd: ['/bin/sh', '-c', 'while true; do date >> /data/log; sleep 1; done'] }),
      }),
    };
    const report = preflight(webPlan(), request(), input({ source: { containers } }));
    const finding = report.findings.find((f) => f.code === 'stop_signal_ignored');
    // A script that sets SIGTERM to be ignored, explicitly.
    const ignoring = {
      [WEB_ID]: webDetails({
        state: 'running',
        raw: shellRaw({ Cmd: ['sh', '-c', `trap '' TERM; while true; do sleep 1; done`] }),
      }),
    };
    const explicit = preflight(webPlan(), request(), input({ source: { containers: ignoring } }));
    expect(codes(explicit.findings)).toContain('warning:stop_signal_ignored');
    expect(finding?.severity).toBe('warning');
    expect(finding?.resource).toEqual({ type: 'container', name: 'web' });
    expect(finding?.message).toContain('container web runs a shell as its main process (/bin/sh -c ');
    expect(finding?.message).toContain(
      "waits out Docker's default stop timeout of 10 s (the container sets none)",
    );
    expect(finding?.message).toContain("set this migration's stop_timeout");
    expect(report.blocked).toBe(false);
  });

  it("names the container's own stop timeout, or the one the migration sets", () => {
    const containers = {
      [WEB_ID]: webDetails({
        state: 'running',
        raw: shellRaw({ Entrypoint: ['sh', '-c'], Cmd: ['sleep 1000'], StopTimeout: 30 }),
      }),
    };
    const own = preflight(webPlan(), request(), input({ source: { containers } }));
    expect(own.findings.find((f) => f.code === 'stop_signal_ignored')?.message).toContain(
      'its own stop timeout of 30 s',
    );
    const set = preflight(webPlan(), request({ stopTimeoutSeconds: 2 }), input({ source: { containers } }));
    const message = set.findings.find((f) => f.code === 'stop_signal_ignored')?.message ?? '';
    expect(message).toContain('the 2 s stop timeout this migration sets');
    expect(message).not.toContain('To shorten it');
  });

  it('says nothing of a shell that traps or execs, of --init, of another stop signal, of a stopped or live source', () => {
    const cases: Array<{ raw: Record<string, unknown>; state?: ContainerDetails['state'] }> = [
      { raw: shellRaw({ Cmd: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'] }) },
      { raw: shellRaw({ Cmd: ['sh', '-c', 'echo starting; exec nginx -g "daemon off;"'] }) },
      { raw: shellRaw({ Cmd: ['sh', '-c', 'sleep 1000'] }, { Init: true }) },
      { raw: shellRaw({ Cmd: ['sh', '-c', 'sleep 1000'], StopSignal: 'SIGKILL' }) },
      { raw: shellRaw({ Cmd: ['nginx', '-g', 'daemon off;'] }) },
      { raw: shellRaw({ Cmd: ['sh', '-c', 'sleep 1000'] }), state: 'exited' },
    ];
    for (const { raw, state } of cases) {
      const containers = { [WEB_ID]: webDetails({ state: state ?? 'running', raw }) };
      const report = preflight(webPlan(), request(), input({ source: { containers } }));
      expect(codes(report.findings), JSON.stringify(raw)).not.toContain('warning:stop_signal_ignored');
    }
    const containers = {
      [WEB_ID]: webDetails({ state: 'running', raw: shellRaw({ Cmd: ['sh', '-c', 'sleep 1000'] }) }),
    };
    const live = preflight(webPlan(), request({ mode: 'live' }), input({ source: { containers } }));
    expect(codes(live.findings)).not.toContain('warning:stop_signal_ignored');
  });
});

describe('preflight: the report', () => {
  it('lists errors first, then warnings, then info, and blocks on any error', () => {
    const target = inventory({ images: [sampleImage({ id: NGINX })] });
    const report = preflight(
      webPlan(),
      request(),
      input({
        source: { containers: { [WEB_ID]: webDetails({ state: 'running' }) } },
        target: { inventory: target, freeBytes: null, online: false },
      }),
    );
    expect(codes(report.findings)).toEqual([
      'error:worker_offline',
      'warning:disk_space',
      'warning:container_running_source',
      'info:already_present',
    ]);
    expect(report.plan.findings).toEqual(report.findings);
    expect(report.blocked).toBe(true);
  });

  it('checks a plan made by planMigration end to end', () => {
    const sourceInventory = inventory({
      containers: [web],
      images: [sampleImage({ id: NGINX, tags: ['nginx:1.27'], size: 1_000_000 })],
      volumes: [sampleVolume({ name: 'web-data', size: 500_000 })],
      networks: [sampleNetwork(), sampleNetwork({ id: FRONT_ID, name: 'front', builtIn: false })],
    });
    const req = request({ conflictPolicy: 'rename' });
    const plan = planMigration(req, { inventory: sourceInventory, containers: { [WEB_ID]: webDetails() } });
    const target = inventory({ containers: [targetContainer('web', [])] });
    const report = preflight(
      plan,
      req,
      input({ source: { inventory: sourceInventory }, target: { inventory: target } }),
    );
    expect(codes(report.findings)).toEqual(['info:name_conflict']);
    expect(report.plan.resources.map((r) => `${r.type}:${r.targetName}`)).toEqual([
      'network:front',
      'image:nginx:1.27',
      'volume:web-data',
      'container:web-migrated',
    ]);
    expect(report.plan.totalBytes).toBe(1_500_000);
  });

  it('formats byte counts for people', () => {
    expect([0, 1023, 1536, 5 * 1024 ** 3].map(formatBytes)).toEqual(['0 B', '1023 B', '1.5 KiB', '5.0 GiB']);
  });
});
