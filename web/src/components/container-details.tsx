// A container's details as its worker's engine tells them now: command, restart policy, health, mounts, ports,
// networks, environment (secret values hidden by the master) and labels. Shown under the container's row.
import type { ReactNode } from 'react';

import type { ContainerDetailsJson } from '../api/worker-types';
import { formatDateTime, plural, shortId } from '../lib/format';
import { useContainerDetails } from '../lib/worker-queries';
import { Badge, ErrorNotice, Loading } from './ui';
import { LabelList } from './worker-ui';

const MUTED = 'text-slate-600 dark:text-slate-400';

function Term({ name, children }: { name: string; children: ReactNode }) {
  return (
    <div className="min-w-0">
      <dt className={`text-xs uppercase ${MUTED}`}>{name}</dt>
      <dd className="mt-0.5 break-words">{children}</dd>
    </div>
  );
}

function None() {
  return <span className={MUTED}>—</span>;
}

/** A list of lines, or a dash when there are none. */
function Lines({ items, mono = true }: { items: readonly ReactNode[]; mono?: boolean }) {
  if (items.length === 0) return <None />;
  return (
    <ul className={mono ? 'font-mono text-xs' : ''}>
      {items.map((item, index) => (
        <li key={index}>{item}</li>
      ))}
    </ul>
  );
}

/** "on-failure (at most 3 retries)", "unless-stopped", "no". */
export function restartPolicyText(policy: ContainerDetailsJson['restart_policy']): string {
  if (policy.name === 'on-failure' && policy.maximum_retry_count > 0) {
    return `on-failure (at most ${plural(policy.maximum_retry_count, 'retry', 'retries')})`;
  }
  return policy.name;
}

function hostAddress(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}

function portText(port: ContainerDetailsJson['ports'][number]): string {
  const host = port.host_ip === '' ? '' : `${hostAddress(port.host_ip)}:`;
  const hostPort = port.host_port === null ? '(chosen at start)' : String(port.host_port);
  return `${host}${hostPort}→${port.container_port}/${port.protocol}`;
}

function mountText(mount: ContainerDetailsJson['mounts'][number]): string {
  const from = mount.volume_name ?? (mount.source === '' ? mount.type : mount.source);
  return `${mount.type} ${from} → ${mount.destination}${mount.read_only ? ' (read-only)' : ''}`;
}

function Health({ health }: { health: ContainerDetailsJson['health'] }) {
  if (health === null) return <span className={MUTED}>no healthcheck</span>;
  const tone = health.status === 'healthy' ? 'green' : health.status === 'unhealthy' ? 'red' : 'amber';
  return (
    <div>
      <Badge tone={tone}>{health.status}</Badge>
      {health.failing_streak > 0 && (
        <span className="ml-2">{plural(health.failing_streak, 'failed check')} in a row</span>
      )}
      {health.last_output !== null && (
        <pre className="mt-1 font-mono text-xs whitespace-pre-wrap" aria-label="Last check output">
          {health.last_output === '' ? '(no output)' : health.last_output}
        </pre>
      )}
    </div>
  );
}

/** What the master answered, laid out as terms. */
export function ContainerDetailsView({ details }: { details: ContainerDetailsJson }) {
  const command = [...details.entrypoint, ...details.command].join(' ');
  return (
    <dl className="grid gap-3 text-sm sm:grid-cols-2 lg:grid-cols-3">
      <Term name="Image">
        <span className="font-mono text-xs">{details.image}</span>{' '}
        <span className={`font-mono text-xs ${MUTED}`}>{shortId(details.image_id)}</span>
      </Term>
      <Term name="Command">
        {command === '' ? <None /> : <code className="font-mono text-xs">{command}</code>}
      </Term>
      <Term name="Restart policy">
        {restartPolicyText(details.restart_policy)}
        {details.restart_count > 0 && `, restarted ${plural(details.restart_count, 'time')}`}
      </Term>
      <Term name="Created">{formatDateTime(details.created_at)}</Term>
      <Term name="Started">{formatDateTime(details.started_at)}</Term>
      <Term name="Health">
        <Health health={details.health} />
      </Term>
      <Term name="Mounts">
        <Lines items={details.mounts.map(mountText)} />
      </Term>
      <Term name="Published ports">
        <Lines items={details.ports.map(portText)} />
      </Term>
      <Term name="Networks">
        <Lines
          items={details.networks.map((network) =>
            [network.name, network.ip_address, network.ipv6_address]
              .filter((part) => part !== null)
              .join(' '),
          )}
        />
      </Term>
      <Term name="Environment">
        <Lines
          items={details.env.map((variable) =>
            variable.redacted ? (
              <>
                {variable.name}= <Badge>hidden</Badge>
              </>
            ) : variable.value === null ? (
              variable.name
            ) : (
              `${variable.name}=${variable.value}`
            ),
          )}
        />
      </Term>
      <Term name="Labels">
        {Object.keys(details.labels).length === 0 ? <None /> : <LabelList labels={details.labels} />}
      </Term>
    </dl>
  );
}

/** The details of one container, asked of the master when shown (the master asks the worker's engine). */
export function ContainerDetails({ workerId, containerId }: { workerId: string; containerId: string }) {
  const details = useContainerDetails(workerId, containerId);
  if (details.isPending) return <Loading what="container details" />;
  if (details.isError)
    return <ErrorNotice error={details.error} title="Cannot show this container’s details" />;
  return <ContainerDetailsView details={details.data} />;
}
