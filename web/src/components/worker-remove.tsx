// "Remove worker": revokes the worker's certificate after a confirmation that says what that does and does not do.
import { useState } from 'react';
import { useNavigate } from 'react-router';

import type { WorkerJson } from '../api/worker-types';
import { useRemoveWorker } from '../lib/worker-queries';
import { Button, ConfirmDialog, ErrorNotice } from './ui';

export function RemoveWorkerButton({ worker }: { worker: Pick<WorkerJson, 'id' | 'name'> }) {
  const [open, setOpen] = useState(false);
  const remove = useRemoveWorker(worker.id);
  const navigate = useNavigate();
  return (
    <>
      <Button
        variant="danger"
        onClick={() => {
          setOpen(true);
        }}
      >
        Remove worker
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
              void navigate('/');
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
