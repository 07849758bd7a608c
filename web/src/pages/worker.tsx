// One worker: its state and host figures, and its containers, images, volumes and networks, filterable by name.
import { useMemo, useState } from 'react';
import { Link, useParams } from 'react-router';

import { ApiError } from '../api/client';
import type { WorkerResourcesJson } from '../api/worker-types';
import { ErrorNotice, LINK_CLASS, LinkButton, Loading, PageTitle } from '../components/ui';
import { WorkerContainers } from '../components/worker-containers';
import { WorkerImages } from '../components/worker-images';
import { WorkerNetworks } from '../components/worker-networks';
import { RemoveWorkerButton } from '../components/worker-remove';
import { WorkerSummary } from '../components/worker-summary';
import { WorkerVolumes } from '../components/worker-volumes';
import { useWorker, useWorkerResources } from '../lib/worker-queries';
import { filterSummary, shownResources, usersBy } from '../lib/worker-resources';

function FilterBox({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <div className="flex flex-col gap-1 sm:max-w-sm">
      <label htmlFor="resource-filter" className="text-sm font-medium">
        Filter
      </label>
      <input
        id="resource-filter"
        type="search"
        value={value}
        placeholder="container, image, volume or network name"
        onChange={(event) => {
          onChange(event.target.value);
        }}
        className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm dark:border-slate-700 dark:bg-slate-950"
      />
    </div>
  );
}

function Resources({ resources }: { resources: WorkerResourcesJson }) {
  const [filter, setFilter] = useState('');
  const { containers } = resources;
  const shown = shownResources(resources, filter);
  const users = useMemo(
    () => ({
      byImageId: usersBy(containers, (container) => [container.imageId]),
      byVolume: usersBy(containers, (container) => container.volumeNames),
      byNetwork: usersBy(containers, (container) => container.networkNames),
    }),
    [containers],
  );
  return (
    <div className="space-y-4">
      <FilterBox value={filter} onChange={setFilter} />
      {/* The lists change under the filter box as one types; this says how, without leaving it. */}
      <p role="status" className="sr-only">
        {filter.trim() === '' ? '' : filterSummary(shown)}
      </p>
      <WorkerContainers
        workerId={resources.worker_id}
        containers={containers}
        shown={shown.containers}
        filter={filter}
      />
      <WorkerImages
        images={resources.images}
        shown={shown.images}
        usersByImageId={users.byImageId}
        filter={filter}
      />
      <WorkerVolumes
        volumes={resources.volumes}
        shown={shown.volumes}
        usersByVolume={users.byVolume}
        filter={filter}
      />
      <WorkerNetworks
        networks={resources.networks}
        shown={shown.networks}
        usersByNetwork={users.byNetwork}
        filter={filter}
      />
    </div>
  );
}

function NoSuchWorker({ error }: { error: unknown }) {
  const missing = error instanceof ApiError && error.status === 404;
  return (
    <>
      <PageTitle>Worker</PageTitle>
      <div className="space-y-3">
        <ErrorNotice
          error={error}
          title={
            missing ? 'There is no such worker: it may have been removed.' : 'The worker could not be loaded'
          }
        />
        <Link to="/" className={LINK_CLASS}>
          Back to the dashboard
        </Link>
      </div>
    </>
  );
}

export function WorkerPage() {
  const { id = '' } = useParams();
  const worker = useWorker(id);
  const resources = useWorkerResources(worker.data === undefined ? null : id);

  if (worker.data === undefined) {
    if (worker.isError) return <NoSuchWorker error={worker.error} />;
    return (
      <>
        <PageTitle>Worker</PageTitle>
        <Loading what="the worker" />
      </>
    );
  }

  return (
    <>
      <PageTitle
        actions={
          <>
            <LinkButton to={`/migrations/new?from=${encodeURIComponent(worker.data.id)}`} variant="primary">
              Migrate from here
            </LinkButton>
            <RemoveWorkerButton worker={worker.data} />
          </>
        }
      >
        {worker.data.name}
      </PageTitle>
      <div className="space-y-4">
        {worker.isError && <ErrorNotice error={worker.error} title="This page may be out of date" />}
        <WorkerSummary worker={worker.data} />
        {!worker.data.online && (
          <p className="text-sm text-slate-600 dark:text-slate-400">
            This worker is offline: the lists below are what it reported last.
          </p>
        )}
        {resources.isPending && <Loading what="its Docker resources" />}
        {resources.isError && (
          <ErrorNotice
            error={resources.error}
            title={
              resources.data === undefined
                ? 'Its resources could not be loaded'
                : 'The lists below may be out of date'
            }
          />
        )}
        {/* A failed refresh keeps what was shown; only the notice above says it may be stale. */}
        {resources.data !== undefined && <Resources resources={resources.data} />}
      </div>
    </>
  );
}
