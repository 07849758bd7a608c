// Writes a migration's record as it runs (status, phase, resources, the journal of changes about to be made,
// events) to the store, and announces each change to the master's listeners, such as the live event stream.
import type {
  MigrationEvent,
  MigrationEventLevel,
  MigrationPhase,
  MigrationRecord,
  PlannedResource,
} from '../core/migration.js';
import type { Clock } from '../core/clock.js';
import type { UndoEntry } from '../core/migration-journal.js';
import { planTotals } from '../core/migration-progress.js';
import type { MasterStore } from '../core/ports.js';

export type MigrationNotice =
  | { type: 'migration.updated'; migration: MigrationRecord }
  | { type: 'migration.event'; event: MigrationEvent };

export class MigrationRecorder {
  constructor(
    private readonly store: MasterStore,
    private readonly notify: (notice: MigrationNotice) => void,
    /** Stamps events with its wall time. */
    private readonly clock: Clock,
  ) {}

  async save(migration: MigrationRecord, patch: Partial<Omit<MigrationRecord, 'id'>>): Promise<void> {
    Object.assign(migration, patch);
    await this.store.updateMigration(migration.id, patch);
    this.notify({ type: 'migration.updated', migration: { ...migration } });
  }

  async event(
    migration: MigrationRecord,
    level: MigrationEventLevel,
    phase: MigrationPhase,
    text: string,
    resource?: { type: PlannedResource['type']; name: string },
  ): Promise<void> {
    const event = await this.store.appendMigrationEvent({
      migrationId: migration.id,
      at: this.clock.now().toISOString(),
      level,
      phase,
      message: text,
      ...(resource ? { resource } : {}),
    });
    this.notify({ type: 'migration.event', event });
  }

  async phase(migration: MigrationRecord, phase: MigrationPhase): Promise<void> {
    await this.save(migration, { phase });
  }

  /**
   * Changes one resource and the migration's figures with it: a resource done, skipped or grown changes the total,
   * so that the bytes shown as moved never exceed it.
   */
  async setResource(
    migration: MigrationRecord,
    resource: PlannedResource,
    patch: Partial<Pick<PlannedResource, 'status' | 'bytes'>>,
  ): Promise<void> {
    Object.assign(resource, patch);
    const { bytesTransferred, totalBytes, progress } = planTotals(migration.plan);
    await this.save(migration, {
      plan: migration.plan,
      bytesTransferred,
      totalBytes,
      // Only a running migration moves forward; the end (completed, or a rollback) sets its own.
      ...(migration.status === 'running' ? { progress } : {}),
    });
  }

  /** Writes a change about to be made to the journal, durably, before its command is sent. */
  async intend(migration: MigrationRecord, entry: UndoEntry): Promise<void> {
    (migration.state.undo ??= []).push(entry);
    await this.save(migration, { state: migration.state });
  }

  /** Takes back the newest journal entry: its command was refused before it changed anything. */
  async forget(migration: MigrationRecord, entry: UndoEntry): Promise<void> {
    const undo = migration.state.undo ?? [];
    const at = undo.lastIndexOf(entry);
    if (at >= 0) undo.splice(at, 1);
    await this.save(migration, { state: migration.state });
  }
}
