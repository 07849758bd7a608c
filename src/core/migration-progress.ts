// The figures a migration shows as "X of Y": bytes moved, bytes to move and the share done, worked out from its
// plan as it stands, so that what is shown as done never exceeds what is shown as the total.
import type { MigrationPlan, PlannedResource } from './migration.js';

/** Whether a resource's content travels: an image or a volume that is neither skipped nor created empty. */
export function movesBytes(resource: PlannedResource): boolean {
  return (
    (resource.type === 'image' || resource.type === 'volume') &&
    resource.action !== 'skip' &&
    resource.copyContent !== false
  );
}

/**
 * The bytes a resource counts for in the total. Once done, what it really moved (an image may send fewer bytes
 * than its size when the target has some of its layers); skipped, nothing; still to come or under way, its
 * estimate, raised to the bytes moved so far when the content grew past it.
 */
export function resourceTotalBytes(resource: PlannedResource): number {
  if (!movesBytes(resource) || resource.status === 'skipped') return 0;
  if (resource.status === 'done') return resource.bytes;
  return Math.max(resource.estimatedBytes, resource.bytes);
}

/** Bytes a resource has moved, as they count towards the migration's figure. */
export function resourceMovedBytes(resource: PlannedResource): number {
  return movesBytes(resource) && resource.status !== 'skipped' ? resource.bytes : 0;
}

export interface MigrationTotals {
  bytesTransferred: number;
  /** Never less than bytesTransferred. */
  totalBytes: number;
  /** 0..0.99: only the end of the migration makes it 1. */
  progress: number;
}

/** A migration's figures from its plan: moved so far, what moved plus what is left to move, and the share. */
export function planTotals(plan: MigrationPlan): MigrationTotals {
  let bytesTransferred = 0;
  let totalBytes = 0;
  for (const resource of plan.resources) {
    bytesTransferred += resourceMovedBytes(resource);
    totalBytes += resourceTotalBytes(resource);
  }
  totalBytes = Math.max(totalBytes, bytesTransferred);
  const progress = totalBytes > 0 ? Math.min(0.99, bytesTransferred / totalBytes) : 0;
  return { bytesTransferred, totalBytes, progress };
}
