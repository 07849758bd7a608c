// An in-memory DockerEngine for unit tests. The contract suite runs against it and a real engine so it cannot drift.
/* eslint-disable @typescript-eslint/require-await -- methods are async so that failures reject, as the adapter's do */
import type {
  ContainerCreateSpec,
  ContainerDetails,
  ContainerMount,
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
import type { ContainerChange, DockerEngine, EventOptions, ListOptions } from '../ports.js';
import { bytesOf, entriesOf, streamOf, tarOf, type TarEntry } from './tar-bytes.js';

type FakeImage = ImageDetails;

interface FakeEndpoint {
  aliases: string[];
  ipv4Address?: string;
  ipv6Address?: string;
}

interface FakeContainer extends Omit<ContainerDetails, 'raw'> {
  env: string[];
  cmd: string[];
  /** The create body's `Config` part and `HostConfig`, as the Engine's inspect shows them. */
  config: Record<string, unknown>;
  hostConfig: Record<string, unknown>;
  /** Network name → endpoint settings (inspect's `NetworkSettings.Networks`). */
  endpoints: Map<string, FakeEndpoint>;
  /** The container's filesystem as far as archives have touched it: file path → content, and directories. */
  files: Map<string, Uint8Array>;
  directories: Set<string>;
}

/** Directories every container of the fake has, as a busybox-like root filesystem would. */
const ROOT_DIRECTORIES = ['/', '/bin', '/etc', '/home', '/root', '/tmp', '/usr', '/var'];

/** The instructions `docker import --change` accepts (the Engine rejects any other). */
const CHANGE_INSTRUCTIONS = new Set([
  'CMD',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'LABEL',
  'ONBUILD',
  'USER',
  'VOLUME',
  'WORKDIR',
]);

/** What the fake's `saveImages` writes per image: the fields of a real image config the fake can fill. */
interface SavedImageConfig {
  architecture: string;
  os: string;
  created: string;
  config: { Labels: Record<string, string> };
  rootfs: { type: 'layers'; diff_ids: string[] };
  /** Not in a real config (the Engine sums layer sizes); the fake has no layers to sum. */
  size: number;
}

interface SavedManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

function matchesLabels(labels: Record<string, string>, filter: LabelFilter | undefined): boolean {
  if (!filter) return true;
  return Object.entries(filter).every(([key, value]) =>
    value === true ? key in labels : labels[key] === value,
  );
}

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((item) => typeof item === 'string') ? [...value] : undefined;
}

function stringKeyed(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (entry): entry is [string, string] => typeof entry[1] === 'string',
    ),
  );
}

function normalizePath(path: string): string {
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

function joinPath(directory: string, name: string): string {
  return normalizePath(`${directory}/${name}`);
}

/** Splits "repo:tag" (the tag after the last colon that follows the last slash); "latest" when there is none. */
function splitReference(reference: string): { repo: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  return colon > reference.lastIndexOf('/')
    ? { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) }
    : { repo: reference, tag: 'latest' };
}

/** The labels of `LABEL k=v k2="v 2"` changes, as the Engine's import reads them. */
function labelsOfChange(args: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const match of args.matchAll(/([^\s=]+)=("([^"]*)"|\S*)/g)) {
    const key = match[1];
    if (key !== undefined) labels[key] = match[3] ?? match[2] ?? '';
  }
  return labels;
}

const decoder = new TextDecoder();

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
  /** Folder the volumes' mountpoints are said to be in ("<volumeRoot>/<name>/_data"); the fake makes no folders. */
  volumeRoot?: string;
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
  private readonly volumeRoot: string;
  /** When set, every call fails as an unreachable engine would. */
  down = false;

  constructor(options: FakeDockerEngineOptions = {}) {
    this.endpoint = options.endpoint ?? 'fake://engine';
    this.volumeRoot = options.volumeRoot ?? '/var/lib/docker/volumes';
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
    return { ...toSummary(c), ...detailsOnly(c), raw: rawInspect(c) };
  }

  async createContainer(spec: ContainerCreateSpec): Promise<string> {
    // The same body the Dockerode adapter sends, so that both ways of creating share one model.
    return this.createContainerFromConfig(spec.name, {
      Image: spec.image,
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      ...(spec.env ? { Env: spec.env } : {}),
      Labels: spec.labels ?? {},
      HostConfig: {
        Mounts: Object.entries(spec.volumes ?? {}).map(([name, target]) => ({
          Type: 'volume',
          Source: name,
          Target: target,
        })),
        ...(spec.network ? { NetworkMode: spec.network } : {}),
      },
    });
  }

  /**
   * Reads what the fake models from an Engine create body: Image, Cmd, Env, Labels, HostConfig.NetworkMode with
   * its NetworkingConfig endpoint (aliases, addresses), volume mounts (HostConfig.Mounts and Binds) and the restart
   * policy's name; the rest is kept for inspect.
   */
  async createContainerFromConfig(name: string, body: Record<string, unknown>): Promise<string> {
    this.check();
    const { HostConfig: rawHostConfig, NetworkingConfig: networking, ...config } = body;
    const hostConfig = (rawHostConfig && typeof rawHostConfig === 'object' ? rawHostConfig : {}) as Record<
      string,
      unknown
    >;
    if (typeof config.Image !== 'string' || config.Image === '') {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint}: no image given for "${name}"`,
      );
    }
    const imageRef = config.Image;
    const mode = typeof hostConfig.NetworkMode === 'string' ? hostConfig.NetworkMode : 'default';
    const network = this.findNetwork(mode === 'default' ? 'bridge' : mode);
    const endpointsConfig = stringKeyed(stringKeyed(networking).EndpointsConfig);
    for (const name of Object.keys(endpointsConfig)) this.findNetwork(name);
    const endpoint = stringKeyed(endpointsConfig[network.name]);
    const ipamConfig = stringKeyed(endpoint.IPAMConfig);
    const image = this.findImage(imageRef);
    if ([...this.containers.values()].some((c) => c.name === name)) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: container name "/${name}" is already in use`,
      );
    }
    const policy = (hostConfig.RestartPolicy as { Name?: unknown } | undefined)?.Name ?? '';
    const restart = typeof policy === 'string' ? policy : JSON.stringify(policy);
    if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(restart)) {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint}: invalid restart policy '${restart}'`,
      );
    }
    const mounts = mountsOf(hostConfig);
    for (const mount of mounts) {
      if (mount.type === 'volume' && mount.name && !this.volumes.has(mount.name)) {
        await this.createVolume({ name: mount.name });
      }
    }
    const cmd = stringList(config.Cmd) ?? ['sh'];
    const env = stringList(config.Env) ?? [];
    const labels = { ...image.labels, ...stringRecord(config.Labels) };
    const id = newId();
    const container: FakeContainer = {
      id,
      name,
      image: imageRef,
      imageId: image.id,
      command: cmd.join(' '),
      state: 'created',
      status: 'Created',
      created: Math.floor(Date.now() / 1000),
      labels,
      ports: [],
      volumeNames: mounts.flatMap((mount) => (mount.type === 'volume' && mount.name ? [mount.name] : [])),
      networkNames: [network.name],
      restartCount: 0,
      mounts,
      env,
      cmd,
      config: structuredClone({ ...config, Image: imageRef, Cmd: cmd, Env: env, Labels: labels }),
      hostConfig: structuredClone(hostConfig),
      endpoints: new Map([
        [
          network.name,
          {
            aliases: stringList(endpoint.Aliases) ?? [],
            ...(typeof ipamConfig.IPv4Address === 'string' ? { ipv4Address: ipamConfig.IPv4Address } : {}),
            ...(typeof ipamConfig.IPv6Address === 'string' ? { ipv6Address: ipamConfig.IPv6Address } : {}),
          },
        ],
      ]),
      files: new Map(),
      directories: new Set(ROOT_DIRECTORIES),
    };
    for (const mount of mounts) addDirectory(container, mount.destination);
    this.containers.set(id, container);
    network.containers[id] = { name };
    this.emit('container', 'create', id, { name, image: imageRef, ...container.labels });
    return id;
  }

  async connectNetwork(
    networkIdOrName: string,
    idOrName: string,
    options: { aliases?: string[]; ipv4Address?: string; ipv6Address?: string } = {},
  ): Promise<void> {
    this.check();
    const network = this.findNetwork(networkIdOrName);
    const c = this.findContainer(idOrName);
    if (c.endpoints.has(network.name)) {
      throw new AppError(
        'conflict',
        `container "${idOrName}" is already connected to network "${network.name}" on ${this.endpoint}`,
      );
    }
    if ((options.ipv4Address || options.ipv6Address) && network.builtIn) {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint}: user specified IP address is supported on user defined networks only`,
      );
    }
    // The Engine adds the short container id as an alias on user-defined networks.
    const aliases = [...(options.aliases ?? []), ...(network.builtIn ? [] : [c.id.slice(0, 12)])];
    c.endpoints.set(network.name, {
      aliases,
      ...(options.ipv4Address ? { ipv4Address: options.ipv4Address } : {}),
      ...(options.ipv6Address ? { ipv6Address: options.ipv6Address } : {}),
    });
    c.networkNames.push(network.name);
    const prefix = network.ipam.config.find((config) => config.subnet?.includes('.'))?.subnet?.split('/')[1];
    network.containers[c.id] = {
      name: c.name,
      ...(options.ipv4Address
        ? { ipv4Address: prefix ? `${options.ipv4Address}/${prefix}` : options.ipv4Address }
        : {}),
    };
    this.emit('network', 'connect', network.id, {
      container: c.id,
      name: network.name,
      type: network.driver,
    });
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

  async renameContainer(idOrName: string, newName: string): Promise<void> {
    this.check();
    const c = this.findContainer(idOrName);
    if ([...this.containers.values()].some((other) => other.name === newName && other.id !== c.id)) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: Conflict. The container name "/${newName}" is already in use`,
      );
    }
    const oldName = c.name;
    c.name = newName;
    for (const network of this.networks.values()) {
      const endpoint = network.containers[c.id];
      if (endpoint) endpoint.name = newName;
    }
    this.emit('container', 'rename', c.id, { name: newName, oldName: `/${oldName}` });
  }

  /**
   * What archives put into the container, as the Engine lists a writable layer: added files and folders, the root
   * folders holding them as modified. Folders for mount points appear only once a container starts; the fake
   * leaves them out.
   */
  async containerChanges(idOrName: string): Promise<ContainerChange[]> {
    this.check();
    const c = this.findContainer(idOrName);
    const forMounts = (dir: string): boolean =>
      c.mounts.some((m) => m.destination === dir || m.destination.startsWith(`${dir}/`));
    const added = [
      ...[...c.directories].filter((dir) => !ROOT_DIRECTORIES.includes(dir) && !forMounts(dir)),
      ...c.files.keys(),
    ];
    const modified = ROOT_DIRECTORIES.filter(
      (dir) => dir !== '/' && added.some((path) => path.startsWith(`${dir}/`)),
    );
    return [
      ...modified.map((path) => ({ path, kind: 'modified' as const })),
      ...added.map((path) => ({ path, kind: 'added' as const })),
    ].sort((a, b) => a.path.localeCompare(b.path));
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
    this.moveTag(this.findImage(idOrRef), `${repo}:${tag}`);
  }

  /** Points `ref` at `image`, taking it from whichever image had it, as the Engine does on tag, load and import. */
  private moveTag(image: FakeImage, ref: string): void {
    for (const other of this.images.values()) other.tags = other.tags.filter((t) => t !== ref);
    image.tags.push(ref);
    this.emit('image', 'tag', image.id, { name: ref });
  }

  async removeImage(idOrRef: string, options: { force?: boolean; noPrune?: boolean } = {}): Promise<void> {
    this.check();
    const image = this.findImage(idOrRef);
    const ref = idOrRef.startsWith('sha256:') || image.id === `sha256:${idOrRef}` ? undefined : idOrRef;
    const tag = ref === undefined || ref.includes(':') ? ref : `${ref}:latest`;
    if (tag && image.tags.length > 1) {
      image.tags = image.tags.filter((t) => t !== tag);
      this.emit('image', 'untag', image.id, { name: tag });
      return;
    }
    if (!tag && image.tags.length > 1 && !options.force) {
      throw new AppError(
        'conflict',
        `Docker engine at ${this.endpoint}: conflict: unable to delete ${image.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`,
      );
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
      mountpoint: `${this.volumeRoot}/${spec.name}/_data`,
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

  /**
   * A tar holding `manifest.json` in `docker save`'s shape and one image config per image (with a `size` field a
   * real config lacks); no layers, the fake has none. A reference without a tag means its ":latest" tag here.
   */
  async saveImages(refs: string[]): Promise<AsyncIterable<Uint8Array>> {
    this.check();
    if (refs.length === 0) {
      throw new AppError('invalid_argument', `no images to save from ${this.endpoint}`);
    }
    const saved = new Map<string, { image: FakeImage; tags: string[] }>();
    for (const ref of refs) {
      const image = this.findImage(ref);
      const entry = saved.get(image.id) ?? { image, tags: [] };
      saved.set(image.id, entry);
      const tag = ref.includes(':') ? ref : `${ref}:latest`;
      if (image.tags.includes(tag) && !entry.tags.includes(tag)) entry.tags.push(tag);
    }
    const files: [string, string][] = [];
    const manifest: SavedManifestEntry[] = [];
    for (const { image, tags } of saved.values()) {
      const configName = `${image.id.replace(/^sha256:/, '')}.json`;
      const config: SavedImageConfig = {
        architecture: image.architecture,
        os: image.os,
        created: new Date(image.created * 1000).toISOString(),
        config: { Labels: { ...image.labels } },
        rootfs: { type: 'layers', diff_ids: [...image.layers] },
        size: image.size,
      };
      files.push([configName, JSON.stringify(config)]);
      manifest.push({ Config: configName, RepoTags: tags.length > 0 ? tags : null, Layers: [] });
    }
    files.push(['manifest.json', JSON.stringify(manifest)]);
    return streamOf(tarOf(files));
  }

  /** Loads what `saveImages` wrote (a real `docker save` tar too): ids are kept, tags move to the loaded image. */
  async loadImages(tar: AsyncIterable<Uint8Array>): Promise<void> {
    this.check();
    const bytes = await bytesOf(tar);
    const fail = (why: string): AppError =>
      new AppError('invalid_argument', `Docker engine at ${this.endpoint} could not load the images: ${why}`);
    let files: Map<string, Uint8Array>;
    let manifest: SavedManifestEntry[];
    try {
      files = new Map(entriesOf(bytes).map((entry) => [entry.name, entry.data]));
      const manifestBytes = files.get('manifest.json');
      if (!manifestBytes) throw new Error('the archive has no manifest.json');
      manifest = JSON.parse(decoder.decode(manifestBytes)) as SavedManifestEntry[];
      if (!Array.isArray(manifest)) throw new Error('manifest.json is not a list');
    } catch (error) {
      throw fail(error instanceof Error ? error.message : String(error));
    }
    for (const entry of manifest) {
      const configBytes = files.get(entry.Config);
      if (!configBytes) throw fail(`the archive has no ${entry.Config}`);
      let config: Partial<SavedImageConfig>;
      try {
        config = JSON.parse(decoder.decode(configBytes)) as Partial<SavedImageConfig>;
      } catch (error) {
        throw fail(`${entry.Config}: ${error instanceof Error ? error.message : String(error)}`);
      }
      const id = `sha256:${entry.Config.replace(/\.json$/, '')}`;
      let image = this.images.get(id);
      if (!image) {
        const layerBytes = (entry.Layers ?? []).reduce(
          (total, layer) => total + (files.get(layer)?.length ?? 0),
          0,
        );
        image = {
          id,
          tags: [],
          digests: [],
          size: config.size ?? layerBytes,
          created: Math.floor(Date.parse(config.created ?? '') / 1000) || 0,
          labels: stringRecord(config.config?.Labels),
          containers: 0,
          architecture: config.architecture ?? 'amd64',
          os: config.os ?? 'linux',
          layers: [...(config.rootfs?.diff_ids ?? [])],
        };
        this.images.set(id, image);
      }
      this.emit('image', 'load', id);
      for (const tag of entry.RepoTags ?? []) {
        if (!image.tags.includes(tag)) this.moveTag(image, tag);
      }
    }
  }

  /** Checks the archive is a tar and the changes are ones `docker import` knows; LABEL changes become labels. */
  async importImage(
    tar: AsyncIterable<Uint8Array>,
    reference: string,
    options: { changes?: string[] } = {},
  ): Promise<string> {
    this.check();
    const bytes = await bytesOf(tar);
    if (!/^[a-z0-9][a-z0-9._/:-]*$/.test(reference) || reference.endsWith(':')) {
      throw new AppError('invalid_argument', `Docker engine at ${this.endpoint}: invalid reference format`);
    }
    const labels: Record<string, string> = {};
    for (const change of options.changes ?? []) {
      const [instruction = '', args = ''] = change.trim().split(/\s+(.*)/s);
      if (!CHANGE_INSTRUCTIONS.has(instruction.toUpperCase())) {
        throw new AppError(
          'invalid_argument',
          `Docker engine at ${this.endpoint}: ${instruction.toLowerCase()} is not a valid change command`,
        );
      }
      if (instruction.toUpperCase() === 'LABEL') Object.assign(labels, labelsOfChange(args));
    }
    let entries: TarEntry[];
    try {
      entries = entriesOf(bytes);
    } catch (error) {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint} could not import the image: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    const { repo, tag } = splitReference(reference);
    const id = `sha256:${newId()}`;
    const image: FakeImage = {
      id,
      tags: [],
      digests: [],
      size: entries.reduce((total, entry) => total + entry.data.length, 0),
      created: Math.floor(Date.now() / 1000),
      labels,
      containers: 0,
      architecture: 'amd64',
      os: 'linux',
      layers: [`sha256:${newId()}`],
    };
    this.images.set(id, image);
    this.emit('image', 'import', id);
    this.moveTag(image, `${repo}:${tag}`);
    return id;
  }

  /** A tar of a file or directory the container's archives put there (or of its root directories). */
  async getArchive(idOrName: string, path: string): Promise<AsyncIterable<Uint8Array>> {
    this.check();
    const c = this.findContainer(idOrName);
    const target = normalizePath(path);
    const base = target === '/' ? '' : target.slice(target.lastIndexOf('/') + 1);
    const file = c.files.get(target);
    if (file) return streamOf(tarOf([[base, file]]));
    if (!c.directories.has(target)) throw this.missingPath(idOrName, path);
    const within = (other: string): string | undefined =>
      target === '/'
        ? other.slice(1)
        : other.startsWith(`${target}/`)
          ? other.slice(target.length + 1)
          : undefined;
    const entries: [string, string | Uint8Array | null][] = base ? [[base, null]] : [];
    const inside = (rel: string): string => (base ? `${base}/${rel}` : rel);
    for (const directory of [...c.directories].sort()) {
      const rel = within(directory);
      if (rel) entries.push([inside(rel), null]);
    }
    for (const [other, data] of [...c.files].sort(([a], [b]) => a.localeCompare(b))) {
      const rel = within(other);
      if (rel) entries.push([inside(rel), data]);
    }
    return streamOf(tarOf(entries));
  }

  /** Extracts files and directories of the tar below `path`, which must be a directory the container has. */
  async putArchive(idOrName: string, path: string, tar: AsyncIterable<Uint8Array>): Promise<void> {
    this.check();
    const c = this.findContainer(idOrName);
    const bytes = await bytesOf(tar);
    const target = normalizePath(path);
    if (c.files.has(target)) {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint}: extraction point is not a directory`,
      );
    }
    if (!c.directories.has(target)) throw this.missingPath(idOrName, path);
    let entries: TarEntry[];
    try {
      entries = entriesOf(bytes);
    } catch (error) {
      throw new AppError(
        'invalid_argument',
        `Docker engine at ${this.endpoint} could not extract the archive: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    for (const entry of entries) {
      const destination = joinPath(target, entry.name);
      if (entry.type === 'directory') {
        addDirectory(c, destination);
      } else if (entry.type === 'file') {
        addDirectory(c, destination.slice(0, destination.lastIndexOf('/')) || '/');
        c.files.set(destination, entry.data);
      }
    }
  }

  private missingPath(container: string, path: string): AppError {
    return new AppError(
      'not_found',
      `path "${path}" in container "${container}" not found on ${this.endpoint}`,
    );
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

/** A directory and its parents, so that archives can be extracted into it. */
function addDirectory(c: FakeContainer, path: string): void {
  for (let dir = normalizePath(path); ; dir = dir.slice(0, dir.lastIndexOf('/')) || '/') {
    c.directories.add(dir);
    if (dir === '/') return;
  }
}

/** Volume and bind mounts of a create body's HostConfig (`Mounts` and `Binds`, as the Engine reads them). */
function mountsOf(hostConfig: Record<string, unknown>): ContainerMount[] {
  const mounts: ContainerMount[] = [];
  const list = Array.isArray(hostConfig.Mounts) ? (hostConfig.Mounts as Record<string, unknown>[]) : [];
  for (const mount of list) {
    const source = typeof mount.Source === 'string' ? mount.Source : '';
    const destination = typeof mount.Target === 'string' ? mount.Target : '';
    if (mount.Type === 'volume' || mount.Type === 'bind') {
      mounts.push(volumeOrBind(mount.Type, source, destination, mount.ReadOnly === true));
    }
  }
  for (const bind of stringList(hostConfig.Binds) ?? []) {
    const [source = '', destination = '', mode = ''] = bind.split(':');
    const type = source.startsWith('/') ? 'bind' : 'volume';
    mounts.push(volumeOrBind(type, source, destination, mode.split(',').includes('ro')));
  }
  return mounts;
}

function volumeOrBind(
  type: 'volume' | 'bind',
  source: string,
  destination: string,
  readOnly: boolean,
): ContainerMount {
  return type === 'volume'
    ? { type, name: source, source: `/var/lib/docker/volumes/${source}/_data`, destination, readOnly }
    : { type, source, destination, readOnly };
}

/** The parts of the Engine's container inspect document that the fake models (see ContainerDetails.raw). */
function rawInspect(c: FakeContainer): Record<string, unknown> {
  const networks: Record<string, unknown> = {};
  for (const [name, endpoint] of c.endpoints) {
    const ipam = {
      ...(endpoint.ipv4Address ? { IPv4Address: endpoint.ipv4Address } : {}),
      ...(endpoint.ipv6Address ? { IPv6Address: endpoint.ipv6Address } : {}),
    };
    networks[name] = {
      Aliases: endpoint.aliases.length > 0 ? [...endpoint.aliases] : null,
      IPAMConfig: Object.keys(ipam).length > 0 ? ipam : null,
    };
  }
  return {
    Id: c.id,
    Name: `/${c.name}`,
    Created: new Date(c.created * 1000).toISOString(),
    Image: c.imageId,
    State: { Status: c.state },
    Config: structuredClone(c.config),
    HostConfig: structuredClone(c.hostConfig),
    NetworkSettings: { Networks: networks },
  };
}
