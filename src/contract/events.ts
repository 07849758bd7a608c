// The live event stream (Server-Sent Events on /api/events): each event's name and its JSON data.
import type { MigrationEventJson, MigrationJson } from './migrations.js';
import type { CountsJson, WorkerJson } from './workers.js';

/** One change of an inventory: which object, not its contents (the UI refetches). */
export interface ChangeJson {
  kind: 'container' | 'image' | 'volume' | 'network';
  /** Container, image or network id; volume name. */
  key: string;
  removed: boolean;
}

/** A live event before framing: its name and its JSON data. */
export type EventJson =
  | { type: 'worker.online' | 'worker.enrolled'; data: { worker: WorkerJson } }
  | { type: 'worker.offline'; data: { worker: WorkerJson; reason: string } }
  | { type: 'worker.removed'; data: { worker_id: string } }
  | { type: 'inventory.changed'; data: { worker_id: string; counts: CountsJson; changes: ChangeJson[] } }
  /** Progress updates stay small: without the plan's findings. */
  | { type: 'migration.updated'; data: { migration: Omit<MigrationJson, 'findings'> } }
  | { type: 'migration.event'; data: { migration_id: string; event: MigrationEventJson } };

export type EventType = EventJson['type'];

/**
 * Sent instead of a replay when the stream cannot give every event after the Last-Event-ID asked for: they were
 * pruned, the id is not of this master's database, or the log could not be read. The client refetches its state.
 */
export interface ResetEventJson {
  reason: 'pruned' | 'unknown_id' | 'unavailable';
  message: string;
}
