// The resources of a migration, one row each: what, under which name on the target, its status and bytes moved.
import type { ResourceJson } from '../../api/migration-types';
import { ResourceStatusBadge } from '../../components/migration-status-badge';
import { Cell, ProgressBar, Table } from '../../components/ui';
import { formatBytes } from '../../lib/format';

/** Share done of one resource; configuration-only ones (no bytes expected) are whole once done. */
function resourceProgress(resource: ResourceJson): number {
  if (resource.status === 'done' || resource.status === 'skipped') return 1;
  if (resource.estimated_bytes <= 0) return 0;
  return resource.bytes / resource.estimated_bytes;
}

/**
 * Bytes of one resource in words. Containers and networks move as settings only; a volume's size is often not
 * known beforehand (the Engine does not measure volumes cheaply), so its bytes so far stand alone.
 */
export function resourceBytesText(resource: ResourceJson): string {
  if (resource.type === 'container' || resource.type === 'network') return 'configuration only';
  if (resource.estimated_bytes > 0 && resource.bytes <= resource.estimated_bytes) {
    return `${formatBytes(resource.bytes)} / ${formatBytes(resource.estimated_bytes)}`;
  }
  if (resource.bytes > 0) return formatBytes(resource.bytes);
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
            <ProgressBar value={resourceProgress(resource)} label={`${resource.type} ${resource.name}`} />
          </Cell>
        </tr>
      ))}
    </Table>
  );
}
