// Which steps a migration runs, in which order, as a pure decision over the plan and the outcomes so far: a
// migration mode is a strategy, and the runner, its handlers, the journal and rollback stay the same for all.
import type { MigrationPlan, PlannedResource } from './migration.js';
import { afterRound, type PrecopyRound, type RoundPolicy, type RoundVerdict } from './warm-rounds.js';
import { resourceKey, type MigrationStep, type StepOutcome } from './migration-steps.js';

/**
 * Decides a migration's next step from the outcomes of the steps run so far, in order (the runner appends one per
 * step). Pure: the same plan and outcomes give the same step, so a strategy is table-tested, and after a restart
 * the outcomes a journal kept would lead it to the same place.
 *
 * How warm mode plugs in (not built yet): `warmStrategy(plan, { maxRounds, budgetMs })` answers networks, images,
 * `volume.create` for every volume, `container.create`, then `volume.copy { round: 1 }` for every volume while the
 * source runs; once a round's last copy is in `done`, it sums that round's `bytes` and `durationMs` (the measured
 * rate) and answers either round n + 1, or — when the round was small, grew, hit `maxRounds`, or the projected
 * final round fits `budgetMs` — the phase `stop_source`, `source.stop` for each container, `volume.copy
 * { round: 'final' }` for each volume, `container.start` and `switch_over`. Its phases per downtime part (stop,
 * final sync, start, ready) are the runner's monotonic marks around those steps. The runner needs no change for
 * it beyond picking the strategy from `request.mode`; the handlers need a `volume.copy` that sends only a delta.
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
export function coldStrategy(plan: MigrationPlan): StepStrategy {
  return fixedStrategy(coldSteps(plan));
}

/** The list coldStrategy runs through (see there). */
export function coldSteps(plan: MigrationPlan): MigrationStep[] {
  const moving = plan.resources.filter((r) => r.action !== 'skip');
  const of = (type: PlannedResource['type'], from: readonly PlannedResource[] = moving): PlannedResource[] =>
    from.filter((r) => r.type === type);
  const containers = of('container');
  const steps: MigrationStep[] = [{ kind: 'phase', phase: 'prepare' }];
  for (const r of of('network')) steps.push({ kind: 'network.prepare', resource: resourceKey(r) });
  for (const r of of('image', plan.resources))
    steps.push({ kind: 'image.prepare', resource: resourceKey(r) });
  if (containers.length > 0) {
    steps.push({ kind: 'phase', phase: 'stop_source' });
    for (const r of containers) steps.push({ kind: 'source.stop', resource: resourceKey(r) });
  }
  steps.push({ kind: 'phase', phase: 'transfer' });
  for (const r of of('volume')) {
    steps.push({ kind: 'volume.create', resource: resourceKey(r) });
    if (r.copyContent !== false) steps.push({ kind: 'volume.copy', resource: resourceKey(r), round: 'full' });
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
 * round, start the target's containers and switch over. The target never starts from a pre-copy round.
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
  for (const r of containers) before.push({ kind: 'container.create', resource: resourceKey(r) });

  const round = (n: number): MigrationStep[] =>
    copied.map((r) => ({ kind: 'volume.copy', resource: resourceKey(r), round: n }));
  const after: MigrationStep[] = [];
  if (containers.length > 0) {
    after.push({ kind: 'phase', phase: 'stop_source' });
    for (const r of containers) after.push({ kind: 'source.stop', resource: resourceKey(r) });
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
