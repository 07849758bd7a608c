// The resources of a migration, one row each: what, under which name on the target, its status and bytes moved.
import type { ResourceJson } from '../../api/migration-types';
import { ResourceStatusBadge } from '../../components/migration-status-badge';
import { Cell, ProgressBar, Table } from '../../components/ui';
import { formatBytes, formatMovedOf } from '../../lib/format';

/** Whether a resource has bytes to show: images and volumes; containers and networks move as settings. */
function carriesBytes(resource: ResourceJson): boolean {
  return resource.type === 'image' || resource.type === 'volume';
}

/**
 * The total a resource's bytes are shown against: the master's figure, or (from an older master) its estimate
 * raised to the bytes moved; once done, what it moved. Never below the bytes moved.
 */
export function resourceTotal(resource: ResourceJson): number {
  if (resource.status === 'done') return resource.bytes;
  const total = resource.total_bytes ?? Math.max(resource.estimated_bytes ?? 0, resource.bytes);
  return Math.max(total, resource.bytes);
}

/**
 * Share done of one resource, or null when it gets no bar: a skipped resource moved nothing, so a full bar would
 * claim bytes that never travelled. Configuration-only ones are whole once done.
 */
export function resourceProgress(resource: ResourceJson): number | null {
  if (resource.status === 'skipped') return null;
  if (resource.status === 'done') return 1;
  const total = carriesBytes(resource) ? resourceTotal(resource) : 0;
  return total > 0 ? resource.bytes / total : 0;
}

/** Bytes of one resource in words: configuration only, bytes moved of its total, or what is not known. */
export function resourceBytesText(resource: ResourceJson): string {
  if (!carriesBytes(resource)) return 'configuration only';
  if (resource.status === 'skipped') return 'not moved: skipped';
  if (resource.status === 'done') return formatBytes(resource.bytes);
  if (resource.estimated_bytes === null && resource.bytes <= 0) return 'size unknown';
  const total = resourceTotal(resource);
  if (total > 0) return formatMovedOf(resource.bytes, total, ' / ');
  return resource.status === 'pending' ? 'size not known yet' : formatBytes(resource.bytes);
}

export function MigrationResources({ resources }: { resources: ResourceJson[] }) {
  if (resources.length === 0)
    return <p className="text-sm text-slate-600 dark:text-slate-400">No resources were planned.</p>;
  return (
    <Table caption="Resources" columns={['Type', 'Name', 'On the target', 'Status', 'Bytes']}>
      {resources.map((resource) => (
        <tr key={`${resource.type}:${resource.source_id}`}>
          <Cell>{resource.type}</Cell>
          <Cell className="break-all">{resource.name}</Cell>
          <Cell className="break-all">
            <span aria-hidden="true">→ </span>
            {resource.target_name}
            {resource.action !== 'create' && (
              <span className="text-xs text-slate-600 dark:text-slate-400"> ({resource.action})</span>
            )}
          </Cell>
          <Cell>
            <ResourceStatusBadge status={resource.status} />
          </Cell>
          <Cell className="w-48 space-y-1">
            <span className="block text-xs">{resourceBytesText(resource)}</span>
            {resourceProgress(resource) !== null && (
              <ProgressBar
                value={resourceProgress(resource) ?? 0}
                label={`${resource.type} ${resource.name}`}
              />
            )}
          </Cell>
        </tr>
      ))}
    </Table>
  );
}
