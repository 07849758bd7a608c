// The frame of each wizard step: "Step N of 5: …" as a heading that takes focus when the step changes, the step's
// content, and Back and Next (or the final action) with the reason Next is not possible yet, kept in view at the bottom.
import { useEffect, useId, useRef, type ReactNode } from 'react';

import { Button, Card } from '../../components/ui';
import { STEP_COUNT, STEP_TITLES, type WizardStep } from './wizard-state';

export function WizardStepFrame({
  step,
  focusHeading,
  problem,
  onBack,
  onNext,
  finalAction,
  children,
}: {
  step: WizardStep;
  /** True once the user has moved between steps: the heading then takes focus, on the page's first step it does not. */
  focusHeading: boolean;
  /** Why Next is disabled, in words; null when it is enabled. */
  problem: string | null;
  onBack: () => void;
  onNext: () => void;
  /** Replaces Next on the last step. */
  finalAction?: ReactNode;
  children: ReactNode;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  const problemId = useId();

  // Moving to another step moves keyboard and screen reader focus to its heading, whichever way the step was reached
  // (Back, Next, or a "Change" link of the review, whose frame is another one than the other steps').
  useEffect(() => {
    if (focusHeading) heading.current?.focus();
  }, [step, focusHeading]);

  return (
    <Card>
      <h2 ref={heading} tabIndex={-1} className="mb-4 text-lg font-semibold focus:outline-none">
        Step {step} of {STEP_COUNT}: {STEP_TITLES[step]}
      </h2>
      <div className="space-y-4">{children}</div>
      {/* Sticky, so that Next stays in reach however long the step's lists are. */}
      <div className="sticky bottom-0 mt-6 flex flex-wrap items-center justify-between gap-3 border-t border-slate-200 bg-white py-4 dark:border-slate-800 dark:bg-slate-900">
        <Button onClick={onBack} disabled={step === 1}>
          Back
        </Button>
        <div className="flex flex-wrap items-center justify-end gap-3">
          {problem !== null && finalAction === undefined && (
            <p id={problemId} className="text-sm text-slate-600 dark:text-slate-400">
              {problem}
            </p>
          )}
          {finalAction ?? (
            <Button
              variant="primary"
              className="disabled:opacity-60"
              onClick={onNext}
              disabled={problem !== null}
              aria-describedby={problem === null ? undefined : problemId}
            >
              Next
            </Button>
          )}
        </div>
      </div>
    </Card>
  );
}
