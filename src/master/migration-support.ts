// Small helpers the migration runner and its rollback share: a wait, readable errors, short ids, and dropping what
// the source worker kept between a warm or incremental migration's copy rounds.
import { AppError } from '../core/errors.js';
import type { MigrationRecord, MigrationRequest } from '../core/migration.js';
import type { WorkerGateway } from '../core/worker-commands.js';
import type { MigrationRecorder } from './migration-recorder.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function message(error: unknown): string {
  return AppError.from(error).message;
}

/**
 * Tells the source worker to drop what it kept between the migration's copy rounds (its sync session: a manifest
 * of the volume, about 0.1 % of its size). When the worker cannot be told now (offline), the record says so
 * (`state.syncSessionKept`) before the error is thrown on, and the master tells it again once it is back online
 * (MigrationService): a worker left alone would keep the session for a week.
 */
export async function forgetSyncSession(
  gateway: WorkerGateway,
  record: MigrationRecorder,
  migration: MigrationRecord,
): Promise<void> {
  try {
    await gateway.run(migration.request.sourceWorkerId, 'volume.sync_forget', { session: migration.id });
  } catch (error) {
    migration.state.syncSessionKept = true;
    await record.save(migration, { state: migration.state });
    throw error;
  }
  if (!migration.state.syncSessionKept) return;
  delete migration.state.syncSessionKept;
  await record.save(migration, { state: migration.state });
}

/** An id as people read it: 12 hex digits, without "sha256:". */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** Whether a migration's source worker keeps a sync session (warm rounds, or an incremental sync) to drop at its end. */
export function keepsSyncSession(request: Pick<MigrationRequest, 'mode' | 'strategy'>): boolean {
  return request.mode === 'warm' || request.strategy === 'incremental';
}
