// A radio group of workers for the wizard's source and target steps; offline workers are shown but cannot be chosen.
import { useId } from 'react';
import { Link } from 'react-router';

import type { WorkerJson } from '../../api/worker-types';
import { EmptyState, LINK_CLASS } from '../../components/ui';

export function WorkerRadioGroup({
  legend,
  description,
  workers,
  value,
  onChange,
}: {
  legend: string;
  description: string;
  workers: Pick<WorkerJson, 'id' | 'name' | 'online'>[];
  value: string | null;
  onChange: (workerId: string) => void;
}) {
  const name = useId();
  if (workers.length === 0) {
    return (
      <EmptyState title="No worker to choose here.">
        <Link className={LINK_CLASS} to="/enroll">
          Enroll a worker
        </Link>{' '}
        to migrate between two hosts.
      </EmptyState>
    );
  }
  return (
    <fieldset className="space-y-2">
      <legend className="mb-1 text-sm font-medium">{legend}</legend>
      <p className="text-sm text-slate-600 dark:text-slate-400">{description}</p>
      <ul className="grid gap-2 sm:grid-cols-2 lg:grid-cols-3">
        {workers.map((worker) => {
          const id = `${name}-${worker.id}`;
          return (
            <li
              key={worker.id}
              className={`flex items-center gap-2 rounded-md border p-3 text-sm has-[:checked]:border-sky-600 has-[:checked]:bg-sky-50 has-[:focus-visible]:ring-2 has-[:focus-visible]:ring-sky-500 dark:has-[:checked]:bg-sky-950 ${worker.online ? 'border-slate-300 dark:border-slate-700' : 'border-dashed border-slate-300 text-slate-600 dark:text-slate-400 dark:border-slate-700'}`}
            >
              <input
                id={id}
                type="radio"
                name={name}
                value={worker.id}
                checked={value === worker.id}
                disabled={!worker.online}
                aria-describedby={worker.online ? undefined : `${id}-offline`}
                onChange={() => {
                  onChange(worker.id);
                }}
                className="h-4 w-4 accent-sky-600"
              />
              <label
                htmlFor={id}
                className={`flex-1 font-medium ${worker.online ? 'cursor-pointer' : 'cursor-not-allowed'}`}
              >
                {worker.name}
              </label>
              {!worker.online && (
                <span id={`${id}-offline`} className="text-xs">
                  offline
                </span>
              )}
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}
