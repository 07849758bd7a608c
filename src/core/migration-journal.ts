// What a migration records before it changes anything on a worker, so that a rollback (or a recovery after a
// restart) can reconcile with what the engines really hold, whatever a command's outcome was; and the rule that
// decides, after a restart, whether an unfinished migration is rolled back or finished.
import type { MigrationRecord, PlannedResource } from './migration.js';

/**
 * One change a migration is about to make on a worker, written to the journal before the command is sent.
 * Rollback undoes the entries newest first, checking each against the engine: an entry whose command never ran
 * (or failed) finds nothing to undo.
 */
export type UndoEntry =
  /** A container, volume or network this migration creates under `name` on the target; it did not exist. */
  | { kind: 'create'; type: 'container' | 'volume' | 'network'; name: string }
  /**
   * An image loaded or tagged on the target. `existed`: the image was there before (then only the tags in
   * `added` are this migration's); `moved`: tags that pointed at another image before (`overwrite`), to point
   * back.
   */
  | {
      kind: 'image';
      id: string;
      existed: boolean;
      added: string[];
      moved: Array<{ tag: string; from: string }>;
    }
  /** `overwrite`: the target's old container, renamed to `asideName` (and stopped when it ran). */
  | { kind: 'container_aside'; name: string; asideName: string; wasRunning: boolean }
  /** `overwrite`: the target's old volume content, moved into the volume `asideName`. */
  | { kind: 'volume_aside'; name: string; asideName: string };

/** The name an overwritten object is kept under until the migration completes. */
export function asideName(name: string, migrationId: string): string {
  return `${name}-dm-aside-${migrationId.replace(/^m-/, '').slice(0, 12)}`;
}

/** What recovery does with a migration the master found unfinished at start. */
export type RecoveryAction = 'roll_back' | 'finish';

/**
 * Before the switch-over point (every target container started and ready, recorded durably before the source is
 * touched again) an unfinished migration is rolled back; after it, it is finished: a running target is never
 * deleted by recovery. A migration that was already rolling back keeps rolling back.
 */
export function recoveryAction(record: Pick<MigrationRecord, 'state' | 'phase'>): RecoveryAction {
  if (record.phase === 'rollback') return 'roll_back';
  return record.state.switchedOverAt === undefined ? 'roll_back' : 'finish';
}

/**
 * Keys of everything a migration touches, for the one-migration-per-resource rule: the source objects it moves
 * and every name (and image) it makes or changes on the target. Keys are per worker, so moving a container back
 * while another migration still moves it there conflicts.
 */
export function lockKeys(
  request: { sourceWorkerId: string; targetWorkerId: string },
  resources: readonly PlannedResource[],
): string[] {
  const keys = new Set<string>();
  const source = request.sourceWorkerId;
  const target = request.targetWorkerId;
  for (const r of resources) {
    switch (r.type) {
      case 'container':
        keys.add(`${source}/container/${r.name}`);
        keys.add(`${target}/container/${r.targetName}`);
        break;
      case 'volume':
        keys.add(`${source}/volume/${r.name}`);
        keys.add(`${target}/volume/${r.targetName}`);
        break;
      case 'network':
        keys.add(`${target}/network/${r.targetName}`);
        break;
      case 'image':
        keys.add(`${target}/image/${r.sourceId}`);
        for (const tag of r.targetTags ?? []) keys.add(`${target}/tag/${tag}`);
        break;
    }
  }
  return [...keys].sort();
}
