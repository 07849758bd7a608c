// The master's migration engine: turns a request into a persisted plan (preflight included), runs it step by step
// on the two workers, and undoes what it made on the target when anything fails or the user cancels.
import { AppError } from '../core/errors.js';
import { portableContainerConfig } from '../core/container-config.js';
import type {
  ContainerDetails,
  ImageDetails,
  NetworkSummary,
  VolumeSummary,
} from '../core/docker-resources.js';
import {
  isFinished,
  type CreatedObject,
  type Finding,
  type MigrationEvent,
  type MigrationEventLevel,
  type MigrationPhase,
  type MigrationPlan,
  type MigrationRecord,
  type MigrationRequest,
  type MigrationStatus,
  type PlannedResource,
} from '../core/migration.js';
import { asideName, lockKeys, recoveryAction, type UndoEntry } from '../core/migration-journal.js';
import { planMigration } from '../core/migration-plan.js';
import { networkCreateSpecFor } from '../core/network-config.js';
import type { MasterStore } from '../core/ports.js';
import type { Inventory } from '../core/workers.js';
import { preflight } from '../core/preflight.js';
import type { TransferResult, TransferRoute, WorkerGateway } from '../core/worker-commands.js';
import type { Logger } from '../platform/logger.js';
import { newId } from '../platform/secrets.js';
import { GRANT_TTL_MS, signGrant } from '../transfer/grant.js';
import { sharedLayerPrefix } from '../transfer/image-archive.js';
import type { MasterMetrics } from './metrics.js';
import type { WorkerRegistry } from './worker-registry.js';

export type MigrationNotice =
  | { type: 'migration.updated'; migration: MigrationRecord }
  | { type: 'migration.event'; event: MigrationEvent };

export interface DryRunAnswer {
  plan: MigrationPlan;
  findings: Finding[];
  blocked: boolean;
}

export interface MigrationServiceOptions {
  store: MasterStore;
  registry: WorkerRegistry;
  gateway: WorkerGateway;
  /** Signs transfer grants. */
  caKeyPem: string;
  logger: Logger;
  metrics?: MasterMetrics;
  /** How long a started container may take to run (and be healthy). */
  readyTimeoutMs?: number;
  /** How long rollback waits for an offline worker to come back before giving up and naming what is left. */
  rollbackTimeoutMs?: number;
  /** A transfer that moves no byte for this long is aborted (a cut link leaves both ends waiting). */
  transferStallTimeoutMs?: number;
  /** Fault injection: pause each migration this long (ms) at the start of a phase. */
  failpoints?: Failpoints;
}

/** Fault-injection points, parsed from the master's `failpoints` setting (see parseFailpoints). */
export interface Failpoints {
  pause: Partial<Record<MigrationPhase, number>>;
}

/** Longest a single transfer command may run. */
const TRANSFER_TIMEOUT_MS = 12 * 3600_000;
/** How long a request naming something the inventory lacks waits for the inventory to catch up, once. */
const INVENTORY_LAG_MS = 2_000;
/** Progress is written to the store and announced at most this often. */
const PROGRESS_EVERY_MS = 1_000;

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function message(error: unknown): string {
  return AppError.from(error).message;
}

export class MigrationService {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<(notice: MigrationNotice) => void>();
  private closed = false;

  constructor(private readonly options: MigrationServiceOptions) {}

  subscribe(listener: (notice: MigrationNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(notice: MigrationNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'migration listener failed');
      }
    }
  }

  get activeCount(): number {
    return this.running.size;
  }

  // ---- reading ----

  async get(id: string): Promise<{ migration: MigrationRecord; events: MigrationEvent[] }> {
    const migration = await this.options.store.getMigration(id);
    if (!migration) throw new AppError('not_found', `migration "${id}" not found`);
    return { migration, events: await this.options.store.listMigrationEvents(id) };
  }

  list(options: { limit?: number; before?: string; status?: MigrationStatus[] }): Promise<MigrationRecord[]> {
    return this.options.store.listMigrations(options);
  }

  // ---- planning ----

  /** Everything preflight needs, gathered from the registry and the two workers. */
  private async assess(request: MigrationRequest): Promise<DryRunAnswer> {
    const { registry, gateway } = this.options;
    const source = registry.require(request.sourceWorkerId);
    const target = registry.require(request.targetWorkerId);
    if (!source.online)
      throw new AppError('failed_precondition', `source worker "${source.name}" is offline`, {
        hint: 'start the worker on that host, or pick another source',
      });
    const planFrom = async (sourceInventory: Inventory) => {
      // Details of every container the request may name (named, or in a named compose project).
      const wanted = new Set<string>();
      for (const container of sourceInventory.containers) {
        const project = container.labels['com.docker.compose.project'];
        const named = request.containers.some(
          (ref) =>
            ref === container.name ||
            ref === container.id ||
            (ref.length >= 4 && container.id.startsWith(ref)),
        );
        if (named || (project !== undefined && request.composeProjects.includes(project)))
          wanted.add(container.id);
      }
      const containers: Record<string, ContainerDetails> = {};
      for (const id of wanted)
        containers[id] = await gateway.run(source.id, 'container.inspect', { ref: id });
      const images: Record<string, ImageDetails> = {};
      const imageRefs = new Set<string>([...Object.values(containers).map((c) => c.imageId)]);
      for (const ref of request.images) {
        const found = sourceInventory.images.find(
          (image) =>
            image.id === ref ||
            image.tags.includes(ref) ||
            image.tags.includes(`${ref}:latest`) ||
            (ref.length >= 4 && image.id.replace(/^sha256:/, '').startsWith(ref.replace(/^sha256:/, ''))),
        );
        if (found) imageRefs.add(found.id);
      }
      for (const ref of imageRefs) {
        try {
          const image = await gateway.run(source.id, 'image.inspect', { ref });
          images[image.id] = image;
        } catch (error) {
          if (AppError.from(error).code !== 'not_found') throw error;
        }
      }
      return {
        sourceInventory,
        containers,
        plan: planMigration(request, { inventory: sourceInventory, containers, images, name: source.name }),
        images,
      };
    };
    let planned: Awaited<ReturnType<typeof planFrom>>;
    try {
      planned = await planFrom(registry.inventory(source.id));
    } catch (error) {
      if (AppError.from(error).code !== 'not_found') throw error;
      // Something created a moment ago may not have reached the master's inventory yet (events are debounced).
      await sleep(INVENTORY_LAG_MS);
      planned = await planFrom(registry.inventory(source.id));
    }
    const { sourceInventory, containers, plan, images } = planned;
    let describe: { architecture: string; os: string; freeBytes: number | null } | undefined;
    if (target.online) {
      describe = await gateway.run(target.id, 'engine.describe', {});
    }
    const checked = preflight(plan, request, {
      source: { online: source.online, name: source.name, containers, inventory: sourceInventory },
      target: {
        online: target.online,
        name: target.name,
        inventory: registry.inventory(target.id),
        freeBytes: describe?.freeBytes ?? target.system?.dockerRootFreeBytes ?? null,
        architecture: describe?.architecture ?? null,
        os: describe?.os ?? null,
      },
      images,
    });
    return {
      plan: { ...checked.plan, findings: checked.findings },
      findings: checked.findings,
      blocked: checked.blocked,
    };
  }

  /** What would happen, changing nothing anywhere. */
  dryRun(request: MigrationRequest): Promise<DryRunAnswer> {
    return this.assess(request);
  }

  /** Plans, checks and starts a migration; refused (nothing moves) when preflight finds an error. */
  async start(request: MigrationRequest): Promise<MigrationRecord> {
    if (this.closed) throw new AppError('unavailable', 'the master is shutting down');
    const assessed = await this.assess(request);
    if (assessed.blocked) {
      const errors = assessed.findings.filter((finding) => finding.severity === 'error');
      throw new AppError(
        'failed_precondition',
        `preflight found ${errors.length} problem${errors.length === 1 ? '' : 's'}: ${errors.map((e) => e.message).join('; ')}`,
        { details: { findings: assessed.findings } },
      );
    }
    const now = new Date().toISOString();
    const migration: MigrationRecord = {
      id: newId('m'),
      status: 'pending',
      phase: 'preflight',
      request,
      plan: assessed.plan,
      progress: 0,
      bytesTransferred: 0,
      totalBytes: assessed.plan.totalBytes,
      rateBytesPerSecond: 0,
      createdAt: now,
      startedAt: null,
      completedAt: null,
      downtimeMs: null,
      error: null,
      cancelRequested: false,
      state: { sourceRunning: [], sourceStopped: [], created: [], completedSteps: [] },
    };
    // Refused with 409, storing nothing, while another migration holds any of these resources.
    await this.options.store.insertMigration(migration, lockKeys(request, assessed.plan.resources));
    await this.event(migration, 'info', 'preflight', `planned ${assessed.plan.resources.length} resources`);
    for (const finding of assessed.findings.filter((f) => f.severity !== 'info'))
      await this.event(
        migration,
        finding.severity === 'error' ? 'error' : 'warning',
        'preflight',
        finding.message,
      );
    // The runner changes its record as it goes; the caller gets the migration as it was created.
    const created = structuredClone(migration);
    this.launch(migration, (signal) => this.execute(migration, signal));
    return created;
  }

  /** Asks a running migration to stop and roll back; a finished one is left as it is. */
  async cancel(id: string): Promise<MigrationRecord> {
    const { migration } = await this.get(id);
    if (isFinished(migration.status)) return migration;
    await this.options.store.updateMigration(id, { cancelRequested: true });
    const running = this.running.get(id);
    if (running) running.controller.abort();
    return { ...migration, cancelRequested: true };
  }

  /**
   * After a master restart: a migration that had not reached its switch-over point is rolled back; one that had
   * (everything runs on the target) is finished — a running target is never deleted by recovery.
   */
  async recover(): Promise<void> {
    const unfinished = await this.options.store.listMigrations({
      status: ['pending', 'running'],
      limit: 500,
    });
    for (const migration of unfinished) {
      if (recoveryAction(migration) === 'finish') {
        this.options.logger.warn(
          { migrationId: migration.id },
          'finishing a migration the master left unfinished after its switch-over point',
        );
        this.launch(migration, async () => {
          await this.event(
            migration,
            'warning',
            'finalize',
            'the master restarted after everything was running on the target: finishing the migration',
          );
          await this.finish(migration);
        });
        continue;
      }
      this.options.logger.warn(
        { migrationId: migration.id },
        'rolling back a migration the master left unfinished',
      );
      this.launch(migration, () =>
        this.rollBack(migration, 'the master restarted while this migration was running'),
      );
    }
  }

  /** Stops taking work and waits briefly for running migrations to notice. */
  async close(): Promise<void> {
    this.closed = true;
    for (const running of this.running.values()) running.controller.abort();
    await Promise.race([Promise.allSettled([...this.running.values()].map((r) => r.done)), sleep(3_000)]);
  }

  private launch(migration: MigrationRecord, work: (signal: AbortSignal) => Promise<void>): void {
    const controller = new AbortController();
    this.options.metrics?.activeMigrations.inc();
    const done = work(controller.signal)
      .catch((error: unknown) => {
        this.options.logger.error({ err: error, migrationId: migration.id }, 'migration runner failed');
      })
      .finally(() => {
        this.running.delete(migration.id);
        this.options.metrics?.activeMigrations.dec();
      });
    this.running.set(migration.id, { controller, done });
  }

  // ---- recording ----

  private async save(migration: MigrationRecord, patch: Partial<Omit<MigrationRecord, 'id'>>): Promise<void> {
    Object.assign(migration, patch);
    await this.options.store.updateMigration(migration.id, patch);
    this.notify({ type: 'migration.updated', migration: { ...migration } });
  }

  private async event(
    migration: MigrationRecord,
    level: MigrationEventLevel,
    phase: MigrationPhase,
    text: string,
    resource?: { type: PlannedResource['type']; name: string },
  ): Promise<void> {
    const event = await this.options.store.appendMigrationEvent({
      migrationId: migration.id,
      at: new Date().toISOString(),
      level,
      phase,
      message: text,
      ...(resource ? { resource } : {}),
    });
    this.notify({ type: 'migration.event', event });
  }

  private async phase(migration: MigrationRecord, phase: MigrationPhase): Promise<void> {
    await this.save(migration, { phase });
  }

  private async setResource(
    migration: MigrationRecord,
    resource: PlannedResource,
    patch: Partial<Pick<PlannedResource, 'status' | 'bytes'>>,
  ): Promise<void> {
    Object.assign(resource, patch);
    await this.save(migration, { plan: migration.plan });
  }

  private async remember(migration: MigrationRecord, created: CreatedObject): Promise<void> {
    migration.state.created.push(created);
    await this.save(migration, { state: migration.state });
  }

  // ---- running ----

  /** Writes a change about to be made to the journal, durably, before its command is sent. */
  private async intend(migration: MigrationRecord, entry: UndoEntry): Promise<void> {
    (migration.state.undo ??= []).push(entry);
    await this.save(migration, { state: migration.state });
  }

  /** Takes back the newest journal entry: its command was refused before it changed anything. */
  private async forget(migration: MigrationRecord, entry: UndoEntry): Promise<void> {
    const undo = migration.state.undo ?? [];
    const at = undo.lastIndexOf(entry);
    if (at >= 0) undo.splice(at, 1);
    await this.save(migration, { state: migration.state });
  }

  /** Holds a migration at the start of a phase when a failpoint asks for it (the fault-injection suite). */
  private async failpoint(
    migration: MigrationRecord,
    phase: MigrationPhase,
    signal: AbortSignal,
  ): Promise<void> {
    const pause = this.options.failpoints?.pause[phase];
    if (pause === undefined) return;
    await this.event(migration, 'warning', phase, `failpoint: paused ${pause} ms before ${phase}`);
    await abortableSleep(pause, signal);
  }

  private async execute(migration: MigrationRecord, signal: AbortSignal): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    const source = request.sourceWorkerId;
    const target = request.targetWorkerId;
    const canceled = (): void => {
      if (signal.aborted) throw new AppError('canceled', 'cancelled by the user');
    };
    await this.save(migration, { status: 'running', startedAt: new Date().toISOString() });
    const started = Date.now();
    try {
      const resources = migration.plan.resources.filter((r) => r.action !== 'skip');
      for (const skipped of migration.plan.resources.filter((r) => r.action === 'skip' && r.type !== 'image'))
        await this.setResource(migration, skipped, { status: 'skipped' });
      const details = new Map<string, ContainerDetails>();
      for (const resource of resources.filter((r) => r.type === 'container'))
        details.set(
          resource.sourceId,
          await gateway.run(source, 'container.inspect', { ref: resource.sourceId }, { signal }),
        );

      // Prepare the target: networks, then images.
      await this.failpoint(migration, 'prepare', signal);
      await this.phase(migration, 'prepare');
      const sourceNetworks = this.options.registry.inventory(source).networks;
      for (const resource of resources.filter((r) => r.type === 'network')) {
        canceled();
        await this.prepareNetwork(migration, resource, sourceNetworks, signal);
      }
      let movedBytes = 0;
      for (const resource of migration.plan.resources.filter((r) => r.type === 'image')) {
        canceled();
        movedBytes += await this.prepareImage(migration, resource, movedBytes, signal);
      }

      // Cold: stop what runs on the source, so the volumes copied are consistent.
      const containers = resources.filter((r) => r.type === 'container');
      if (containers.length > 0) {
        await this.failpoint(migration, 'stop_source', signal);
        await this.phase(migration, 'stop_source');
        for (const resource of containers) {
          canceled();
          await this.stopSource(migration, resource, details.get(resource.sourceId), signal);
        }
      }

      await this.failpoint(migration, 'transfer', signal);
      await this.phase(migration, 'transfer');
      const sourceVolumes = this.options.registry.inventory(source).volumes;
      for (const resource of resources.filter((r) => r.type === 'volume')) {
        canceled();
        movedBytes += await this.moveVolume(migration, resource, sourceVolumes, movedBytes, signal);
      }

      await this.failpoint(migration, 'create', signal);
      await this.phase(migration, 'create');
      const networkNames: Record<string, string> = {};
      const volumeNames: Record<string, string> = {};
      for (const resource of migration.plan.resources) {
        if (resource.type === 'network') networkNames[resource.name] = resource.targetName;
        if (resource.type === 'volume') volumeNames[resource.name] = resource.targetName;
      }
      const createdContainers = new Map<string, string>();
      for (const resource of containers) {
        canceled();
        const inspect = details.get(resource.sourceId);
        if (!inspect) throw new AppError('internal', `no inspect data for ${resource.name}`);
        await this.setResource(migration, resource, { status: 'running' });
        if (resource.action === 'overwrite') await this.setContainerAside(migration, resource, signal);
        const config = portableContainerConfig(inspect.raw, {
          name: resource.targetName,
          bindMounts: request.bindMounts,
          networkNames,
          volumeNames,
        });
        for (const finding of config.findings.filter((f) => f.severity !== 'info'))
          await this.event(
            migration,
            finding.severity === 'error' ? 'error' : 'warning',
            'create',
            finding.message,
            resource,
          );
        const id = await this.createOnTarget(migration, 'container', config.name, async () => {
          const created = await gateway.run(
            target,
            'container.create',
            { name: config.name, body: config.createBody, networks: config.networks },
            { signal },
          );
          return created.id;
        });
        createdContainers.set(resource.sourceId, id);
        await this.event(
          migration,
          'info',
          'create',
          `container ${config.name} created on the target`,
          resource,
        );
      }

      await this.failpoint(migration, 'start', signal);
      await this.phase(migration, 'start');
      for (const resource of containers) {
        canceled();
        const id = createdContainers.get(resource.sourceId);
        if (!id) continue;
        if (migration.state.sourceRunning.includes(resource.sourceId)) {
          await gateway.run(target, 'container.start', { ref: id }, { signal });
          const ready = await gateway.run(
            target,
            'container.await_ready',
            { ref: id, timeoutMs: this.options.readyTimeoutMs ?? 120_000 },
            { signal, timeoutMs: (this.options.readyTimeoutMs ?? 120_000) + 30_000 },
          );
          await this.event(
            migration,
            'info',
            'start',
            `container ${resource.targetName} is ${ready.health ?? ready.state} on the target`,
            resource,
          );
        }
        await this.setResource(migration, resource, { status: 'done' });
      }

      // The switch-over point: everything runs on the target. Recorded before the source is touched again, so
      // that a restart from here on finishes the migration rather than undoing it.
      canceled();
      const downtimeMs =
        migration.state.downtimeStartedAt === undefined
          ? null
          : Date.now() - migration.state.downtimeStartedAt;
      migration.state.switchedOverAt = new Date().toISOString();
      await this.save(migration, {
        state: migration.state,
        downtimeMs,
        rateBytesPerSecond: Math.round(movedBytes / Math.max(0.001, (Date.now() - started) / 1000)),
      });
    } catch (error) {
      if (this.closed) {
        // The master is stopping: the migration stays "running" and is recovered when it starts again.
        await this.event(
          migration,
          'warning',
          migration.phase,
          'interrupted: the master is shutting down',
        ).catch(() => undefined);
        return;
      }
      const reason = signal.aborted ? 'cancelled by the user' : message(error);
      await this.event(migration, 'error', migration.phase, `failed: ${reason}`).catch(() => undefined);
      await this.rollBack(migration, reason);
      return;
    }
    await this.finish(migration, signal);
  }

  /**
   * Creates a network, or keeps the target's network of that name under `overwrite`: a network holds no data,
   * and replacing one would cut off every container the target has on it (they could not start again).
   */
  private async prepareNetwork(
    migration: MigrationRecord,
    resource: PlannedResource,
    sourceNetworks: NetworkSummary[],
    signal: AbortSignal,
  ): Promise<void> {
    const target = migration.request.targetWorkerId;
    await this.setResource(migration, resource, { status: 'running' });
    const network = sourceNetworks.find((n) => n.id === resource.sourceId || n.name === resource.name);
    if (!network) throw new AppError('not_found', `network "${resource.name}" is gone from the source`);
    const targetNetworks: NetworkSummary[] = this.options.registry.inventory(target).networks;
    const existing = targetNetworks.find((n) => n.name === resource.targetName);
    if (resource.action === 'overwrite' && existing) {
      const differs = describeNetworkDifference(network, existing);
      await this.setResource(migration, resource, { status: 'done' });
      await this.event(
        migration,
        differs ? 'warning' : 'info',
        'prepare',
        differs
          ? `network ${resource.targetName} kept as it is on the target (${differs}): replacing it would disconnect the target's other containers`
          : `network ${resource.targetName} already exists on the target with the same settings; kept`,
        resource,
      );
      return;
    }
    const { spec, findings } = networkCreateSpecFor(network, targetNetworks, { name: resource.targetName });
    for (const finding of findings)
      await this.event(migration, 'warning', 'prepare', finding.message, resource);
    await this.createOnTarget(migration, 'network', resource.targetName, async () => {
      const created = await this.options.gateway.run(target, 'network.create', { spec }, { signal });
      return created.id;
    });
    await this.setResource(migration, resource, { status: 'done' });
    await this.event(migration, 'info', 'prepare', `network ${resource.targetName} created`, resource);
  }

  /**
   * Sends an image the target lacks, loaded under exactly the plan's target tags, or tags the one it holds; either
   * way the target ends with every tag asked for. Tags that pointed at another image are recorded, to be pointed
   * back by a rollback. Answers the bytes sent.
   */
  private async prepareImage(
    migration: MigrationRecord,
    resource: PlannedResource,
    movedBefore: number,
    signal: AbortSignal,
  ): Promise<number> {
    const { gateway } = this.options;
    const { request } = migration;
    const target = request.targetWorkerId;
    const image = await gateway.run(
      request.sourceWorkerId,
      'image.inspect',
      { ref: resource.sourceId },
      { signal },
    );
    const tags = resource.targetTags ?? image.tags;
    const existed = await this.targetHolds(target, 'image.inspect', image.id, signal);
    const added: string[] = [];
    const moved: Array<{ tag: string; from: string }> = [];
    for (const tag of tags) {
      const holder = await this.imageIdOnTarget(target, tag, signal);
      if (holder === image.id) continue;
      if (holder === undefined) added.push(tag);
      else if (request.conflictPolicy === 'overwrite') moved.push({ tag, from: holder });
      else
        throw new AppError(
          'conflict',
          `tag ${tag} on the target now points at another image; it is left as it is`,
        );
    }
    if (existed && added.length === 0 && moved.length === 0) {
      await this.setResource(migration, resource, { status: 'skipped' });
      await this.event(
        migration,
        'info',
        'prepare',
        `image ${resource.name} is already on the target with every tag`,
        resource,
      );
      return 0;
    }
    if (!existed && resource.action === 'skip') {
      await this.setResource(migration, resource, { status: 'skipped' });
      return 0;
    }
    await this.setResource(migration, resource, { status: 'running' });
    const entry: UndoEntry = { kind: 'image', id: image.id, existed, added, moved };
    await this.intend(migration, entry);
    const retag = [...added, ...moved.map((m) => m.tag)];
    if (existed) {
      await gateway.run(target, 'image.tag', { id: image.id, tags: retag }, { signal });
      await this.setResource(migration, resource, { status: 'done' });
      await this.event(
        migration,
        'info',
        'prepare',
        `image ${resource.name} was already on the target; tagged ${retag.join(', ')}`,
        resource,
      );
      return 0;
    }
    const { chains } = await gateway.run(target, 'image.layer_chains', {}, { signal });
    const skipLayers = sharedLayerPrefix(image.layers, chains);
    const result = await this.transfer(
      migration,
      resource,
      { type: 'image', source: image.id, target: image.id, tags },
      movedBefore,
      signal,
      skipLayers,
    );
    await this.remember(migration, { type: 'image', ref: image.id });
    await this.setResource(migration, resource, { status: 'done', bytes: result.bytes });
    await this.event(
      migration,
      'info',
      'prepare',
      `image ${resource.name} sent: ${result.bytes} bytes${skipLayers > 0 ? `, ${skipLayers} of ${image.layers.length} layers already on the target` : ''}`,
      resource,
    );
    return result.bytes;
  }

  /** Whether the target has the object: inspect answers, or says not_found. */
  private async targetHolds(
    target: string,
    kind: 'image.inspect' | 'container.inspect',
    ref: string,
    signal: AbortSignal,
  ): Promise<boolean> {
    try {
      await this.options.gateway.run(target, kind, { ref }, { signal });
      return true;
    } catch (error) {
      if (AppError.from(error).code === 'not_found') return false;
      throw error;
    }
  }

  private async imageIdOnTarget(
    target: string,
    ref: string,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    try {
      return (await this.options.gateway.run(target, 'image.inspect', { ref }, { signal })).id;
    } catch (error) {
      if (AppError.from(error).code === 'not_found') return undefined;
      throw error;
    }
  }

  /**
   * Stops a source container. That it ran is recorded before the stop is sent: if the answer is lost (a cancel, a
   * timeout, a master restart) the worker may still stop it, and rollback then finds it stopped and starts it.
   */
  private async stopSource(
    migration: MigrationRecord,
    resource: PlannedResource,
    details: ContainerDetails | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const running =
      details?.state === 'running' || details?.state === 'restarting' || details?.state === 'paused';
    if (running && !migration.state.sourceRunning.includes(resource.sourceId)) {
      migration.state.sourceRunning.push(resource.sourceId);
      await this.save(migration, { state: migration.state });
    }
    // Downtime counts from the stop request: a service stops answering once it is told to shut down, and a
    // container that ignores SIGTERM takes the whole grace period to stop.
    const stopRequestedAt = Date.now();
    const { wasRunning } = await this.options.gateway.run(
      migration.request.sourceWorkerId,
      'container.stop',
      { ref: resource.sourceId },
      { signal },
    );
    if (!wasRunning) return;
    if (!migration.state.sourceRunning.includes(resource.sourceId))
      migration.state.sourceRunning.push(resource.sourceId);
    migration.state.sourceStopped.push(resource.sourceId);
    migration.state.downtimeStartedAt ??= stopRequestedAt;
    await this.save(migration, { state: migration.state });
    await this.event(
      migration,
      'info',
      'stop_source',
      `container ${resource.name} stopped on the source`,
      resource,
    );
  }

  /** Creates the volume on the target (or empties the target's, keeping its content aside) and copies it. */
  private async moveVolume(
    migration: MigrationRecord,
    resource: PlannedResource,
    sourceVolumes: VolumeSummary[],
    movedBefore: number,
    signal: AbortSignal,
  ): Promise<number> {
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    await this.setResource(migration, resource, { status: 'running' });
    const volume = sourceVolumes.find((v) => v.name === resource.sourceId);
    const exists = await this.volumeOnTarget(target, resource.targetName, signal);
    if (resource.action === 'overwrite' && exists) {
      const aside = asideName(resource.targetName, migration.id);
      await this.intend(migration, { kind: 'volume_aside', name: resource.targetName, asideName: aside });
      await gateway.run(
        target,
        'volume.set_aside',
        { name: resource.targetName, asideName: aside },
        { signal },
      );
      await this.event(
        migration,
        'info',
        'transfer',
        `the target's volume ${resource.targetName}: its content is kept aside in ${aside} until the migration completes`,
        resource,
      );
    } else {
      if (exists)
        throw new AppError(
          'conflict',
          `a volume named "${resource.targetName}" appeared on the target; it is left as it is`,
        );
      await this.createOnTarget(migration, 'volume', resource.targetName, async () => {
        await gateway.run(
          target,
          'volume.create',
          {
            spec: {
              name: resource.targetName,
              driver: volume?.driver ?? 'local',
              labels: volume?.labels ?? {},
              options: volume?.options ?? {},
            },
          },
          { signal },
        );
        return resource.targetName;
      });
    }
    if (resource.copyContent === false) {
      await this.setResource(migration, resource, { status: 'done' });
      await this.event(
        migration,
        'info',
        'transfer',
        `volume ${resource.name} created; its content is not copied (see the preflight findings)`,
        resource,
      );
      return 0;
    }
    const result = await this.transfer(
      migration,
      resource,
      { type: 'volume', source: resource.sourceId, target: resource.targetName },
      movedBefore,
      signal,
    );
    await this.setResource(migration, resource, { status: 'done', bytes: result.bytes });
    await this.event(
      migration,
      'info',
      'transfer',
      `volume ${resource.name}: ${result.bytes} bytes, SHA-256 ${result.sha256.slice(0, 16)}… equal on both ends`,
      resource,
    );
    return result.bytes;
  }

  private async volumeOnTarget(target: string, name: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.options.gateway.run(target, 'volume.inspect', { name }, { signal });
      return true;
    } catch (error) {
      if (AppError.from(error).code === 'not_found') return false;
      throw error;
    }
  }

  /**
   * `overwrite`: the target's container of that name is stopped and renamed aside (it keeps its writable layer),
   * to be removed once the migration completes, or renamed back and restarted by a rollback.
   */
  private async setContainerAside(
    migration: MigrationRecord,
    resource: PlannedResource,
    signal: AbortSignal,
  ): Promise<void> {
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    let old: ContainerDetails;
    try {
      old = await gateway.run(target, 'container.inspect', { ref: resource.targetName }, { signal });
    } catch (error) {
      if (AppError.from(error).code === 'not_found') return;
      throw error;
    }
    const aside = asideName(resource.targetName, migration.id);
    const wasRunning = old.state === 'running' || old.state === 'restarting' || old.state === 'paused';
    await this.intend(migration, {
      kind: 'container_aside',
      name: resource.targetName,
      asideName: aside,
      wasRunning,
    });
    if (wasRunning) await gateway.run(target, 'container.stop', { ref: old.id }, { signal });
    await gateway.run(target, 'container.rename', { ref: old.id, name: aside }, { signal });
    await this.event(
      migration,
      'info',
      'create',
      `the target's container ${resource.targetName} is kept aside as ${aside} until the migration completes`,
      resource,
    );
  }

  /**
   * Creates an object on the target by name: absent before (checked), journaled before the command, and taken
   * out of the journal again when the engine refuses because the name is taken (it is not this migration's).
   */
  private async createOnTarget(
    migration: MigrationRecord,
    type: 'container' | 'volume' | 'network',
    name: string,
    create: () => Promise<string>,
  ): Promise<string> {
    const entry: UndoEntry = { kind: 'create', type, name };
    await this.intend(migration, entry);
    let ref: string;
    try {
      ref = await create();
    } catch (error) {
      if (AppError.from(error).code === 'conflict') await this.forget(migration, entry);
      throw error;
    }
    await this.remember(migration, { type, ref });
    return ref;
  }

  /**
   * After the switch-over point: applies the source policy, removes what `overwrite` kept aside (containers before
   * the volumes they use), and ends `completed`. Every step is idempotent, so recovery after a restart runs it
   * again from the start; a failure here is reported, never rolled back.
   */
  private async finish(migration: MigrationRecord, signal?: AbortSignal): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    if (signal) await this.failpoint(migration, 'finalize', signal).catch(() => undefined);
    await this.phase(migration, 'finalize');
    let warnings = 0;
    const tidy = async (
      what: string,
      work: () => Promise<unknown>,
      resource?: PlannedResource,
    ): Promise<void> => {
      try {
        await work();
      } catch (error) {
        warnings += 1;
        await this.event(migration, 'warning', 'finalize', `${what} failed: ${message(error)}`, resource);
      }
    };
    for (const resource of migration.plan.resources.filter(
      (r) => r.type === 'container' && r.action !== 'skip',
    )) {
      if (request.sourcePolicy === 'remove') {
        await tidy(
          `everything runs on the target, but removing container ${resource.name} from the source`,
          async () => {
            const { removed } = await gateway.run(request.sourceWorkerId, 'container.remove', {
              ref: resource.sourceId,
            });
            if (removed)
              await this.event(
                migration,
                'info',
                'finalize',
                `container ${resource.name} removed from the source`,
                resource,
              );
          },
          resource,
        );
      } else if (
        request.sourcePolicy === 'keep_running' &&
        migration.state.sourceRunning.includes(resource.sourceId)
      ) {
        await tidy(
          `everything runs on the target, but starting container ${resource.name} again on the source`,
          () => gateway.run(request.sourceWorkerId, 'container.start', { ref: resource.sourceId }),
          resource,
        );
      }
    }
    const undo = migration.state.undo ?? [];
    for (const entry of undo)
      if (entry.kind === 'container_aside')
        await tidy(`removing the target's old container ${entry.asideName}`, () =>
          gateway.run(request.targetWorkerId, 'container.remove', { ref: entry.asideName }),
        );
    for (const entry of undo)
      if (entry.kind === 'volume_aside')
        await tidy(`removing the target's old volume content ${entry.asideName}`, () =>
          gateway.run(request.targetWorkerId, 'volume.remove', { name: entry.asideName }),
        );
    await this.save(migration, {
      status: 'completed',
      phase: 'done',
      progress: 1,
      completedAt: new Date().toISOString(),
    });
    await this.options.store.releaseMigrationLocks(migration.id);
    await this.event(
      migration,
      warnings === 0 ? 'info' : 'warning',
      'done',
      warnings === 0
        ? 'migration completed'
        : `migration completed, with ${warnings} warning${warnings === 1 ? '' : 's'} while tidying up`,
    );
    this.options.metrics?.migrations.inc({ status: 'completed' });
  }

  /** Runs one transfer with its grant; `auto` falls back to the relay when the receiver cannot be reached. */
  private async transfer(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: TransferNames,
    movedBefore: number,
    signal: AbortSignal,
    skipLayers?: number,
  ): Promise<TransferResult> {
    const { request } = migration;
    const first: TransferRoute = request.transferMode === 'proxy' ? 'proxy' : 'direct';
    try {
      return await this.transferOnce(migration, resource, names, movedBefore, signal, first, skipLayers);
    } catch (error) {
      const appError = AppError.from(error);
      if (
        request.transferMode !== 'auto' ||
        signal.aborted ||
        !appError.message.includes('cannot reach the receiving worker')
      )
        throw error;
      await this.event(
        migration,
        'warning',
        migration.phase,
        `direct transfer impossible (${appError.message}); relaying through the master`,
        resource,
      );
      return this.transferOnce(migration, resource, names, movedBefore, signal, 'proxy', skipLayers);
    }
  }

  private async transferOnce(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: TransferNames,
    movedBefore: number,
    signal: AbortSignal,
    route: TransferRoute,
    skipLayers?: number,
  ): Promise<TransferResult> {
    const { gateway, registry } = this.options;
    const { request } = migration;
    const targetWorker = registry.require(request.targetWorkerId);
    const transferId = newId('t');
    const granted = { type: names.type, name: names.target, ...(names.tags ? { tags: names.tags } : {}) };
    const grant = signGrant(
      {
        migrationId: migration.id,
        transferId,
        sourceWorkerId: request.sourceWorkerId,
        targetWorkerId: request.targetWorkerId,
        resource: granted,
        expiresAt: Date.now() + GRANT_TTL_MS,
      },
      this.options.caKeyPem,
    );
    // Either side failing stops the other; so does a transfer that makes no progress for the stall timeout (a
    // cut link leaves both sockets open and silent).
    const local = new AbortController();
    const stall = { hit: false };
    const stallMs = this.options.transferStallTimeoutMs ?? 60_000;
    let stallTimer = setTimeout(onStall, stallMs);
    function onStall(): void {
      stall.hit = true;
      local.abort();
    }
    const stop = (): void => {
      local.abort();
    };
    signal.addEventListener('abort', stop, { once: true });
    const started = Date.now();
    let lastSaved = 0;
    let lastBytes = 0;
    let lastAt = started;
    let rate = migration.rateBytesPerSecond;
    const onProgress = (report: { bytes: number }): void => {
      const now = Date.now();
      if (report.bytes > lastBytes) {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(onStall, stallMs);
      }
      if (now - lastAt > 0) {
        const instant = ((report.bytes - lastBytes) * 1000) / (now - lastAt);
        rate = rate === 0 ? instant : rate * 0.7 + instant * 0.3;
      }
      lastBytes = report.bytes;
      lastAt = now;
      resource.bytes = report.bytes;
      const bytesTransferred = movedBefore + report.bytes;
      if (now - lastSaved < PROGRESS_EVERY_MS) return;
      lastSaved = now;
      this.save(migration, {
        bytesTransferred,
        rateBytesPerSecond: Math.round(rate),
        progress: migration.totalBytes > 0 ? Math.min(0.99, bytesTransferred / migration.totalBytes) : 0,
        plan: migration.plan,
      }).catch(() => undefined);
    };
    try {
      const receiving = gateway.run(
        request.targetWorkerId,
        'transfer.receive',
        { transferId, grant, resource: granted, route },
        { signal: local.signal, timeoutMs: TRANSFER_TIMEOUT_MS },
      );
      const sending = gateway.run(
        request.sourceWorkerId,
        'transfer.send',
        {
          transferId,
          grant,
          resource: { type: names.type, name: names.source, ...(names.tags ? { tags: names.tags } : {}) },
          route,
          targetAddress: targetWorker.advertiseAddress,
          targetWorkerId: targetWorker.id,
          ...(skipLayers === undefined ? {} : { skipLayers }),
        },
        { signal: local.signal, timeoutMs: TRANSFER_TIMEOUT_MS, onProgress },
      );
      receiving.catch(stop);
      sending.catch(stop);
      const [received, sent] = await Promise.all([receiving, sending]);
      if (received.sha256 !== sent.sha256 || received.bytes !== sent.bytes)
        throw new AppError(
          'internal',
          `${names.type} ${names.source}: the target received ${received.bytes} bytes (SHA-256 ${received.sha256}), the source sent ${sent.bytes} (${sent.sha256})`,
        );
      this.options.metrics?.transferBytes.inc(sent.bytes);
      this.options.metrics?.transferDuration.observe((Date.now() - started) / 1000);
      await this.save(migration, {
        bytesTransferred: movedBefore + sent.bytes,
        progress:
          migration.totalBytes > 0 ? Math.min(0.99, (movedBefore + sent.bytes) / migration.totalBytes) : 0,
        rateBytesPerSecond: Math.round(rate),
      });
      return sent;
    } catch (error) {
      local.abort();
      if (stall.hit && !signal.aborted)
        throw new AppError(
          'unavailable',
          `${names.type} ${names.source}: the transfer made no progress for ${Math.round(stallMs / 1000)} s (the workers may no longer reach each other)`,
          { cause: error },
        );
      // The first failure tells why; the other side then only says it was cancelled.
      throw error;
    } finally {
      clearTimeout(stallTimer);
      signal.removeEventListener('abort', stop);
    }
  }

  // ---- undoing ----

  /** Retries a rollback step while the worker is offline, up to the rollback timeout. */
  private async persistently<T>(work: () => Promise<T>, deadline: number): Promise<T> {
    for (;;) {
      try {
        return await work();
      } catch (error) {
        const code = AppError.from(error).code;
        if ((code !== 'unavailable' && code !== 'deadline_exceeded') || Date.now() > deadline) throw error;
        await sleep(2_000);
      }
    }
  }

  /**
   * Undoes the journal newest first, each entry checked against the target's engine (a command whose answer was
   * lost may or may not have run), then starts every source container that ran before the migration and is not
   * running now — whatever the stop command's outcome was.
   */
  private async rollBack(migration: MigrationRecord, reason: string): Promise<void> {
    await this.save(migration, { phase: 'rollback', status: 'running', error: reason });
    await this.event(migration, 'warning', 'rollback', `rolling back: ${reason}`);
    const deadline = Date.now() + (this.options.rollbackTimeoutMs ?? 10 * 60_000);
    await this.quiesce(migration);
    const left: string[] = [];
    const step = async (what: string, work: () => Promise<string | undefined>): Promise<boolean> => {
      try {
        const done = await this.persistently(work, deadline);
        if (done) await this.event(migration, 'info', 'rollback', done);
        return true;
      } catch (error) {
        left.push(`${what} (${message(error)})`);
        return false;
      }
    };
    // Records made before the journal existed list only what was created.
    migration.state.undo ??= migration.state.created.map((c) =>
      c.type === 'image'
        ? { kind: 'image', id: c.ref, existed: false, added: [], moved: [] }
        : { kind: 'create', type: c.type, name: c.ref },
    );
    // Each entry leaves the journal once undone, so a rollback started again after a restart never repeats one:
    // removing "web" again would remove the target's own container, renamed back meanwhile.
    for (const entry of [...migration.state.undo].reverse()) {
      if (!(await this.undoEntry(migration, entry, step))) continue;
      migration.state.undo.splice(migration.state.undo.indexOf(entry), 1);
      await this.save(migration, { state: migration.state });
    }
    for (const container of [...migration.state.sourceRunning].reverse())
      await step(`container ${shortId(container)} stopped on the source`, () =>
        this.restartSource(migration, container, deadline),
      );
    for (const resource of migration.plan.resources)
      if (resource.status !== 'skipped') resource.status = 'rolled_back';
    const status: MigrationStatus = left.length === 0 ? 'rolled_back' : 'failed';
    await this.save(migration, {
      status,
      phase: 'done',
      plan: migration.plan,
      completedAt: new Date().toISOString(),
      error: left.length === 0 ? reason : `${reason}; rollback incomplete, left: ${left.join('; ')}`,
    });
    await this.options.store.releaseMigrationLocks(migration.id);
    await this.event(
      migration,
      left.length === 0 ? 'info' : 'error',
      'done',
      left.length === 0
        ? 'rolled back: the target is as before and the source runs as before'
        : `rollback incomplete: ${left.join('; ')}`,
    );
    this.options.metrics?.migrations.inc({ status });
  }

  /** Undoes one journal entry on the target, checking the engine first; true when every step of it succeeded. */
  private async undoEntry(
    migration: MigrationRecord,
    entry: UndoEntry,
    step: (what: string, work: () => Promise<string | undefined>) => Promise<boolean>,
  ): Promise<boolean> {
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    switch (entry.kind) {
      case 'create':
        return step(`${entry.type} ${entry.name} on the target`, async () => {
          const { removed } =
            entry.type === 'container'
              ? await gateway.run(target, 'container.remove', { ref: entry.name })
              : entry.type === 'volume'
                ? await gateway.run(target, 'volume.remove', { name: entry.name })
                : await gateway.run(target, 'network.remove', { ref: entry.name });
          return removed ? `removed ${entry.type} ${entry.name} from the target` : undefined;
        });
      case 'image': {
        let ok = true;
        for (const { tag, from } of entry.moved)
          ok =
            (await step(`tag ${tag} on the target`, async () => {
              await gateway.run(target, 'image.tag', { id: from, tags: [tag] });
              return `tag ${tag} points at the target's image ${shortId(from)} again`;
            })) && ok;
        if (!entry.existed)
          return (
            (await step(`image ${shortId(entry.id)} on the target`, async () => {
              const { removed } = await gateway.run(target, 'image.remove', { ref: entry.id });
              return removed ? `removed image ${shortId(entry.id)} from the target` : undefined;
            })) && ok
          );
        for (const tag of entry.added)
          ok =
            (await step(`tag ${tag} on the target`, async () => {
              const { removed } = await gateway.run(target, 'image.untag', { tag });
              return removed ? `removed tag ${tag} from the target` : undefined;
            })) && ok;
        return ok;
      }
      case 'container_aside':
        return step(`the target's container ${entry.name} (kept aside as ${entry.asideName})`, async () => {
          const { renamed } = await gateway.run(target, 'container.rename', {
            ref: entry.asideName,
            name: entry.name,
          });
          if (entry.wasRunning) await gateway.run(target, 'container.start', { ref: entry.name });
          return renamed || entry.wasRunning
            ? `the target's container ${entry.name} is back${entry.wasRunning ? ' and running' : ''}`
            : undefined;
        });
      case 'volume_aside':
        return step(
          `the target's volume ${entry.name} (content kept aside in ${entry.asideName})`,
          async () => {
            const { restored } = await gateway.run(target, 'volume.restore_aside', {
              name: entry.name,
              asideName: entry.asideName,
            });
            return restored ? `the target's volume ${entry.name} holds its own content again` : undefined;
          },
        );
    }
  }

  /** Starts a source container that ran before the migration, when it is not running now. */
  private async restartSource(
    migration: MigrationRecord,
    container: string,
    deadline: number,
  ): Promise<string | undefined> {
    const { gateway } = this.options;
    const source = migration.request.sourceWorkerId;
    const name = migration.plan.resources.find((r) => r.sourceId === container)?.name ?? shortId(container);
    const details = await this.persistently(
      () => gateway.run(source, 'container.inspect', { ref: container }),
      deadline,
    );
    if (details.state === 'running') return undefined;
    await this.persistently(() => gateway.run(source, 'container.start', { ref: container }), deadline);
    return `container ${name} running again on the source`;
  }

  /**
   * Waits until both workers answered the commands this runner stopped waiting for (a cancel or timeout while a
   * stop or create was under way): only then does what the engines hold show those commands' outcome.
   */
  private async quiesce(migration: MigrationRecord): Promise<void> {
    const { gateway } = this.options;
    if (!gateway.quiesce) return;
    for (const [role, workerId] of [
      ['source', migration.request.sourceWorkerId],
      ['target', migration.request.targetWorkerId],
    ] as const) {
      if (await gateway.quiesce(workerId, QUIESCE_TIMEOUT_MS)) continue;
      await this.event(
        migration,
        'warning',
        'rollback',
        `the ${role} worker has not answered a cancelled command after ${QUIESCE_TIMEOUT_MS / 1000} s; rolling back with what its engine shows now`,
      );
    }
  }
}

interface TransferNames {
  type: 'volume' | 'image';
  source: string;
  target: string;
  tags?: string[];
}

/** How long rollback waits for a worker to answer a command it was told to cancel (a stop's grace period). */
const QUIESCE_TIMEOUT_MS = 120_000;

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AppError('canceled', 'cancelled by the user'));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(new AppError('canceled', 'cancelled by the user'));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** What keeps a target network from matching the source's, in words; undefined when they match. */
function describeNetworkDifference(source: NetworkSummary, target: NetworkSummary): string | undefined {
  const differences: string[] = [];
  if (source.driver !== target.driver) differences.push(`driver ${target.driver}, not ${source.driver}`);
  if (source.internal !== target.internal) differences.push(target.internal ? 'internal' : 'not internal');
  const subnets = (n: NetworkSummary): string => n.ipam.config.map((c) => c.subnet ?? '').join(',');
  if (subnets(source) !== '' && subnets(source) !== subnets(target))
    differences.push(`subnet ${subnets(target) || 'automatic'}, not ${subnets(source)}`);
  return differences.length === 0 ? undefined : differences.join('; ');
}
