// The migration wizard (/migrations/new, ?from=<worker id> preselects the source, &container=<id> one container): source, resources, target,
// options, then a review with the preflight check before anything starts. Its logic is in wizard-state.ts.
import { useReducer, useState } from 'react';
import { useSearchParams } from 'react-router';

import type { WorkerJson, WorkerResourcesJson } from '../../api/worker-types';
import { ErrorNotice, Loading, PageTitle } from '../../components/ui';
import { useWorkerNames, useWorkerResources, useWorkers } from '../../lib/worker-queries';
import { WizardOptionsStep } from './wizard-options-step';
import { WizardResourcesStep } from './wizard-resources-step';
import { WizardReviewStep } from './wizard-review-step';
import {
  initialWizardState,
  stepProblem,
  wizardReducer,
  type WizardAction,
  type WizardState,
} from './wizard-state';
import { WizardStepFrame } from './wizard-step-frame';
import { WorkerRadioGroup } from './worker-radio-group';

function StepContent({
  state,
  workers,
  resources,
  dispatch,
}: {
  state: WizardState;
  workers: WorkerJson[];
  resources: { data: WorkerResourcesJson | undefined; error: unknown; isPending: boolean };
  dispatch: (action: WizardAction) => void;
}) {
  switch (state.step) {
    case 1:
      return (
        <WorkerRadioGroup
          legend="Migrate from"
          description="The worker whose containers, volumes, images or networks you want to move."
          workers={workers}
          value={state.sourceId}
          onChange={(workerId) => {
            dispatch({ type: 'chooseSource', workerId });
          }}
        />
      );
    case 2:
      return <WizardResourcesStep state={state} resources={resources} dispatch={dispatch} />;
    case 3:
      return (
        <WorkerRadioGroup
          legend="Migrate to"
          description="The worker that will run them afterwards."
          workers={workers.filter((worker) => worker.id !== state.sourceId)}
          value={state.targetId}
          onChange={(workerId) => {
            dispatch({ type: 'chooseTarget', workerId });
          }}
        />
      );
    case 4:
      return <WizardOptionsStep state={state} dispatch={dispatch} />;
    case 5:
      return null;
  }
}

/** The wizard for one ?from= (and &container=): following another "Migrate" link while on the page starts afresh. */
export function WizardPage() {
  const [params] = useSearchParams();
  const from = params.get('from');
  const container = params.get('container');
  return <Wizard key={`${from ?? ''}:${container ?? ''}`} from={from} container={container} />;
}

function Wizard({ from, container }: { from: string | null; container: string | null }) {
  const [state, dispatchState] = useReducer(wizardReducer, null, () => initialWizardState(from, container));
  const [moved, setMoved] = useState(false);
  const dispatch = (action: WizardAction): void => {
    if (action.type === 'next' || action.type === 'back' || action.type === 'goTo') setMoved(true);
    dispatchState(action);
  };
  const workers = useWorkers();
  const resources = useWorkerResources(state.sourceId);
  const workerName = useWorkerNames();

  if (workers.data === undefined) {
    return (
      <>
        <PageTitle>New migration</PageTitle>
        {workers.isError ? (
          <ErrorNotice error={workers.error} title="The workers could not be loaded" />
        ) : (
          <Loading what="workers" />
        )}
      </>
    );
  }

  return (
    <>
      <PageTitle>New migration</PageTitle>
      {/* A failed refresh keeps the wizard and what was chosen; the list of workers may be stale meanwhile. */}
      {workers.isError && (
        <div className="mb-4">
          <ErrorNotice error={workers.error} title="The list of workers may be out of date" />
        </div>
      )}
      {state.step === 5 ? (
        <WizardReviewStep
          state={state}
          resources={resources.data}
          workerName={workerName}
          dispatch={dispatch}
        />
      ) : (
        <WizardStepFrame
          step={state.step}
          focusHeading={moved}
          problem={stepProblem(state, workers.data)}
          onBack={() => {
            dispatch({ type: 'back' });
          }}
          onNext={() => {
            dispatch({ type: 'next' });
          }}
        >
          <StepContent state={state} workers={workers.data} resources={resources} dispatch={dispatch} />
        </WizardStepFrame>
      )}
    </>
  );
}
