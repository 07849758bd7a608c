// Turns a migration request into a plan: resolves what was asked for on the source worker, adds what each
// container needs (image, named volumes, user-defined networks) and orders it so that dependencies come first.
import type {
  ContainerDetails,
  ContainerSummary,
  ImageDetails,
  ImageSummary,
  NetworkSummary,
  VolumeSummary,
} from './docker-resources.js';
import { AppError } from './errors.js';
import type { MigrationPlan, MigrationRequest, PlannedResource, ResourceType } from './migration.js';
import type { VolumeMeasure } from './worker-commands.js';
import type { Inventory } from './workers.js';

/** What the planner reads of the source worker. */
export interface PlanSource {
  inventory: Inventory;
  /** Inspect details by container id; a container without details falls back to its summary. */
  containers: Record<string, ContainerDetails>;
  /** Inspect details by image id, for sizes of images the inventory does not list. */
  images?: Record<string, ImageDetails>;
  /** The worker's name, for error messages; the request's worker id when absent. */
  name?: string;
  /**
   * Volume sizes measured on the source (volume.measure), by name: a volume's estimate is its apparent bytes. A
   * volume not measured falls back to the inventory's size, when it has one.
   */
  volumeSizes?: Record<string, VolumeMeasure>;
}

/** The label Docker Compose puts on every container, volume and network of a project. */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';
const COMPOSE_DEPENDS_ON_LABEL = 'com.docker.compose.depends_on';

const BUILT_IN_NETWORK_NAMES: ReadonlySet<string> = new Set(['bridge', 'host', 'none']);

/** Shortest id prefix accepted, as the Docker CLI does not guess from fewer characters either. */
const MIN_ID_PREFIX = 4;

/** Networks the Engine creates itself: they exist on every host and are never migrated. */
export function isBuiltInNetwork(network: Pick<NetworkSummary, 'name'> & { builtIn?: boolean }): boolean {
  return network.builtIn === true || BUILT_IN_NETWORK_NAMES.has(network.name);
}

/**
 * The form in which the Engine lists image references ("nginx:latest", "registry:5000/app:1"), so that a user's
 * "nginx" or "docker.io/library/nginx" finds the image tagged "nginx:latest".
 */
export function normaliseImageRef(ref: string): string {
  let name = ref;
  let digest = '';
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at);
    name = name.slice(0, at);
  }
  let tag = '';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon);
    name = name.slice(0, colon);
  }
  if (tag === '' && digest === '') tag = ':latest';
  name = name.replace(/^(?:docker\.io|index\.docker\.io)\//, '').replace(/^library\/(?=[^/]+$)/, '');
  return `${name}${tag}${digest}`;
}

/**
 * Builds the plan for a request. Anything wrong with the request itself (an unknown or ambiguous name, a mode
 * this host cannot run, nothing to move) throws an AppError; what the target thinks of the plan is preflight's.
 */
export function planMigration(request: MigrationRequest, source: PlanSource): MigrationPlan {
  checkMode(request);
  if (
    request.containers.length +
      request.images.length +
      request.volumes.length +
      request.networks.length +
      request.composeProjects.length ===
    0
  ) {
    throw new AppError(
      'invalid_argument',
      'nothing to migrate: name at least one container, image, volume, network or compose project',
    );
  }

  const worker = source.name ?? request.sourceWorkerId;
  const planned = new PlanBuilder();
  const containers: ContainerSummary[] = [];

  for (const ref of request.containers) {
    const container = resolveContainer(ref, source.inventory.containers, worker);
    planned.add(containerResource(container, 'requested'));
    containers.push(container);
  }
  for (const ref of request.images) {
    const image = resolveImage(ref, source.inventory.images, worker);
    planned.add(resource('image', image.tags[0] ?? image.id, image.id, 'requested', image.size));
  }
  for (const ref of request.volumes) {
    const volume = resolveVolume(ref, source.inventory.volumes, worker);
    planned.add(volumeResource(volume.name, 'requested', source));
  }
  for (const ref of request.networks) {
    const network = resolveNetwork(ref, source.inventory.networks, worker);
    planned.add(resource('network', network.name, network.id, 'requested', 0));
  }
  for (const project of request.composeProjects) {
    const inProject = (labels: Record<string, string>): boolean => labels[COMPOSE_PROJECT_LABEL] === project;
    const projectContainers = source.inventory.containers.filter((c) => inProject(c.labels));
    const volumes = source.inventory.volumes.filter((v) => inProject(v.labels));
    const networks = source.inventory.networks.filter((n) => inProject(n.labels) && !isBuiltInNetwork(n));
    if (projectContainers.length + volumes.length + networks.length === 0) {
      throw new AppError('not_found', `compose project "${project}" not found on worker ${worker}`, {
        hint: `no container, volume or network there has the label ${COMPOSE_PROJECT_LABEL}=${project}`,
        details: { type: 'compose_project', ref: project, worker },
      });
    }
    for (const container of projectContainers) {
      planned.add(containerResource(container, 'compose'));
      containers.push(container);
    }
    for (const volume of volumes) planned.add(volumeResource(volume.name, 'compose', source));
    for (const network of networks) planned.add(resource('network', network.name, network.id, 'compose', 0));
  }

  for (const container of containers) {
    for (const dependency of dependenciesOf(container, source)) planned.add(dependency);
  }

  const resources = orderResources(planned.list(), source);
  return {
    resources,
    findings: [],
    totalBytes: resources.reduce((sum, r) => sum + r.estimatedBytes, 0),
  };
}

function checkMode(request: MigrationRequest): void {
  switch (request.mode) {
    case 'cold':
    case 'warm':
      return;
    case 'live':
      throw new AppError(
        'invalid_argument',
        'live migration needs CRIU checkpointing, which this Docker/kernel lacks; use "warm" (copies while the containers run, stops them only for what changed) or "cold"',
      );
  }
}

const REASON_RANK: Record<PlannedResource['reason'], number> = { requested: 0, compose: 1, dependency: 2 };

/**
 * Planned resources by type and source id, in first-seen order; a stronger reason replaces a weaker one. planMigration
 * adds requested, then compose, then dependencies, so today the first reason is the strongest; the rule keeps that
 * true if the order of adding changes.
 */
class PlanBuilder {
  private readonly byKey = new Map<string, PlannedResource>();

  add(candidate: PlannedResource): void {
    const key = `${candidate.type}:${candidate.sourceId}`;
    const existing = this.byKey.get(key);
    if (!existing) this.byKey.set(key, candidate);
    else if (REASON_RANK[candidate.reason] < REASON_RANK[existing.reason]) existing.reason = candidate.reason;
  }

  list(): PlannedResource[] {
    return [...this.byKey.values()];
  }
}

function resource(
  type: ResourceType,
  name: string,
  sourceId: string,
  reason: PlannedResource['reason'],
  estimatedBytes: number,
): PlannedResource {
  return {
    type,
    name,
    sourceId,
    targetName: name,
    reason,
    action: 'create',
    estimatedBytes,
    status: 'pending',
    bytes: 0,
  };
}

/**
 * A volume with its estimate: the apparent bytes its worker measured (0 when it could not tell, which `measured`
 * says); a volume not measured at all takes the inventory's size, when it has one.
 */
function volumeResource(
  name: string,
  reason: PlannedResource['reason'],
  source: PlanSource,
): PlannedResource {
  const measured = source.volumeSizes?.[name];
  if (measured) return { ...resource('volume', name, name, reason, measured.apparentBytes ?? 0), measured };
  const listed = source.inventory.volumes.find((v) => v.name === name)?.size;
  return resource('volume', name, name, reason, listed ?? 0);
}

/** Names of the volumes a plan moves: what the source's worker is asked to measure. */
export function plannedVolumeNames(plan: MigrationPlan): string[] {
  return plan.resources.filter((r) => r.type === 'volume').map((r) => r.sourceId);
}

function containerResource(container: ContainerSummary, reason: PlannedResource['reason']): PlannedResource {
  return resource('container', container.name, container.id, reason, 0);
}

/** The image, named volumes and user-defined networks a container cannot run without on the target. */
function dependenciesOf(container: ContainerSummary, source: PlanSource): PlannedResource[] {
  const inspected = source.containers[container.id];
  const details: ContainerSummary = inspected ?? container;
  const dependencies: PlannedResource[] = [];

  const image = source.inventory.images.find((i) => i.id === details.imageId);
  const imageDetails = source.images?.[details.imageId];
  const imageName = image?.tags[0] ?? imageDetails?.tags[0] ?? (details.image || details.imageId);
  dependencies.push(
    resource('image', imageName, details.imageId, 'dependency', image?.size ?? imageDetails?.size ?? 0),
  );

  const volumeNames = inspected
    ? inspected.mounts.flatMap((m) => (m.type === 'volume' && m.name ? [m.name] : []))
    : container.volumeNames;
  for (const name of new Set(volumeNames)) dependencies.push(volumeResource(name, 'dependency', source));

  for (const name of details.networkNames) {
    if (BUILT_IN_NETWORK_NAMES.has(name)) continue;
    const network = source.inventory.networks.find((n) => n.name === name);
    if (network && isBuiltInNetwork(network)) continue;
    const id = network?.id ?? networkIdFromInspect(details, name) ?? name;
    dependencies.push(resource('network', name, id, 'dependency', 0));
  }
  return dependencies;
}

/** NetworkSettings.Networks[name].NetworkID of an inspect document, for a network the inventory lacks. */
function networkIdFromInspect(
  container: ContainerSummary | ContainerDetails,
  name: string,
): string | undefined {
  if (!('raw' in container)) return undefined;
  const id = asRecord(asRecord(asRecord(container.raw.NetworkSettings)?.Networks)?.[name])?.NetworkID;
  return typeof id === 'string' && id !== '' ? id : undefined;
}

// ---- resolution of the names in a request ----

function isIdPrefix(ref: string): boolean {
  return ref.length >= MIN_ID_PREFIX && /^[0-9a-f]+$/i.test(ref);
}

/**
 * Finds the one item a reference means, in Docker's order: a full id, then an exact name, then a unique id
 * prefix. Several items under one name or prefix is the user's to settle, so it is invalid_argument.
 */
function resolveOne<T>(
  kind: ResourceType,
  ref: string,
  items: T[],
  idOf: (item: T) => string,
  hasName: (item: T) => boolean,
  labelOf: (item: T) => string,
  worker: string,
): T {
  const bareRef = ref.replace(/^sha256:/, '').toLowerCase();
  const byId = items.find((item) => idOf(item).replace(/^sha256:/, '') === bareRef);
  if (byId) return byId;
  let matches = items.filter(hasName);
  if (matches.length === 0 && isIdPrefix(bareRef)) {
    matches = items.filter((item) =>
      idOf(item)
        .replace(/^sha256:/, '')
        .startsWith(bareRef),
    );
  }
  const [first, ...others] = matches;
  if (first === undefined) {
    throw new AppError('not_found', `${kind} "${ref}" not found on worker ${worker}`, {
      hint: `give a ${kind} name${kind === 'volume' ? '' : `, id or id prefix of at least ${MIN_ID_PREFIX} characters`}`,
      details: { type: kind, ref, worker },
    });
  }
  if (others.length > 0) {
    const candidates = matches.map(labelOf);
    throw new AppError(
      'invalid_argument',
      `${kind} "${ref}" is ambiguous on worker ${worker}: ${candidates.join(', ')}`,
      {
        hint: 'give a longer id prefix or the full id',
        details: { type: kind, ref, worker, candidates },
      },
    );
  }
  return first;
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function resolveContainer(ref: string, containers: ContainerSummary[], worker: string): ContainerSummary {
  const name = ref.replace(/^\//, '');
  return resolveOne(
    'container',
    ref,
    containers,
    (c) => c.id,
    (c) => c.name === name,
    (c) => `${c.name} (${shortId(c.id)})`,
    worker,
  );
}

function resolveImage(ref: string, images: ImageSummary[], worker: string): ImageSummary {
  const wanted = normaliseImageRef(ref);
  return resolveOne(
    'image',
    ref,
    images,
    (i) => i.id,
    (i) => [...i.tags, ...i.digests].some((tag) => normaliseImageRef(tag) === wanted),
    (i) => (i.tags[0] ? `${i.tags[0]} (${shortId(i.id)})` : shortId(i.id)),
    worker,
  );
}

function resolveVolume(ref: string, volumes: VolumeSummary[], worker: string): VolumeSummary {
  const volume = volumes.find((v) => v.name === ref);
  if (!volume) {
    throw new AppError('not_found', `volume "${ref}" not found on worker ${worker}`, {
      hint: 'give the exact volume name',
      details: { type: 'volume', ref, worker },
    });
  }
  return volume;
}

function resolveNetwork(ref: string, networks: NetworkSummary[], worker: string): NetworkSummary {
  const network = resolveOne(
    'network',
    ref,
    networks,
    (n) => n.id,
    (n) => n.name === ref,
    (n) => `${n.name} (${shortId(n.id)})`,
    worker,
  );
  if (isBuiltInNetwork(network)) {
    throw new AppError('invalid_argument', `built-in network "${network.name}" is never migrated`, {
      hint: 'every Docker host has its own bridge, host and none networks; containers on them join the target’s',
    });
  }
  return network;
}

// ---- order ----

const TYPE_ORDER: Record<ResourceType, number> = { network: 0, image: 1, volume: 2, container: 3 };

/**
 * Networks, images, volumes, then containers; containers that need another planned container (network mode
 * "container:x", links, volumes-from, compose depends_on) come after it. Otherwise the first-seen order stays.
 */
function orderResources(resources: PlannedResource[], source: PlanSource): PlannedResource[] {
  const byType = [...resources].sort((a, b) => TYPE_ORDER[a.type] - TYPE_ORDER[b.type]);
  const containers = byType.filter((r) => r.type === 'container');
  return [...byType.filter((r) => r.type !== 'container'), ...orderContainers(containers, source)];
}

function orderContainers(containers: PlannedResource[], source: PlanSource): PlannedResource[] {
  const summaries = new Map(source.inventory.containers.map((c) => [c.id, c]));
  const idByRef = new Map<string, string>();
  for (const planned of containers) {
    idByRef.set(planned.sourceId, planned.sourceId);
    idByRef.set(planned.name, planned.sourceId);
  }
  const needs = new Map<string, Set<string>>();
  for (const planned of containers) {
    const container = source.containers[planned.sourceId] ?? summaries.get(planned.sourceId);
    const wanted = new Set<string>();
    for (const ref of container ? containerRefsOf(container, source.inventory.containers) : []) {
      const id =
        idByRef.get(ref) ??
        [...idByRef.values()].find((candidate) => isIdPrefix(ref) && candidate.startsWith(ref));
      if (id !== undefined && id !== planned.sourceId) wanted.add(id);
    }
    needs.set(planned.sourceId, wanted);
    if (wanted.size > 0) planned.needs = [...wanted];
  }

  // Kahn's algorithm, always taking the earliest ready container so that unrelated ones keep their order.
  const ordered: PlannedResource[] = [];
  const done = new Set<string>();
  let remaining = containers;
  while (remaining.length > 0) {
    const ready = remaining.find((r) => [...(needs.get(r.sourceId) ?? [])].every((id) => done.has(id)));
    // A cycle cannot be ordered; its members keep the order they were asked for in.
    const next = ready ?? remaining[0];
    if (next === undefined) break;
    ordered.push(next);
    done.add(next.sourceId);
    remaining = remaining.filter((r) => r !== next);
  }
  return ordered;
}

/** Names or ids of the containers a container needs running before it. */
function containerRefsOf(container: ContainerSummary | ContainerDetails, all: ContainerSummary[]): string[] {
  const refs: string[] = [];
  if ('raw' in container) {
    const hostConfig = asRecord(container.raw.HostConfig);
    const networkMode = hostConfig?.NetworkMode;
    if (typeof networkMode === 'string' && networkMode.startsWith('container:')) {
      refs.push(networkMode.slice('container:'.length));
    }
    // Links read "/db:/web/db": the linked container's name comes first.
    for (const link of stringArray(hostConfig?.Links))
      refs.push(link.split(':')[0]?.replace(/^\//, '') ?? '');
    // VolumesFrom read "db" or "db:ro".
    for (const from of stringArray(hostConfig?.VolumesFrom)) refs.push(from.split(':')[0] ?? '');
  }
  // Compose writes "db:service_started:false,cache:service_healthy:true".
  const project = container.labels[COMPOSE_PROJECT_LABEL];
  const dependsOn = container.labels[COMPOSE_DEPENDS_ON_LABEL];
  if (project !== undefined && dependsOn) {
    for (const service of dependsOn.split(',').map((entry) => entry.split(':')[0]?.trim())) {
      for (const other of all) {
        if (
          other.labels[COMPOSE_PROJECT_LABEL] === project &&
          other.labels[COMPOSE_SERVICE_LABEL] === service
        ) {
          refs.push(other.id);
        }
      }
    }
  }
  return refs.filter((ref) => ref !== '');
}

// ---- reading the Engine's inspect documents ----

/** The value as an object, or undefined; inspect documents are untyped JSON. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
