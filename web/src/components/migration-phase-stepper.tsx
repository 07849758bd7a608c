// The phases of a migration as a stepper: done, current, failed or still to come, said in words as well as marks.
import type { MigrationEventJson, MigrationJson } from '../api/migration-types';
import { phaseSteps, type StepState } from '../lib/migration-status';

const MARK: Record<StepState, string> = {
  done: '✓',
  current: '●',
  failed: '✕',
  cancelled: '■',
  upcoming: '○',
};

const MARK_CLASSES: Record<StepState, string> = {
  done: 'border-emerald-600 bg-emerald-600 text-white',
  current: 'border-sky-600 bg-sky-600 text-white',
  failed: 'border-rose-600 bg-rose-600 text-white',
  cancelled: 'border-amber-600 bg-amber-600 text-white',
  upcoming: 'border-slate-300 text-slate-400 dark:border-slate-600',
};

const STATE_WORDS: Record<StepState, string> = {
  done: 'done',
  current: 'in progress',
  failed: 'failed here',
  cancelled: 'cancelled here',
  upcoming: 'not reached',
};

export function MigrationPhaseStepper({
  migration,
  events,
}: {
  migration: Pick<MigrationJson, 'phase' | 'status' | 'mode' | 'resources'> &
    Partial<Pick<MigrationJson, 'cancel_requested'>>;
  events: Pick<MigrationEventJson, 'phase'>[];
}) {
  const steps = phaseSteps(migration, events);
  return (
    <ol aria-label="Phases" className="flex flex-wrap gap-x-1 gap-y-2 text-xs">
      {steps.map((step, index) => (
        <li
          key={step.key}
          aria-current={step.state === 'current' ? 'step' : undefined}
          className="flex items-center gap-1"
        >
          <span
            aria-hidden="true"
            className={`inline-flex h-5 w-5 items-center justify-center rounded-full border text-[10px] ${MARK_CLASSES[step.state]}`}
          >
            {MARK[step.state]}
          </span>
          <span className={step.state === 'upcoming' ? 'text-slate-500 dark:text-slate-400' : 'font-medium'}>
            {step.label}
            <span className="sr-only"> ({STATE_WORDS[step.state]})</span>
          </span>
          {index < steps.length - 1 && (
            <span aria-hidden="true" className="px-1 text-slate-400">
              →
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
