// What the audit log says about migrations: who moved what where, a dry run's verdict, a cancel, a move back, and
// how each migration ended — one line with names for a person, the ids in the details.
import {
  isFinished,
  type Finding,
  type MigrationPlan,
  type MigrationRecord,
  type MigrationRequest,
  type MigrationStatus,
} from '../../core/migration.js';
import { formatBytes } from '../../core/preflight.js';
import type { NewAuditEntry } from '../../core/workers.js';
import { plural } from '../../core/plural.js';

/** Names shown in a summary before the rest are counted ("web, data, cache (+2)"). */
const NAMES_SHOWN = 3;

/** A worker's name by id, or the id itself for one the master no longer knows. */
export type WorkerNameOf = (workerId: string) => string;

/** What a person asked to move, by name: the requested resources as the plan names them, and compose projects. */
function requestedNames(request: MigrationRequest, plan: MigrationPlan | null): string[] {
  const planned = plan?.resources.filter((resource) => resource.reason === 'requested').map((r) => r.name);
  const asked = planned ?? [
    ...request.containers,
    ...request.images,
    ...request.volumes,
    ...request.networks,
  ];
  return [...request.composeProjects.map((project) => `compose ${project}`), ...asked];
}

function namesLine(names: readonly string[]): string {
  if (names.length === 0) return 'nothing';
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return names.length > NAMES_SHOWN ? `${shown} (+${String(names.length - NAMES_SHOWN)})` : shown;
}

/** "web, data from hosta to hostb" */
export function whatWhere(
  request: MigrationRequest,
  plan: MigrationPlan | null,
  nameOf: WorkerNameOf,
): string {
  return `${namesLine(requestedNames(request, plan))} from ${nameOf(request.sourceWorkerId)} to ${nameOf(request.targetWorkerId)}`;
}

/** "hosta → hostb": the target of an entry that names no migration yet (a dry run, a refused start). */
export function workerRoute(request: MigrationRequest, nameOf: WorkerNameOf): string {
  return `${nameOf(request.sourceWorkerId)} → ${nameOf(request.targetWorkerId)}`;
}

/** The ids and choices behind a summary, for the entry's details. */
export function migrationAuditDetails(
  request: MigrationRequest,
  plan: MigrationPlan | null,
  nameOf: WorkerNameOf,
): Record<string, unknown> {
  return {
    source_worker: nameOf(request.sourceWorkerId),
    source_worker_id: request.sourceWorkerId,
    target_worker: nameOf(request.targetWorkerId),
    target_worker_id: request.targetWorkerId,
    resources: requestedNames(request, plan),
    mode: request.mode,
    strategy: request.strategy,
  };
}

/** "web, data from hosta to hostb: cold, full" — a migration as it starts. */
export function migrationStartSummary(
  request: MigrationRequest,
  plan: MigrationPlan | null,
  nameOf: WorkerNameOf,
): string {
  return `${whatWhere(request, plan, nameOf)}: ${request.mode}, ${request.strategy}`;
}

/** A dry run's verdict: "blocked: name_conflict, port_in_use" or "would move 3 resources (1.5 MiB)". */
export function dryRunVerdict(answer: {
  plan: MigrationPlan;
  findings: readonly Finding[];
  blocked: boolean;
}): string {
  if (answer.blocked) {
    const codes = answer.findings
      .filter((finding) => finding.severity === 'error')
      .map((finding) => finding.code);
    return codes.length > 0 ? `blocked: ${[...new Set(codes)].join(', ')}` : 'blocked';
  }
  const moving = answer.plan.resources.filter((resource) => resource.action !== 'skip').length;
  const bytes = answer.plan.totalBytes > 0 ? ` (${formatBytes(answer.plan.totalBytes)})` : '';
  return `would move ${plural(moving, 'resource')}${bytes}`;
}

const ENDED_AS: Record<MigrationStatus, string> = {
  pending: 'pending',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  rolled_back: 'rolled back',
};

/** "completed: web from hosta to hostb, downtime 3.2 s" */
export function migrationEndSummary(migration: MigrationRecord, nameOf: WorkerNameOf): string {
  const downtime =
    migration.downtimeMs === null ? '' : `, downtime ${(migration.downtimeMs / 1000).toFixed(1)} s`;
  return `${ENDED_AS[migration.status]}: ${whatWhere(migration.request, migration.plan, nameOf)}${downtime}`;
}

/**
 * The entry written when a migration ends. The master writes it (actor "master"), beside the entry of the call that
 * started it; a user's cancel counts as ok, a rollback or failure as an error. Status 0: no HTTP call answered it.
 */
export function migrationEndEntry(migration: MigrationRecord, nameOf: WorkerNameOf, at: Date): NewAuditEntry {
  return {
    at: at.toISOString(),
    actor: 'master',
    action: 'migration.ended',
    target: migration.id,
    outcome: migration.status === 'completed' || migration.status === 'cancelled' ? 'ok' : 'error',
    status: 0,
    details: {
      ...migrationAuditDetails(migration.request, migration.plan, nameOf),
      status: migration.status,
      downtime_ms: migration.downtimeMs,
      ...(migration.error === null ? {} : { error: migration.error }),
    },
    remoteAddress: null,
    summary: migrationEndSummary(migration, nameOf),
  };
}

/**
 * Watches migrations change and calls `ended` once for each one seen running that has just finished. A migration
 * already finished when first seen (a record changed later, e.g. marked as moved back) is not announced again.
 */
export function createMigrationEndWatch(ended: (migration: MigrationRecord) => void): {
  updated(migration: MigrationRecord): void;
} {
  const unfinished = new Set<string>();
  return {
    updated(migration) {
      if (!isFinished(migration.status)) unfinished.add(migration.id);
      else if (unfinished.delete(migration.id)) ended(migration);
    },
  };
}
