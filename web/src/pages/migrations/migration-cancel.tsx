// "Cancel migration" while one is pending or running, confirmed first: cancelling stops it and undoes its work.
import { useState } from 'react';

import type { MigrationJson } from '../../api/migration-types';
import { Button, ConfirmDialog, ErrorNotice } from '../../components/ui';
import { isFinished } from '../../lib/migration-status';
import { useCancelMigration } from './migration-queries';

export function MigrationCancel({ migration }: { migration: MigrationJson }) {
  const [open, setOpen] = useState(false);
  const cancel = useCancelMigration(migration.id);
  if (isFinished(migration.status)) return null;
  // The status region is there before the cancel is requested, so that its words are announced when they appear.
  const status = (
    <p
      role="status"
      className={migration.cancel_requested ? 'text-sm text-amber-800 dark:text-amber-200' : 'sr-only'}
    >
      {migration.cancel_requested ? 'Cancelling: rolling back…' : ''}
    </p>
  );
  if (migration.cancel_requested) return <>{status}</>;
  return (
    <>
      {status}
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
