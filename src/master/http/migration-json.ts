// The REST API's JSON (snake_case) for migrations, their plans, findings and events: the contract's types, built
// from the domain's records field by field.
import type {
  DowntimePhasesJson,
  FindingJson,
  LeftOnSourceJson,
  MigrationEventJson,
  MigrationJson,
  PlanJson,
  ResourceJson,
} from '../../contract/index.js';
import type {
  DowntimeBreakdown,
  Finding,
  MigrationEvent,
  MigrationPlan,
  MigrationRecord,
  PlannedResource,
} from '../../core/migration.js';
import { DEFAULT_DOWNTIME_BUDGET_MS, DEFAULT_MAX_ROUNDS } from '../../core/migration.js';
import { leftOnSource } from '../../core/migration-leftovers.js';
import { resourceTotalBytes } from '../../core/migration-progress.js';

export function findingJson(finding: Finding): FindingJson {
  return {
    severity: finding.severity,
    code: finding.code,
    message: finding.message,
    ...(finding.resource ? { resource: finding.resource } : {}),
    ...(finding.details ? { details: finding.details } : {}),
  };
}

export function resourceJson(resource: PlannedResource): ResourceJson {
  return {
    type: resource.type,
    name: resource.name,
    source_id: resource.sourceId,
    target_name: resource.targetName,
    reason: resource.reason,
    action: resource.action,
    status: resource.status,
    bytes: resource.bytes,
    estimated_bytes: resource.measured?.apparentBytes === null ? null : resource.estimatedBytes,
    total_bytes: resourceTotalBytes(resource),
    ...(resource.measured ? { allocated_bytes: resource.measured.allocatedBytes } : {}),
    ...(resource.targetTags ? { target_tags: resource.targetTags } : {}),
    ...(resource.copyContent === false ? { copy_content: false } : {}),
  };
}

export function planJson(plan: MigrationPlan): PlanJson {
  return {
    resources: plan.resources.map(resourceJson),
    total_bytes: plan.totalBytes,
    findings: plan.findings.map(findingJson),
  };
}

export function migrationEventJson(event: MigrationEvent): MigrationEventJson {
  return {
    id: event.id,
    at: event.at,
    level: event.level,
    phase: event.phase,
    message: event.message,
    ...(event.resource ? { resource: event.resource } : {}),
  };
}

/** The downtime's phases in milliseconds (null: not reached), or null when nothing was stopped. */
function downtimePhasesJson(downtime: DowntimeBreakdown | null): DowntimePhasesJson | null {
  if (!downtime) return null;
  return {
    stop_ms: downtime.stopMs,
    final_sync_ms: downtime.finalSyncMs,
    apply_ms: downtime.applyMs,
    start_ms: downtime.startMs,
    ready_ms: downtime.readyMs,
  };
}

/** A migration as the API shows it; `events` only on the single-migration answer. */
export function migrationJson(migration: MigrationRecord, events?: MigrationEvent[]): MigrationJson {
  const { request } = migration;
  return {
    id: migration.id,
    status: migration.status,
    phase: migration.phase,
    progress: migration.progress,
    bytes_transferred: migration.bytesTransferred,
    // Records written before totals followed the bytes moved may hold a total below them.
    total_bytes: Math.max(migration.totalBytes, migration.bytesTransferred),
    rate_bytes_per_s: migration.rateBytesPerSecond,
    created_at: migration.createdAt,
    started_at: migration.startedAt,
    completed_at: migration.completedAt,
    downtime_ms: migration.downtimeMs,
    downtime_phases: downtimePhasesJson(migration.timing.downtime),
    rounds: migration.timing.rounds.map((r) => ({
      round: r.round,
      final: r.final,
      bytes: r.bytes,
      duration_ms: r.durationMs,
      files: r.files,
    })),
    error: migration.error,
    cancel_requested: migration.cancelRequested,
    source_worker_id: request.sourceWorkerId,
    target_worker_id: request.targetWorkerId,
    mode: request.mode,
    strategy: request.strategy,
    transfer_mode: request.transferMode,
    compression: request.compression ?? 'none',
    conflict_policy: request.conflictPolicy,
    source_policy: request.sourcePolicy,
    acknowledge: request.acknowledge ?? [],
    ...(request.mode === 'warm'
      ? {
          downtime_budget_ms: request.downtimeBudgetMs ?? DEFAULT_DOWNTIME_BUDGET_MS,
          max_rounds: request.maxRounds ?? DEFAULT_MAX_ROUNDS,
        }
      : {}),
    switched_over_at: migration.state.switchedOverAt ?? null,
    // When the first source container was asked to stop: while downtime_ms is null, the downtime so far runs from it.
    downtime_started_at:
      migration.state.downtimeStartedAt === undefined
        ? null
        : new Date(migration.state.downtimeStartedAt).toISOString(),
    left_on_source: leftOnSource(migration).map((left): LeftOnSourceJson => ({
      type: left.type,
      name: left.name,
      source_id: left.id,
      state: left.state,
    })),
    reverse_of: request.reverse?.of ?? null,
    reversed_by: migration.state.reversedBy ?? null,
    resources: migration.plan.resources.map(resourceJson),
    findings: migration.plan.findings.map(findingJson),
    ...(events ? { events: events.map(migrationEventJson) } : {}),
  };
}
