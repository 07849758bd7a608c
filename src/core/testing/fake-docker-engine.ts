// An in-memory DockerEngine for unit tests. The contract suite runs against it and a real engine so it cannot drift.
/* eslint-disable @typescript-eslint/require-await -- methods are async so that failures reject, as the adapter's do */
import type {
  ContainerCreateSpec,
  ContainerDetails,
  ContainerSummary,
  DockerEvent,
  DockerObjectType,
  EngineInfo,
  EngineVersion,
  ImageDetails,
  ImageSummary,
  LabelFilter,
  NetworkCreateSpec,
  NetworkDetails,
  NetworkSummary,
  VolumeCreateSpec,
  VolumeSummary,
} from '../docker-resources.js';
import { AppError } from '../errors.js';
import type { DockerEngine, EventOptions, ListOptions } from '../ports.js';

type FakeImage = ImageDetails;

interface FakeContainer extends Omit<ContainerDetails, 'raw'> {
  env: string[];
  cmd: string[];
}

function matchesLabels(labels: Record<string, string>, filter: LabelFilter | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, value]) =>
    value === true ? key in labels : labels[key] === value,
  );
}

let counter = 0;

/** A 64-hex-digit id, unique within the process (not random: tests stay reproducible). */
function newId(): string {
  counter += 1;
  return counter.toString(16).padStart(64, 'f');
}

export interface FakeDockerEngineOptions {
  endpoint?: string;
  /** Images present from the start (e.g. the base image tests build on). */
  images?: { tags: string[]; layers?: string[]; size?: number; architecture?: string }[];
  version?: Partial<EngineVersion>;
}

/** A DockerEngine that keeps everything in memory and emits the events a real engine would. */
export class FakeDockerEngine implements DockerEngine {
  readonly endpoint: string;
  private readonly containers = new Map<string, FakeContainer>();
  private readonly images = new Map<string, FakeImage>();
  private readonly volumes = new Map<string, VolumeSummary>();
  private readonly networks = new Map<string, NetworkDetails>();
  private readonly listeners = new Set<(event: DockerEvent) => void>();
  private readonly engineVersion: EngineVersion;
  /** When set, every call fails as an unreachable engine would. */
  down = false;

  constructor(options: FakeDockerEngineOptions = {}) {
    this.endpoint = options.endpoint ?? 'fake://engine';
    this.engineVersion = {
      version: '20.10.24',
      apiVersion: '1.41',
      os: 'linux',
      arch: 'amd64',
      ...options.version,
    };
    for (const image of options.images ?? []) {
      const id = `sha256:${newId()}`;
      this.images.set(id, {
        id,
        tags: [...image.tags],
        digests: [],
        size: image.size ?? 1_000_000,
        created: 1_700_000_000,
        labels: {},
        containers: 0,
        architecture: image.architecture ?? 'amd64',
        os: 'linux',
        layers: image.layers ?? [`sha256:${newId()}`],
      });
    }
    for (const name of ['bridge', 'host', 'none']) {
      const id = newId();
      this.networks.set(id, {
        id,
        name,
        driver: name === 'none' ? 'null' : name,
        scope: 'local',
        internal: false,
        attachable: false,
        ipv6: false,
        labels: {},
        options: {},
        ipam: {
          driver: 'default',
          config: name === 'bridge' ? [{ subnet: '172.17.0.0/16' }] : [],
          options: {},
        },
        builtIn: true,
        containers: {},
      });
    }
  }

  private check(): void {
    if (this.down) {
      throw new AppError(
        'unavailable',
        `cannot reach the Docker engine at ${this.endpoint}: connection refused`,
      );
    }
  }

  private emit(
    type: DockerObjectType,
    action: string,
    id: string,
    attributes: Record<string, string> = {},
  ): void {
    const event: DockerEvent = { type, action, id, attributes, timeNano: String(Date.now() * 1e6) };
    for (const listener of this.listeners) listener(event);
  }

  private findContainer(idOrName: string): FakeContainer {
    const found =
      this.containers.get(idOrName) ??
      [...this.containers.values()].find(
        (c) => c.name === idOrName || (idOrName.length >= 12 && c.id.startsWith(idOrName)),
      );
    if (!found) throw new AppError('not_found', `container "${idOrName}" not found on ${this.endpoint}`);
    return found;
  }

  private findImage(idOrRef: string): FakeImage {
    const ref = idOrRef.includes(':') || idOrRef.startsWith('sha256') ? idOrRef : `${idOrRef}:latest`;
    const found =
      this.images.get(idOrRef) ??
      [...this.images.values()].find((image) => image.tags.includes(ref) || image.id === `sha256:${idOrRef}`);
    if (!found) throw new AppError('not_found', `image "${idOrRef}" not found on ${this.endpoint}`);
    return found;
  }

  private findNetwork(idOrName: string): NetworkDetails {
    const found =
      this.networks.get(idOrName) ?? [...this.networks.values()].find((network) => network.name === idOrName);
    if (!found) throw new AppError('not_found', `network "${idOrName}" not found on ${this.endpoint}`);
    return found;
  }

  async ping(): Promise<void> {
    this.check();
  }

  async version(): Promise<EngineVersion> {
    this.check();
    return { ...this.engineVersion };
  }

  async info(): Promise<EngineInfo> {
    this.check();
    return {
      id: 'FAKE',
      name: 'fake',
      dockerRootDir: '/var/lib/docker',
      storageDriver: 'overlay2',
      containers: this.containers.size,
      images: this.images.size,
      cpus: 2,
      memoryBytes: 8 * 1024 ** 3,
      architecture: 'x86_64',
      os: 'Fake Linux',
      serverVersion: this.engineVersion.version,
    };
  }

  async listContainers(options: ListOptions & { all?: boolean } = {}): Promise<ContainerSummary[]> {
    this.check();
    const list = [...this.containers.values()]
      .filter((c) => (options.all ?? false) || c.state === 'running')
      .filter((c) => matchesLabels(c.labels, options.labels))
      .map((c) => toSummary(c));
    return list;
  }

  async inspectContainer(idOrName: string): Promise<ContainerDetails> {
    this.check();
    const c = this.findContainer(idOrName);
    return { ...toSummary(c), ...detailsOnly(c), raw: { Id: c.id, Name: `/${c.name}` } };
  }

  async createContainer(spec: ContainerCreateSpec): Promise<string> {
    this.check();
    const image = this.findImage(spec.image);
    if ([...this.containers.values()].some((c) => c.name === spec.name)) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: container name "/${spec.name}" is already in use`,
      );
    }
    const network = spec.network ? this.findNetwork(spec.network) : this.findNetwork('bridge');
    for (const name of Object.keys(spec.volumes ?? {})) {
      if (!this.volumes.has(name)) await this.createVolume({ name });
    }
    const id = newId();
    const container: FakeContainer = {
      id,
      name: spec.name,
      image: spec.image,
      imageId: image.id,
      command: (spec.cmd ?? ['sh']).join(' '),
      state: 'created',
      status: 'Created',
      created: Math.floor(Date.now() / 1000),
      labels: { ...image.labels, ...spec.labels },
      ports: [],
      volumeNames: Object.keys(spec.volumes ?? {}),
      networkNames: [network.name],
      restartCount: 0,
      mounts: Object.entries(spec.volumes ?? {}).map(([name, destination]) => ({
        type: 'volume',
        name,
        source: `/var/lib/docker/volumes/${name}/_data`,
        destination,
        readOnly: false,
      })),
      env: spec.env ?? [],
      cmd: spec.cmd ?? ['sh'],
    };
    this.containers.set(id, container);
    network.containers[id] = { name: spec.name };
    this.emit('container', 'create', id, { name: spec.name, image: spec.image, ...container.labels });
    return id;
  }

  async startContainer(idOrName: string): Promise<void> {
    this.check();
    const c = this.findContainer(idOrName);
    if (c.state !== 'running') {
      c.state = 'running';
      c.status = 'Up Less than a second';
      c.startedAt = new Date().toISOString();
      this.emit('container', 'start', c.id, { name: c.name, ...c.labels });
    }
  }

  async stopContainer(idOrName: string): Promise<void> {
    this.check();
    const c = this.findContainer(idOrName);
    if (c.state === 'running') {
      c.state = 'exited';
      c.status = 'Exited (137) Less than a second ago';
      c.exitCode = 137;
      c.finishedAt = new Date().toISOString();
      this.emit('container', 'die', c.id, { name: c.name, ...c.labels });
      this.emit('container', 'stop', c.id, { name: c.name, ...c.labels });
    }
  }

  async removeContainer(
    idOrName: string,
    options: { force?: boolean; volumes?: boolean } = {},
  ): Promise<void> {
    this.check();
    const c = this.findContainer(idOrName);
    if (c.state === 'running' && !options.force) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`,
      );
    }
    this.containers.delete(c.id);
    for (const network of this.networks.values()) {
      network.containers = Object.fromEntries(
        Object.entries(network.containers).filter(([id]) => id !== c.id),
      );
    }
    this.emit('container', 'destroy', c.id, { name: c.name, ...c.labels });
  }

  async listImages(options: ListOptions = {}): Promise<ImageSummary[]> {
    this.check();
    return [...this.images.values()]
      .filter((image) => matchesLabels(image.labels, options.labels))
      .map(({ architecture: _a, os: _o, layers: _l, ...summary }) => ({
        ...summary,
        tags: [...summary.tags],
      }));
  }

  async inspectImage(idOrRef: string): Promise<ImageDetails> {
    this.check();
    const image = this.findImage(idOrRef);
    return { ...image, tags: [...image.tags], layers: [...image.layers], containers: -1 };
  }

  async tagImage(idOrRef: string, repo: string, tag: string): Promise<void> {
    this.check();
    const image = this.findImage(idOrRef);
    const ref = `${repo}:${tag}`;
    for (const other of this.images.values()) other.tags = other.tags.filter((t) => t !== ref);
    image.tags.push(ref);
    this.emit('image', 'tag', image.id, { name: ref });
  }

  async removeImage(idOrRef: string, options: { force?: boolean } = {}): Promise<void> {
    this.check();
    const image = this.findImage(idOrRef);
    const ref = idOrRef.includes(':') && !idOrRef.startsWith('sha256:') ? idOrRef : undefined;
    if (ref && image.tags.length > 1) {
      image.tags = image.tags.filter((t) => t !== ref);
      this.emit('image', 'untag', image.id, { name: ref });
      return;
    }
    const users = [...this.containers.values()].filter((c) => c.imageId === image.id);
    if (users.length > 0 && !options.force) {
      throw new AppError('conflict', `Docker engine at ${this.endpoint}: image is being used by a container`);
    }
    this.images.delete(image.id);
    this.emit('image', 'delete', image.id);
  }

  async listVolumes(options: ListOptions & { sizes?: boolean } = {}): Promise<VolumeSummary[]> {
    this.check();
    return [...this.volumes.values()]
      .filter((volume) => matchesLabels(volume.labels, options.labels))
      .map((volume) => {
        if (!options.sizes) return { ...volume };
        const refCount = [...this.containers.values()].filter((c) =>
          c.volumeNames.includes(volume.name),
        ).length;
        return { ...volume, size: 0, refCount };
      });
  }

  async inspectVolume(name: string): Promise<VolumeSummary> {
    this.check();
    const volume = this.volumes.get(name);
    if (!volume) throw new AppError('not_found', `volume "${name}" not found on ${this.endpoint}`);
    return { ...volume };
  }

  async createVolume(spec: VolumeCreateSpec): Promise<VolumeSummary> {
    this.check();
    if (this.volumes.has(spec.name)) {
      throw new AppError('conflict', `volume "${spec.name}" already exists on ${this.endpoint}`);
    }
    const volume: VolumeSummary = {
      name: spec.name,
      driver: spec.driver ?? 'local',
      mountpoint: `/var/lib/docker/volumes/${spec.name}/_data`,
      labels: { ...spec.labels },
      options: { ...spec.options },
      scope: 'local',
      createdAt: new Date().toISOString(),
    };
    this.volumes.set(spec.name, volume);
    this.emit('volume', 'create', spec.name, { driver: volume.driver });
    return { ...volume };
  }

  async removeVolume(name: string): Promise<void> {
    this.check();
    if (!this.volumes.has(name)) {
      throw new AppError('not_found', `volume "${name}" not found on ${this.endpoint}`);
    }
    if ([...this.containers.values()].some((c) => c.volumeNames.includes(name))) {
      throw new AppError('conflict', `Docker engine at ${this.endpoint}: remove ${name}: volume is in use`);
    }
    this.volumes.delete(name);
    this.emit('volume', 'destroy', name);
  }

  async listNetworks(options: ListOptions = {}): Promise<NetworkSummary[]> {
    this.check();
    return [...this.networks.values()]
      .filter((network) => matchesLabels(network.labels, options.labels))
      .map(({ containers: _c, ...summary }) => ({ ...summary }));
  }

  async inspectNetwork(idOrName: string): Promise<NetworkDetails> {
    this.check();
    const network = this.findNetwork(idOrName);
    return { ...network, containers: { ...network.containers } };
  }

  async createNetwork(spec: NetworkCreateSpec): Promise<string> {
    this.check();
    if ([...this.networks.values()].some((network) => network.name === spec.name)) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: network with name ${spec.name} already exists`,
      );
    }
    const id = newId();
    this.networks.set(id, {
      id,
      name: spec.name,
      driver: spec.driver ?? 'bridge',
      scope: 'local',
      internal: spec.internal ?? false,
      attachable: spec.attachable ?? false,
      ipv6: spec.ipv6 ?? false,
      labels: { ...spec.labels },
      options: { ...spec.options },
      ipam: {
        driver: spec.ipam?.driver ?? 'default',
        config: spec.ipam?.config?.map((c) => ({ ...c })) ?? [
          { subnet: `172.${18 + this.networks.size}.0.0/16` },
        ],
        options: { ...spec.ipam?.options },
      },
      builtIn: false,
      created: new Date().toISOString(),
      containers: {},
    });
    this.emit('network', 'create', id, { name: spec.name, type: spec.driver ?? 'bridge' });
    return id;
  }

  async removeNetwork(idOrName: string): Promise<void> {
    this.check();
    const network = this.findNetwork(idOrName);
    if (network.builtIn) {
      throw new AppError(
        'permission_denied',
        `Docker engine at ${this.endpoint}: ${network.name} is a pre-defined network and cannot be removed`,
      );
    }
    if (Object.keys(network.containers).length > 0) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: network ${network.name} has active endpoints`,
      );
    }
    this.networks.delete(network.id);
    this.emit('network', 'destroy', network.id, { name: network.name });
  }

  async *events(options: EventOptions = {}): AsyncIterable<DockerEvent> {
    this.check();
    const { signal } = options;
    const queue: DockerEvent[] = [];
    let wake: (() => void) | undefined;
    const listener = (event: DockerEvent): void => {
      queue.push(event);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.listeners.add(listener);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal?.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      this.listeners.delete(listener);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}

function toSummary(c: FakeContainer): ContainerSummary {
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    imageId: c.imageId,
    command: c.command,
    state: c.state,
    status: c.status,
    created: c.created,
    labels: { ...c.labels },
    ports: c.ports.map((p) => ({ ...p })),
    volumeNames: [...c.volumeNames],
    networkNames: [...c.networkNames],
  };
}

function detailsOnly(c: FakeContainer): Omit<ContainerDetails, keyof ContainerSummary | 'raw'> {
  return {
    ...(c.health ? { health: c.health } : {}),
    restartCount: c.restartCount,
    ...(c.startedAt ? { startedAt: c.startedAt } : {}),
    ...(c.finishedAt ? { finishedAt: c.finishedAt } : {}),
    ...(c.exitCode === undefined ? {} : { exitCode: c.exitCode }),
    mounts: c.mounts.map((m) => ({ ...m })),
  };
}
