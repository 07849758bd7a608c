// Adding a worker: the join command to run on a Docker host, the token and CA hash it carries, replacing a
// token that may have leaked, one-time pairing codes, and the workers enrolled so far.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { Link } from 'react-router';

import { api } from '../api/client';
import { keys } from '../api/keys';
import type { EnrollmentJson } from '../api/worker-types';
import { CopyField } from '../components/copy-field';
import {
  Badge,
  Button,
  Card,
  ConfirmDialog,
  ErrorNotice,
  LINK_CLASS,
  Loading,
  PageTitle,
} from '../components/ui';
import { WorkerPairing } from '../components/worker-pairing';
import { RemoveWorkerButton } from '../components/worker-remove';
import { formatDateTime } from '../lib/format';
import { useWorkers } from '../lib/worker-queries';

function useEnrollment() {
  return useQuery({
    queryKey: keys.enrollment,
    queryFn: ({ signal }) => api<EnrollmentJson>('/api/enrollment-token', { signal }),
    // A secret: keep it in memory only while this page shows it.
    gcTime: 0,
  });
}

function RegenerateToken() {
  const client = useQueryClient();
  const [open, setOpen] = useState(false);
  const [done, setDone] = useState(false);
  const regenerate = useMutation({
    mutationFn: () => api<EnrollmentJson>('/api/enrollment-token/regenerate', { method: 'POST' }),
    onSuccess: (info) => {
      client.setQueryData(keys.enrollment, info);
    },
  });
  return (
    <div className="space-y-2">
      <Button
        variant="danger"
        onClick={() => {
          setDone(false);
          setOpen(true);
        }}
      >
        Regenerate token
      </Button>
      <p role="status" className="text-sm text-emerald-700 dark:text-emerald-400">
        {done ? 'A new token is in the command above; the old one no longer enrolls anything.' : ''}
      </p>
      <ConfirmDialog
        open={open}
        title="Regenerate the enrollment token?"
        confirmLabel={regenerate.isPending ? 'Regenerating…' : 'Regenerate'}
        danger
        busy={regenerate.isPending}
        onCancel={() => {
          setOpen(false);
          regenerate.reset();
        }}
        onConfirm={() => {
          regenerate.mutate(undefined, {
            onSuccess: () => {
              setOpen(false);
              setDone(true);
            },
          });
        }}
      >
        <p>
          The current token stops working at once for new enrollments: any join command already handed out
          with it will fail. Workers already enrolled keep working.
        </p>
        {regenerate.isError && (
          <div className="mt-3">
            <ErrorNotice error={regenerate.error} title="The token was not regenerated" />
          </div>
        )}
      </ConfirmDialog>
    </div>
  );
}

function JoinCommand() {
  const enrollment = useEnrollment();
  if (enrollment.isPending) return <Loading what="the join command" />;
  // A failed refresh (on focus) keeps the command shown; only a first load that failed has nothing to show.
  if (enrollment.data === undefined)
    return <ErrorNotice error={enrollment.error} title="The join command could not be loaded" />;
  const info = enrollment.data;
  return (
    <Card title="Join command">
      <div className="space-y-4">
        <ErrorNotice error={enrollment.error} title="This command may be out of date" />
        {info.install_command !== null && (
          <div className="space-y-2">
            <p className="text-sm text-slate-700 dark:text-slate-300">
              Run this on the Docker host you want to add (Linux, as root). It downloads the worker from this
              master, checks its SHA-256, installs it in <code>/opt/docker-migrate</code> as the systemd
              service <code>docker-migrate-worker</code> and enrolls it. Nothing else needs installing;
              running it again upgrades the worker and keeps its identity.
            </p>
            <CopyField label="Install command" value={info.install_command} />
          </div>
        )}
        <div className="space-y-2 text-sm text-slate-700 dark:text-slate-300">
          <p>
            {info.install_command !== null
              ? 'Or, where docker-migrate is installed already, run this command. It'
              : 'Run this command on the Docker host you want to add (the docker-migrate binary must be installed there). It'}{' '}
            starts a worker, which dials this master at{' '}
            <code className="wrap-anywhere">{info.master_url}</code>, enrolls with the token and stays
            connected.
          </p>
          <p>
            The CA hash pins this master’s certificate, so the worker talks only to this master and no one in
            between can pose as it. The token proves to the master that you allowed the host to join.
          </p>
        </div>
        <CopyField label="Join command" value={info.join_command} />
        <CopyField label="Token" value={info.token} description="Keep it secret, like a password." />
        <CopyField label="CA hash" value={info.ca_hash} />
        <RegenerateToken />
      </div>
    </Card>
  );
}

function EnrolledWorkers() {
  const workers = useWorkers();
  const list = useRef<HTMLDivElement>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  return (
    <Card title="Enrolled workers">
      <p role="status" className="sr-only">
        {removed === null ? '' : `${removed} was removed.`}
      </p>
      {workers.isPending && <Loading what="workers" />}
      <ErrorNotice error={workers.error} title="Workers could not be loaded" />
      {workers.data?.length === 0 && (
        <p className="text-sm text-slate-600 dark:text-slate-400">
          None yet. Once the command above runs on a host, the worker shows up here and on the dashboard by
          itself.
        </p>
      )}
      {workers.data !== undefined && workers.data.length > 0 && (
        // Focus comes here after a removal: the row and its button are gone.
        <div ref={list} tabIndex={-1} className="focus:outline-none">
          <ul className="divide-y divide-slate-100 dark:divide-slate-800">
            {workers.data.map((worker) => (
              <li key={worker.id} className="flex flex-wrap items-center justify-between gap-2 py-2 text-sm">
                <Link to={`/workers/${encodeURIComponent(worker.id)}`} className={LINK_CLASS}>
                  {worker.name}
                </Link>
                <span className="flex flex-wrap items-center gap-2 text-xs text-slate-500 dark:text-slate-400">
                  enrolled {formatDateTime(worker.enrolled_at)}
                  <Badge tone={worker.online ? 'green' : 'red'}>{worker.online ? 'online' : 'offline'}</Badge>
                  <RemoveWorkerButton
                    worker={worker}
                    inList
                    onRemoved={() => {
                      setRemoved(worker.name);
                      list.current?.focus();
                    }}
                  />
                </span>
              </li>
            ))}
          </ul>
          <p className="mt-2 text-xs text-slate-500 dark:text-slate-400">
            Removing a worker revokes its certificate; its containers, images, volumes and networks stay.
          </p>
        </div>
      )}
    </Card>
  );
}

export function EnrollPage() {
  return (
    <>
      <PageTitle>Enroll a worker</PageTitle>
      <div className="space-y-4">
        <JoinCommand />
        <WorkerPairing />
        <EnrolledWorkers />
      </div>
    </>
  );
}
