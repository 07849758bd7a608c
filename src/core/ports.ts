// Ports: the only ways the domain talks to the world. Adapters implement them; fakes implement them for unit tests.
import type {
  ContainerCreateSpec,
  ContainerDetails,
  ContainerSummary,
  DockerEvent,
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
} from './docker-resources.js';
import type { MigrationEvent, MigrationRecord, MigrationStatus, NewMigrationEvent } from './migration.js';
import type {
  AuditEntry,
  CertificateRecord,
  InventoryRecord,
  NewAuditEntry,
  SessionRecord,
  WorkerRecord,
} from './workers.js';

export interface ListOptions {
  /** Only objects carrying these labels. */
  labels?: LabelFilter;
}

/** One entry of a container's writable layer against its image (the Engine's changes query). */
export interface ContainerChange {
  path: string;
  kind: 'modified' | 'added' | 'deleted';
}

export interface EventOptions {
  /** Replay events since this Unix time in seconds. */
  since?: number;
  /** Ends the stream; the iterator then finishes without error. */
  signal?: AbortSignal;
}

/**
 * One Docker engine, as the product needs it. Failures are AppErrors: `not_found` for a missing object,
 * `conflict` for a name in use or an object in use, `unavailable` when the engine cannot be reached.
 */
export interface DockerEngine {
  /** Where this engine is, for messages (e.g. "unix:///var/run/docker.sock"). */
  readonly endpoint: string;

  ping(): Promise<void>;
  version(): Promise<EngineVersion>;
  info(): Promise<EngineInfo>;

  listContainers(options?: ListOptions & { all?: boolean }): Promise<ContainerSummary[]>;
  inspectContainer(idOrName: string): Promise<ContainerDetails>;
  createContainer(spec: ContainerCreateSpec): Promise<string>;
  startContainer(idOrName: string): Promise<void>;
  stopContainer(idOrName: string, options?: { timeoutSeconds?: number }): Promise<void>;
  removeContainer(idOrName: string, options?: { force?: boolean; volumes?: boolean }): Promise<void>;
  /** `conflict` when another container has the name. */
  renameContainer(idOrName: string, newName: string): Promise<void>;
  /**
   * What the container's writable layer adds, changes or deletes against its image, as the Engine lists it: the
   * parent folders of a change are listed too, and so are folders the Engine made for mount points.
   */
  containerChanges(idOrName: string): Promise<ContainerChange[]>;

  listImages(options?: ListOptions): Promise<ImageSummary[]>;
  inspectImage(idOrRef: string): Promise<ImageDetails>;
  tagImage(idOrRef: string, repo: string, tag: string): Promise<void>;
  /**
   * Without `force` the Engine refuses (`conflict`) to delete an image a container uses or one referenced by
   * several repositories; a tag of an image with other tags is only untagged. `noPrune` keeps untagged parents.
   */
  removeImage(idOrRef: string, options?: { force?: boolean; noPrune?: boolean }): Promise<void>;

  listVolumes(options?: ListOptions & { sizes?: boolean }): Promise<VolumeSummary[]>;
  inspectVolume(name: string): Promise<VolumeSummary>;
  createVolume(spec: VolumeCreateSpec): Promise<VolumeSummary>;
  /**
   * `conflict` while any container (running or not) uses the volume, even with `force`; `force` only makes the
   * Engine forget a volume its driver fails to remove, and report success for one that does not exist.
   */
  removeVolume(name: string, options?: { force?: boolean }): Promise<void>;

  listNetworks(options?: ListOptions): Promise<NetworkSummary[]>;
  inspectNetwork(idOrName: string): Promise<NetworkDetails>;
  createNetwork(spec: NetworkCreateSpec): Promise<string>;
  removeNetwork(idOrName: string): Promise<void>;

  /**
   * Creates a container from an Engine API create body (`POST /containers/create`), as the migration builds it
   * from another engine's inspect data. Returns the new id.
   */
  createContainerFromConfig(name: string, config: Record<string, unknown>): Promise<string>;
  /** Attaches a container to a network with aliases and, when given, a fixed address. */
  connectNetwork(
    network: string,
    container: string,
    options?: { aliases?: string[]; ipv4Address?: string; ipv6Address?: string },
  ): Promise<void>;

  /** `docker save` of the given references (with their tags) as one tar stream. */
  saveImages(refs: string[]): Promise<AsyncIterable<Uint8Array>>;
  /** `docker load` of a tar stream; resolves once the Engine has loaded it (errors in its progress reject). */
  loadImages(tar: AsyncIterable<Uint8Array>): Promise<void>;
  /** `docker import` of a root filesystem tar as `reference` ("repo:tag"); returns the image id. */
  importImage(
    tar: AsyncIterable<Uint8Array>,
    reference: string,
    options?: { changes?: string[] },
  ): Promise<string>;

  /** A tar of `path` inside the container (`GET /containers/{id}/archive`); works on created, unstarted ones. */
  getArchive(container: string, path: string): Promise<AsyncIterable<Uint8Array>>;
  /** Extracts a tar into `path` inside the container (`PUT /containers/{id}/archive`). */
  putArchive(container: string, path: string, tar: AsyncIterable<Uint8Array>): Promise<void>;

  /** The Engine's event stream, until the signal aborts or the engine goes away (then it throws `unavailable`). */
  events(options?: EventOptions): AsyncIterable<DockerEvent>;
}

/** A master offering to lead: its id and where workers and standbys reach it. */
export interface LeaseCandidate {
  holder: string;
  /** host:port workers dial. */
  grpcUrl: string;
  /** Base URL of its HTTP API, where standbys forward API requests. */
  httpUrl: string;
}

/** The leader's lease as the database holds it; times on the database's clock. */
export interface LeaseState extends LeaseCandidate {
  epoch: number;
  expiresAtMs: number;
  /** The database's clock when read. */
  nowMs: number;
}

/**
 * One leader among masters sharing a database: a lease row whose epoch grows with every new holder. The epoch is
 * the fencing token — once set, every write of the store checks it in its own transaction, so a master that lost
 * the lease (paused, cut off) cannot write even before it notices.
 */
export interface LeaderLeaseStore {
  /**
   * Takes the lease when nobody holds it or it expired (`force`: whatever its state — for a store only this
   * process can open); answers the new epoch, or the lease as another master holds it.
   */
  tryAcquireLease(
    candidate: LeaseCandidate,
    ttlMs: number,
    options?: { force?: boolean },
  ): Promise<{ acquired: true; epoch: number } | { acquired: false; current: LeaseState }>;
  /** Extends the lease by `ttlMs` from the database's now; false when `holder` no longer holds `epoch`. */
  renewLease(holder: string, epoch: number, ttlMs: number): Promise<boolean>;
  /** Lets the lease expire now, if `holder` still holds `epoch` (a graceful hand-over). */
  releaseLease(holder: string, epoch: number): Promise<void>;
  readLease(): Promise<LeaseState | undefined>;
  /**
   * From now on every write checks, in its transaction, that `holder` still holds `epoch`, and fails with a
   * `fenced` failed_precondition when not; undefined lifts the check.
   */
  setFence(fence: { holder: string; epoch: number } | undefined): void;
}

/**
 * The master's persistent state. Implementations keep every write durable before resolving; the same queries
 * must later run on Postgres for a highly available master, so the port is async.
 */
export interface MasterStore {
  insertWorker(worker: WorkerRecord): Promise<void>;
  getWorker(id: string): Promise<WorkerRecord | undefined>;
  /** Revoked workers only when asked; ordered by name, then id. */
  listWorkers(options?: { includeRevoked?: boolean }): Promise<WorkerRecord[]>;
  /** Changes the given fields; `not_found` AppError when the worker does not exist. */
  updateWorker(id: string, patch: Partial<Omit<WorkerRecord, 'id'>>): Promise<void>;
  /** Marks the worker and every certificate of it revoked, in one transaction. */
  revokeWorker(id: string, at: string): Promise<void>;

  insertCertificate(certificate: CertificateRecord): Promise<void>;
  getCertificate(serial: string): Promise<CertificateRecord | undefined>;
  listCertificates(workerId: string): Promise<CertificateRecord[]>;

  /** Replaces the worker's last inventory (keeps the one with the higher sequence when older arrives late). */
  saveInventory(record: InventoryRecord): Promise<void>;
  getInventory(workerId: string): Promise<InventoryRecord | undefined>;
  listInventories(): Promise<InventoryRecord[]>;

  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /**
   * Stores the setting only when the key has none, in one statement: of masters racing to create the same thing
   * (the shared CA), exactly one is told true. Answers whether this call stored it.
   */
  insertSettingIfAbsent(key: string, value: string): Promise<boolean>;

  appendAudit(entry: NewAuditEntry): Promise<AuditEntry>;
  /** Newest first; `beforeId` pages back. */
  listAudit(options?: { limit?: number; beforeId?: number }): Promise<AuditEntry[]>;

  insertSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | undefined>;
  deleteSession(idHash: string): Promise<void>;
  /** Removes sessions that expired before `now` (ISO time); returns how many. */
  deleteExpiredSessions(now: string): Promise<number>;

  /** Keeps a pairing code, by its SHA-256 hex, until `expiresAt` (ISO time). */
  insertPairingCode(codeHash: string, expiresAt: string): Promise<void>;
  /**
   * Spends a pairing code: true once for a code that is kept and not expired at `now` (ISO time), whichever master
   * asks — the check and the delete are one statement. Expired codes are deleted on the way.
   */
  consumePairingCode(codeHash: string, now: string): Promise<boolean>;

  /**
   * Stores a new migration holding `lockKeys`, in one transaction: when another unfinished migration holds one
   * of them, nothing is stored and the answer is a `conflict` AppError whose details name the key and holder.
   */
  insertMigration(migration: MigrationRecord, lockKeys?: readonly string[]): Promise<void>;
  /** Lets go of every key the migration holds (it has ended). */
  releaseMigrationLocks(migrationId: string): Promise<void>;
  getMigration(id: string): Promise<MigrationRecord | undefined>;
  /** Replaces the given fields; `not_found` AppError when the migration does not exist. */
  updateMigration(id: string, patch: Partial<Omit<MigrationRecord, 'id'>>): Promise<void>;
  /** Newest first (by createdAt, then id); `before` is the id of the last migration of the previous page. */
  listMigrations(options?: {
    limit?: number;
    before?: string;
    status?: MigrationStatus[];
  }): Promise<MigrationRecord[]>;
  appendMigrationEvent(event: NewMigrationEvent): Promise<MigrationEvent>;
  /** Oldest first. */
  listMigrationEvents(
    migrationId: string,
    options?: { limit?: number; afterId?: number },
  ): Promise<MigrationEvent[]>;

  /** Adds one live event to the master's event log; answers its id, greater than every id before it. */
  appendMasterEvent(event: NewMasterEventRecord): Promise<number>;
  /** The events after `afterId`, oldest first, at most `limit` (default and cap 1000): for replay and polling. */
  listMasterEvents(afterId: number, limit?: number): Promise<MasterEventRecord[]>;
  /** The ids of the oldest and newest events kept; both undefined before the first event. */
  masterEventBounds(): Promise<MasterEventBounds>;
  /**
   * Deletes events beyond the newest `keepNewest` and events written before `olderThan` (ISO time), but never the
   * newest one, so that the latest id stays known; answers how many went.
   */
  pruneMasterEvents(options: { keepNewest?: number; olderThan?: string }): Promise<number>;

  close(): Promise<void>;
}

/** A live event of the master (what /api/events sends) before the log gives it its id. */
export interface NewMasterEventRecord {
  /** ISO time the event happened. */
  at: string;
  /** The event's name on the stream. */
  type: string;
  /** Its data, as the stream sends it; any JSON value. */
  body: unknown;
}

export interface MasterEventRecord extends NewMasterEventRecord {
  id: number;
}

export interface MasterEventBounds {
  oldest: number | undefined;
  latest: number | undefined;
}

/** The part of the store the event log uses (src/master/event-log.ts). */
export type MasterEventStore = Pick<
  MasterStore,
  'appendMasterEvent' | 'listMasterEvents' | 'masterEventBounds' | 'pruneMasterEvents'
>;
