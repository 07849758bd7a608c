// Runs a migration's steps on its two workers (prepare the target, stop the source, copy, create, start, switch
// over, finish), writing each change it is about to make to the journal first; any failure hands over to rollback.
import { abortableSleep } from '../core/deadline.js';
import { AppError } from '../core/errors.js';
import { portableContainerConfig } from '../core/container-config.js';
import type { ContainerDetails, NetworkSummary, VolumeSummary } from '../core/docker-resources.js';
import type { MigrationPhase, MigrationRecord, PlannedResource } from '../core/migration.js';
import { asideName, type UndoEntry } from '../core/migration-journal.js';
import { planTotals } from '../core/migration-progress.js';
import { networkCreateSpecFor } from '../core/network-config.js';
import type { MasterStore } from '../core/ports.js';
import type { TransferResult, TransferRoute, WorkerGateway } from '../core/worker-commands.js';
import type { Logger } from '../platform/logger.js';
import { newId } from '../platform/secrets.js';
import { GRANT_TTL_MS, signGrant } from '../transfer/grant.js';
import { sharedLayerPrefix } from '../transfer/image-archive.js';
import type { MasterMetrics } from './metrics.js';
import type { MigrationRecorder } from './migration-recorder.js';
import type { MigrationRollback } from './migration-rollback.js';
import { message } from './migration-support.js';
import type { WorkerRegistry } from './worker-registry.js';

export interface MigrationRunnerOptions {
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
  /** The port of the master's transfer relay, which `proxy` transfers go through. */
  relayPort?: number;
  /** Fault injection: pause each migration this long (ms) at the start of a phase. */
  failpoints?: Failpoints;
}

/** Fault-injection points, parsed from the master's `failpoints` setting (see parseFailpoints). */
export interface Failpoints {
  pause: Partial<Record<MigrationPhase, number>>;
}

/** Longest a single transfer command may run. */
const TRANSFER_TIMEOUT_MS = 12 * 3600_000;
/** Progress is written to the store and announced at most this often. */
const PROGRESS_EVERY_MS = 1_000;

interface TransferNames {
  type: 'volume' | 'image';
  source: string;
  target: string;
  tags?: string[];
}

export class MigrationRunner {
  constructor(
    private readonly options: MigrationRunnerOptions,
    private readonly record: MigrationRecorder,
    private readonly rollback: MigrationRollback,
    /** True once the master is shutting down: an interrupted migration is then left for recovery. */
    private readonly isClosing: () => boolean,
  ) {}

  /** Holds a migration at the start of a phase when a failpoint asks for it (the fault-injection suite). */
  private async failpoint(
    migration: MigrationRecord,
    phase: MigrationPhase,
    signal: AbortSignal,
  ): Promise<void> {
    const pause = this.options.failpoints?.pause[phase];
    if (pause === undefined) return;
    await this.record.event(migration, 'warning', phase, `failpoint: paused ${pause} ms before ${phase}`);
    await abortableSleep(pause, signal, 'cancelled by the user');
  }

  async execute(migration: MigrationRecord, signal: AbortSignal): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    const source = request.sourceWorkerId;
    const target = request.targetWorkerId;
    const canceled = (): void => {
      if (signal.aborted) throw new AppError('canceled', 'cancelled by the user');
    };
    await this.record.save(migration, { status: 'running', startedAt: new Date().toISOString() });
    const started = Date.now();
    try {
      const resources = migration.plan.resources.filter((r) => r.action !== 'skip');
      for (const skipped of migration.plan.resources.filter((r) => r.action === 'skip' && r.type !== 'image'))
        await this.record.setResource(migration, skipped, { status: 'skipped' });
      const details = new Map<string, ContainerDetails>();
      for (const resource of resources.filter((r) => r.type === 'container'))
        details.set(
          resource.sourceId,
          await gateway.run(source, 'container.inspect', { ref: resource.sourceId }, { signal }),
        );

      // Prepare the target: networks, then images.
      await this.failpoint(migration, 'prepare', signal);
      await this.record.phase(migration, 'prepare');
      const sourceNetworks = this.options.registry.inventory(source).networks;
      for (const resource of resources.filter((r) => r.type === 'network')) {
        canceled();
        await this.prepareNetwork(migration, resource, sourceNetworks, signal);
      }
      let movedBytes = 0;
      for (const resource of migration.plan.resources.filter((r) => r.type === 'image')) {
        canceled();
        movedBytes += await this.prepareImage(migration, resource, signal);
      }

      // Cold: stop what runs on the source, so the volumes copied are consistent.
      const containers = resources.filter((r) => r.type === 'container');
      if (containers.length > 0) {
        await this.failpoint(migration, 'stop_source', signal);
        await this.record.phase(migration, 'stop_source');
        for (const resource of containers) {
          canceled();
          await this.stopSource(migration, resource, details.get(resource.sourceId), signal);
        }
      }

      await this.failpoint(migration, 'transfer', signal);
      await this.record.phase(migration, 'transfer');
      const sourceVolumes = this.options.registry.inventory(source).volumes;
      for (const resource of resources.filter((r) => r.type === 'volume')) {
        canceled();
        movedBytes += await this.moveVolume(migration, resource, sourceVolumes, signal);
      }

      await this.failpoint(migration, 'create', signal);
      await this.record.phase(migration, 'create');
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
        await this.record.setResource(migration, resource, { status: 'running' });
        if (resource.action === 'overwrite') await this.setContainerAside(migration, resource, signal);
        const config = portableContainerConfig(inspect.raw, {
          name: resource.targetName,
          bindMounts: request.bindMounts,
          networkNames,
          volumeNames,
        });
        for (const finding of config.findings.filter((f) => f.severity !== 'info'))
          await this.record.event(
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
        await this.record.event(
          migration,
          'info',
          'create',
          `container ${config.name} created on the target`,
          resource,
        );
      }

      await this.failpoint(migration, 'start', signal);
      await this.record.phase(migration, 'start');
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
          await this.record.event(
            migration,
            'info',
            'start',
            `container ${resource.targetName} is ${ready.health ?? ready.state} on the target`,
            resource,
          );
        }
        await this.record.setResource(migration, resource, { status: 'done' });
      }

      // The switch-over point: everything runs on the target. Recorded before the source is touched again, so
      // that a restart from here on finishes the migration rather than undoing it.
      canceled();
      const downtimeMs =
        migration.state.downtimeStartedAt === undefined
          ? null
          : Date.now() - migration.state.downtimeStartedAt;
      migration.state.switchedOverAt = new Date().toISOString();
      await this.record.save(migration, {
        state: migration.state,
        downtimeMs,
        rateBytesPerSecond: Math.round(movedBytes / Math.max(0.001, (Date.now() - started) / 1000)),
      });
    } catch (error) {
      if (this.isClosing()) {
        // The master is stopping: the migration stays "running" and is recovered when it starts again.
        await this.record
          .event(migration, 'warning', migration.phase, 'interrupted: the master is shutting down')
          .catch(() => undefined);
        return;
      }
      const reason = signal.aborted ? 'cancelled by the user' : message(error);
      await this.record
        .event(migration, 'error', migration.phase, `failed: ${reason}`)
        .catch(() => undefined);
      await this.rollback.rollBack(migration, reason);
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
    await this.record.setResource(migration, resource, { status: 'running' });
    const network = sourceNetworks.find((n) => n.id === resource.sourceId || n.name === resource.name);
    if (!network) throw new AppError('not_found', `network "${resource.name}" is gone from the source`);
    const targetNetworks: NetworkSummary[] = this.options.registry.inventory(target).networks;
    const existing = targetNetworks.find((n) => n.name === resource.targetName);
    if (resource.action === 'overwrite' && existing) {
      const differs = describeNetworkDifference(network, existing);
      await this.record.setResource(migration, resource, { status: 'done' });
      await this.record.event(
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
      await this.record.event(migration, 'warning', 'prepare', finding.message, resource);
    await this.createOnTarget(migration, 'network', resource.targetName, async () => {
      const created = await this.options.gateway.run(target, 'network.create', { spec }, { signal });
      return created.id;
    });
    await this.record.setResource(migration, resource, { status: 'done' });
    await this.record.event(migration, 'info', 'prepare', `network ${resource.targetName} created`, resource);
  }

  /**
   * Sends an image the target lacks, loaded under exactly the plan's target tags, or tags the one it holds; either
   * way the target ends with every tag asked for. Tags that pointed at another image are recorded, to be pointed
   * back by a rollback. Answers the bytes sent.
   */
  private async prepareImage(
    migration: MigrationRecord,
    resource: PlannedResource,
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
      await this.record.setResource(migration, resource, { status: 'skipped' });
      await this.record.event(
        migration,
        'info',
        'prepare',
        `image ${resource.name} is already on the target with every tag`,
        resource,
      );
      return 0;
    }
    if (!existed && resource.action === 'skip') {
      await this.record.setResource(migration, resource, { status: 'skipped' });
      return 0;
    }
    await this.record.setResource(migration, resource, { status: 'running' });
    const entry: UndoEntry = { kind: 'image', id: image.id, existed, added, moved };
    await this.record.intend(migration, entry);
    const retag = [...added, ...moved.map((m) => m.tag)];
    if (existed) {
      await gateway.run(target, 'image.tag', { id: image.id, tags: retag }, { signal });
      await this.record.setResource(migration, resource, { status: 'done' });
      await this.record.event(
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
      signal,
      skipLayers,
    );
    await this.record.setResource(migration, resource, { status: 'done', bytes: result.bytes });
    await this.record.event(
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
      await this.record.save(migration, { state: migration.state });
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
    migration.state.downtimeStartedAt ??= stopRequestedAt;
    await this.record.save(migration, { state: migration.state });
    await this.record.event(
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
    signal: AbortSignal,
  ): Promise<number> {
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    await this.record.setResource(migration, resource, { status: 'running' });
    const volume = sourceVolumes.find((v) => v.name === resource.sourceId);
    const exists = await this.volumeOnTarget(target, resource.targetName, signal);
    if (resource.action === 'overwrite' && exists) {
      const aside = asideName(resource.targetName, migration.id);
      await this.record.intend(migration, {
        kind: 'volume_aside',
        name: resource.targetName,
        asideName: aside,
      });
      await gateway.run(
        target,
        'volume.set_aside',
        { name: resource.targetName, asideName: aside },
        { signal },
      );
      await this.record.event(
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
      await this.record.setResource(migration, resource, { status: 'done' });
      await this.record.event(
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
      signal,
    );
    const moved = result.coveredBytes ?? result.bytes;
    await this.record.setResource(migration, resource, { status: 'done', bytes: moved });
    const sent =
      moved === result.bytes
        ? ''
        : moved > result.bytes
          ? ` (${result.bytes} bytes sent: holes and runs of zeros travel as none)`
          : ` (${result.bytes} bytes sent, with the archive's headers)`;
    await this.record.event(
      migration,
      'info',
      'transfer',
      `volume ${resource.name}: ${moved} bytes${sent}, XXH3-128 ${result.xxh128.slice(0, 16)}… equal on both ends`,
      resource,
    );
    return moved;
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
    await this.record.intend(migration, {
      kind: 'container_aside',
      name: resource.targetName,
      asideName: aside,
      wasRunning,
    });
    if (wasRunning) await gateway.run(target, 'container.stop', { ref: old.id }, { signal });
    await gateway.run(target, 'container.rename', { ref: old.id, name: aside }, { signal });
    await this.record.event(
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
    await this.record.intend(migration, entry);
    try {
      return await create();
    } catch (error) {
      if (AppError.from(error).code === 'conflict') await this.record.forget(migration, entry);
      throw error;
    }
  }

  /**
   * After the switch-over point: applies the source policy, removes what `overwrite` kept aside (containers before
   * the volumes they use), and ends `completed`. Every step is idempotent, so recovery after a restart runs it
   * again from the start; a failure here is reported, never rolled back.
   */
  async finish(migration: MigrationRecord, signal?: AbortSignal): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    if (signal) await this.failpoint(migration, 'finalize', signal).catch(() => undefined);
    await this.record.phase(migration, 'finalize');
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
        await this.record.event(
          migration,
          'warning',
          'finalize',
          `${what} failed: ${message(error)}`,
          resource,
        );
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
              await this.record.event(
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
    await this.record.save(migration, {
      status: 'completed',
      phase: 'done',
      progress: 1,
      completedAt: new Date().toISOString(),
    });
    await this.options.store.releaseMigrationLocks(migration.id);
    await this.record.event(
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
    signal: AbortSignal,
    skipLayers?: number,
  ): Promise<TransferResult> {
    const { request } = migration;
    const first: TransferRoute = request.transferMode === 'proxy' ? 'proxy' : 'direct';
    try {
      return await this.transferOnce(migration, resource, names, signal, first, skipLayers);
    } catch (error) {
      const appError = AppError.from(error);
      if (
        request.transferMode !== 'auto' ||
        signal.aborted ||
        !appError.message.includes('cannot reach the receiving worker')
      )
        throw error;
      await this.record.event(
        migration,
        'warning',
        migration.phase,
        `direct transfer impossible (${appError.message}); relaying through the master`,
        resource,
      );
      return this.transferOnce(migration, resource, names, signal, 'proxy', skipLayers);
    }
  }

  /** Where a relayed transfer goes: the relay's port, on the host each worker reaches the master at. */
  private relayArgs(route: TransferRoute): { relayPort?: number } {
    return route === 'proxy' && this.options.relayPort !== undefined
      ? { relayPort: this.options.relayPort }
      : {};
  }

  private async transferOnce(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: TransferNames,
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
      if (now - lastSaved < PROGRESS_EVERY_MS) return;
      lastSaved = now;
      this.record
        .save(migration, {
          ...planTotals(migration.plan),
          rateBytesPerSecond: Math.round(rate),
          plan: migration.plan,
        })
        .catch(() => undefined);
    };
    try {
      const receiving = gateway.run(
        request.targetWorkerId,
        'transfer.receive',
        { transferId, grant, resource: granted, route, ...this.relayArgs(route) },
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
          ...this.relayArgs(route),
          ...(skipLayers === undefined ? {} : { skipLayers }),
          ...(request.compression === 'zstd' ? { compression: request.compression } : {}),
        },
        { signal: local.signal, timeoutMs: TRANSFER_TIMEOUT_MS, onProgress },
      );
      receiving.catch(stop);
      sending.catch(stop);
      const [received, sent] = await Promise.all([receiving, sending]);
      if (received.xxh128 !== sent.xxh128 || received.bytes !== sent.bytes)
        throw new AppError(
          'internal',
          `${names.type} ${names.source}: the target received ${received.bytes} bytes (XXH3-128 ${received.xxh128}), the source sent ${sent.bytes} (${sent.xxh128})`,
        );
      this.options.metrics?.transferBytes.inc(sent.bytes);
      this.options.metrics?.transferDuration.observe((Date.now() - started) / 1000);
      resource.bytes = sent.coveredBytes ?? sent.bytes;
      await this.record.save(migration, {
        ...planTotals(migration.plan),
        plan: migration.plan,
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
