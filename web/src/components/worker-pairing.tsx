// A one-time pairing code: a short-lived, single-use alternative to sharing the enrollment token.
import { useMutation } from '@tanstack/react-query';

import { api } from '../api/client';
import type { PairingCodeJson } from '../api/worker-types';
import { formatDateTime, formatDuration } from '../lib/format';
import { useNow } from '../lib/use-now';
import { Button, Card, ErrorNotice } from './ui';
import { CopyField } from './copy-field';

function Expiry({ at }: { at: string }) {
  const now = useNow(1_000);
  const left = Date.parse(at) - now;
  if (!(left > 0))
    return <p className="text-sm text-rose-700 dark:text-rose-400">Expired: create another.</p>;
  return (
    <p className="text-sm">
      Expires in {formatDuration(Math.ceil(left / 1000) * 1000)} (at {formatDateTime(at)}) or once a host uses
      it.
    </p>
  );
}

export function WorkerPairing() {
  const create = useMutation({
    mutationFn: () => api<PairingCodeJson>('/api/pairing-codes', { method: 'POST' }),
  });
  return (
    <Card
      title="One-time pairing code"
      actions={
        <Button
          onClick={() => {
            create.mutate();
          }}
          disabled={create.isPending}
        >
          {create.data === undefined ? 'Create a one-time pairing code' : 'Create another code'}
        </Button>
      }
    >
      <p className="text-sm text-slate-600 dark:text-slate-400">
        Rather not hand out the enrollment token? A pairing code works for one host only and expires soon
        after.
      </p>
      <ErrorNotice error={create.error} title="No pairing code was created" />
      {create.data !== undefined && (
        <div className="mt-3 space-y-3">
          <Expiry at={create.data.expires_at} />
          {create.data.install_command !== null && (
            <CopyField label="Pairing install command" value={create.data.install_command} />
          )}
          <CopyField label="Pairing join command" value={create.data.join_command} />
          <CopyField label="Pairing code" value={create.data.code} />
        </div>
      )}
    </Card>
  );
}
