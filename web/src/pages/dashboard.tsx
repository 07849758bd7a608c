// The dashboard: every worker with its state and counts, totals across them, and the migrations under way.
import { Link } from 'react-router';

import { ActiveMigrations } from '../components/worker-migrations';
import { WorkerCard } from '../components/worker-card';
import { WorkerTotals } from '../components/worker-totals';
import { EmptyState, ErrorNotice, LINK_CLASS, LinkButton, Loading, PageTitle } from '../components/ui';
import { useWorkers } from '../lib/worker-queries';

function NoWorkers() {
  return (
    <EmptyState title="No worker has enrolled yet.">
      <p>Each Docker host you want to move workloads between runs a worker that connects to this master.</p>
      <p className="mt-2">
        <Link to="/enroll" className={LINK_CLASS}>
          Enroll a worker
        </Link>
      </p>
    </EmptyState>
  );
}

export function DashboardPage() {
  const workers = useWorkers();
  const list = workers.data;

  if (list === undefined) {
    return (
      <>
        <PageTitle>Dashboard</PageTitle>
        {workers.isError ? (
          <ErrorNotice error={workers.error} title="Workers could not be loaded" />
        ) : (
          <Loading what="workers" />
        )}
      </>
    );
  }

  const sorted = [...list].sort(
    (a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name),
  );
  return (
    <>
      <PageTitle actions={list.length > 0 ? <LinkButton to="/enroll">Add a worker</LinkButton> : undefined}>
        Dashboard
      </PageTitle>
      <div className="space-y-4">
        {workers.isError && <ErrorNotice error={workers.error} title="This page may be out of date" />}
        {list.length === 0 ? (
          <NoWorkers />
        ) : (
          <>
            <WorkerTotals workers={list} />
            <ActiveMigrations />
            <section aria-label="Workers" className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
              {sorted.map((worker) => (
                <WorkerCard key={worker.id} worker={worker} />
              ))}
            </section>
          </>
        )}
      </div>
    </>
  );
}
