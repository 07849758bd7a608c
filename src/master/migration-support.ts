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

const ENGINE_ADDRESS = /(Docker engine) at (?:unix|tcp|ssh|npipe|https?):\/\/[^\s:]*(?::\d+)?/g;
const FULL_ID = /\b(?:sha256:)?([0-9a-f]{64})\b/g;

/**
 * An error of a migration's step as a person reads it in its events and reason: objects by the names the plan gives
 * them (an id the plan does not know shortened to 12 digits), the engine without its socket path or address. The
 * error itself, with its details, is unchanged.
 */
export function readable(error: unknown, migration: Pick<MigrationRecord, 'plan'>): string {
  const names = new Map<string, string>();
  for (const r of migration.plan.resources)
    if (r.type !== 'volume') names.set(r.sourceId.replace(/^sha256:/, ''), r.name);
  return message(error)
    .replace(ENGINE_ADDRESS, '$1')
    .replace(FULL_ID, (_whole, hex: string) => names.get(hex) ?? hex.slice(0, 12));
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
