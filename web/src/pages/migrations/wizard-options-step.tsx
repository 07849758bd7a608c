// Step 4 of the wizard: how to migrate. Mode, copy strategy, transfer route, conflict and source policies (each option
// explained in one line) and the bind mount rules, typed as "source path → target path, or skip".
import { useEffect, useId, useRef } from 'react';

import type {
  ConflictPolicy,
  MigrationMode,
  MigrationStrategy,
  SourcePolicy,
  TransferCompression,
  TransferMode,
} from '../../api/migration-types';
import { Button } from '../../components/ui';
import {
  isRunningResync,
  type BindMountRow,
  type WizardAction,
  type WizardOptions,
  type WizardState,
} from './wizard-state';

type Dispatch = (action: WizardAction) => void;

interface Choice<T extends string> {
  value: T;
  label: string;
  explanation: string;
  /** Shown, but not selectable, with the reason. */
  unavailable?: string;
}

const MODES: Choice<MigrationMode>[] = [
  {
    value: 'cold',
    label: 'Cold',
    explanation:
      'Stops the containers, copies everything, then starts them on the target; downtime lasts the copy.',
  },
  {
    value: 'warm',
    label: 'Warm',
    explanation:
      'Copies while the containers run, in rounds, then stops them only to copy what changed since: seconds of downtime.',
  },
  {
    value: 'live',
    label: 'Live',
    explanation: 'Checkpoints running containers and restores them on the target (needs CRIU).',
    unavailable: 'not available yet',
  },
];

const STRATEGIES: Choice<MigrationStrategy>[] = [
  {
    value: 'full',
    label: 'Full',
    explanation: 'Copies every volume’s whole content.',
  },
  {
    value: 'incremental',
    label: 'Incremental',
    explanation:
      'Updates in place the volumes an earlier migration left on the target: only what differs travels, extra files are deleted. Others are copied whole.',
  },
];

/** What each strategy means, in a few words, for the review. */
const STRATEGY_SUMMARIES: Record<MigrationStrategy, string> = {
  full: 'every volume copied whole',
  incremental: 'only what differs travels',
};

const TRANSFER_MODES: Choice<TransferMode>[] = [
  {
    value: 'auto',
    label: 'Auto',
    explanation:
      'Straight from worker to worker; relayed through the master when the target cannot be reached.',
  },
  {
    value: 'direct',
    label: 'Direct',
    explanation: 'Worker to worker only: fastest, but fails when the source cannot reach the target.',
  },
  {
    value: 'proxy',
    label: 'Through the master',
    explanation: 'Relayed by the master, for workers that cannot reach each other; slower.',
  },
];

const COMPRESSIONS: Choice<TransferCompression>[] = [
  {
    value: 'none',
    label: 'Uncompressed',
    explanation:
      'Volume and image data go as they are: best on a LAN, where compressing costs more than it saves.',
  },
  {
    value: 'zstd',
    label: 'zstd',
    explanation:
      'Compresses the data that shrinks, for slow links; costs about 4 CPU-seconds per GiB on each side.',
  },
];

const CONFLICT_POLICIES: Choice<ConflictPolicy>[] = [
  {
    value: 'fail',
    label: 'Fail',
    explanation: 'Nothing moves when a name is already taken on the target; preflight says which.',
  },
  {
    value: 'skip',
    label: 'Skip',
    explanation: 'Keep what the target has under that name; migrated containers use it.',
  },
  {
    value: 'rename',
    label: 'Rename',
    explanation: 'Create the migrated resource under a free name, such as app-1-migrated.',
  },
  {
    value: 'overwrite',
    label: 'Overwrite',
    explanation:
      'Destructive: removes the target’s resource of that name, with its data, and replaces it with the source’s.',
  },
];

const SOURCE_POLICIES: Choice<SourcePolicy>[] = [
  {
    value: 'keep_stopped',
    label: 'Keep stopped',
    explanation: 'The source containers stay stopped, ready to start again if you go back.',
  },
  {
    value: 'keep_running',
    label: 'Keep running',
    explanation:
      'Start the source containers again afterwards: both hosts then run them (mind ports and writes).',
  },
  {
    value: 'remove',
    label: 'Remove',
    explanation:
      'Remove the source containers once they run on the target; their images and volumes stay on the source.',
  },
];

function ChoiceGroup<T extends string>({
  legend,
  choices,
  value,
  onChange,
  note,
}: {
  legend: string;
  choices: Choice<T>[];
  value: T;
  onChange: (value: T) => void;
  /** A remark on the current choice, under the options. */
  note?: string | null;
}) {
  const name = useId();
  return (
    <fieldset className="space-y-1">
      <legend className="mb-1 text-sm font-semibold">{legend}</legend>
      {choices.map((choice) => {
        const id = `${name}-${choice.value}`;
        return (
          <div key={choice.value} className="flex items-start gap-2 text-sm">
            <input
              id={id}
              type="radio"
              name={name}
              value={choice.value}
              checked={value === choice.value}
              disabled={choice.unavailable !== undefined}
              aria-describedby={`${id}-explanation`}
              onChange={() => {
                onChange(choice.value);
              }}
              className="mt-0.5 h-4 w-4 shrink-0 accent-sky-600"
            />
            <div>
              <label
                htmlFor={id}
                className={
                  choice.unavailable === undefined
                    ? 'font-medium'
                    : 'font-medium text-slate-600 dark:text-slate-400'
                }
              >
                {choice.label}
                {choice.unavailable !== undefined && ` (${choice.unavailable})`}
              </label>
              <p id={`${id}-explanation`} className="text-xs text-slate-600 dark:text-slate-400">
                {choice.explanation}
              </p>
            </div>
          </div>
        );
      })}
      {note != null && (
        <p className="rounded-md border border-amber-300 bg-amber-50 px-2 py-1 text-xs text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100">
          {note}
        </p>
      )}
    </fieldset>
  );
}

const INPUT_CLASSES =
  'w-full rounded-md border border-slate-300 bg-white px-2 py-1 font-mono text-sm disabled:opacity-50 dark:border-slate-700 dark:bg-slate-950';

function BindMountFields({
  row,
  index,
  dispatch,
  onRemove,
}: {
  row: BindMountRow;
  index: number;
  dispatch: Dispatch;
  onRemove: () => void;
}) {
  const id = useId();
  const update = (changes: Partial<Omit<BindMountRow, 'id'>>) => {
    dispatch({ type: 'updateBindMount', id: row.id, changes });
  };
  return (
    <fieldset className="grid gap-2 rounded-md border border-slate-200 p-3 sm:grid-cols-[1fr_1fr_auto_auto] sm:items-end dark:border-slate-800">
      <legend className="px-1 text-xs font-medium text-slate-600 dark:text-slate-400">
        Bind mount {index + 1}
      </legend>
      <div>
        <label htmlFor={`${id}-source`} className="block text-xs font-medium">
          Source path
        </label>
        <input
          id={`${id}-source`}
          data-bind-source
          value={row.source}
          placeholder="/srv/app/config"
          onChange={(event) => {
            update({ source: event.target.value });
          }}
          className={INPUT_CLASSES}
        />
      </div>
      <div>
        <label htmlFor={`${id}-target`} className="block text-xs font-medium">
          Target path
        </label>
        <input
          id={`${id}-target`}
          value={row.target}
          placeholder="the same path, or another"
          disabled={row.skip}
          onChange={(event) => {
            update({ target: event.target.value });
          }}
          className={INPUT_CLASSES}
        />
      </div>
      <div className="flex items-center gap-1 text-sm">
        <input
          id={`${id}-skip`}
          type="checkbox"
          checked={row.skip}
          onChange={(event) => {
            update({ skip: event.target.checked });
          }}
          className="h-4 w-4 accent-sky-600"
        />
        <label htmlFor={`${id}-skip`}>Skip</label>
      </div>
      <Button
        onClick={() => {
          onRemove();
        }}
        aria-label={`Remove bind mount ${index + 1}`}
      >
        Remove
      </Button>
    </fieldset>
  );
}

function BindMounts({ rows, dispatch }: { rows: BindMountRow[]; dispatch: Dispatch }) {
  const titleId = useId();
  const section = useRef<HTMLElement>(null);
  const addButton = useRef<HTMLButtonElement>(null);
  /** After a row is added or removed: the row whose source path takes focus, or -1 for "Add bind mount". */
  const focusNext = useRef<number | null>(null);

  // A removed row's button goes away with it; without this, focus would fall to the page. A new row is there to be
  // filled in, so its first field takes focus.
  useEffect(() => {
    const index = focusNext.current;
    if (index === null) return;
    focusNext.current = null;
    const sources = section.current?.querySelectorAll<HTMLInputElement>('input[data-bind-source]') ?? [];
    const target =
      index >= 0 && sources.length > 0 ? sources[Math.min(index, sources.length - 1)] : undefined;
    (target ?? addButton.current)?.focus();
  }, [rows.length]);

  return (
    <section ref={section} aria-labelledby={titleId} className="space-y-2">
      <h3 id={titleId} className="text-sm font-semibold">
        Bind mounts
      </h3>
      <p className="text-xs text-slate-600 dark:text-slate-400">
        Host paths mounted into a container are not copied. Map each one to a path that exists on the target,
        or skip it. The review step runs a preflight check that names every bind mount still without a rule.
      </p>
      {rows.map((row, index) => (
        <BindMountFields
          key={row.id}
          row={row}
          index={index}
          dispatch={dispatch}
          onRemove={() => {
            focusNext.current = rows.length > 1 ? index : -1;
            dispatch({ type: 'removeBindMount', id: row.id });
          }}
        />
      ))}
      <Button
        ref={addButton}
        onClick={() => {
          focusNext.current = rows.length;
          dispatch({ type: 'addBindMount' });
        }}
      >
        Add bind mount
      </Button>
    </section>
  );
}

/** Said where the strategy is chosen and in the review, when the choices make a re-sync of a running source. */
export const RESYNC_NOTE =
  'Volumes only, source kept running: a re-sync. The copy is only crash-consistent, as the source keeps writing.';

export function WizardOptionsStep({ state, dispatch }: { state: WizardState; dispatch: Dispatch }) {
  const set = (options: Partial<WizardOptions>) => {
    dispatch({ type: 'setOptions', options });
  };
  return (
    <>
      <div className="grid gap-6 md:grid-cols-2">
        <ChoiceGroup
          legend="Mode"
          choices={MODES}
          value={state.options.mode}
          onChange={(mode) => {
            set({ mode });
          }}
        />
        <ChoiceGroup
          legend="Copy strategy"
          choices={STRATEGIES}
          value={state.options.strategy}
          onChange={(strategy) => {
            set({ strategy });
          }}
          note={isRunningResync(state) ? RESYNC_NOTE : null}
        />
        <ChoiceGroup
          legend="Transfer"
          choices={TRANSFER_MODES}
          value={state.options.transferMode}
          onChange={(transferMode) => {
            set({ transferMode });
          }}
        />
        <ChoiceGroup
          legend="Compression"
          choices={COMPRESSIONS}
          value={state.options.compression}
          onChange={(compression) => {
            set({ compression });
          }}
        />
        <ChoiceGroup
          legend="When a name is taken on the target"
          choices={CONFLICT_POLICIES}
          value={state.options.conflictPolicy}
          onChange={(conflictPolicy) => {
            set({ conflictPolicy });
          }}
        />
        <ChoiceGroup
          legend="Afterwards, on the source"
          choices={SOURCE_POLICIES}
          value={state.options.sourcePolicy}
          onChange={(sourcePolicy) => {
            set({ sourcePolicy });
          }}
        />
      </div>
      <BindMounts rows={state.bindMounts} dispatch={dispatch} />
    </>
  );
}

/** Words for the review's summary of the options. */
export function optionLabels(options: WizardOptions): {
  mode: string;
  strategy: string;
  transfer: string;
  compression: string;
  conflict: string;
  source: string;
} {
  const label = <T extends string>(choices: Choice<T>[], value: T) =>
    choices.find((choice) => choice.value === value)?.label ?? value;
  return {
    mode: label(MODES, options.mode),
    strategy: `${label(STRATEGIES, options.strategy)} — ${STRATEGY_SUMMARIES[options.strategy]}`,
    transfer: label(TRANSFER_MODES, options.transferMode),
    compression: label(COMPRESSIONS, options.compression),
    conflict: label(CONFLICT_POLICIES, options.conflictPolicy),
    source: label(SOURCE_POLICIES, options.sourcePolicy),
  };
}
