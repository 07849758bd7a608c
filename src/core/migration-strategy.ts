// Which steps a migration runs, in which order, as a pure decision over the plan and the outcomes so far: a
// migration mode is a strategy, and the runner, its handlers, the journal and rollback stay the same for all.
import type { MigrationPlan, MigrationStrategy, PlannedResource } from './migration.js';
import { afterRound, type PrecopyRound, type RoundPolicy, type RoundVerdict } from './warm-rounds.js';
import { resourceKey, type MigrationStep, type StepOutcome } from './migration-steps.js';

/**
 * Decides a migration's next step from the outcomes of the steps run so far, in order (the runner appends one per
 * step). Pure: the same plan and outcomes give the same step, so a strategy is table-tested, and after a restart
 * the outcomes a journal kept would lead it to the same place.
 *
 * Cold (coldStrategy) is a fixed list; warm (warmStrategy) appends a pre-copy round at a time, deciding from the
 * rounds' measured bytes and durations when to stop the source (warm-rounds.ts).
 */
export interface StepStrategy {
  next(done: readonly StepOutcome[]): MigrationStep | 'done';
}

/** A strategy that ignores outcomes: the steps of a fixed list, one after the other. */
export function fixedStrategy(steps: readonly MigrationStep[]): StepStrategy {
  return {
    next: (done) => steps[done.length] ?? 'done',
  };
}

/**
 * Cold mode: prepare the target (networks, then images), stop the source containers so that the volumes copied
 * are consistent, copy each volume in full, create the containers, start them, switch over. Resources are taken in
 * plan order; those the plan skips are left out, except images, whose step itself checks what the target holds.
 */
export function coldStrategy(plan: MigrationPlan, strategy: MigrationStrategy = 'full'): StepStrategy {
  return fixedStrategy(coldSteps(plan, strategy));
}

/**
 * The source containers in stop levels, each stopped together: first those no other moving container needs, then
 * those only the first level needed, and so on — the reverse of the order they start in (compose depends_on,
 * links, network mode, volumes-from). Stopping a level together makes the downtime the longest stop of the level,
 * not the sum. A cycle (which the engine itself would refuse to start) ends in one last level.
 */
export function stopLevels(containers: readonly PlannedResource[]): PlannedResource[][] {
  const levels: PlannedResource[][] = [];
  let remaining = [...containers];
  while (remaining.length > 0) {
    const needed = new Set(remaining.flatMap((r) => r.needs ?? []));
    const level = remaining.filter((r) => !needed.has(r.sourceId));
    if (level.length === 0) {
      levels.push(remaining);
      break;
    }
    levels.push(level);
    remaining = remaining.filter((r) => !level.includes(r));
  }
  return levels;
}

function stopSteps(containers: readonly PlannedResource[]): MigrationStep[] {
  return stopLevels(containers).map((level) => ({
    kind: 'source.stop',
    resources: level.map(resourceKey),
  }));
}

/**
 * The volumes whose target copy is brought up to date (`update`): each gets a `volume.base` step before anything
 * changes, so that a target copy that changed since it was made stops the migration before the source does.
 */
function baseSteps(volumes: readonly PlannedResource[]): MigrationStep[] {
  return volumes
    .filter((r) => r.action === 'update' && r.copyContent !== false)
    .map((r) => ({ kind: 'volume.base', resource: resourceKey(r) }));
}

/**
 * The list coldStrategy runs through (see there). With the incremental strategy every volume is copied as one
 * sync round (`final`) against what the target holds, and each volume the target already holds first sends its
 * description to the source (`volume.base`), while the source still runs.
 */
export function coldSteps(plan: MigrationPlan, strategy: MigrationStrategy = 'full'): MigrationStep[] {
  const moving = plan.resources.filter((r) => r.action !== 'skip');
  const of = (type: PlannedResource['type'], from: readonly PlannedResource[] = moving): PlannedResource[] =>
    from.filter((r) => r.type === type);
  const containers = of('container');
  const steps: MigrationStep[] = [{ kind: 'phase', phase: 'prepare' }];
  for (const r of of('network')) steps.push({ kind: 'network.prepare', resource: resourceKey(r) });
  for (const r of of('image', plan.resources))
    steps.push({ kind: 'image.prepare', resource: resourceKey(r) });
  steps.push(...baseSteps(of('volume')));
  if (containers.length > 0) {
    steps.push({ kind: 'phase', phase: 'stop_source' });
    steps.push(...stopSteps(containers));
  }
  steps.push({ kind: 'phase', phase: 'transfer' });
  for (const r of of('volume')) {
    steps.push({ kind: 'volume.create', resource: resourceKey(r) });
    if (r.copyContent !== false)
      steps.push({
        kind: 'volume.copy',
        resource: resourceKey(r),
        // A copy brought up to date is always synced: a full copy would leave what the source no longer has.
        round: strategy === 'incremental' || r.action === 'update' ? 'final' : 'full',
      });
  }
  steps.push({ kind: 'phase', phase: 'create' });
  for (const r of containers) steps.push({ kind: 'container.create', resource: resourceKey(r) });
  steps.push({ kind: 'phase', phase: 'start' });
  for (const r of containers) steps.push({ kind: 'container.start', resource: resourceKey(r) });
  steps.push({ kind: 'switch_over' });
  return steps;
}

/**
 * Warm mode: prepare the target (networks, images), make its volumes and containers while the source runs, copy
 * the volumes in rounds while it runs — round 1 everything, later rounds what changed — until the stop rule
 * (warm-rounds.ts) says the rest fits the downtime budget; then stop the source, copy what changed since the last
 * round, start the target's containers and switch over. The target never starts from a pre-copy round. With the
 * incremental strategy, a volume the target already holds (`update`) first sends its description to the source
 * (`volume.base`), and round 1 sends only what differs from it.
 * `onVerdict` hears why pre-copying stopped (for the event log).
 */
export function warmStrategy(
  plan: MigrationPlan,
  policy: RoundPolicy,
  onVerdict?: (verdict: Extract<RoundVerdict, { stop: true }>, rounds: PrecopyRound[]) => void,
): StepStrategy {
  const moving = plan.resources.filter((r) => r.action !== 'skip');
  const of = (type: PlannedResource['type'], from: readonly PlannedResource[] = moving): PlannedResource[] =>
    from.filter((r) => r.type === type);
  const containers = of('container');
  const copied = of('volume').filter((r) => r.copyContent !== false);

  const before: MigrationStep[] = [{ kind: 'phase', phase: 'prepare' }];
  for (const r of of('network')) before.push({ kind: 'network.prepare', resource: resourceKey(r) });
  for (const r of of('image', plan.resources))
    before.push({ kind: 'image.prepare', resource: resourceKey(r) });
  before.push({ kind: 'phase', phase: 'create' });
  for (const r of of('volume')) before.push({ kind: 'volume.create', resource: resourceKey(r) });
  before.push(...baseSteps(of('volume')));
  for (const r of containers) before.push({ kind: 'container.create', resource: resourceKey(r) });

  const round = (n: number): MigrationStep[] =>
    copied.map((r) => ({ kind: 'volume.copy', resource: resourceKey(r), round: n }));
  const after: MigrationStep[] = [];
  if (containers.length > 0) {
    after.push({ kind: 'phase', phase: 'stop_source' });
    after.push(...stopSteps(containers));
  }
  if (copied.length > 0) {
    after.push({ kind: 'phase', phase: 'transfer' });
    for (const r of copied) after.push({ kind: 'volume.copy', resource: resourceKey(r), round: 'final' });
  }
  after.push({ kind: 'phase', phase: 'start' });
  for (const r of containers) after.push({ kind: 'container.start', resource: resourceKey(r) });
  after.push({ kind: 'switch_over' });

  // The steps decided so far; pre-copy rounds are appended one at a time, each after the previous one's outcome.
  const steps: MigrationStep[] = [...before];
  let stopped = copied.length === 0;
  if (stopped) steps.push(...after);
  else steps.push({ kind: 'phase', phase: 'transfer' }, ...round(1));
  return {
    next(done) {
      if (done.length < steps.length) return steps[done.length] ?? 'done';
      if (stopped) return 'done';
      // The last round's copies are all done: measure the rounds so far, then another round or the stop.
      const rounds: PrecopyRound[] = [];
      for (const outcome of done) {
        const { step } = outcome;
        if (step.kind !== 'volume.copy' || typeof step.round !== 'number') continue;
        const current = (rounds[step.round - 1] ??= {
          bytesSent: 0,
          bytesRead: 0,
          walkMs: 0,
          durationMs: 0,
          hotBytes: 0,
        });
        current.bytesSent += outcome.bytes;
        current.durationMs += outcome.durationMs;
        current.bytesRead += outcome.precopy?.bytesRead ?? outcome.bytes;
        current.hotBytes += outcome.precopy?.hotBytes ?? 0;
      }
      const verdict = afterRound(rounds, policy);
      if (verdict.stop) {
        stopped = true;
        onVerdict?.(verdict, rounds);
        steps.push(...after);
      } else steps.push(...round(rounds.length + 1));
      return steps[done.length] ?? 'done';
    },
  };
}
