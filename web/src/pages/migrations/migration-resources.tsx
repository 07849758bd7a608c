// The resources of a migration, one row each: what, under which name on the target, its status and bytes moved.
import type { ResourceJson } from '../../api/migration-types';
import { ResourceStatusBadge } from '../../components/migration-status-badge';
import { ProgressBar } from '../../components/ui';
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
  if (resources.length === 0) return <p className="text-sm text-slate-500">No resources were planned.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[40rem] text-left text-sm">
        <thead className="text-xs text-slate-500 uppercase">
          <tr>
            <th scope="col" className="py-1 pr-3">
              Type
            </th>
            <th scope="col" className="py-1 pr-3">
              Name
            </th>
            <th scope="col" className="py-1 pr-3">
              On the target
            </th>
            <th scope="col" className="py-1 pr-3">
              Status
            </th>
            <th scope="col" className="w-48 py-1">
              Bytes
            </th>
          </tr>
        </thead>
        <tbody>
          {resources.map((resource) => (
            <tr
              key={`${resource.type}:${resource.source_id}`}
              className="border-t border-slate-100 dark:border-slate-800"
            >
              <td className="py-2 pr-3">{resource.type}</td>
              <td className="py-2 pr-3 break-all">{resource.name}</td>
              <td className="py-2 pr-3 break-all">
                <span aria-hidden="true">→ </span>
                {resource.target_name}
                {resource.action !== 'create' && (
                  <span className="text-xs text-slate-500"> ({resource.action})</span>
                )}
              </td>
              <td className="py-2 pr-3">
                <ResourceStatusBadge status={resource.status} />
              </td>
              <td className="space-y-1 py-2">
                <span className="block text-xs">{resourceBytesText(resource)}</span>
                <ProgressBar value={resourceProgress(resource)} label={`${resource.type} ${resource.name}`} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
