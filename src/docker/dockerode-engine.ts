// The DockerEngine port over the Engine API, through dockerode. Every call's failure is translated to an AppError.
import { Readable } from 'node:stream';
import Docker from 'dockerode';
import { AppError, type ErrorCode } from '../core/errors.js';
import type {
  ContainerCreateSpec,
  ContainerDetails,
  ContainerMount,
  ContainerState,
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
  PortBinding,
  VolumeCreateSpec,
  VolumeSummary,
} from '../core/docker-resources.js';
import type { ContainerChange, DockerEngine, EventOptions, ListOptions } from '../core/ports.js';
import { resolveDockerHost, type DockerHostSettings } from './docker-host.js';
import { translateEngineError } from './engine-errors.js';

/** The networks every engine creates itself; never migrated, never removed. */
const BUILT_IN_NETWORKS = new Set(['bridge', 'host', 'none']);

const CONTAINER_STATES = new Set<ContainerState>([
  'created',
  'running',
  'paused',
  'restarting',
  'removing',
  'exited',
  'dead',
]);

const OBJECT_TYPES = new Set<DockerObjectType>([
  'container',
  'image',
  'volume',
  'network',
  'daemon',
  'plugin',
]);

type Labels = Record<string, string>;

/**
 * Whether `docker info`'s DriverStatus says the Engine keeps images in containerd's store: it then lists
 * ["driver-type", "io.containerd.snapshotter.v1"] (Docker ≥ 24 with the containerd-snapshotter feature).
 */
function containerdStore(driverStatus: unknown): boolean {
  return (
    Array.isArray(driverStatus) &&
    driverStatus.some(
      (pair) =>
        Array.isArray(pair) &&
        pair[0] === 'driver-type' &&
        String(pair[1]).startsWith('io.containerd.snapshotter'),
    )
  );
}

function labelsOf(value: unknown): Labels {
  return value && typeof value === 'object' ? { ...(value as Labels) } : {};
}

function labelFilter(labels: LabelFilter | undefined): Record<string, string[]> {
  if (!labels) return {};
  const entries = Object.entries(labels).map(([key, value]) => (value === true ? key : `${key}=${value}`));
  return entries.length > 0 ? { label: entries } : {};
}

function containerState(value: unknown): ContainerState {
  return typeof value === 'string' && CONTAINER_STATES.has(value as ContainerState)
    ? (value as ContainerState)
    : 'dead';
}

function protocolOf(value: unknown): PortBinding['protocol'] {
  return value === 'udp' || value === 'sctp' ? value : 'tcp';
}

/** The container's own name: the one of its names without a link prefix ("/web", not "/other/web"). */
function primaryName(names: string[] | undefined): string {
  const list = names ?? [];
  const own = list.find((name) => name.lastIndexOf('/') === 0) ?? list[0] ?? '';
  return own.replace(/^\//, '');
}

function unixSeconds(iso: string | undefined): number {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

function realTags(tags: string[] | null | undefined): string[] {
  return (tags ?? []).filter((tag) => tag !== '<none>:<none>');
}

function realDigests(digests: string[] | null | undefined): string[] {
  return (digests ?? []).filter((digest) => digest !== '<none>@<none>');
}

function mapContainerSummary(item: Docker.ContainerInfo): ContainerSummary {
  return {
    id: item.Id,
    name: primaryName(item.Names),
    image: item.Image,
    imageId: item.ImageID,
    command: item.Command,
    state: containerState(item.State),
    status: item.Status,
    created: item.Created,
    labels: labelsOf(item.Labels),
    ports: (item.Ports ?? []).map((port) => ({
      privatePort: port.PrivatePort,
      ...(port.PublicPort ? { publicPort: port.PublicPort } : {}),
      ...(port.IP ? { hostIp: port.IP } : {}),
      protocol: protocolOf(port.Type),
    })),
    volumeNames: (item.Mounts ?? [])
      .filter((mount) => mount.Type === 'volume' && mount.Name)
      .map((mount) => mount.Name as string),
    networkNames: Object.keys(item.NetworkSettings?.Networks ?? {}),
  };
}

function portsFromInspect(
  ports: Record<string, { HostIp: string; HostPort: string }[] | null> | undefined,
): PortBinding[] {
  const result: PortBinding[] = [];
  for (const [key, bindings] of Object.entries(ports ?? {})) {
    const [port, protocol] = key.split('/');
    const privatePort = Number(port);
    if (!bindings || bindings.length === 0) {
      result.push({ privatePort, protocol: protocolOf(protocol) });
      continue;
    }
    for (const binding of bindings) {
      result.push({
        privatePort,
        ...(binding.HostPort ? { publicPort: Number(binding.HostPort) } : {}),
        ...(binding.HostIp ? { hostIp: binding.HostIp } : {}),
        protocol: protocolOf(protocol),
      });
    }
  }
  return result;
}

function mapContainerDetails(item: Docker.ContainerInspectInfo): ContainerDetails {
  const mounts: ContainerMount[] = (item.Mounts ?? []).map((mount) => ({
    type: (mount.Type as ContainerMount['type'] | undefined) ?? 'bind',
    ...(mount.Name ? { name: mount.Name } : {}),
    source: mount.Source,
    destination: mount.Destination,
    readOnly: !mount.RW,
  }));
  const health = item.State.Health?.Status;
  return {
    id: item.Id,
    name: item.Name.replace(/^\//, ''),
    image: item.Config.Image,
    imageId: item.Image,
    command: [item.Path, ...item.Args].join(' '),
    state: containerState(item.State.Status),
    status: item.State.Status,
    created: unixSeconds(item.Created),
    labels: labelsOf(item.Config.Labels),
    ports: portsFromInspect(item.NetworkSettings.Ports),
    volumeNames: mounts
      .filter((mount) => mount.type === 'volume' && mount.name)
      .map((mount) => mount.name as string),
    networkNames: Object.keys(item.NetworkSettings.Networks),
    ...(health === 'starting' || health === 'healthy' || health === 'unhealthy' ? { health } : {}),
    restartCount: item.RestartCount,
    ...(item.State.StartedAt ? { startedAt: item.State.StartedAt } : {}),
    ...(item.State.FinishedAt ? { finishedAt: item.State.FinishedAt } : {}),
    exitCode: item.State.ExitCode,
    mounts,
    raw: item as unknown as Record<string, unknown>,
  };
}

function mapImageSummary(item: Docker.ImageInfo): ImageSummary {
  return {
    id: item.Id,
    tags: realTags(item.RepoTags),
    digests: realDigests(item.RepoDigests),
    size: item.Size,
    created: item.Created,
    labels: labelsOf(item.Labels),
    containers: item.Containers,
  };
}

function mapImageDetails(item: Docker.ImageInspectInfo): ImageDetails {
  return {
    id: item.Id,
    tags: realTags(item.RepoTags),
    digests: realDigests(item.RepoDigests),
    size: item.Size,
    created: unixSeconds(item.Created),
    labels: labelsOf(item.Config.Labels),
    containers: -1,
    architecture: item.Architecture,
    os: item.Os,
    layers: item.RootFS.Layers ?? [],
  };
}

interface EngineVolume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Labels | null;
  Options: Labels | null;
  Scope: 'local' | 'global';
  CreatedAt?: string;
  UsageData?: { Size: number; RefCount: number } | null;
}

function mapVolume(item: EngineVolume): VolumeSummary {
  return {
    name: item.Name,
    driver: item.Driver,
    mountpoint: item.Mountpoint,
    labels: labelsOf(item.Labels),
    options: labelsOf(item.Options),
    scope: item.Scope,
    ...(item.CreatedAt ? { createdAt: item.CreatedAt } : {}),
  };
}

function mapNetwork(item: Docker.NetworkInspectInfo): NetworkSummary {
  return {
    id: item.Id,
    name: item.Name,
    driver: item.Driver,
    scope: item.Scope,
    internal: item.Internal,
    attachable: item.Attachable,
    ipv6: item.EnableIPv6,
    labels: labelsOf(item.Labels),
    options: labelsOf(item.Options),
    ipam: {
      driver: item.IPAM?.Driver ?? 'default',
      config: (item.IPAM?.Config ?? []).map((config) => ({
        ...(config.Subnet ? { subnet: config.Subnet } : {}),
        ...(config.Gateway ? { gateway: config.Gateway } : {}),
        ...(config.IPRange ? { ipRange: config.IPRange } : {}),
      })),
      options: labelsOf(item.IPAM?.Options),
    },
    builtIn: BUILT_IN_NETWORKS.has(item.Name),
    ...(item.Created ? { created: item.Created } : {}),
  };
}

interface EngineEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Labels };
  timeNano?: number | string;
  time?: number;
}

function mapEvent(raw: EngineEvent): DockerEvent {
  const type = (raw.Type ?? 'other') as DockerObjectType;
  return {
    type: OBJECT_TYPES.has(type) ? type : 'other',
    action: raw.Action ?? raw.status ?? '',
    id: raw.Actor?.ID ?? raw.id ?? '',
    attributes: labelsOf(raw.Actor?.Attributes),
    timeNano: String(raw.timeNano ?? (raw.time ?? 0) * 1e9),
  };
}

/** True when the Engine answered 304: the object is already in the asked state (started, stopped). */
function isNotModified(error: unknown): boolean {
  return (error as { statusCode?: number } | null)?.statusCode === 304;
}

interface ModemError {
  statusCode?: number;
  json?: unknown;
  message?: string;
}

/**
 * docker-modem leaves `json` null when the call's answer is a stream (save, load, import, archives) and keeps the
 * Engine's message only in the Error's text, "(HTTP code 404) no such container - No such image: x ". Put it back
 * into `json` so that translateEngineError shows the Engine's words rather than dockerode's guess.
 */
function withEngineMessage(error: unknown): unknown {
  const shape = error as ModemError | null;
  if (typeof shape?.statusCode !== 'number' || shape.json != null || typeof shape.message !== 'string') {
    return error;
  }
  const cause = /^\(HTTP code \d+\) [^-]*- (.*)$/s.exec(shape.message)?.[1]?.trim();
  if (cause) shape.json = { message: cause };
  return error;
}

function engineMessageOf(error: unknown): string {
  const json = (error as ModemError | null)?.json;
  if (typeof json === 'string') return json;
  const message = json && typeof json === 'object' && 'message' in json ? json.message : undefined;
  return typeof message === 'string' ? message : '';
}

function statusOf(error: unknown): number | undefined {
  const status = (error as ModemError | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** The same error under another code (the Engine's status does not always say what happened). */
function recode(error: AppError, code: ErrorCode): AppError {
  return new AppError(code, error.message, {
    cause: error.cause,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    ...(error.details === undefined ? {} : { details: error.details }),
  });
}

/** The Engine answers 500 for archives it cannot read; that is a bad argument of ours, not an Engine fault. */
function isBadArchive(message: string): boolean {
  return /Error processing tar file|extraction point is not a directory|unexpected EOF|invalid tar header/i.test(
    message,
  );
}

/** "repo:tag" → its parts (the tag follows the last colon after the last slash: "host:5000/app" has none). */
function splitReference(reference: string): { repo: string; tag: string } {
  const colon = reference.lastIndexOf(':');
  return colon > reference.lastIndexOf('/')
    ? { repo: reference.slice(0, colon), tag: reference.slice(colon + 1) }
    : { repo: reference, tag: 'latest' };
}

/** A line of the Engine's JSON progress stream (load, import, pull). */
interface ProgressLine {
  error?: string;
  errorDetail?: { message?: string };
  status?: string;
  stream?: string;
}

/** dockerode 5 has GET /images/get (all names in one tar) but @types/dockerode 4 does not declare it. */
interface ImagesExport {
  getImages(options: { names: string[] }): Promise<NodeJS.ReadableStream>;
}

/** A request body read from the port's byte stream; remembers the stream's own failure, which is not the Engine's. */
function requestBody(tar: AsyncIterable<Uint8Array>): { body: Readable; failure: () => unknown } {
  const body = Readable.from(tar, { objectMode: false });
  let failure: unknown;
  body.once('error', (error) => {
    failure = error;
  });
  return { body, failure: () => failure };
}

/** The user-defined networks a create body attaches the container to (not "default", built-ins or "container:x"). */
function networksNamedBy(config: Record<string, unknown>): string[] {
  const mode = (config.HostConfig as { NetworkMode?: unknown } | undefined)?.NetworkMode;
  const endpoints = (
    config.NetworkingConfig as { EndpointsConfig?: Record<string, unknown> | null } | undefined
  )?.EndpointsConfig;
  const names = [typeof mode === 'string' ? mode : '', ...Object.keys(endpoints ?? {})];
  return [...new Set(names)].filter(
    (name) =>
      name !== '' && name !== 'default' && !BUILT_IN_NETWORKS.has(name) && !name.startsWith('container:'),
  );
}

/** The Engine's 404 for archives means a missing container or a missing path: name the one it meant. */
function archiveSubject(message: string, container: string, path: string): string {
  return message.startsWith('No such container')
    ? `container "${container}"`
    : `path "${path}" in container "${container}"`;
}

/**
 * Creates the adapter for the engine named by the settings (DOCKER_HOST semantics). No connection is made until
 * the first call.
 */
export function createDockerodeEngine(settings: DockerHostSettings): DockerodeEngine {
  const { endpoint, options } = resolveDockerHost(settings);
  return new DockerodeEngine(new Docker(options), endpoint);
}

export class DockerodeEngine implements DockerEngine {
  constructor(
    private readonly docker: Docker,
    readonly endpoint: string,
  ) {}

  /** Runs one Engine call, translating its failure; `what` names the object for not-found messages. */
  private async call<T>(run: () => Promise<T>, what?: string): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw translateEngineError(error, this.endpoint, what);
    }
  }

  /**
   * Translates a failure, also of calls whose answer is a stream; `name` picks the object for a not-found message
   * from the Engine's own text (its 404 means a missing container or a missing path alike).
   */
  private translate(error: unknown, name?: (engineMessage: string) => string | undefined): AppError {
    const fixed = withEngineMessage(error);
    return translateEngineError(fixed, this.endpoint, name?.(engineMessageOf(fixed)));
  }

  /** The failure of a call that sent `tar`: the byte stream's own failure wins over what it did to the request. */
  private failureOfUpload(
    error: unknown,
    sourceFailure: unknown,
    name?: (engineMessage: string) => string | undefined,
  ): AppError {
    if (sourceFailure instanceof AppError) return sourceFailure;
    if (sourceFailure !== undefined) {
      const reason = AppError.from(sourceFailure).message;
      const message = `the archive being sent to the Docker engine at ${this.endpoint} failed: ${reason}`;
      return new AppError('internal', message, { cause: sourceFailure });
    }
    const failure = this.translate(error, name);
    const message = engineMessageOf(error);
    return statusOf(error) === 500 && isBadArchive(message) ? recode(failure, 'invalid_argument') : failure;
  }

  /**
   * An Engine answer as the port's byte stream: failures translated, the answer dropped when reading stops early.
   * The caller must read it or `return()` its iterator; until then the answer holds its connection.
   */
  private async *bytesOf(answer: NodeJS.ReadableStream): AsyncIterable<Uint8Array> {
    try {
      for await (const chunk of answer) yield chunk as Uint8Array;
    } catch (error) {
      throw this.translate(error);
    } finally {
      // The answer is an http.IncomingMessage: destroying it frees the socket when the reader stopped early.
      (answer as NodeJS.ReadableStream & { destroy(): void }).destroy();
    }
  }

  /**
   * Reads a JSON progress answer to its end. The Engine answers 200 before it knows the outcome and reports a
   * failure as a line `{"errorDetail":{...},"error":"..."}`, so only reading it all tells success.
   */
  private async readProgress(answer: NodeJS.ReadableStream, doing: string): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    const check = (text: string): void => {
      const line = text.trim();
      if (!line) return;
      let parsed: ProgressLine;
      try {
        parsed = JSON.parse(line) as ProgressLine;
      } catch {
        return;
      }
      const message = parsed.errorDetail?.message ?? parsed.error;
      if (message === undefined) return;
      const code: ErrorCode = /no space left on device/i.test(message)
        ? 'failed_precondition'
        : 'invalid_argument';
      throw new AppError(code, `Docker engine at ${this.endpoint} ${doing}: ${message}`, {
        details: { engine_message: message },
        ...(code === 'failed_precondition' ? { hint: 'free disk space on that engine and retry' } : {}),
      });
    };
    for await (const chunk of answer) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        check(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    }
    check(buffered);
  }

  async ping(): Promise<void> {
    await this.call(() => this.docker.ping());
  }

  async version(): Promise<EngineVersion> {
    const v = await this.call(() => this.docker.version());
    return {
      version: v.Version,
      apiVersion: v.ApiVersion,
      ...(v.MinAPIVersion ? { minApiVersion: v.MinAPIVersion } : {}),
      os: v.Os,
      arch: v.Arch,
      ...(v.KernelVersion ? { kernelVersion: v.KernelVersion } : {}),
      ...(v.GitCommit ? { gitCommit: v.GitCommit } : {}),
    };
  }

  async info(): Promise<EngineInfo> {
    const info = (await this.call(() => this.docker.info())) as Record<string, unknown>;
    const str = (key: string): string => (typeof info[key] === 'string' ? info[key] : '');
    const num = (key: string): number => (typeof info[key] === 'number' ? info[key] : 0);
    return {
      id: str('ID'),
      name: str('Name'),
      dockerRootDir: str('DockerRootDir'),
      storageDriver: str('Driver'),
      ...(containerdStore(info.DriverStatus) ? { imageStore: 'containerd' as const } : {}),
      containers: num('Containers'),
      images: num('Images'),
      cpus: num('NCPU'),
      memoryBytes: num('MemTotal'),
      architecture: str('Architecture'),
      os: str('OperatingSystem'),
      serverVersion: str('ServerVersion'),
    };
  }

  async listContainers(options: ListOptions & { all?: boolean } = {}): Promise<ContainerSummary[]> {
    const items = await this.call(() =>
      this.docker.listContainers({ all: options.all ?? false, filters: labelFilter(options.labels) }),
    );
    return items.map(mapContainerSummary);
  }

  async inspectContainer(idOrName: string): Promise<ContainerDetails> {
    const item = await this.call(
      () => this.docker.getContainer(idOrName).inspect(),
      `container "${idOrName}"`,
    );
    return mapContainerDetails(item);
  }

  async createContainer(spec: ContainerCreateSpec): Promise<string> {
    const container = await this.call(() =>
      this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        ...(spec.cmd ? { Cmd: spec.cmd } : {}),
        ...(spec.env ? { Env: spec.env } : {}),
        Labels: spec.labels ?? {},
        HostConfig: {
          Mounts: Object.entries(spec.volumes ?? {}).map(([name, target]) => ({
            Type: 'volume' as const,
            Source: name,
            Target: target,
          })),
          ...(spec.network ? { NetworkMode: spec.network } : {}),
        },
      }),
    );
    return container.id;
  }

  async startContainer(idOrName: string): Promise<void> {
    await this.call(async () => {
      try {
        await this.docker.getContainer(idOrName).start();
      } catch (error) {
        if (!isNotModified(error)) throw error;
      }
    }, `container "${idOrName}"`);
  }

  async stopContainer(idOrName: string, options: { timeoutSeconds?: number } = {}): Promise<void> {
    await this.call(async () => {
      try {
        await this.docker
          .getContainer(idOrName)
          .stop(options.timeoutSeconds === undefined ? {} : { t: options.timeoutSeconds });
      } catch (error) {
        if (!isNotModified(error)) throw error;
      }
    }, `container "${idOrName}"`);
  }

  async removeContainer(
    idOrName: string,
    options: { force?: boolean; volumes?: boolean } = {},
  ): Promise<void> {
    await this.call(
      () =>
        this.docker
          .getContainer(idOrName)
          .remove({ force: options.force ?? false, v: options.volumes ?? false }),
      `container "${idOrName}"`,
    );
  }

  async renameContainer(idOrName: string, newName: string): Promise<void> {
    await this.call(
      () => this.docker.getContainer(idOrName).rename({ name: newName }),
      `container "${idOrName}"`,
    );
  }

  async containerChanges(idOrName: string): Promise<ContainerChange[]> {
    const items = (await this.call(
      () => this.docker.getContainer(idOrName).changes(),
      `container "${idOrName}"`,
    )) as unknown;
    // The Engine's kinds: 0 modified, 1 added, 2 deleted. For a layer without changes it answers `null`, which
    // dockerode hands back unparsed, as a Buffer.
    if (!Array.isArray(items)) return [];
    return (items as { Path: string; Kind: number }[]).map((item) => ({
      path: item.Path,
      kind: item.Kind === 1 ? 'added' : item.Kind === 2 ? 'deleted' : 'modified',
    }));
  }

  async listImages(options: ListOptions = {}): Promise<ImageSummary[]> {
    const items = await this.call(() => this.docker.listImages({ filters: labelFilter(options.labels) }));
    return items.map(mapImageSummary);
  }

  async inspectImage(idOrRef: string): Promise<ImageDetails> {
    const item = await this.call(() => this.docker.getImage(idOrRef).inspect(), `image "${idOrRef}"`);
    return mapImageDetails(item);
  }

  async tagImage(idOrRef: string, repo: string, tag: string): Promise<void> {
    await this.call(() => this.docker.getImage(idOrRef).tag({ repo, tag }), `image "${idOrRef}"`);
  }

  async removeImage(idOrRef: string, options: { force?: boolean; noPrune?: boolean } = {}): Promise<void> {
    await this.call(
      () =>
        this.docker
          .getImage(idOrRef)
          .remove({ force: options.force ?? false, noprune: options.noPrune ?? false }),
      `image "${idOrRef}"`,
    );
  }

  async listVolumes(options: ListOptions & { sizes?: boolean } = {}): Promise<VolumeSummary[]> {
    const answer = await this.call(() => this.docker.listVolumes({ filters: labelFilter(options.labels) }));
    const volumes = ((answer.Volumes as unknown as EngineVolume[] | null) ?? []).map(mapVolume);
    if (!options.sizes) return volumes;
    // Sizes come only from /system/df (the Engine computes them on demand; it can take a while on big volumes).
    const df = (await this.call(() => this.docker.df())) as { Volumes?: EngineVolume[] | null };
    const usage = new Map((df.Volumes ?? []).map((volume) => [volume.Name, volume.UsageData]));
    return volumes.map((volume) => {
      const data = usage.get(volume.name);
      const known = (value: number | undefined): number | null =>
        value === undefined || value < 0 ? null : value;
      return { ...volume, size: known(data?.Size), refCount: known(data?.RefCount) };
    });
  }

  async inspectVolume(name: string): Promise<VolumeSummary> {
    const item = await this.call(() => this.docker.getVolume(name).inspect(), `volume "${name}"`);
    return mapVolume(item);
  }

  async createVolume(spec: VolumeCreateSpec): Promise<VolumeSummary> {
    // The Engine answers 201 with the existing volume when the name is taken; report that as a conflict instead.
    const existing = await this.inspectVolume(spec.name).catch((error: unknown) => {
      if (error instanceof AppError && error.code === 'not_found') return undefined;
      throw error;
    });
    if (existing) {
      throw new AppError('conflict', `volume "${spec.name}" already exists on ${this.endpoint}`);
    }
    await this.call(() =>
      this.docker.createVolume({
        Name: spec.name,
        Driver: spec.driver ?? 'local',
        Labels: spec.labels ?? {},
        DriverOpts: spec.options ?? {},
      }),
    );
    // dockerode resolves with a handle, not the Engine's answer: read the volume back.
    return this.inspectVolume(spec.name);
  }

  async removeVolume(name: string, options: { force?: boolean } = {}): Promise<void> {
    await this.call(
      () => this.docker.getVolume(name).remove({ force: options.force ?? false }),
      `volume "${name}"`,
    );
  }

  async listNetworks(options: ListOptions = {}): Promise<NetworkSummary[]> {
    const items = await this.call(() => this.docker.listNetworks({ filters: labelFilter(options.labels) }));
    return items.map(mapNetwork);
  }

  async inspectNetwork(idOrName: string): Promise<NetworkDetails> {
    const item = (await this.call(
      () => this.docker.getNetwork(idOrName).inspect(),
      `network "${idOrName}"`,
    )) as Docker.NetworkInspectInfo & { Containers?: Record<string, { Name: string; IPv4Address?: string }> };
    const containers: NetworkDetails['containers'] = {};
    for (const [id, value] of Object.entries(item.Containers ?? {})) {
      containers[id] = { name: value.Name, ...(value.IPv4Address ? { ipv4Address: value.IPv4Address } : {}) };
    }
    return { ...mapNetwork(item), containers };
  }

  async createNetwork(spec: NetworkCreateSpec): Promise<string> {
    const network = await this.call(() =>
      this.docker.createNetwork({
        Name: spec.name,
        // Without CheckDuplicate old engines create a second network of the same name.
        CheckDuplicate: true,
        Driver: spec.driver ?? 'bridge',
        Labels: spec.labels ?? {},
        Options: spec.options ?? {},
        Internal: spec.internal ?? false,
        Attachable: spec.attachable ?? false,
        EnableIPv6: spec.ipv6 ?? false,
        ...(spec.ipam
          ? {
              IPAM: {
                Driver: spec.ipam.driver ?? 'default',
                Config: (spec.ipam.config ?? []).map((config) => ({
                  ...(config.subnet ? { Subnet: config.subnet } : {}),
                  ...(config.gateway ? { Gateway: config.gateway } : {}),
                  ...(config.ipRange ? { IPRange: config.ipRange } : {}),
                })),
                Options: spec.ipam.options ?? {},
              },
            }
          : {}),
      }),
    );
    return network.id;
  }

  async removeNetwork(idOrName: string): Promise<void> {
    await this.call(() => this.docker.getNetwork(idOrName).remove(), `network "${idOrName}"`);
  }

  async createContainerFromConfig(name: string, config: Record<string, unknown>): Promise<string> {
    // dockerode puts every option into the query string unless given `_query`/`_body`: the body goes verbatim and
    // stays out of the URL (it holds the environment, often secrets).
    const options = { _query: { name }, _body: config } as unknown as Docker.ContainerCreateOptions;
    const image = typeof config.Image === 'string' ? config.Image : '';
    // Engine 20.10 creates a container whose NetworkMode or EndpointsConfig names a network that does not exist and
    // fails only when it starts: check them first, so that a missing network is reported where it is made.
    for (const network of networksNamedBy(config)) await this.inspectNetwork(network);
    try {
      const container = await this.docker.createContainer(options);
      return container.id;
    } catch (error) {
      throw this.translate(error, (message) =>
        message.startsWith('No such image') ? `image "${image}"` : undefined,
      );
    }
  }

  async connectNetwork(
    network: string,
    container: string,
    options: { aliases?: string[]; ipv4Address?: string; ipv6Address?: string } = {},
  ): Promise<void> {
    // To a container that is not running, the Engine answers 200 for a network that does not exist (it records the
    // name; the start fails later) and ignores a second connect to the same network, while a running container
    // gets 404 and 403. Check both first, so that every state fails the same way.
    const target = await this.inspectNetwork(network);
    const details = await this.inspectContainer(container);
    if (details.networkNames.includes(target.name)) {
      throw new AppError(
        'conflict',
        `container "${container}" is already connected to network "${target.name}" on ${this.endpoint}`,
      );
    }
    const ipam = {
      ...(options.ipv4Address ? { IPv4Address: options.ipv4Address } : {}),
      ...(options.ipv6Address ? { IPv6Address: options.ipv6Address } : {}),
    };
    try {
      await this.docker.getNetwork(target.id).connect({
        Container: details.id,
        EndpointConfig: {
          ...(options.aliases && options.aliases.length > 0 ? { Aliases: options.aliases } : {}),
          ...(Object.keys(ipam).length > 0 ? { IPAMConfig: ipam } : {}),
        },
      });
    } catch (error) {
      const failure = this.translate(error);
      // "endpoint with name x already exists in network y" comes as 403 Forbidden; it is a conflict.
      throw statusOf(error) === 403 && /already exists/.test(engineMessageOf(error))
        ? recode(failure, 'conflict')
        : failure;
    }
  }

  async saveImages(refs: string[]): Promise<AsyncIterable<Uint8Array>> {
    if (refs.length === 0) throw new AppError('invalid_argument', `no images to save from ${this.endpoint}`);
    let answer: NodeJS.ReadableStream;
    try {
      // One GET /images/get?names=a&names=b, so that manifest.json lists every tag asked for (a tar per image
      // would not carry the tags of the others).
      answer = await (this.docker as unknown as ImagesExport).getImages({ names: refs });
    } catch (error) {
      const failure = this.translate(error);
      if (failure.code !== 'not_found') throw failure;
      // The Engine's 404 says only "reference does not exist": name the reference that is missing.
      for (const ref of refs) await this.inspectImage(ref);
      throw failure;
    }
    return this.bytesOf(answer);
  }

  async loadImages(tar: AsyncIterable<Uint8Array>): Promise<void> {
    const { body, failure } = requestBody(tar);
    try {
      const answer = await this.docker.loadImage(body, { quiet: true });
      await this.readProgress(answer, 'could not load the images');
    } catch (error) {
      throw this.failureOfUpload(error, failure());
    } finally {
      body.destroy();
    }
  }

  async importImage(
    tar: AsyncIterable<Uint8Array>,
    reference: string,
    options: { changes?: string[] } = {},
  ): Promise<string> {
    const { repo, tag } = splitReference(reference);
    const { body, failure } = requestBody(tar);
    try {
      const answer = await this.docker.importImage(body, {
        repo,
        tag,
        ...(options.changes && options.changes.length > 0 ? { changes: options.changes } : {}),
      });
      await this.readProgress(answer, 'could not import the image');
    } catch (error) {
      throw this.failureOfUpload(error, failure());
    } finally {
      body.destroy();
    }
    // The last progress line carries the id too, but inspecting the reference also proves the tag is there.
    return (await this.inspectImage(reference)).id;
  }

  async getArchive(container: string, path: string): Promise<AsyncIterable<Uint8Array>> {
    let answer: NodeJS.ReadableStream;
    try {
      answer = await this.docker.getContainer(container).getArchive({ path });
    } catch (error) {
      throw this.translate(error, (message) => archiveSubject(message, container, path));
    }
    return this.bytesOf(answer);
  }

  async putArchive(container: string, path: string, tar: AsyncIterable<Uint8Array>): Promise<void> {
    const { body, failure } = requestBody(tar);
    try {
      await this.docker.getContainer(container).putArchive(body, { path });
    } catch (error) {
      throw this.failureOfUpload(error, failure(), (message) => archiveSubject(message, container, path));
    } finally {
      body.destroy();
    }
  }

  async *events(options: EventOptions = {}): AsyncIterable<DockerEvent> {
    const { signal } = options;
    if (signal?.aborted) return;
    const stream: NodeJS.ReadableStream = await this.call(() =>
      this.docker.getEvents({
        ...(options.since === undefined ? {} : { since: options.since }),
        ...(signal ? { abortSignal: signal } : {}),
      }),
    );
    const readable = stream as NodeJS.ReadableStream & { destroy(): void };
    const stop = (): void => {
      readable.destroy();
    };
    signal?.addEventListener('abort', stop, { once: true });
    let buffered = '';
    try {
      // The Engine writes one JSON document per line, but chunks may split or join lines.
      for await (const chunk of stream) {
        buffered += String(chunk);
        let newline = buffered.indexOf('\n');
        while (newline >= 0) {
          const line = buffered.slice(0, newline).trim();
          buffered = buffered.slice(newline + 1);
          if (line) yield mapEvent(JSON.parse(line) as EngineEvent);
          newline = buffered.indexOf('\n');
        }
      }
    } catch (error) {
      if (signal?.aborted) return;
      throw translateEngineError(error, this.endpoint);
    } finally {
      signal?.removeEventListener('abort', stop);
      readable.destroy();
    }
    if (!signal?.aborted) {
      throw new AppError('unavailable', `the event stream of the Docker engine at ${this.endpoint} ended`);
    }
  }
}
