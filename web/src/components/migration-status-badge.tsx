// A migration's (or one of its resources') status as a coloured badge with words, never colour alone.
import type { MigrationStatus, ResourceStatus } from '../api/migration-types';
import { RESOURCE_STATUS_TONES, STATUS_LABELS, STATUS_TONES } from '../lib/migration-status';
import { Badge } from './ui';

export function MigrationStatusBadge({ status }: { status: MigrationStatus }) {
  return <Badge tone={STATUS_TONES[status]}>{STATUS_LABELS[status]}</Badge>;
}

export function ResourceStatusBadge({ status }: { status: ResourceStatus }) {
  return <Badge tone={RESOURCE_STATUS_TONES[status]}>{status.replaceAll('_', ' ')}</Badge>;
}
