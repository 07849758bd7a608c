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

/** The phases of a migration that goes well, in the order they run. */
export const PHASES: readonly MigrationPhase[] = [
  'preflight',
  'prepare',
  'transfer',
  'stop_source',
  'create',
  'start',
  'finalize',
  'done',
];

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

export interface PhaseStep {
  phase: MigrationPhase;
  state: StepState;
}

/** The phase a migration was in when it went wrong: the last one its events name before the rollback began. */
export function failedPhase(
  migration: Pick<MigrationJson, 'phase'>,
  events: Pick<MigrationEventJson, 'phase'>[],
): MigrationPhase {
  const rollback = events.findIndex((event) => event.phase === 'rollback');
  const before = (rollback === -1 ? events : events.slice(0, rollback)).filter(
    (event) => event.phase !== 'done',
  );
  const last = before[before.length - 1]?.phase;
  if (last !== undefined) return last;
  return migration.phase === 'rollback' || migration.phase === 'done' ? 'preflight' : migration.phase;
}

/**
 * The stepper of a migration: the phases of a run that goes well, in order, with a Rollback step after the phase
 * that failed when the migration was undone. A rolled-back migration ends in phase "done" too, so the events tell
 * where it failed.
 */
export function phaseSteps(
  migration: Pick<MigrationJson, 'phase' | 'status'> & Partial<Pick<MigrationJson, 'cancel_requested'>>,
  events: Pick<MigrationEventJson, 'phase'>[],
): PhaseStep[] {
  // A user's cancel stopped the run where it was: that phase was cancelled, it did not fail.
  const stopped: StepState =
    migration.status === 'cancelled' || migration.cancel_requested === true ? 'cancelled' : 'failed';
  if (migration.status === 'completed') return PHASES.map((phase) => ({ phase, state: 'done' }));
  const rolledBack = migration.phase === 'rollback' || events.some((event) => event.phase === 'rollback');
  if (!rolledBack && !isFinished(migration.status)) {
    const current = PHASES.indexOf(migration.phase);
    return PHASES.map((phase, index) => ({
      phase,
      state: index < current ? 'done' : index === current ? 'current' : 'upcoming',
    }));
  }
  const failedAt = PHASES.indexOf(failedPhase(migration, events));
  const steps: PhaseStep[] = PHASES.slice(0, -1).map((phase, index) => ({
    phase,
    state: index < failedAt ? 'done' : index === failedAt ? stopped : 'upcoming',
  }));
  if (rolledBack) {
    steps.push({
      phase: 'rollback',
      state: !isFinished(migration.status) ? 'current' : migration.status === 'failed' ? 'failed' : 'done',
    });
  }
  steps.push({ phase: 'done', state: isFinished(migration.status) ? 'done' : 'upcoming' });
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
