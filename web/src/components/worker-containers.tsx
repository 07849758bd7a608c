// The containers of one worker: name, state and health, image, published ports, a way to migrate each, and each
// one's details (mounts, restart policy, health, env…) under its row on demand.
import { useId, useState } from 'react';
import { Link } from 'react-router';

import type { ContainerState, ContainerSummary, Marked } from '../api/worker-types';
import { containerHealth, formatPorts, type Health } from '../lib/worker-resources';
import { ContainerDetails } from './container-details';
import { Badge, Cell, LINK_CLASS, LinkButton, Table, type Tone } from './ui';
import { ResourceSection } from './worker-ui';

const STATE_TONES: Record<ContainerState, Tone> = {
  running: 'green',
  created: 'sky',
  paused: 'amber',
  restarting: 'amber',
  removing: 'amber',
  exited: 'slate',
  dead: 'red',
};

const HEALTH_TONES: Record<Health, Tone> = { healthy: 'green', unhealthy: 'red', starting: 'amber' };

function HealthBadge({ status }: { status: string }) {
  const health = containerHealth(status);
  if (health === undefined) return <span className="text-slate-600 dark:text-slate-400">—</span>;
  return <Badge tone={HEALTH_TONES[health]}>{health}</Badge>;
}

function Ports({ container }: { container: ContainerSummary }) {
  const ports = formatPorts(container.ports);
  if (ports.length === 0) return <span className="text-slate-600 dark:text-slate-400">—</span>;
  return (
    <ul>
      {ports.map((port) => (
        <li key={port} className="font-mono text-xs whitespace-nowrap">
          {port}
        </li>
      ))}
    </ul>
  );
}

/** The wizard, with this worker as the source and the container already ticked. */
export function migrateContainerPath(workerId: string, containerId: string): string {
  return `/migrations/new?${new URLSearchParams({ from: workerId, container: containerId }).toString()}`;
}

const COLUMNS = ['Name', 'State', 'Health', 'Image', 'Ports', 'Actions'];

/** A container's row, and under it, once opened, its details as the worker's engine tells them. */
function ContainerRow({ workerId, container }: { workerId: string; container: Marked<ContainerSummary> }) {
  const [open, setOpen] = useState(false);
  const detailsId = useId();
  return (
    <>
      <tr>
        <Cell className="min-w-32 wrap-anywhere">
          <span className="font-medium">{container.name}</span>
          {container.migrated_to && (
            <div className="mt-0.5 text-xs text-slate-600 dark:text-slate-400">
              migrated to {container.migrated_to.worker_name ?? container.migrated_to.worker_id} by{' '}
              <Link className={LINK_CLASS} to={`/migrations/${container.migrated_to.migration_id}`}>
                {container.migrated_to.migration_id}
              </Link>
              , {container.migrated_to.state}
            </div>
          )}
          <button
            type="button"
            className={`${LINK_CLASS} mt-0.5 block text-xs`}
            aria-expanded={open}
            aria-controls={detailsId}
            aria-label={`${open ? 'Hide' : 'Show'} details of ${container.name}`}
            onClick={() => {
              setOpen(!open);
            }}
          >
            {open ? 'Hide details' : 'Details'}
          </button>
        </Cell>
        <Cell>
          <Badge tone={STATE_TONES[container.state]}>{container.state}</Badge>
          <div className="mt-0.5 text-xs text-slate-600 dark:text-slate-400">{container.status}</div>
        </Cell>
        <Cell>
          <HealthBadge status={container.status} />
        </Cell>
        <Cell className="font-mono text-xs break-all">{container.image}</Cell>
        <Cell>
          <Ports container={container} />
        </Cell>
        <Cell>
          <LinkButton to={migrateContainerPath(workerId, container.id)} label={`Migrate ${container.name}`}>
            Migrate
          </LinkButton>
        </Cell>
      </tr>
      {open && (
        <tr id={detailsId} aria-label={`Details of ${container.name}`}>
          <td colSpan={COLUMNS.length} className="bg-slate-50 px-3 py-3 dark:bg-slate-900">
            <ContainerDetails workerId={workerId} containerId={container.id} />
          </td>
        </tr>
      )}
    </>
  );
}

export function WorkerContainers({
  workerId,
  containers,
  shown,
  filter,
}: {
  workerId: string;
  containers: readonly ContainerSummary[];
  /** Those the filter lets through; a container a migration left here carries where it went. */
  shown: readonly Marked<ContainerSummary>[];
  filter: string;
}) {
  return (
    <ResourceSection
      title="Containers"
      total={containers.length}
      shown={shown.length}
      filter={filter}
      empty={{
        title: 'No containers on this worker.',
        hint: (
          <>
            Start one with <code>docker run</code> on the host — it appears here by itself.
          </>
        ),
      }}
    >
      <Table caption="Containers" columns={COLUMNS}>
        {shown.map((container) => (
          <ContainerRow key={container.id} workerId={workerId} container={container} />
        ))}
      </Table>
    </ResourceSection>
  );
}
