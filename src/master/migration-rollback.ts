// Undoes a migration on its workers: the journal newest first, each entry checked against the engine, once the
// workers have answered the commands the runner stopped waiting for; then the source runs as before.
import { systemClock, type Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { MigrationRecord, MigrationStatus } from '../core/migration.js';
import type { UndoEntry } from '../core/migration-journal.js';
import type { MigrationRecorder } from './migration-recorder.js';
import type { MigrationRunnerOptions } from './migration-runner.js';
import {
  forgetSyncSession,
  keepsSyncSession,
  message,
  readable,
  shortId,
  sleep,
} from './migration-support.js';

/** How long rollback waits for a worker to answer a command it was told to cancel (a stop's grace period). */
const QUIESCE_TIMEOUT_MS = 120_000;

export class MigrationRollback {
  /** Monotonic for the rollback deadline, wall for `completedAt`. */
  private readonly clock: Clock;

  constructor(
    private readonly options: MigrationRunnerOptions,
    private readonly record: MigrationRecorder,
  ) {
    this.clock = options.clock ?? systemClock();
  }

  /** Retries a rollback step while the worker is offline, up to the rollback timeout (a monotonic deadline). */
  private async persistently<T>(work: () => Promise<T>, deadline: number): Promise<T> {
    for (;;) {
      try {
        return await work();
      } catch (error) {
        const code = AppError.from(error).code;
        if ((code !== 'unavailable' && code !== 'deadline_exceeded') || this.clock.monotonicMs() > deadline)
          throw error;
        await sleep(2_000);
      }
    }
  }

  /**
   * Undoes the journal newest first, each entry checked against the target's engine (a command whose answer was
   * lost may or may not have run), then starts every source container that ran before the migration and is not
   * running now — whatever the stop command's outcome was.
   */
  async rollBack(migration: MigrationRecord, reason: string): Promise<void> {
    await this.record.save(migration, { phase: 'rollback', status: 'running', error: reason });
    await this.record.event(migration, 'warning', 'rollback', `rolling back: ${reason}`);
    const deadline = this.clock.monotonicMs() + (this.options.rollbackTimeoutMs ?? 10 * 60_000);
    await this.quiesce(migration);
    const left: string[] = [];
    const step = async (what: string, work: () => Promise<string | undefined>): Promise<boolean> => {
      try {
        const done = await this.persistently(work, deadline);
        if (done) await this.record.event(migration, 'info', 'rollback', done);
        return true;
      } catch (error) {
        left.push(`${what} (${readable(error, migration)})`);
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
      await this.record.save(migration, { state: migration.state });
    }
    for (const container of [...migration.state.sourceRunning].reverse())
      await step(`container ${nameOf(migration, container)} stopped on the source`, () =>
        this.restartSource(migration, container, deadline),
      );
    // What the source kept between sync rounds is of no use any more. It is no part of what the rollback restores:
    // a source worker that cannot be told now is told again once it is back (see forgetSyncSession).
    if (keepsSyncSession(migration.request))
      await forgetSyncSession(this.options.gateway, this.record, migration).catch((error: unknown) =>
        this.record.event(
          migration,
          'warning',
          'rollback',
          `the source worker keeps what it kept between the copy rounds for now (${message(error)}); it is told to drop it once it is back online`,
        ),
      );
    for (const resource of migration.plan.resources)
      if (resource.status !== 'skipped') resource.status = 'rolled_back';
    // A user's cancel, once its rollback is whole, ends `cancelled`; any other reason `rolled_back`.
    const cancelled = migration.cancelRequested;
    const status: MigrationStatus = left.length > 0 ? 'failed' : cancelled ? 'cancelled' : 'rolled_back';
    const now = this.clock.now();
    // The source was down from the first stop request until it ran again (or until now, when it could not be
    // started): a rolled-back or cancelled migration cost that much downtime too. Wall time, since a restart of
    // the master may lie between the two.
    const { downtimeStartedAt } = migration.state;
    await this.record.save(migration, {
      status,
      phase: 'done',
      plan: migration.plan,
      completedAt: now.toISOString(),
      ...(downtimeStartedAt === undefined || migration.downtimeMs !== null
        ? {}
        : { downtimeMs: Math.max(0, now.getTime() - downtimeStartedAt) }),
      error: left.length === 0 ? reason : `${reason}; rollback incomplete, left: ${left.join('; ')}`,
    });
    await this.options.store.releaseMigrationLocks(migration.id);
    await this.record.event(
      migration,
      left.length === 0 ? 'info' : 'error',
      'done',
      left.length > 0
        ? `rollback incomplete: ${left.join('; ')}`
        : cancelled
          ? 'cancelled: the target is as before and the source runs as before'
          : 'rolled back: the target is as before and the source runs as before',
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
        if (!entry.existed) {
          // The Engine refuses to remove an image by id while several tags name it: they go first (the last one
          // stays, untag never deletes an image), then the image with it.
          for (const tag of entry.added)
            ok =
              (await step(`tag ${tag} on the target`, async () => {
                await gateway.run(target, 'image.untag', { tag });
                return undefined;
              })) && ok;
          return (
            (await step(`image ${nameOf(migration, entry.id)} on the target`, async () => {
              const { removed } = await gateway.run(target, 'image.remove', { ref: entry.id });
              return removed ? `removed image ${nameOf(migration, entry.id)} from the target` : undefined;
            })) && ok
          );
        }
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
    const name = nameOf(migration, container);
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
      await this.record.event(
        migration,
        'warning',
        'rollback',
        `the ${role} worker has not answered a cancelled command after ${QUIESCE_TIMEOUT_MS / 1000} s; rolling back with what its engine shows now`,
      );
    }
  }
}

/** What a person calls an object of the plan (its name, an image's tag), by its id; a short id when the plan has none. */
function nameOf(migration: MigrationRecord, id: string): string {
  return migration.plan.resources.find((r) => r.sourceId === id)?.name ?? shortId(id);
}
