// "Cancel migration" while one is pending or running, confirmed first: cancelling stops it and undoes its work.
import { useState } from 'react';

import type { MigrationJson } from '../../api/migration-types';
import { Button, ConfirmDialog, ErrorNotice } from '../../components/ui';
import { useCancelMigration } from './migration-queries';

export function MigrationCancel({ migration }: { migration: MigrationJson }) {
  const [open, setOpen] = useState(false);
  const cancel = useCancelMigration(migration.id);
  if (migration.status !== 'pending' && migration.status !== 'running') return null;
  if (migration.cancel_requested) {
    return (
      <p role="status" className="text-sm text-amber-800 dark:text-amber-200">
        Cancelling: rolling back…
      </p>
    );
  }
  return (
    <>
      <Button
        variant="danger"
        onClick={() => {
          setOpen(true);
        }}
      >
        Cancel migration
      </Button>
      <ErrorNotice error={cancel.error} title="The migration could not be cancelled" />
      <ConfirmDialog
        open={open}
        title="Cancel this migration?"
        confirmLabel="Yes, cancel it"
        cancelLabel="Keep running"
        danger
        busy={cancel.isPending}
        onCancel={() => {
          setOpen(false);
        }}
        onConfirm={() => {
          cancel.mutate(undefined, {
            onSettled: () => {
              setOpen(false);
            },
          });
        }}
      >
        <p>
          The migration stops, everything it created on the target is removed, and the source containers are
          started again. Nothing of it is kept.
        </p>
      </ConfirmDialog>
    </>
  );
}
