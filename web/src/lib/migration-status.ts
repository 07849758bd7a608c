// Words and figures about a migration that several pages show: status names and tones, the phase stepper's order,
// duration, the main resource and a one-line summary of what moves.
import type {
  MigrationEventJson,
  MigrationJson,
  MigrationPhase,
  MigrationStatus,
  ResourceJson,
  ResourceStatus,
} from '../api/migration-types';
import type { Tone } from '../components/ui';
import { plural } from './format';

export const STATUS_LABELS: Record<MigrationStatus, string> = {
  pending: 'Pending',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
  rolled_back: 'Rolled back',
};

export const STATUS_TONES: Record<MigrationStatus, Tone> = {
  pending: 'slate',
  running: 'sky',
  completed: 'green',
  failed: 'red',
  cancelled: 'amber',
  rolled_back: 'amber',
};

export const RESOURCE_STATUS_TONES: Record<ResourceStatus, Tone> = {
  pending: 'slate',
  running: 'sky',
  done: 'green',
  skipped: 'slate',
  failed: 'red',
  rolled_back: 'amber',
};

export const MIGRATION_STATUSES = Object.keys(STATUS_LABELS) as MigrationStatus[];

export const PHASE_LABELS: Record<MigrationPhase, string> = {
  preflight: 'Preflight',
  prepare: 'Prepare',
  transfer: 'Transfer',
  stop_source: 'Stop source',
  create: 'Create',
  start: 'Start',
  finalize: 'Finalize',
  rollback: 'Rollback',
  done: 'Done',
};

/** True for the statuses a migration never leaves. */
export function isFinished(status: MigrationStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'rolled_back';
}

export type StepState = 'done' | 'current' | 'failed' | 'cancelled' | 'upcoming';

/** One step of the stepper: a phase of the run (warm mode copies in two steps: before and after the stop). */
export interface PhaseStep {
  key: string;
  phase: MigrationPhase;
  label: string;
  state: StepState;
}

type Stage = Omit<PhaseStep, 'state'>;

const stage = (phase: MigrationPhase, label = PHASE_LABELS[phase], key: string = phase): Stage => ({
  key,
  phase,
  label,
});

/**
 * The steps of a run that goes well, in the order the master runs them for the mode: cold stops the source before
 * it copies; warm creates the target first, copies while the source runs (Pre-copy), stops it, then copies what
 * changed (Final copy). No Stop source step when no container moves.
 */
export function plannedStages(migration: Pick<MigrationJson, 'mode' | 'resources'>): Stage[] {
  const stops = migration.resources.some((r) => r.type === 'container' && r.action !== 'skip');
  const copies = migration.resources.some((r) => r.type === 'volume' && r.action !== 'skip');
  const stop = stops ? [stage('stop_source')] : [];
  const head = [stage('preflight'), stage('prepare')];
  const tail = [stage('start'), stage('finalize'), stage('done')];
  if (migration.mode === 'warm')
    return [
      ...head,
      stage('create'),
      ...(copies ? [stage('transfer', 'Pre-copy', 'precopy')] : []),
      ...stop,
      ...(copies ? [stage('transfer', 'Final copy', 'final-copy')] : []),
      ...tail,
    ];
  return [...head, ...stop, stage('transfer'), stage('create'), ...tail];
}

/**
 * How far the run got, as an index into `stages`: each phase the events (then the migration itself) name moves it
 * forward to the next step of that phase, so warm's second copy lands on Final copy. Events of the rollback and
 * after are not counted.
 */
function reached(stages: Stage[], phases: readonly MigrationPhase[]): number {
  let at = 0;
  for (const phase of phases) {
    if (phase === 'rollback') break;
    if (stages[at]?.phase === phase) continue;
    const next = stages.findIndex((s, index) => index > at && s.phase === phase);
    if (next !== -1) at = next;
  }
  return at;
}

/**
 * The stepper of a migration: the steps of its mode in the order they run (plannedStages), done up to where it is,
 * with a Rollback step after the one that failed (or was cancelled) when the migration was undone. A rolled-back
 * migration ends in phase "done" too, so the events tell where it stopped.
 */
export function phaseSteps(
  migration: Pick<MigrationJson, 'phase' | 'status' | 'mode' | 'resources'> &
    Partial<Pick<MigrationJson, 'cancel_requested'>>,
  events: Pick<MigrationEventJson, 'phase'>[],
): PhaseStep[] {
  const stages = plannedStages(migration);
  if (migration.status === 'completed') return stages.map((s) => ({ ...s, state: 'done' }));
  // A user's cancel stopped the run where it was: that step was cancelled, it did not fail.
  const stopped: StepState =
    migration.status === 'cancelled' || migration.cancel_requested === true ? 'cancelled' : 'failed';
  const rolledBack = migration.phase === 'rollback' || events.some((event) => event.phase === 'rollback');
  const history = events.map((event) => event.phase);
  if (!rolledBack && !isFinished(migration.status)) {
    const current = reached(stages, [...history, migration.phase]);
    return stages.map((s, index) => ({
      ...s,
      state: index < current ? 'done' : index === current ? 'current' : 'upcoming',
    }));
  }
  // Without its events (a list's live update), the phase it is in or ended in is all there is to go by.
  const before = history.filter((phase) => phase !== 'done');
  const failedAt = reached(stages, before.length > 0 ? before : [migration.phase]);
  const steps: PhaseStep[] = stages.slice(0, -1).map((s, index) => ({
    ...s,
    state: index < failedAt ? 'done' : index === failedAt ? stopped : 'upcoming',
  }));
  if (rolledBack) {
    steps.push({
      ...stage('rollback'),
      state: !isFinished(migration.status) ? 'current' : migration.status === 'failed' ? 'failed' : 'done',
    });
  }
  steps.push({ ...stage('done'), state: isFinished(migration.status) ? 'done' : 'upcoming' });
  return steps;
}

/** completed − started, or null while it runs or when it never started. */
export function migrationDurationMs(
  migration: Pick<MigrationJson, 'started_at' | 'completed_at'>,
): number | null {
  if (migration.started_at === null || migration.completed_at === null) return null;
  const started = Date.parse(migration.started_at);
  const completed = Date.parse(migration.completed_at);
  if (Number.isNaN(started) || Number.isNaN(completed)) return null;
  return Math.max(0, completed - started);
}

/** Time since the start (or since creation when it has not started), up to the end when finished. */
export function elapsedMs(
  migration: Pick<MigrationJson, 'created_at' | 'started_at' | 'completed_at'>,
  now: number,
): number | null {
  const from = Date.parse(migration.started_at ?? migration.created_at);
  if (Number.isNaN(from)) return null;
  const to = migration.completed_at === null ? now : Date.parse(migration.completed_at);
  return Number.isNaN(to) ? null : Math.max(0, to - from);
}

/** What was asked for, before what was brought along: containers first, then the rest in plan order. */
function asked(resources: ResourceJson[]): ResourceJson[] {
  const primary = resources.filter((resource) => resource.reason !== 'dependency');
  return [
    ...primary.filter((resource) => resource.type === 'container'),
    ...primary.filter((resource) => resource.type !== 'container'),
  ];
}

/** The name a migration is known by: its first requested container (or other resource), else its id. */
export function mainResourceName(migration: Pick<MigrationJson, 'id' | 'resources'>): string {
  return asked(migration.resources)[0]?.name ?? migration.resources[0]?.name ?? migration.id;
}

/** "app-1 + 3 dependencies", "app-1, db-1 and 2 more + 5 dependencies", "nothing planned". */
export function resourcesSummary(resources: ResourceJson[]): string {
  const primary = asked(resources);
  const named = primary.length > 0 ? primary : resources;
  if (named.length === 0) return 'nothing planned';
  const dependencies = resources.length - named.length;
  let text = named
    .slice(0, 2)
    .map((resource) => resource.name)
    .join(', ');
  if (named.length > 2) text += ` and ${named.length - 2} more`;
  if (dependencies > 0) text += ` + ${plural(dependencies, 'dependency', 'dependencies')}`;
  return text;
}
