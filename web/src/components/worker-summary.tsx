// What the master knows of one worker besides its resources: liveness, versions, address, host figures.
import type { ReactNode } from 'react';

import type { WorkerJson } from '../api/worker-types';
import { formatBytes, formatDateTime, plural } from '../lib/format';
import { Ago, Badge, Card } from './ui';
import { LabelList } from './worker-ui';

function Item({ term, children }: { term: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className="text-xs text-slate-500 dark:text-slate-400">{term}</dt>
      <dd className="break-words">{children}</dd>
    </div>
  );
}

function memory(worker: WorkerJson): string {
  if (worker.system === null) return '—';
  return `${formatBytes(worker.system.memory_used_bytes)} of ${formatBytes(worker.system.memory_total_bytes)}`;
}

export function WorkerSummary({ worker }: { worker: WorkerJson }) {
  const system = worker.system;
  return (
    <Card>
      <dl className="grid grid-cols-2 gap-x-4 gap-y-3 text-sm sm:grid-cols-3 lg:grid-cols-4">
        <Item term="State">
          <Badge tone={worker.online ? 'green' : 'red'}>{worker.online ? 'online' : 'offline'}</Badge>
          {worker.active_tasks > 0 && (
            <span className="ml-1">
              <Badge tone="sky">{plural(worker.active_tasks, 'task')} running</Badge>
            </span>
          )}
        </Item>
        <Item term={worker.online ? 'Last heartbeat' : 'Last seen'}>
          <Ago at={worker.last_heartbeat} />
        </Item>
        <Item term="Host name">{worker.hostname}</Item>
        <Item term="Worker version">{worker.version}</Item>
        <Item term="Docker version">{worker.docker_version}</Item>
        <Item term="Address">
          <span className="font-mono text-xs">{worker.grpc_address === '' ? '—' : worker.grpc_address}</span>
        </Item>
        <Item term="Enrolled">{formatDateTime(worker.enrolled_at)}</Item>
        <Item term="CPU">
          {system === null ? '—' : `${plural(system.cpus, 'core')}, ${Math.round(system.cpu_percent)} % busy`}
        </Item>
        <Item term="Memory used">{memory(worker)}</Item>
        <Item term="Free disk (Docker root)">{formatBytes(system?.docker_root_free_bytes)}</Item>
      </dl>
      {Object.keys(worker.labels).length > 0 && (
        <div className="mt-3">
          <LabelList labels={worker.labels} />
        </div>
      )}
    </Card>
  );
}
