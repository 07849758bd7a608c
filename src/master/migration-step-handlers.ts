// What each migration step does on the workers (see core/migration-steps.ts): one handler per step kind, each
// writing the change it is about to make to the journal first. The runner decides nothing here: it asks its
// strategy for the next step and hands it to `run`.
import type { Clock } from '../core/clock.js';
import { abortableSleep } from '../core/deadline.js';
import { AppError } from '../core/errors.js';
import { portableContainerConfig } from '../core/container-config.js';
import { stopSettings } from '../core/container-stop.js';
import type { ContainerDetails, NetworkSummary, VolumeSummary } from '../core/docker-resources.js';
import {
  VOLUME_COPY_LABEL,
  VOLUME_SOURCE_LABEL,
  type DowntimeBreakdown,
  type MigrationPhase,
  type MigrationRecord,
  type MigrationTiming,
  type PlannedResource,
  type SyncRound,
} from '../core/migration.js';
import { asideName, type UndoEntry } from '../core/migration-journal.js';
import {
  resourceKey,
  type MigrationStep,
  type ResourceKey,
  type StepResult,
} from '../core/migration-steps.js';
import { networkCreateSpecFor } from '../core/network-config.js';
import type { WorkerGateway } from '../core/worker-commands.js';
import { sharedLayerPrefix } from '../transfer/image-archive.js';
import type { MigrationRecorder } from './migration-recorder.js';
import type { TransferCoordinator } from './transfer-coordinator.js';
import type { WorkerRegistry } from './worker-registry.js';
import { plural } from '../core/plural.js';

/** What the handlers need of the master (a subset of MigrationRunnerOptions). */
export interface StepHandlerOptions {
  registry: WorkerRegistry;
  gateway: WorkerGateway;
  clock: Clock;
  /** How long a started container may take to run (and be healthy). */
  readyTimeoutMs?: number;
  /** Fault injection: pause each migration this long (ms) at the start of a phase. */
  failpoints?: Failpoints;
}

/** Fault-injection points, parsed from the master's `failpoints` setting (see parseFailpoints). */
export interface Failpoints {
  pause: Partial<Record<MigrationPhase, number>>;
}

/** One execution of a migration: what its steps share, for as long as the runner runs them. */
export interface MigrationRun {
  readonly migration: MigrationRecord;
  readonly signal: AbortSignal;
  /** The source containers' inspect data, read before the first step. */
  readonly details: Map<string, ContainerDetails>;
  /** Target container ids by source container id, as container.create made them. */
  readonly createdContainers: Map<string, string>;
  /** Monotonic time the run started, for the rate. */
  readonly startedMs: number;
  /** Monotonic time the first running source container was asked to stop, for downtime. */
  downtimeStartedMs?: number;
  /**
   * Monotonic marks of the downtime's phases, taken once downtime started: the last source container stopped, the
   * last volume copied, the first target container's start begun; and the time spent in the start commands.
   */
  marks: {
    stoppedMs?: number;
    copiedMs?: number;
    startBeganMs?: number;
    startingMs: number;
  };
  /** The copy rounds so far (a cold migration makes one, with the source stopped). */
  rounds: SyncRound[];
  /** Warm: paths of each volume (by source name) the receiver could not verify, to send whole next round. */
  resend: Map<string, string[]>;
  /** Incremental: the identity of each target copy (by source volume name) as it was described. */
  copyIdentities: Map<string, string>;
  /** Bytes the steps moved so far (images sent, volumes copied), for the rate. */
  movedBytes: number;
  /** The source's networks and volumes as the inventory showed them at the first step that needed them. */
  sourceNetworks?: NetworkSummary[];
  sourceVolumes?: VolumeSummary[];
}

/**
 * Where the downtime went, from the marks the steps took: stopping the source, the copy made with it stopped,
 * creating the target's containers, starting them, and waiting until they are ready. A phase that did not happen
 * (no volume to copy) is null; the others add up to the downtime.
 */
function downtimeBreakdown(run: MigrationRun, startedMs: number, nowMs: number): DowntimeBreakdown {
  const { marks } = run;
  const ms = (from: number | undefined, to: number | undefined): number | null =>
    from === undefined || to === undefined ? null : Math.max(0, Math.round(to - from));
  const stopped = marks.stoppedMs ?? startedMs;
  const copied = marks.copiedMs;
  const startBegan = marks.startBeganMs;
  const start = startBegan === undefined ? null : Math.round(marks.startingMs);
  return {
    stopMs: ms(startedMs, stopped),
    finalSyncMs: ms(stopped, copied),
    // Creating the containers (cold; warm made them before the stop) and what lies between the copy and the start.
    applyMs: ms(copied ?? stopped, startBegan),
    startMs: start,
    readyMs: startBegan === undefined ? null : Math.max(0, Math.round(nowMs - startBegan - (start ?? 0))),
  };
}

export class MigrationStepHandlers {
  constructor(
    private readonly options: StepHandlerOptions,
    private readonly record: MigrationRecorder,
    private readonly transfers: TransferCoordinator,
  ) {}

  /**
   * Runs one step; answers the bytes it moved. Exhaustive over the step kinds, so a new kind cannot be left
   * without a handler.
   */
  async run(step: MigrationStep, run: MigrationRun): Promise<StepResult> {
    const { migration, signal } = run;
    const none = { bytes: 0 };
    switch (step.kind) {
      case 'phase':
        await this.failpoint(migration, step.phase, signal);
        await this.record.phase(migration, step.phase);
        return none;
      case 'network.prepare':
        run.sourceNetworks ??= this.options.registry.inventory(migration.request.sourceWorkerId).networks;
        await this.prepareNetwork(migration, resourceOf(run, step.resource), run.sourceNetworks, signal);
        return none;
      case 'image.prepare':
        return { bytes: await this.prepareImage(migration, resourceOf(run, step.resource), signal) };
      case 'source.stop': {
        const stopRequestedMs = await this.stopSources(
          migration,
          step.resources.map((key) => resourceOf(run, key)),
          run.details,
          signal,
        );
        if (stopRequestedMs !== undefined) run.downtimeStartedMs ??= stopRequestedMs;
        if (run.downtimeStartedMs !== undefined) run.marks.stoppedMs = this.options.clock.monotonicMs();
        return none;
      }
      case 'volume.create':
        run.sourceVolumes ??= this.options.registry.inventory(migration.request.sourceWorkerId).volumes;
        await this.createVolume(migration, resourceOf(run, step.resource), run.sourceVolumes, signal);
        return none;
      case 'volume.base':
        await this.describeTargetCopy(run, resourceOf(run, step.resource));
        return none;
      case 'volume.copy': {
        const resource = resourceOf(run, step.resource);
        if (step.round === 'full')
          return {
            bytes: await this.timedCopy(run, resource, step.round, async () => ({
              bytes: await this.copyVolume(migration, resource, signal),
            })),
          };
        const round = step.round;
        let precopy: StepResult['precopy'];
        const bytes = await this.timedCopy(run, resource, round, async () => {
          const copied = await this.syncVolume(run, resource, round);
          precopy = copied.precopy;
          return copied;
        });
        return { bytes, ...(precopy ? { precopy } : {}) };
      }
      case 'container.create':
        await this.createContainer(run, resourceOf(run, step.resource));
        return none;
      case 'container.start':
        if (run.downtimeStartedMs !== undefined) run.marks.startBeganMs ??= this.options.clock.monotonicMs();
        await this.startContainer(run, resourceOf(run, step.resource));
        return none;
      case 'switch_over':
        await this.switchOver(run);
        return none;
    }
  }

  /**
   * Holds a migration at the start of a phase when a failpoint asks for it (the fault-injection suite). The event
   * belongs to the phase it is held in: the next one has not begun.
   */
  async failpoint(migration: MigrationRecord, phase: MigrationPhase, signal: AbortSignal): Promise<void> {
    const pause = this.options.failpoints?.pause[phase];
    if (pause === undefined) return;
    await this.record.event(
      migration,
      'warning',
      migration.phase,
      `failpoint: paused ${pause} ms before ${phase}`,
    );
    await abortableSleep(pause, signal, 'cancelled by the user');
  }

  /** Creates a container on the target from the source's inspect data (an `overwrite`n one set aside first). */
  private async createContainer(run: MigrationRun, resource: PlannedResource): Promise<void> {
    const { migration, signal } = run;
    const { request } = migration;
    const networkNames: Record<string, string> = {};
    const volumeNames: Record<string, string> = {};
    for (const planned of migration.plan.resources) {
      if (planned.type === 'network') networkNames[planned.name] = planned.targetName;
      if (planned.type === 'volume') volumeNames[planned.name] = planned.targetName;
    }
    const inspect = run.details.get(resource.sourceId);
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
      const created = await this.options.gateway.run(
        request.targetWorkerId,
        'container.create',
        { name: config.name, body: config.createBody, networks: config.networks },
        { signal },
      );
      return created.id;
    });
    run.createdContainers.set(resource.sourceId, id);
    await this.record.event(
      migration,
      'info',
      'create',
      `container ${config.name} created on the target`,
      resource,
    );
  }

  /** Starts a target container whose source ran, and waits until it runs (and is healthy). */
  private async startContainer(run: MigrationRun, resource: PlannedResource): Promise<void> {
    const { migration, signal } = run;
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    const id = run.createdContainers.get(resource.sourceId);
    if (!id) return;
    if (migration.state.sourceRunning.includes(resource.sourceId)) {
      const { clock } = this.options;
      const starting = clock.monotonicMs();
      await gateway.run(target, 'container.start', { ref: id }, { signal });
      run.marks.startingMs += clock.monotonicMs() - starting;
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

  /**
   * Runs one volume copy and counts it in the copy round it belongs to: a cold migration's copies, made with the
   * source stopped, are its one (final) round.
   */
  private async timedCopy(
    run: MigrationRun,
    resource: PlannedResource,
    round: 'full' | 'final' | number,
    copy: () => Promise<{ bytes: number; files?: number }>,
  ): Promise<number> {
    const { clock } = this.options;
    const started = clock.monotonicMs();
    const { bytes, files = resource.measured?.files ?? 0 } = await copy();
    const durationMs = clock.monotonicMs() - started;
    // Rounds are numbered in the order they run; the full copy (cold) and the final round are made stopped.
    const final = typeof round !== 'number';
    const last = run.rounds.at(-1);
    const same = last !== undefined && (final ? last.final : !last.final && last.round === round);
    if (same) {
      last.bytes += bytes;
      last.durationMs += durationMs;
      last.files += files;
    } else run.rounds.push({ round: run.rounds.length + 1, final, bytes, durationMs, files });
    if (run.downtimeStartedMs !== undefined) run.marks.copiedMs = clock.monotonicMs();
    return bytes;
  }

  /**
   * The switch-over point: everything runs on the target. Recorded before the source is touched again, so that a
   * restart from here on finishes the migration rather than undoing it. Downtime (first stop request → now) and
   * the rate are measured on the monotonic clock.
   */
  private async switchOver(run: MigrationRun): Promise<void> {
    const { migration } = run;
    const { clock } = this.options;
    const nowMs = clock.monotonicMs();
    const downtimeMs = run.downtimeStartedMs === undefined ? null : Math.round(nowMs - run.downtimeStartedMs);
    migration.state.switchedOverAt = clock.now().toISOString();
    const timing: MigrationTiming = {
      downtime:
        run.downtimeStartedMs === undefined ? null : downtimeBreakdown(run, run.downtimeStartedMs, nowMs),
      rounds: run.rounds.map((r) => ({ ...r, durationMs: Math.round(r.durationMs) })),
    };
    migration.timing = timing;
    await this.record.save(migration, {
      state: migration.state,
      downtimeMs,
      timing,
      rateBytesPerSecond: Math.round(
        run.movedBytes / Math.max(0.001, (clock.monotonicMs() - run.startedMs) / 1000),
      ),
    });
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
    const result = await this.transfers.transfer(
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
      `image ${resource.name} sent: ${plural(result.bytes, 'byte')}${skipLayers > 0 ? `, ${String(skipLayers)} of ${plural(image.layers.length, 'layer')} already on the target` : ''}`,
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
   * Stops source containers together (one stop level). That each ran is recorded, with the downtime's start, before
   * any stop is sent: if an answer is lost (a cancel, a timeout, a master restart) the worker may still stop it,
   * and rollback then finds it stopped and starts it. Each stop's duration is an event. Answers when (monotonic) the
   * stops were requested, if any container ran: downtime counts from the first such request.
   */
  private async stopSources(
    migration: MigrationRecord,
    level: PlannedResource[],
    details: ReadonlyMap<string, ContainerDetails>,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const { clock, gateway } = this.options;
    const { stopTimeoutSeconds } = migration.request;
    const running = level.filter((r) => isRunning(details.get(r.sourceId)));
    for (const resource of running)
      if (!migration.state.sourceRunning.includes(resource.sourceId))
        migration.state.sourceRunning.push(resource.sourceId);
    // Downtime counts from the stop request: a service stops answering once it is told to shut down, and a
    // container that ignores SIGTERM takes the whole grace period to stop.
    const stopRequestedMs = clock.monotonicMs();
    const countsDowntime = running.length > 0 && migration.state.downtimeStartedAt === undefined;
    if (countsDowntime) migration.state.downtimeStartedAt = clock.now().getTime();
    await this.record.save(migration, { state: migration.state });
    if (running.length > 0)
      await this.record.event(
        migration,
        'info',
        'stop_source',
        running.length === 1
          ? `stopping container ${running[0]?.name ?? ''} on the source`
          : `stopping containers ${running.map((r) => r.name).join(', ')} on the source together`,
      );
    const stops = await Promise.allSettled(
      level.map(async (resource) => {
        const { wasRunning } = await gateway.run(
          migration.request.sourceWorkerId,
          'container.stop',
          {
            ref: resource.sourceId,
            ...(stopTimeoutSeconds === undefined ? {} : { timeoutSeconds: stopTimeoutSeconds }),
          },
          { signal },
        );
        if (!wasRunning) return false;
        const tookMs = clock.monotonicMs() - stopRequestedMs;
        if (!migration.state.sourceRunning.includes(resource.sourceId))
          migration.state.sourceRunning.push(resource.sourceId);
        const { graceSeconds, graceFrom, stopSignal } = stopSettings(
          details.get(resource.sourceId),
          stopTimeoutSeconds,
        );
        // Killed at the end of its grace period: the process did not exit on its stop signal — said, since it is
        // downtime the user can win back.
        const waitedOut = tookMs >= graceSeconds * 1000 - 250;
        await this.record.event(
          migration,
          waitedOut ? 'warning' : 'info',
          'stop_source',
          `container ${resource.name} stopped on the source in ${(tookMs / 1000).toFixed(1)} s` +
            (waitedOut
              ? `: waited out the ${String(graceSeconds)} s stop grace period${graceFrom === 'request' ? ' this migration set' : ''} — the process ignored ${stopSignal} (its stop signal) and was killed` +
                (graceFrom === 'request'
                  ? ''
                  : ' (give it a stop signal it handles, or a shorter grace period: the stop_timeout option)')
              : ''),
          resource,
        );
        return true;
      }),
    );
    const stoppedAny = stops.some((s) => s.status === 'fulfilled' && s.value);
    // Nothing ran after all (it stopped on its own meanwhile): no downtime began here.
    if (countsDowntime && !stoppedAny && stops.every((s) => s.status === 'fulfilled'))
      delete migration.state.downtimeStartedAt;
    await this.record.save(migration, { state: migration.state });
    const failed = stops.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return stoppedAny ? stopRequestedMs : undefined;
  }

  /**
   * Creates the volume on the target, or empties the target's, keeping its content aside; a volume whose content
   * is not copied is done here.
   */
  private async createVolume(
    migration: MigrationRecord,
    resource: PlannedResource,
    sourceVolumes: VolumeSummary[],
    signal: AbortSignal,
  ): Promise<void> {
    const { gateway } = this.options;
    const target = migration.request.targetWorkerId;
    await this.record.setResource(migration, resource, { status: 'running' });
    const volume = sourceVolumes.find((v) => v.name === resource.sourceId);
    const exists = await this.volumeOnTarget(target, resource.targetName, signal);
    if (resource.action === 'update') {
      // The copy described before anything changed must still be there: made anew, it holds nothing the source's
      // session trusts it to hold.
      if (!exists)
        throw new AppError(
          'conflict',
          `volume ${resource.targetName} is gone from the target since it was described; nothing was copied into it`,
        );
      await this.record.event(
        migration,
        'info',
        'transfer',
        `volume ${resource.targetName} is already on the target, a copy an earlier migration made: it is brought up to date in place`,
        resource,
      );
    } else if (resource.action === 'overwrite' && exists) {
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
              // Named after this migration, so that a later incremental sync knows the copy as ours.
              labels: {
                ...(volume?.labels ?? {}),
                [VOLUME_COPY_LABEL]: migration.id,
                [VOLUME_SOURCE_LABEL]: `${migration.request.sourceWorkerId}/${resource.sourceId}`,
              },
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
    }
  }

  /** Copies a volume's whole content into the target's volume that createVolume made; answers the bytes it covers. */
  private async copyVolume(
    migration: MigrationRecord,
    resource: PlannedResource,
    signal: AbortSignal,
  ): Promise<number> {
    const result = await this.transfers.transfer(
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
          ? ` (${plural(result.bytes, 'byte')} sent: holes and runs of zeros travel as none)`
          : ` (${plural(result.bytes, 'byte')} sent, with the archive's headers)`;
    await this.record.event(
      migration,
      'info',
      'transfer',
      `volume ${resource.name}: ${plural(moved, 'byte')}${sent}, XXH3-128 ${result.xxh128.slice(0, 16)}… equal on both ends`,
      resource,
    );
    return moved;
  }

  /**
   * One sync round of a warm migration for one volume: a pre-copy round (the source runs) sends what changed since
   * the previous one, the final round (the source stopped) what changed since the last, flushed to disk on the
   * target. Files the target could not verify after a patch go whole next round; after the final round they are
   * sent again at once, a few times at most, since nothing changes any more.
   */
  private async syncVolume(
    run: MigrationRun,
    resource: PlannedResource,
    round: 'final' | number,
  ): Promise<{ bytes: number; files: number; precopy?: StepResult['precopy'] }> {
    const { migration, signal } = run;
    const final = round === 'final';
    const last = run.rounds.at(-1);
    // The final round follows the last pre-copy round; each volume's final copy belongs to the same round.
    const number = final ? (last?.final ? last.round : run.rounds.length + 1) : round;
    const names = { type: 'volume' as const, source: resource.sourceId, target: resource.targetName };
    let bytes = 0;
    let files = 0;
    let precopy: StepResult['precopy'];
    if (number === 1) await this.record.setResource(migration, resource, { status: 'running' });
    for (let attempt = 0; ; attempt++) {
      const resend = run.resend.get(resource.sourceId) ?? [];
      // An incremental sync's final round leaves both ends a record of the copy, for the next one to start from.
      const keep = final && migration.request.strategy === 'incremental';
      const identity = run.copyIdentities.get(resource.sourceId);
      const answer = await this.transfers.transfer(migration, resource, names, signal, undefined, {
        send: {
          session: migration.id,
          round: number,
          final,
          ...(resend.length ? { resend } : {}),
          ...(keep ? { keep: { targetVolume: resource.targetName } } : {}),
        },
        fsync: final,
        ...(keep ? { describe: { migrationId: migration.id, sourceVolume: resource.sourceId } } : {}),
        ...(identity === undefined ? {} : { identity }),
      });
      bytes += answer.bytes;
      const sent = answer.sync;
      files += sent?.filesRead ?? 0;
      if (sent && !final) precopy = { bytesRead: sent.bytesRead, hotBytes: sent.hotBytes };
      const mismatched = answer.applied?.mismatched ?? [];
      run.resend.set(resource.sourceId, mismatched);
      const what =
        migration.request.mode !== 'warm'
          ? 'synced'
          : final
            ? 'final round (source stopped)'
            : `pre-copy round ${String(number)}`;
      const detail = sent
        ? `: ${plural(answer.bytes, 'byte')} sent; ${plural(sent.filesRead, 'file')} read (${String(sent.wholeFiles)} whole, ${String(sent.patchedFiles)} patched), ${String(sent.deletions)} deleted`
        : `: ${plural(answer.bytes, 'byte')} sent`;
      await this.record.event(
        migration,
        mismatched.length > 0 ? 'warning' : 'info',
        'transfer',
        `volume ${resource.name}, ${what}${detail}` +
          (mismatched.length > 0
            ? `; ${String(mismatched.length)} file(s) differed on the target after patching and go whole next`
            : ''),
        resource,
      );
      if (mismatched.length === 0 || !final) break;
      if (attempt >= 2)
        throw new AppError(
          'internal',
          `volume ${resource.name}: ${String(mismatched.length)} file(s) still differ on the target after three final rounds (${mismatched.slice(0, 3).join(', ')})`,
        );
    }
    if (final) {
      await this.record.setResource(migration, resource, {
        status: 'done',
        bytes: resource.measured?.apparentBytes ?? resource.bytes,
      });
    }
    return { bytes, files, ...(precopy ? { precopy } : {}) };
  }

  /**
   * The incremental strategy, for a volume the target holds from an earlier migration: the target describes its
   * copy and that description goes to the source, as the base the copy sends the difference against. A copy that
   * changed on the target since it was made is refused before anything changes: an incremental sync would undo
   * those changes without keeping them.
   */
  private async describeTargetCopy(run: MigrationRun, resource: PlannedResource): Promise<void> {
    const { migration, signal } = run;
    await this.record.setResource(migration, resource, { status: 'running' });
    // A stopped container this migration replaces (the leftover of a move back) does not keep its volume as it is.
    const replacing = migration.plan.resources
      .filter((r) => r.type === 'container' && r.action === 'overwrite')
      .map((r) => r.targetName);
    const answer = await this.transfers.transfer(
      migration,
      resource,
      { type: 'manifest', source: resource.sourceId, target: resource.targetName, replacing },
      signal,
    );
    const described = answer.described;
    const changed = described?.changedSinceCopy ?? null;
    const madeBy = described?.madeBy === undefined ? 'an earlier migration' : `migration ${described.madeBy}`;
    if (changed !== null && changed > 0)
      throw new AppError(
        'conflict',
        `volume ${resource.targetName} on the target: ${String(changed)} file(s) or folder(s) changed there since ${madeBy} made this copy; ` +
          'it is left as it is, since an incremental sync would undo those changes. To replace it, migrate with the ' +
          '"full" strategy and the "overwrite" conflict policy (its content is kept aside until the migration completes)',
        { details: { volume: resource.targetName, changed } },
      );
    if (described) run.copyIdentities.set(resource.sourceId, described.identity);
    if (changed === null)
      await this.record.event(
        migration,
        'warning',
        'prepare',
        `volume ${resource.targetName} on the target: no description of this copy was kept (a full migration made it, or a sync did not finish), so changes made to it there since, if any, cannot be told and are replaced`,
        resource,
      );
    const merged = answer.merged;
    await this.record.event(
      migration,
      'info',
      'prepare',
      `volume ${resource.name}: the target's copy (${madeBy}) has ${plural(described?.entries ?? 0, 'entry', 'entries')}` +
        (described ? `, ${plural(described.filesRead, 'file')} re-read there to describe it` : '') +
        (merged
          ? `; ${String(merged.trusted)} known equal to what was last sent, ${String(merged.compared)} to compare by content`
          : ''),
      resource,
    );
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
}

/** The plan's resource a step names. */
function resourceOf(run: MigrationRun, key: ResourceKey): PlannedResource {
  const resource = run.migration.plan.resources.find((r) => resourceKey(r) === key);
  if (!resource) throw new AppError('internal', `the plan has no ${key}`);
  return resource;
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

function isRunning(details: ContainerDetails | undefined): boolean {
  return details?.state === 'running' || details?.state === 'restarting' || details?.state === 'paused';
}
