// What the product knows of a Docker engine's resources: plain values, independent of the Engine API's shapes.

export type ContainerState = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface PortBinding {
  /** Port inside the container. */
  privatePort: number;
  /** Host port, when published. */
  publicPort?: number;
  /** Host address the port is bound on, when published. */
  hostIp?: string;
  protocol: 'tcp' | 'udp' | 'sctp';
}

export interface ContainerSummary {
  id: string;
  /** Name without the leading slash. */
  name: string;
  /** Image reference as the container was created with it. */
  image: string;
  imageId: string;
  command: string;
  state: ContainerState;
  /** Engine's human status, e.g. "Up 3 minutes (healthy)". */
  status: string;
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
  ports: PortBinding[];
  /** Names of the volumes mounted into it. */
  volumeNames: string[];
  networkNames: string[];
}

export interface ContainerMount {
  type: 'volume' | 'bind' | 'tmpfs' | 'npipe' | 'cluster';
  /** Volume name for volume mounts. */
  name?: string;
  source: string;
  destination: string;
  readOnly: boolean;
}

export interface ContainerDetails extends ContainerSummary {
  health?: 'starting' | 'healthy' | 'unhealthy';
  restartCount: number;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  mounts: ContainerMount[];
  /** The Engine's full inspect document, for adapters that recreate containers. */
  raw: Record<string, unknown>;
}

export interface ImageSummary {
  id: string;
  /** "repo:tag" references; empty for dangling images. */
  tags: string[];
  digests: string[];
  /** Bytes. */
  size: number;
  /** Unix seconds. */
  created: number;
  labels: Record<string, string>;
  /** Containers using it, when the Engine reports it (-1 otherwise). */
  containers: number;
}

export interface ImageDetails extends ImageSummary {
  architecture: string;
  os: string;
  /** Layer diff ids (rootfs), base first. */
  layers: string[];
}

export interface VolumeSummary {
  name: string;
  driver: string;
  mountpoint: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  scope: 'local' | 'global';
  createdAt?: string;
  /** Bytes on disk; present only when sizes were asked for (null when the Engine cannot tell). */
  size?: number | null;
  /** Containers referencing it; present only when sizes were asked for. */
  refCount?: number | null;
}

export interface IpamConfig {
  subnet?: string;
  gateway?: string;
  ipRange?: string;
}

export interface NetworkSummary {
  id: string;
  name: string;
  driver: string;
  scope: string;
  internal: boolean;
  attachable: boolean;
  ipv6: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  ipam: { driver: string; config: IpamConfig[]; options: Record<string, string> };
  /** Created by the Engine itself (bridge, host, none): never migrated or removed. */
  builtIn: boolean;
  created?: string;
}

export interface NetworkDetails extends NetworkSummary {
  /** Attached containers by id. */
  containers: Record<string, { name: string; ipv4Address?: string }>;
}

export interface EngineVersion {
  version: string;
  apiVersion: string;
  minApiVersion?: string;
  os: string;
  arch: string;
  kernelVersion?: string;
  gitCommit?: string;
}

export interface EngineInfo {
  id: string;
  name: string;
  dockerRootDir: string;
  storageDriver: string;
  /**
   * `containerd` when the Engine keeps images in containerd's store (its driver-type says so), whose saves name
   * layers by their compressed digests; absent for the Engine's own (graph driver) store.
   */
  imageStore?: 'containerd';
  containers: number;
  images: number;
  cpus: number;
  memoryBytes: number;
  architecture: string;
  os: string;
  serverVersion: string;
}

export type DockerObjectType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'other';

/** One entry of the Engine's event stream. */
export interface DockerEvent {
  type: DockerObjectType;
  /** Engine action, e.g. "create", "start", "destroy", "die", "health_status: healthy". */
  action: string;
  /** Id of the object (volume name for volumes). */
  id: string;
  attributes: Record<string, string>;
  /** Unix nanoseconds as reported by the Engine, as a decimal string (exceeds 2^53). */
  timeNano: string;
}

export interface ContainerCreateSpec {
  name: string;
  image: string;
  cmd?: string[];
  env?: string[];
  labels?: Record<string, string>;
  /** Volume name → mount path. */
  volumes?: Record<string, string>;
  network?: string;
}

export interface VolumeCreateSpec {
  name: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
}

export interface NetworkCreateSpec {
  name: string;
  driver?: string;
  labels?: Record<string, string>;
  options?: Record<string, string>;
  internal?: boolean;
  attachable?: boolean;
  ipv6?: boolean;
  ipam?: { driver?: string; config?: IpamConfig[]; options?: Record<string, string> };
}

/** Filter on labels: every key must be present, with the value when one is given. */
export type LabelFilter = Record<string, string | true>;
