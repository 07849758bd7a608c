// One worker on the dashboard: online or not, what it runs, its free disk, when it last spoke.
import { Link } from 'react-router';

import type { WorkerJson } from '../api/worker-types';
import { formatBytes, plural } from '../lib/format';
import { Ago, Badge, LINK_CLASS, LinkButton } from './ui';
import { LabelList } from './worker-ui';

export function WorkerCard({ worker }: { worker: WorkerJson }) {
  const { counts } = worker;
  return (
    <article
      aria-label={`Worker ${worker.name}`}
      className="flex flex-col gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900"
    >
      <header className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <h2 className="text-base font-semibold break-words">
            <Link to={`/workers/${encodeURIComponent(worker.id)}`} className={LINK_CLASS}>
              {worker.name}
            </Link>
          </h2>
          <p className="text-xs break-words text-slate-500 dark:text-slate-400">
            {worker.hostname} · worker {worker.version} · Docker {worker.docker_version}
          </p>
        </div>
        <Badge tone={worker.online ? 'green' : 'red'}>{worker.online ? 'online' : 'offline'}</Badge>
      </header>
      <LabelList labels={worker.labels} />
      <ul className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
        <li>
          {plural(counts.containers, 'container')}{' '}
          <span className="text-slate-500 dark:text-slate-400">({counts.running_containers} running)</span>
        </li>
        <li>{plural(counts.images, 'image')}</li>
        <li>{plural(counts.volumes, 'volume')}</li>
        <li>{plural(counts.networks, 'network')}</li>
      </ul>
      <p className="text-sm">
        {worker.system === null
          ? 'free disk unknown'
          : `${formatBytes(worker.system.docker_root_free_bytes)} free disk`}
      </p>
      <p className="text-xs text-slate-500 dark:text-slate-400">
        {worker.online ? 'Heartbeat ' : 'Last seen '}
        <Ago at={worker.last_heartbeat} />
        {worker.active_tasks > 0 && ` · ${plural(worker.active_tasks, 'task')} running`}
      </p>
      {worker.online && (
        <div className="mt-auto">
          <LinkButton
            to={`/migrations/new?from=${encodeURIComponent(worker.id)}`}
            label={`Migrate from ${worker.name}`}
          >
            Migrate
          </LinkButton>
        </div>
      )}
    </article>
  );
}
