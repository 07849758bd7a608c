// What a completed migration left on its source worker, by its source policy: the containers it stopped (or kept
// running), and the volumes, images and networks it copied. A move back (MigrationRequest.reverse) reuses them.
import type { Leftover, MigrationRecord } from './migration.js';

export interface LeftoverState extends Leftover {
  /** Containers: stopped (keep_stopped) or running (keep_running); everything else is kept as it was. */
  state: 'stopped' | 'running' | 'kept';
}

/**
 * What `migration` left on its source, as it ended: nothing unless it completed; the containers it moved unless
 * its source policy removed them; every volume, image and network it copied (no policy removes those).
 */
export function leftOnSource(migration: MigrationRecord): LeftoverState[] {
  if (migration.status !== 'completed') return [];
  const { sourcePolicy } = migration.request;
  const left: LeftoverState[] = [];
  for (const resource of migration.plan.resources) {
    if (resource.action === 'skip') continue;
    const leftover = {
      type: resource.type,
      name: resource.name,
      id: resource.sourceId,
      movedAs: resource.targetName,
    };
    if (resource.type !== 'container') left.push({ ...leftover, state: 'kept' });
    else if (sourcePolicy !== 'remove')
      left.push({
        ...leftover,
        state:
          sourcePolicy === 'keep_running' && migration.state.sourceRunning.includes(resource.sourceId)
            ? 'running'
            : 'stopped',
      });
  }
  return left;
}
