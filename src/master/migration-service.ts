// The master's migration engine: turns a request into a persisted plan (preflight included), runs it step by step
// on the two workers, and undoes what it made on the target when anything fails or the user cancels.
import { AppError } from '../core/errors.js';
import { portableContainerConfig } from '../core/container-config.js';
import type { ContainerDetails, ImageDetails, NetworkSummary } from '../core/docker-resources.js';
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
    await this.options.store.insertMigration(migration);
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

  /** After a master restart: migrations that were under way are rolled back (their workers may have moved on). */
  async recover(): Promise<void> {
    const unfinished = await this.options.store.listMigrations({
      status: ['pending', 'running'],
      limit: 500,
    });
    for (const migration of unfinished) {
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
      for (const skipped of migration.plan.resources.filter((r) => r.action === 'skip'))
        await this.setResource(migration, skipped, { status: 'skipped' });
      const details = new Map<string, ContainerDetails>();
      for (const resource of resources.filter((r) => r.type === 'container'))
        details.set(
          resource.sourceId,
          await gateway.run(source, 'container.inspect', { ref: resource.sourceId }, { signal }),
        );

      // Prepare the target: networks, then images.
      await this.phase(migration, 'prepare');
      const sourceNetworks = this.options.registry.inventory(source).networks;
      for (const resource of resources.filter((r) => r.type === 'network')) {
        canceled();
        await this.setResource(migration, resource, { status: 'running' });
        const network = sourceNetworks.find((n) => n.id === resource.sourceId || n.name === resource.name);
        if (!network) throw new AppError('not_found', `network "${resource.name}" is gone from the source`);
        if (resource.action === 'overwrite')
          await gateway.run(target, 'network.remove', { ref: resource.targetName }, { signal });
        const targetNetworks: NetworkSummary[] = this.options.registry.inventory(target).networks;
        const { spec, findings } = networkCreateSpecFor(network, targetNetworks, {
          name: resource.targetName,
        });
        for (const finding of findings)
          await this.event(migration, 'warning', 'prepare', finding.message, resource);
        const created = await gateway.run(target, 'network.create', { spec }, { signal });
        // Only what this migration made is ever removed by its rollback.
        if (created.created) await this.remember(migration, { type: 'network', ref: created.id });
        await this.setResource(migration, resource, { status: 'done' });
        await this.event(migration, 'info', 'prepare', `network ${resource.targetName} created`, resource);
      }
      let movedBytes = 0;
      for (const resource of resources.filter((r) => r.type === 'image')) {
        canceled();
        await this.setResource(migration, resource, { status: 'running' });
        const image = await gateway.run(source, 'image.inspect', { ref: resource.sourceId }, { signal });
        const { chains } = await gateway.run(target, 'image.layer_chains', {}, { signal });
        const skipLayers = sharedLayerPrefix(image.layers, chains);
        const result = await this.transfer(
          migration,
          resource,
          { type: 'image', source: image.id, target: image.id },
          movedBytes,
          signal,
          skipLayers,
        );
        movedBytes += result.bytes;
        await this.remember(migration, { type: 'image', ref: image.id });
        await this.setResource(migration, resource, { status: 'done', bytes: result.bytes });
        await this.event(
          migration,
          'info',
          'prepare',
          `image ${resource.name} sent: ${result.bytes} bytes${skipLayers > 0 ? `, ${skipLayers} of ${image.layers.length} layers already on the target` : ''}`,
          resource,
        );
      }

      // Cold: stop what runs on the source, so the volumes copied are consistent.
      const containers = resources.filter((r) => r.type === 'container');
      if (containers.length > 0) {
        await this.phase(migration, 'stop_source');
        for (const resource of containers) {
          canceled();
          // Downtime counts from the stop request: a service stops answering once it is told to shut down,
          // and a container that ignores SIGTERM takes the whole grace period to stop.
          const stopRequestedAt = Date.now();
          const { wasRunning } = await gateway.run(
            source,
            'container.stop',
            { ref: resource.sourceId },
            { signal },
          );
          if (wasRunning) {
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
        }
      }

      await this.phase(migration, 'transfer');
      const sourceVolumes = this.options.registry.inventory(source).volumes;
      for (const resource of resources.filter((r) => r.type === 'volume')) {
        canceled();
        await this.setResource(migration, resource, { status: 'running' });
        const volume = sourceVolumes.find((v) => v.name === resource.sourceId);
        if (resource.action === 'overwrite')
          await gateway.run(target, 'volume.remove', { name: resource.targetName }, { signal });
        const made = await gateway.run(
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
        if (made.created) await this.remember(migration, { type: 'volume', ref: resource.targetName });
        const result = await this.transfer(
          migration,
          resource,
          { type: 'volume', source: resource.sourceId, target: resource.targetName },
          movedBytes,
          signal,
        );
        movedBytes += result.bytes;
        await this.setResource(migration, resource, { status: 'done', bytes: result.bytes });
        await this.event(
          migration,
          'info',
          'transfer',
          `volume ${resource.name}: ${result.bytes} bytes, SHA-256 ${result.sha256.slice(0, 16)}… equal on both ends`,
          resource,
        );
      }

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
        await this.setResource(migration, resource, { status: 'running' });
        const inspect = details.get(resource.sourceId);
        if (!inspect) throw new AppError('internal', `no inspect data for ${resource.name}`);
        if (resource.action === 'overwrite')
          await gateway.run(target, 'container.remove', { ref: resource.targetName }, { signal });
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
        const { id } = await gateway.run(
          target,
          'container.create',
          { name: config.name, body: config.createBody, networks: config.networks },
          { signal },
        );
        createdContainers.set(resource.sourceId, id);
        await this.remember(migration, { type: 'container', ref: id });
        await this.event(
          migration,
          'info',
          'create',
          `container ${config.name} created on the target`,
          resource,
        );
      }

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

      await this.phase(migration, 'finalize');
      const downtimeMs =
        migration.state.downtimeStartedAt === undefined
          ? null
          : Date.now() - migration.state.downtimeStartedAt;
      // Everything runs on the target now: a failure to tidy the source is reported, never rolled back.
      for (const resource of containers) {
        try {
          if (request.sourcePolicy === 'remove') {
            await gateway.run(source, 'container.remove', { ref: resource.sourceId });
            await this.event(
              migration,
              'info',
              'finalize',
              `container ${resource.name} removed from the source`,
              resource,
            );
          } else if (
            request.sourcePolicy === 'keep_running' &&
            migration.state.sourceRunning.includes(resource.sourceId)
          ) {
            await gateway.run(source, 'container.start', { ref: resource.sourceId });
          }
        } catch (error) {
          await this.event(
            migration,
            'warning',
            'finalize',
            `container ${resource.name} runs on the target, but applying "${request.sourcePolicy}" to the source failed: ${message(error)}`,
            resource,
          );
        }
      }
      await this.save(migration, {
        status: 'completed',
        phase: 'done',
        progress: 1,
        completedAt: new Date().toISOString(),
        downtimeMs,
        rateBytesPerSecond: Math.round(movedBytes / Math.max(0.001, (Date.now() - started) / 1000)),
      });
      await this.event(migration, 'info', 'done', 'migration completed');
      this.options.metrics?.migrations.inc({ status: 'completed' });
    } catch (error) {
      if (this.closed) {
        // The master is stopping: the migration stays "running" and is rolled back when it starts again.
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
    }
  }

  /** Runs one transfer with its grant; `auto` falls back to the relay when the receiver cannot be reached. */
  private async transfer(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: { type: 'volume' | 'image'; source: string; target: string },
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
    names: { type: 'volume' | 'image'; source: string; target: string },
    movedBefore: number,
    signal: AbortSignal,
    route: TransferRoute,
    skipLayers?: number,
  ): Promise<TransferResult> {
    const { gateway, registry } = this.options;
    const { request } = migration;
    const targetWorker = registry.require(request.targetWorkerId);
    const transferId = newId('t');
    const grant = signGrant(
      {
        migrationId: migration.id,
        transferId,
        sourceWorkerId: request.sourceWorkerId,
        targetWorkerId: request.targetWorkerId,
        resource: { type: names.type, name: names.target },
        expiresAt: Date.now() + GRANT_TTL_MS,
      },
      this.options.caKeyPem,
    );
    // Either side failing stops the other.
    const local = new AbortController();
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
        { transferId, grant, resource: { type: names.type, name: names.target }, route },
        { signal: local.signal, timeoutMs: TRANSFER_TIMEOUT_MS },
      );
      const sending = gateway.run(
        request.sourceWorkerId,
        'transfer.send',
        {
          transferId,
          grant,
          resource: { type: names.type, name: names.source },
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
      // The first failure tells why; the other side then only says it was cancelled.
      throw error;
    } finally {
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

  private async rollBack(migration: MigrationRecord, reason: string): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    await this.save(migration, { phase: 'rollback', status: 'running', error: reason });
    await this.event(migration, 'warning', 'rollback', `rolling back: ${reason}`);
    const deadline = Date.now() + (this.options.rollbackTimeoutMs ?? 10 * 60_000);
    const left: string[] = [];
    for (const created of [...migration.state.created].reverse()) {
      try {
        await this.persistently(async () => {
          switch (created.type) {
            case 'container':
              await gateway.run(request.targetWorkerId, 'container.remove', { ref: created.ref });
              return;
            case 'volume':
              await gateway.run(request.targetWorkerId, 'volume.remove', { name: created.ref });
              return;
            case 'network':
              await gateway.run(request.targetWorkerId, 'network.remove', { ref: created.ref });
              return;
            case 'image':
              await gateway.run(request.targetWorkerId, 'image.remove', { ref: created.ref });
              return;
          }
        }, deadline);
        await this.event(
          migration,
          'info',
          'rollback',
          `removed ${created.type} ${created.ref} from the target`,
        );
      } catch (error) {
        left.push(`${created.type} ${created.ref} on the target (${message(error)})`);
      }
    }
    for (const container of [...migration.state.sourceStopped].reverse()) {
      try {
        await this.persistently(
          () => gateway.run(request.sourceWorkerId, 'container.start', { ref: container }),
          deadline,
        );
        await this.event(
          migration,
          'info',
          'rollback',
          `container ${container.slice(0, 12)} running again on the source`,
        );
      } catch (error) {
        left.push(`container ${container.slice(0, 12)} stopped on the source (${message(error)})`);
      }
    }
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
}
