// Runs a migration: asks its strategy for the next step and hands it to that step's handler, until the switch-over
// point; then finishes (source policy, tidy-up). Any failure before it hands over to rollback.
import { systemClock, type Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { ContainerDetails } from '../core/docker-resources.js';
import {
  DEFAULT_DOWNTIME_BUDGET_MS,
  DEFAULT_MAX_ROUNDS,
  type MigrationRecord,
  type PlannedResource,
} from '../core/migration.js';
import type { StepOutcome } from '../core/migration-steps.js';
import { coldStrategy, warmStrategy, type StepStrategy } from '../core/migration-strategy.js';
import { DEFAULT_CONVERGED_BYTES } from '../core/warm-rounds.js';
import type { MasterStore } from '../core/ports.js';
import type { WorkerGateway } from '../core/worker-commands.js';
import type { Logger } from '../platform/logger.js';
import { observeMigrationTiming, type MasterMetrics } from './metrics.js';
import type { MigrationRecorder } from './migration-recorder.js';
import type { MigrationRollback } from './migration-rollback.js';
import { MigrationStepHandlers, type Failpoints, type MigrationRun } from './migration-step-handlers.js';
import { forgetSyncSession, keepsSyncSession, readable } from './migration-support.js';
import { TransferCoordinator } from './transfer-coordinator.js';
import type { WorkerRegistry } from './worker-registry.js';

export type { Failpoints } from './migration-step-handlers.js';
import { plural } from '../core/plural.js';

export interface MigrationRunnerOptions {
  store: MasterStore;
  registry: WorkerRegistry;
  gateway: WorkerGateway;
  /** Signs transfer grants. */
  caKeyPem: string;
  logger: Logger;
  metrics?: MasterMetrics;
  /** Wall time for timestamps, monotonic time for downtime, rates and deadlines; the system's by default. */
  clock?: Clock;
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

export class MigrationRunner {
  private readonly clock: Clock;
  private readonly steps: MigrationStepHandlers;

  constructor(
    private readonly options: MigrationRunnerOptions,
    private readonly record: MigrationRecorder,
    private readonly rollback: MigrationRollback,
    /** True once the master is shutting down: an interrupted migration is then left for recovery. */
    private readonly isClosing: () => boolean,
  ) {
    this.clock = options.clock ?? systemClock();
    const withClock = { ...options, clock: this.clock };
    this.steps = new MigrationStepHandlers(withClock, record, new TransferCoordinator(withClock, record));
  }

  /**
   * Runs the strategy's steps one after the other (a cancel is noticed before each, phase boundaries aside), each
   * step's outcome fed back to the strategy; at the switch-over point, finishes. The strategy is cold by default:
   * warm mode is another strategy over the same handlers (see migration-strategy.ts).
   */
  async execute(migration: MigrationRecord, signal: AbortSignal, strategy?: StepStrategy): Promise<void> {
    /** Why pre-copying stopped (warm), said in the event log once the strategy decided. */
    const verdicts: string[] = [];
    strategy ??=
      migration.request.mode === 'warm'
        ? warmStrategy(
            migration.plan,
            {
              budgetMs: migration.request.downtimeBudgetMs ?? DEFAULT_DOWNTIME_BUDGET_MS,
              maxRounds: migration.request.maxRounds ?? DEFAULT_MAX_ROUNDS,
              convergedBytes: DEFAULT_CONVERGED_BYTES,
            },
            (verdict) => verdicts.push(verdict.explanation),
          )
        : coldStrategy(migration.plan, migration.request.strategy);
    const { gateway } = this.options;
    const { clock } = this;
    const source = migration.request.sourceWorkerId;
    const canceled = (): void => {
      if (signal.aborted) throw new AppError('canceled', 'cancelled by the user');
    };
    await this.record.save(migration, { status: 'running', startedAt: clock.now().toISOString() });
    const run: MigrationRun = {
      migration,
      signal,
      details: new Map<string, ContainerDetails>(),
      createdContainers: new Map<string, string>(),
      startedMs: clock.monotonicMs(),
      movedBytes: 0,
      marks: { startingMs: 0 },
      rounds: [],
      resend: new Map(),
      copyIdentities: new Map(),
    };
    try {
      const resources = migration.plan.resources.filter((r) => r.action !== 'skip');
      for (const skipped of migration.plan.resources.filter((r) => r.action === 'skip' && r.type !== 'image'))
        await this.record.setResource(migration, skipped, { status: 'skipped' });
      for (const resource of resources.filter((r) => r.type === 'container'))
        run.details.set(
          resource.sourceId,
          await gateway.run(source, 'container.inspect', { ref: resource.sourceId }, { signal }),
        );
      const done: StepOutcome[] = [];
      for (let step = strategy.next(done); step !== 'done'; step = strategy.next(done)) {
        for (const verdict of verdicts.splice(0))
          await this.record.event(migration, 'info', 'transfer', `${verdict}: stopping the source`);
        if (step.kind !== 'phase') canceled();
        const startedMs = clock.monotonicMs();
        const result = await this.steps.run(step, run);
        run.movedBytes += result.bytes;
        done.push({ step, ...result, durationMs: clock.monotonicMs() - startedMs });
      }
      // Finishing applies the source policy: never without the switch-over point that a strategy's last step records.
      if (migration.state.switchedOverAt === undefined)
        throw new AppError('internal', 'the migration strategy ended before the switch-over point');
    } catch (error) {
      if (this.isClosing()) {
        // The master is stopping: the migration stays "running" and is recovered when it starts again.
        await this.record
          .event(migration, 'warning', migration.phase, 'interrupted: the master is shutting down')
          .catch(() => undefined);
        return;
      }
      // A user's cancel is no failure: it ends `cancelled`, with its rollback, never with a phase "failed here".
      if (signal.aborted) migration.cancelRequested = true;
      const reason = signal.aborted ? 'cancelled by the user' : readable(error, migration);
      await this.record
        .event(
          migration,
          signal.aborted ? 'warning' : 'error',
          migration.phase,
          signal.aborted ? `cancelled by the user during ${migration.phase}` : `failed: ${reason}`,
        )
        .catch(() => undefined);
      await this.rollback.rollBack(migration, reason);
      return;
    }
    await this.finish(migration, signal);
  }

  /**
   * After the switch-over point: applies the source policy, removes what `overwrite` kept aside (containers before
   * the volumes they use), and ends `completed`. Every step is idempotent, so recovery after a restart runs it
   * again from the start; a failure here is reported, never rolled back.
   */
  async finish(migration: MigrationRecord, signal?: AbortSignal): Promise<void> {
    const { gateway } = this.options;
    const { request } = migration;
    if (signal) await this.steps.failpoint(migration, 'finalize', signal).catch(() => undefined);
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
          `${what} failed: ${readable(error, migration)}`,
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
    if (keepsSyncSession(request))
      await tidy(
        'forgetting what the source kept between the copy rounds (the worker is told again once it is back online)',
        () => forgetSyncSession(gateway, this.record, migration),
      );
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
      completedAt: this.clock.now().toISOString(),
    });
    await this.options.store.releaseMigrationLocks(migration.id);
    await this.record.event(
      migration,
      warnings === 0 ? 'info' : 'warning',
      'done',
      warnings === 0
        ? 'migration completed'
        : `migration completed, with ${plural(warnings, 'warning')} while tidying up`,
    );
    if (this.options.metrics) {
      this.options.metrics.migrations.inc({ status: 'completed' });
      observeMigrationTiming(this.options.metrics, migration);
    }
  }
}
