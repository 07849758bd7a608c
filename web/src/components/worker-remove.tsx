// "Remove worker": revokes the worker's certificate after a confirmation that says what that does and does not do.
import { useState } from 'react';
import { useNavigate } from 'react-router';

import type { WorkerJson } from '../api/worker-types';
import { useRemoveWorker } from '../lib/worker-queries';
import { Button, ConfirmDialog, ErrorNotice } from './ui';

export function RemoveWorkerButton({
  worker,
  inList = false,
  onRemoved,
}: {
  worker: Pick<WorkerJson, 'id' | 'name'>;
  /** One of several in a list: a short "Remove", named after its worker for screen readers. */
  inList?: boolean;
  /** What happens once it is removed; the worker's own page goes to the dashboard. */
  onRemoved?: () => void;
}) {
  const [open, setOpen] = useState(false);
  const remove = useRemoveWorker(worker.id);
  const navigate = useNavigate();
  return (
    <>
      <Button
        variant="danger"
        aria-label={inList ? `Remove ${worker.name}` : undefined}
        onClick={() => {
          setOpen(true);
        }}
      >
        {inList ? 'Remove' : 'Remove worker'}
      </Button>
      <ConfirmDialog
        open={open}
        title={`Remove ${worker.name}?`}
        confirmLabel={remove.isPending ? 'Removing…' : 'Remove'}
        danger
        busy={remove.isPending}
        onCancel={() => {
          setOpen(false);
          remove.reset();
        }}
        onConfirm={() => {
          remove.mutate(undefined, {
            onSuccess: () => {
              setOpen(false);
              if (onRemoved === undefined) void navigate('/');
              else onRemoved();
            },
          });
        }}
      >
        <p>
          This revokes the worker’s certificate, so it can no longer connect to this master. Its containers,
          images, volumes and networks are not touched.
        </p>
        <p className="mt-2">
          To bring it back, enroll it again with the join command from “Enroll a worker”.
        </p>
        {remove.isError && (
          <div className="mt-3">
            <ErrorNotice error={remove.error} title="The worker was not removed" />
          </div>
        )}
      </ConfirmDialog>
    </>
  );
}
