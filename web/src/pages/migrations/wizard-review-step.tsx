// Step 5 of the wizard: a summary of the choices, the preflight check (a dry run, asked on entering the step), the
// planned resources and findings, the acknowledgement of warnings, and "Start migration". Findings that block only
// until accepted are read and ticked like warnings; the start request then names their codes in `acknowledge`, and
// the dry run is not asked again (what the user read stays on the screen as it was).
import { useId, type ReactNode } from 'react';
import { useNavigate } from 'react-router';

import { ApiError } from '../../api/client';
import type { DryRunJson, FindingJson, ResourceJson } from '../../api/migration-types';
import type { WorkerResourcesJson } from '../../api/worker-types';
import { MigrationFindings } from '../../components/migration-findings';
import { Button, Cell, ErrorNotice, LINK_CLASS, Table } from '../../components/ui';
import { formatBytes } from '../../lib/format';
import { findingsSummary, groupFindings } from '../../lib/migration-findings';
import { useDryRun, useStartMigration } from './migration-queries';
import { optionLabels, RESYNC_NOTE } from './wizard-options-step';
import {
  bindMountRules,
  buildRequest,
  detectedBindMounts,
  isRunningResync,
  selectionNames,
  startDecision,
  startRequest,
  warningSignature,
  type WizardAction,
  type WizardState,
  type WizardStep,
} from './wizard-state';
import { WizardStepFrame } from './wizard-step-frame';

type Dispatch = (action: WizardAction) => void;

function SummaryRow({
  term,
  children,
  step,
  dispatch,
}: {
  term: string;
  children: ReactNode;
  step: WizardStep;
  dispatch: Dispatch;
}) {
  return (
    <div className="grid gap-1 border-b border-slate-100 py-2 sm:grid-cols-[10rem_1fr_auto] dark:border-slate-800">
      <dt className="font-medium">{term}</dt>
      <dd className="min-w-0 break-words">{children}</dd>
      <dd>
        <button
          type="button"
          className={LINK_CLASS}
          // The visible "Change" alone would be one of four alike; the name says which (and starts with it).
          aria-label={`Change ${term.toLowerCase()}`}
          onClick={() => {
            dispatch({ type: 'goTo', step });
          }}
        >
          Change
        </button>
      </dd>
    </div>
  );
}

function Summary({
  state,
  resources,
  workerName,
  dispatch,
}: {
  state: WizardState;
  resources: WorkerResourcesJson | undefined;
  workerName: (id: string) => string;
  dispatch: Dispatch;
}) {
  const names = selectionNames(state.selection, resources);
  const options = optionLabels(state.options);
  const rules = Object.entries(bindMountRules(state.bindMounts));
  const parts = [
    ['Containers', names.containers],
    ['Compose projects', names.composeProjects],
    ['Volumes', names.volumes],
    ['Images', names.images],
    ['Networks', names.networks],
  ] as const;
  return (
    <dl className="text-sm">
      <SummaryRow term="Source" step={1} dispatch={dispatch}>
        {workerName(state.sourceId ?? '')}
      </SummaryRow>
      <SummaryRow term="Resources" step={2} dispatch={dispatch}>
        <ul>
          {parts
            .filter(([, list]) => list.length > 0)
            .map(([label, list]) => (
              <li key={label}>
                {label}: {list.join(', ')}
              </li>
            ))}
        </ul>
      </SummaryRow>
      <SummaryRow term="Target" step={3} dispatch={dispatch}>
        {workerName(state.targetId ?? '')}
      </SummaryRow>
      <SummaryRow term="Options" step={4} dispatch={dispatch}>
        {options.mode} migration · strategy: {options.strategy} · transfer: {options.transfer} · compression:{' '}
        {options.compression} · name taken on the target: {options.conflict} · afterwards on the source:{' '}
        {options.source}
        {isRunningResync(state) && <p className="mt-1 text-xs">{RESYNC_NOTE}</p>}
        {rules.length > 0 && (
          <ul className="mt-1 font-mono text-xs">
            {rules.map(([source, rule]) => (
              <li key={source}>
                {source} → {rule}
              </li>
            ))}
          </ul>
        )}
      </SummaryRow>
    </dl>
  );
}

const REASONS: Record<ResourceJson['reason'], string> = {
  requested: 'selected',
  compose: 'compose project',
  dependency: 'brought along',
};

function PlanTable({ plan }: { plan: DryRunJson['plan'] }) {
  return (
    <div className="space-y-2">
      <h3 className="text-sm font-semibold">
        Planned resources ({plan.resources.length}) · {formatBytes(plan.total_bytes)} to copy
      </h3>
      <Table caption="Planned resources" columns={['Type', 'Name', 'Reason', 'Action', 'Estimated size']}>
        {plan.resources.map((resource) => (
          <tr key={`${resource.type}:${resource.source_id}`}>
            <Cell>{resource.type}</Cell>
            <Cell className="break-all">
              {resource.name}
              {resource.target_name !== resource.name && ` → ${resource.target_name}`}
            </Cell>
            <Cell>{REASONS[resource.reason]}</Cell>
            <Cell>{resource.action}</Cell>
            <Cell className="whitespace-nowrap tabular-nums">
              {resource.estimated_bytes === null ? 'unknown' : formatBytes(resource.estimated_bytes)}
            </Cell>
          </tr>
        ))}
      </Table>
    </div>
  );
}

function DetectedBindMounts({ findings, dispatch }: { findings: FindingJson[]; dispatch: Dispatch }) {
  const detected = detectedBindMounts(findings);
  if (detected.length === 0) return null;
  return (
    <div className="space-y-2 rounded-md border border-slate-200 p-3 text-sm dark:border-slate-800">
      <p>These bind mounts need a rule before the migration can start:</p>
      <ul className="list-disc pl-5 font-mono text-xs">
        {detected.map((mount) => (
          <li key={mount.source}>
            {mount.source} ({mount.container}, at {mount.destination})
          </li>
        ))}
      </ul>
      <Button
        onClick={() => {
          dispatch({ type: 'addDetectedBindMounts', sources: detected.map((mount) => mount.source) });
          dispatch({ type: 'goTo', step: 4 });
        }}
      >
        Add rules for these bind mounts
      </Button>
    </div>
  );
}

/** The findings a refused start carries (412), when the target changed since the dry run. */
function refusedFindings(error: unknown): FindingJson[] {
  if (!(error instanceof ApiError) || !Array.isArray(error.details.findings)) return [];
  return error.details.findings as FindingJson[];
}

export function WizardReviewStep({
  state,
  resources,
  workerName,
  dispatch,
}: {
  state: WizardState;
  resources: WorkerResourcesJson | undefined;
  workerName: (id: string) => string;
  dispatch: Dispatch;
}) {
  const navigate = useNavigate();
  const ackId = useId();
  const reasonId = useId();
  const acceptId = useId();
  const body = buildRequest(state, true);
  const dryRun = useDryRun(body);
  const start = useStartMigration();
  const findings = dryRun.data?.findings ?? [];
  const signature = warningSignature(findings);
  const decision = startDecision(dryRun.isFetching ? undefined : dryRun.data, state.acknowledged);
  const groups = groupFindings(findings);
  const toRead = groups.warning.length + groups.acknowledge.length;
  const refused = refusedFindings(start.error);

  const startButton = (
    <>
      {!decision.allowed && (
        <p id={reasonId} className="max-w-md text-sm text-slate-700 dark:text-slate-300">
          {decision.reason}
        </p>
      )}
      <Button
        variant="primary"
        className="disabled:opacity-60"
        disabled={!decision.allowed || start.isPending}
        aria-describedby={decision.allowed ? undefined : reasonId}
        onClick={() => {
          start.mutate(startRequest(body, findings), {
            onSuccess: ({ migration }) => {
              void navigate(`/migrations/${encodeURIComponent(migration.id)}`);
            },
          });
        }}
      >
        {start.isPending ? 'Starting…' : 'Start migration'}
      </Button>
    </>
  );

  return (
    <WizardStepFrame
      step={5}
      focusHeading
      problem={null}
      onBack={() => {
        dispatch({ type: 'back' });
      }}
      onNext={() => undefined}
      finalAction={startButton}
    >
      <Summary state={state} resources={resources} workerName={workerName} dispatch={dispatch} />
      <section aria-label="Preflight check" className="space-y-3">
        <div className="flex flex-wrap items-center justify-between gap-2">
          <h3 className="text-base font-semibold">Preflight check</h3>
          <Button
            disabled={dryRun.isFetching}
            onClick={() => {
              dispatch({ type: 'acknowledge', warnings: null });
              void dryRun.refetch();
            }}
          >
            Run preflight again
          </Button>
        </div>
        {/* Always there, so that a screen reader hears the preflight start and answer (the plan and findings
            below are too long to be read out by themselves). */}
        <p role="status" className="text-sm text-slate-600 dark:text-slate-400">
          {dryRun.isFetching
            ? 'Running the preflight check (nothing changes yet)…'
            : dryRun.data === undefined
              ? ''
              : findingsSummary(findings)}
        </p>
        <ErrorNotice error={dryRun.error} title="The preflight check could not run" />
        {dryRun.data !== undefined && !dryRun.isFetching && (
          <>
            <PlanTable plan={dryRun.data.plan} />
            <MigrationFindings findings={findings} />
            <DetectedBindMounts findings={findings} dispatch={dispatch} />
            {toRead > 0 && (
              <div className="flex items-center gap-2 text-sm">
                <input
                  id={ackId}
                  type="checkbox"
                  checked={signature !== null && state.acknowledged === signature}
                  onChange={(event) => {
                    dispatch({ type: 'acknowledge', warnings: event.target.checked ? signature : null });
                  }}
                  className="h-4 w-4 accent-sky-600"
                  aria-describedby={groups.acknowledge.length > 0 ? acceptId : undefined}
                />
                <label htmlFor={ackId}>I have read the warnings</label>
                {groups.acknowledge.length > 0 && (
                  <span id={acceptId} className="text-slate-600 dark:text-slate-400">
                    and accept what blocks until accepted
                  </span>
                )}
              </div>
            )}
          </>
        )}
      </section>
      {start.isError && (
        <div className="space-y-2">
          <ErrorNotice error={start.error} title="The migration did not start" />
          {refused.length > 0 && <MigrationFindings findings={refused} />}
        </div>
      )}
    </WizardStepFrame>
  );
}
