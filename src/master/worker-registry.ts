// The master's live view of its workers: who is connected, their last heartbeat and inventory, persisted through
// the store and announced to listeners (the REST event stream, metrics).
import { AppError } from '../core/errors.js';
import { applyInventoryChanges, diffInventories, type InventoryChange } from '../core/inventory.js';
import type { MigrationEvent, MigrationRecord } from '../core/migration.js';
import type { MasterStore } from '../core/ports.js';
import {
  countInventory,
  type Inventory,
  type InventoryCounts,
  type InventoryRecord,
  type WorkerRecord,
  type WorkerSystem,
} from '../core/workers.js';

export type WorkerStatus = 'online' | 'offline';

/** A worker as the API shows it: the record plus liveness and counts. */
export interface WorkerView extends WorkerRecord {
  status: WorkerStatus;
  online: boolean;
  counts: InventoryCounts;
}

export type MasterEvent =
  | { type: 'worker.online'; worker: WorkerView }
  | { type: 'worker.offline'; worker: WorkerView; reason: string }
  | { type: 'worker.enrolled'; worker: WorkerView }
  | { type: 'worker.removed'; workerId: string }
  | { type: 'inventory.changed'; workerId: string; counts: InventoryCounts; changes: InventoryChange[] }
  | { type: 'migration.updated'; migration: MigrationRecord }
  | { type: 'migration.event'; event: MigrationEvent };

/** The worker's side of a connected session, as the registry needs it. */
export interface WorkerSession {
  /** Ends the session from the master's side (e.g. revoked, replaced by a newer connection). */
  close(reason: AppError): void;
  /** Sends a command down the stream (see CommandDispatcher); `epoch` is the sending leader's. */
  sendCommand(command: {
    id: string;
    kind: string;
    argsJson: string;
    deadlineMs: number;
    epoch: number;
  }): void;
  cancelCommand(id: string): void;
  /**
   * Tells the worker which certificates and workers its transfer service must refuse: the whole list (`complete`)
   * or additions to it.
   */
  sendRevocations?(revocations: RevocationList, complete: boolean): void;
}

/** Removed workers whose certificates are still within their validity (an expired one is refused anyway). */
export interface RevocationList {
  certificateSerials: string[];
  workerIds: string[];
}

export interface HelloInfo {
  name: string;
  hostname: string;
  labels: Record<string, string>;
  version: string;
  advertiseAddress: string;
  dockerVersion: string;
}

interface Live {
  session: WorkerSession;
  lastHeartbeatMs: number;
}

export interface WorkerRegistryOptions {
  store: MasterStore;
  /** A worker without a heartbeat for this long is offline. */
  workerTimeoutMs: number;
  now?: () => number;
  /** Failures of background persistence (the store is the master's disk: a failure is logged, not fatal). */
  onError?: (error: unknown) => void;
}

const EMPTY_INVENTORY: Inventory = { containers: [], images: [], volumes: [], networks: [] };

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly inventories = new Map<string, InventoryRecord>();
  private readonly live = new Map<string, Live>();
  private readonly listeners = new Set<(event: MasterEvent) => void>();
  /** Revoked certificate serials of removed workers → their worker and end of validity (ms). */
  private readonly revoked = new Map<string, { workerId: string; notAfterMs: number }>();
  private readonly now: () => number;

  private constructor(private readonly options: WorkerRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Loads every known worker and its last inventory from the store; all start offline. */
  static async load(options: WorkerRegistryOptions): Promise<WorkerRegistry> {
    const registry = new WorkerRegistry(options);
    for (const worker of await options.store.listWorkers()) registry.workers.set(worker.id, worker);
    for (const record of await options.store.listInventories()) {
      if (registry.workers.has(record.workerId)) registry.inventories.set(record.workerId, record);
    }
    for (const worker of await options.store.listWorkers({ includeRevoked: true })) {
      if (worker.revokedAt) await registry.loadRevokedCertificates(worker.id);
    }
    return registry;
  }

  /** Adds the worker's certificates (all revoked with it) to the revocation list; returns the ones not known yet. */
  private async loadRevokedCertificates(workerId: string): Promise<string[]> {
    const added: string[] = [];
    for (const certificate of await this.options.store.listCertificates(workerId)) {
      const notAfterMs = Date.parse(certificate.notAfter);
      if (notAfterMs <= this.now() || this.revoked.has(certificate.serial)) continue;
      this.revoked.set(certificate.serial, { workerId, notAfterMs });
      added.push(certificate.serial);
    }
    return added;
  }

  /** The current revocation list, without certificates that have expired since. */
  revocations(): RevocationList {
    const now = this.now();
    const workerIds = new Set<string>();
    for (const [serial, entry] of this.revoked) {
      if (entry.notAfterMs <= now) this.revoked.delete(serial);
      else workerIds.add(entry.workerId);
    }
    return { certificateSerials: [...this.revoked.keys()], workerIds: [...workerIds] };
  }

  /**
   * A certificate of a removed worker that its removal did not see (a renewal recorded it after the removal had
   * listed the worker's certificates): the caller has revoked it in the store; every worker hears of it.
   */
  certificateRevoked(workerId: string, serial: string, notAfter: string): void {
    if (this.revoked.has(serial)) return;
    this.revoked.set(serial, { workerId, notAfterMs: Date.parse(notAfter) });
    this.announceRevocations({ certificateSerials: [serial], workerIds: [workerId] });
  }

  private announceRevocations(added: RevocationList): void {
    for (const live of this.live.values()) {
      try {
        live.session.sendRevocations?.(added, false);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  subscribe(listener: (event: MasterEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Announces an event that is not the registry's own (migrations) to the same listeners. */
  publish(event: Extract<MasterEvent, { type: 'migration.updated' | 'migration.event' }>): void {
    this.emit(event);
  }

  private emit(event: MasterEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private persist(work: Promise<unknown>): void {
    work.catch((error: unknown) => this.options.onError?.(error));
  }

  view(worker: WorkerRecord): WorkerView {
    const online = this.isOnline(worker.id);
    return {
      ...worker,
      status: online ? 'online' : 'offline',
      online,
      counts: countInventory(this.inventories.get(worker.id)?.inventory),
    };
  }

  isOnline(workerId: string): boolean {
    const live = this.live.get(workerId);
    return live !== undefined && this.now() - live.lastHeartbeatMs <= this.options.workerTimeoutMs;
  }

  /** Active (not revoked) workers, ordered by name. */
  list(): WorkerView[] {
    return (
      [...this.workers.values()]
        // Code-point order: ICU's localeCompare costs milliseconds per thousand workers on every API call.
        .sort((a, b) => compareText(a.name, b.name) || compareText(a.id, b.id))
        .map((worker) => this.view(worker))
    );
  }

  /** The active worker of that name, if any (names are unique among active workers). */
  findByName(name: string): WorkerRecord | undefined {
    for (const worker of this.workers.values()) if (worker.name === name) return worker;
    return undefined;
  }

  get(workerId: string): WorkerView | undefined {
    const worker = this.workers.get(workerId);
    return worker ? this.view(worker) : undefined;
  }

  /** The worker, or `not_found` naming it. */
  require(workerId: string): WorkerView {
    const worker = this.get(workerId);
    if (!worker) throw new AppError('not_found', `worker "${workerId}" not found`);
    return worker;
  }

  /** The session of a worker that is online now. */
  session(workerId: string): WorkerSession | undefined {
    return this.isOnline(workerId) ? this.live.get(workerId)?.session : undefined;
  }

  inventory(workerId: string): Inventory {
    return this.inventories.get(workerId)?.inventory ?? EMPTY_INVENTORY;
  }

  onlineCount(): number {
    let count = 0;
    for (const id of this.live.keys()) if (this.isOnline(id)) count += 1;
    return count;
  }

  /** A worker the master just enrolled (already persisted by the caller). */
  enrolled(worker: WorkerRecord): void {
    this.workers.set(worker.id, worker);
    this.emit({ type: 'worker.enrolled', worker: this.view(worker) });
  }

  /**
   * A worker connected and said hello. A previous session of the same worker is closed: the newest connection
   * wins (the worker restarted, or its old connection is half-dead).
   *
   * The hello's name is not taken: a worker's name is fixed at enrollment, where it is checked to be unique.
   * Migrations and the API find workers by name, so a hello that could rename a worker could take another
   * worker's name and its migrations. A different name is ignored rather than refused: a changed --name is a
   * local misconfiguration, not a reason to take a working host offline; the caller warns on both sides.
   */
  async attach(workerId: string, hello: HelloInfo, session: WorkerSession): Promise<WorkerView> {
    const worker = this.workers.get(workerId);
    if (!worker) throw new AppError('permission_denied', `worker "${workerId}" is not enrolled here`);
    const previous = this.live.get(workerId);
    const now = this.now();
    this.live.set(workerId, { session, lastHeartbeatMs: now });
    previous?.session.close(new AppError('canceled', 'replaced by a newer connection of the same worker'));
    const updated: WorkerRecord = {
      ...worker,
      hostname: hello.hostname,
      labels: hello.labels,
      version: hello.version,
      advertiseAddress: hello.advertiseAddress,
      dockerVersion: hello.dockerVersion,
      lastSeenAt: new Date(now).toISOString(),
    };
    this.workers.set(workerId, updated);
    await this.options.store.updateWorker(workerId, {
      hostname: updated.hostname,
      labels: updated.labels,
      version: updated.version,
      advertiseAddress: updated.advertiseAddress,
      dockerVersion: updated.dockerVersion,
      lastSeenAt: updated.lastSeenAt,
    });
    const view = this.view(updated);
    if (!previous) this.emit({ type: 'worker.online', worker: view });
    return view;
  }

  /** The session ended (stream closed). Only the current session's end makes the worker offline. */
  detach(workerId: string, session: WorkerSession, reason: string): void {
    const live = this.live.get(workerId);
    if (live?.session !== session) return;
    this.live.delete(workerId);
    const worker = this.workers.get(workerId);
    if (worker) this.emit({ type: 'worker.offline', worker: this.view(worker), reason });
  }

  heartbeat(workerId: string, figures: { activeTasks: number; system: WorkerSystem | null }): void {
    const live = this.live.get(workerId);
    const worker = this.workers.get(workerId);
    if (!live || !worker) return;
    const wasOnline = this.isOnline(workerId);
    const now = this.now();
    live.lastHeartbeatMs = now;
    const updated: WorkerRecord = {
      ...worker,
      lastSeenAt: new Date(now).toISOString(),
      activeTasks: figures.activeTasks,
      system: figures.system,
    };
    this.workers.set(workerId, updated);
    this.persist(
      this.options.store.updateWorker(workerId, {
        lastSeenAt: updated.lastSeenAt,
        activeTasks: updated.activeTasks,
        system: updated.system,
      }),
    );
    if (!wasOnline) this.emit({ type: 'worker.online', worker: this.view(updated) });
  }

  /** A full inventory; replaces what the master knew. Older (lower sequence) messages are ignored. */
  snapshot(workerId: string, sequence: number, inventory: Inventory): void {
    const current = this.inventories.get(workerId);
    if (current && sequence < current.sequence) return;
    const changes = diffInventories(current?.inventory ?? EMPTY_INVENTORY, inventory);
    this.replaceInventory(workerId, sequence, inventory, changes, changes.length > 0 || !current);
  }

  /** Changes since the last snapshot or delta. */
  delta(workerId: string, sequence: number, changes: InventoryChange[]): void {
    const current = this.inventories.get(workerId);
    if (current && sequence <= current.sequence) return;
    const inventory = applyInventoryChanges(current?.inventory ?? EMPTY_INVENTORY, changes);
    this.replaceInventory(workerId, sequence, inventory, changes, true);
  }

  private replaceInventory(
    workerId: string,
    sequence: number,
    inventory: Inventory,
    changes: InventoryChange[],
    announce: boolean,
  ): void {
    const record: InventoryRecord = {
      workerId,
      sequence,
      inventory,
      updatedAt: new Date(this.now()).toISOString(),
    };
    this.inventories.set(workerId, record);
    this.persist(this.options.store.saveInventory(record));
    if (announce)
      this.emit({ type: 'inventory.changed', workerId, counts: countInventory(inventory), changes });
  }

  /** Marks workers whose heartbeats stopped as offline; call every second or so. */
  sweep(): void {
    for (const [workerId, live] of this.live) {
      if (this.now() - live.lastHeartbeatMs > this.options.workerTimeoutMs) {
        this.live.delete(workerId);
        live.session.close(new AppError('deadline_exceeded', 'no heartbeat within the worker timeout'));
        const worker = this.workers.get(workerId);
        if (worker)
          this.emit({ type: 'worker.offline', worker: this.view(worker), reason: 'heartbeat timeout' });
      }
    }
  }

  /** Revokes the worker: persisted first, then its session is closed and it disappears from the lists. */
  async remove(workerId: string): Promise<void> {
    if (!this.workers.has(workerId)) throw new AppError('not_found', `worker "${workerId}" not found`);
    await this.options.store.revokeWorker(workerId, new Date(this.now()).toISOString());
    this.workers.delete(workerId);
    this.inventories.delete(workerId);
    const live = this.live.get(workerId);
    this.live.delete(workerId);
    live?.session.close(new AppError('permission_denied', 'this worker was removed from the master'));
    // Grants live for minutes: the other workers' transfer services must refuse this one's certificates now.
    // The worker id alone already makes them refuse it, should its certificates not be listed.
    const serials = await this.loadRevokedCertificates(workerId).catch((error: unknown) => {
      this.options.onError?.(error);
      return [];
    });
    this.announceRevocations({ certificateSerials: serials, workerIds: [workerId] });
    this.emit({ type: 'worker.removed', workerId });
  }

  /** Ends every session (master shutdown). */
  closeAll(reason: AppError): void {
    for (const live of this.live.values()) live.session.close(reason);
    this.live.clear();
  }
}
