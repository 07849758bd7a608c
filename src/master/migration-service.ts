// The master's migration engine as the REST API sees it: turns a request into a persisted plan (preflight included,
// resources locked), hands it to the runner, cancels, reads, and after a restart finishes or rolls back what was
// left unfinished.
import { systemClock, type Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { ContainerDetails, ImageDetails } from '../core/docker-resources.js';
import {
  emptyTiming,
  isFinished,
  type Finding,
  type MigrationEvent,
  type MigrationPlan,
  type MigrationRecord,
  type MigrationRequest,
  type MigrationStatus,
} from '../core/migration.js';
import { lockKeys, recoveryAction } from '../core/migration-journal.js';
import { planMigration, plannedVolumeNames } from '../core/migration-plan.js';
import { leftOnSource, type LeftoverState } from '../core/migration-leftovers.js';
import { reverseRequest, type ReverseOptions } from '../core/migration-reverse.js';
import { withNameSuggestions } from '../core/near-names.js';
import type { VolumeMeasure } from '../core/worker-commands.js';
import type { Inventory } from '../core/workers.js';
import { preflight } from '../core/preflight.js';
import { newId } from '../platform/secrets.js';
import { MigrationRecorder, type MigrationNotice } from './migration-recorder.js';
import { MigrationRollback } from './migration-rollback.js';
import { MigrationRunner, type MigrationRunnerOptions } from './migration-runner.js';
import { forgetSyncSession, message, sleep } from './migration-support.js';

export type { MigrationNotice } from './migration-recorder.js';
export type { Failpoints } from './migration-runner.js';
import { plural } from '../core/plural.js';

export interface DryRunAnswer {
  plan: MigrationPlan;
  findings: Finding[];
  blocked: boolean;
}

/** Everything the migration service needs: the runner's options (see MigrationRunnerOptions). */
export type MigrationServiceOptions = MigrationRunnerOptions;

/** How many of the latest completed migrations a worker's leftover marks are looked for in. */
const LEFTOVER_SCAN = 500;

/** A resource a completed migration left on its source worker. */
export interface LeftoverMark {
  migrationId: string;
  targetWorkerId: string;
  /** Its name on the target. */
  movedAs: string;
  state: LeftoverState['state'];
}

/** Longest a volume's measurement may take before its size is called unknown (a walk of millions of files). */
const MEASURE_TIMEOUT_MS = 60_000;

/** How long a request naming something the inventory lacks waits for the inventory to catch up, once. */
const INVENTORY_LAG_MS = 2_000;

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

export class MigrationService {
  private readonly running = new Map<string, Running>();
  private readonly listeners = new Set<(notice: MigrationNotice) => void>();
  /** Migrations a move back is being started for. */
  private readonly reversing = new Set<string>();
  private closed = false;
  private readonly unsubscribe: () => void;

  private readonly record: MigrationRecorder;
  private readonly rollback: MigrationRollback;
  private readonly runner: MigrationRunner;
  private readonly clock: Clock;

  constructor(private readonly options: MigrationServiceOptions) {
    this.clock = options.clock ?? systemClock();
    const withClock = { ...options, clock: this.clock };
    this.record = new MigrationRecorder(
      options.store,
      (notice) => {
        this.notify(notice);
      },
      this.clock,
    );
    this.rollback = new MigrationRollback(withClock, this.record);
    this.runner = new MigrationRunner(withClock, this.record, this.rollback, () => this.closed);
    this.unsubscribe = options.registry.subscribe((event) => {
      if (event.type !== 'worker.online') return;
      this.forgetKeptSyncSessions(event.worker.id).catch((error: unknown) => {
        this.options.logger.warn(
          { err: error, workerId: event.worker.id },
          'cannot look for sync sessions to drop',
        );
      });
    });
  }

  /**
   * A worker is back online: tells it to drop the sync sessions of warm or incremental migrations that ended while it could not be
   * told (`state.syncSessionKept`). One that fails again stays marked for the next time.
   */
  private async forgetKeptSyncSessions(workerId: string): Promise<void> {
    const ended = await this.options.store.listMigrations({
      status: ['completed', 'rolled_back', 'failed', 'cancelled'],
      limit: 500,
    });
    for (const migration of ended) {
      if (!migration.state.syncSessionKept || migration.request.sourceWorkerId !== workerId) continue;
      await forgetSyncSession(this.options.gateway, this.record, migration).then(
        () =>
          this.record.event(
            migration,
            'info',
            'done',
            'the source worker is back online and dropped what it kept between the copy rounds',
          ),
        (error: unknown) => {
          this.options.logger.warn(
            { migrationId: migration.id, workerId, err: error },
            `the source worker still keeps the migration's sync session: ${message(error)}`,
          );
        },
      );
    }
  }

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
      try {
        planned = await planFrom(registry.inventory(source.id));
      } catch (again) {
        const others = registry
          .list()
          .filter((w) => w.id !== source.id)
          .map((w) => ({ id: w.id, name: w.name, inventory: registry.inventory(w.id) }));
        throw withNameSuggestions(
          AppError.from(again),
          { name: source.name, inventory: registry.inventory(source.id) },
          others,
        );
      }
    }
    const { sourceInventory, containers, images } = planned;
    // Volume sizes are measured on the source now, so that the totals and the disk-space check know them.
    const volumeSizes = await this.measureVolumes(source.id, plannedVolumeNames(planned.plan));
    const plan = planMigration(request, {
      inventory: sourceInventory,
      containers,
      images,
      name: source.name,
      volumeSizes,
    });
    // Files changed outside volumes are never migrated: preflight names them (and blocks `remove` until accepted).
    const changes: Record<string, { count: number; paths: string[] }> = {};
    for (const resource of plan.resources.filter((r) => r.type === 'container'))
      changes[resource.sourceId] = await gateway.run(source.id, 'container.changes', {
        ref: resource.sourceId,
      });
    let describe: { architecture: string; os: string; freeBytes: number | null } | undefined;
    if (target.online) {
      describe = await gateway.run(target.id, 'engine.describe', {});
    }
    const checked = preflight(plan, request, {
      source: { online: source.online, name: source.name, containers, inventory: sourceInventory, changes },
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

  /**
   * Each volume's size as its worker measures it. A volume that cannot be measured (a worker too old for the
   * command, a walk that takes too long) gets an unknown size with the reason, never a failed plan.
   */
  private async measureVolumes(workerId: string, names: string[]): Promise<Record<string, VolumeMeasure>> {
    const sizes: Record<string, VolumeMeasure> = {};
    for (const name of names) {
      try {
        sizes[name] = await this.options.gateway.run(
          workerId,
          'volume.measure',
          { name },
          { timeoutMs: MEASURE_TIMEOUT_MS },
        );
      } catch (error) {
        sizes[name] = {
          apparentBytes: null,
          allocatedBytes: null,
          files: null,
          method: 'unknown',
          reason: AppError.from(error).message,
          measuredAt: this.clock.now().toISOString(),
        };
      }
    }
    return sizes;
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
        `preflight found ${plural(errors.length, 'problem')}: ${errors.map((e) => e.message).join('; ')}`,
        { details: { findings: assessed.findings } },
      );
    }
    const now = this.clock.now().toISOString();
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
      timing: emptyTiming(),
      error: null,
      cancelRequested: false,
      state: { sourceRunning: [], sourceStopped: [], created: [], completedSteps: [] },
    };
    // Refused with 409, storing nothing, while another migration holds any of these resources.
    await this.options.store.insertMigration(migration, lockKeys(request, assessed.plan.resources));
    await this.record.event(
      migration,
      'info',
      'preflight',
      `planned ${plural(assessed.plan.resources.length, 'resource')}`,
    );
    for (const finding of assessed.findings.filter((f) => f.severity !== 'info'))
      await this.record.event(
        migration,
        finding.severity === 'error' ? 'error' : 'warning',
        'preflight',
        finding.message,
      );
    // The runner changes its record as it goes; the caller gets the migration as it was created.
    const created = structuredClone(migration);
    this.launch(migration, (signal) => this.runner.execute(migration, signal));
    return created;
  }

  /**
   * The request that moves a completed migration's workload back (see reverseRequest), refused with 409 while an
   * earlier move back of it is under way or completed.
   */
  async reverseRequest(id: string, options: ReverseOptions): Promise<MigrationRequest> {
    const { migration } = await this.get(id);
    const by = migration.state.reversedBy;
    if (by !== undefined) {
      const earlier = await this.options.store.getMigration(by);
      if (earlier && !['failed', 'rolled_back', 'cancelled'].includes(earlier.status))
        throw new AppError(
          'conflict',
          `migration ${id} ${earlier.status === 'completed' ? 'was already moved back' : 'is being moved back'} by ${by}`,
          { details: { reversed_by: by, status: earlier.status } },
        );
    }
    return reverseRequest(migration, options);
  }

  /** Starts a move back of a completed migration (see reverseRequest); the original names it as `reversedBy`. */
  async reverse(id: string, options: ReverseOptions): Promise<MigrationRecord> {
    // Two requests at once would both pass the check below before either is recorded.
    if (this.reversing.has(id))
      throw new AppError('conflict', `migration ${id} is being moved back by another request`);
    this.reversing.add(id);
    try {
      const request = await this.reverseRequest(id, options);
      const started = await this.start(request);
      const { migration } = await this.get(id);
      migration.state.reversedBy = started.id;
      await this.record.save(migration, { state: migration.state });
      return started;
    } finally {
      this.reversing.delete(id);
    }
  }

  /**
   * What the latest completed migrations (LEFTOVER_SCAN of them) left on `workerId` and did not move back since, by
   * `type:id` (volumes `volume:name`): the mark a worker's resource list shows ("migrated to … by m-…").
   */
  async leftoversOn(workerId: string): Promise<Map<string, LeftoverMark>> {
    const marks = new Map<string, LeftoverMark>();
    const completed = await this.options.store.listMigrations({
      status: ['completed'],
      limit: LEFTOVER_SCAN,
    });
    for (const migration of completed) {
      if (migration.request.sourceWorkerId !== workerId) continue;
      const by = migration.state.reversedBy;
      if (by !== undefined) {
        const reverser = await this.options.store.getMigration(by);
        if (reverser && !['failed', 'rolled_back', 'cancelled'].includes(reverser.status)) continue;
      }
      for (const leftover of leftOnSource(migration)) {
        const key = `${leftover.type}:${leftover.id}`;
        if (!marks.has(key))
          marks.set(key, {
            migrationId: migration.id,
            targetWorkerId: migration.request.targetWorkerId,
            movedAs: leftover.movedAs,
            state: leftover.state,
          });
      }
    }
    return marks;
  }

  /**
   * Asks a running migration to stop and roll back (it ends `cancelled`); a finished one is left as it is and the
   * request refused (conflict), since there is nothing left to cancel.
   */
  async cancel(id: string): Promise<MigrationRecord> {
    const { migration } = await this.get(id);
    if (isFinished(migration.status))
      throw new AppError(
        'conflict',
        `migration ${id} already ended (${migration.status.replace('_', ' ')}); there is nothing to cancel`,
        { details: { status: migration.status } },
      );
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
          await this.record.event(
            migration,
            'warning',
            'finalize',
            'the master running this migration stopped after everything was running on the target: finishing the migration',
          );
          await this.runner.finish(migration);
        });
        continue;
      }
      this.options.logger.warn(
        { migrationId: migration.id },
        'rolling back a migration the master left unfinished',
      );
      this.launch(migration, () =>
        this.rollback.rollBack(
          migration,
          'the master running this migration stopped (a restart, or another master took over) before its switch-over point',
        ),
      );
    }
  }

  /** Stops taking work and waits briefly for running migrations to notice. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
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
}
