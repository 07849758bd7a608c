// Audit entries of migrations, as a person reads them: who moved what where, with names (ids stay in details),
// a dry run's verdict, and how the migration ended.
import type { Clock } from '../core/clock.js';
import type { MigrationPlan, MigrationRecord, MigrationRequest } from '../core/migration.js';
import type { MasterStore } from '../core/ports.js';
import type { NewAuditEntry } from '../core/workers.js';
import type { Logger } from '../platform/logger.js';
import type { WorkerRegistry } from './worker-registry.js';

/** A worker's name for an id, or undefined for one the master no longer knows (removed). */
export type WorkerNames = (workerId: string) => string | undefined;

/** How many names a summary spells out before it counts the rest ("web, data (+2)"). */
const NAMED_IN_SUMMARY = 2;
/** How many names of each kind the details keep: a request may name up to a thousand. */
const NAMED_IN_DETAILS = 50;

/** What the fields of a migration's audit entries are made of, taken from its request (and plan, once planned). */
export interface MigrationAuditSubject {
  request: MigrationRequest;
  plan?: MigrationPlan;
  migrationId?: string;
}

/** "web, data (+2)": the first names and a count of the others; "nothing named" when there are none. */
export function shortList(names: readonly string[], shown = NAMED_IN_SUMMARY): string {
  if (names.length === 0) return 'nothing named';
  const rest = names.length - shown;
  return `${names.slice(0, shown).join(', ')}${rest > 0 ? ` (+${String(rest)})` : ''}`;
}

/** What the request names, in the order a person thinks of it: containers and projects first. */
function requestedNames(request: MigrationRequest): string[] {
  return [
    ...request.containers,
    ...request.composeProjects.map((project) => `project ${project}`),
    ...request.volumes,
    ...request.networks,
    ...request.images,
  ];
}

function workerName(names: WorkerNames, id: string): string {
  return names(id) ?? id;
}

/** "web, data (+2) from hosta to hostb: cold, full". */
export function migrationLine(subject: MigrationAuditSubject, names: WorkerNames): string {
  const { request } = subject;
  return `${shortList(requestedNames(request))} from ${workerName(names, request.sourceWorkerId)} to ${workerName(names, request.targetWorkerId)}: ${request.mode}, ${request.strategy}`;
}

/** "hosta → hostb": the target column of an entry that has no migration id (a dry run, a refused start). */
export function route(request: MigrationRequest, names: WorkerNames): string {
  return `${workerName(names, request.sourceWorkerId)} → ${workerName(names, request.targetWorkerId)}`;
}

function capped(values: readonly string[]): string[] | { first: string[]; count: number } {
  return values.length <= NAMED_IN_DETAILS
    ? [...values]
    : { first: values.slice(0, NAMED_IN_DETAILS), count: values.length };
}

/** The ids, names and options of a migration's entry; only the kinds of resources it names. */
export function migrationDetails(
  subject: MigrationAuditSubject,
  names: WorkerNames,
): Record<string, unknown> {
  const { request } = subject;
  const resources: Record<string, unknown> = {};
  for (const [kind, values] of [
    ['containers', request.containers],
    ['compose_projects', request.composeProjects],
    ['volumes', request.volumes],
    ['networks', request.networks],
    ['images', request.images],
  ] as const)
    if (values.length > 0) resources[kind] = capped(values);
  return {
    ...(subject.migrationId === undefined ? {} : { migration_id: subject.migrationId }),
    source: workerName(names, request.sourceWorkerId),
    source_worker_id: request.sourceWorkerId,
    target: workerName(names, request.targetWorkerId),
    target_worker_id: request.targetWorkerId,
    resources,
    mode: request.mode,
    strategy: request.strategy,
    ...(subject.plan === undefined ? {} : { planned_resources: subject.plan.resources.length }),
  };
}

/** A dry run's verdict: "blocked: <the first problem> (+n)" or "would move 3 (skip 1)". */
export function dryRunVerdict(answer: {
  plan: MigrationPlan;
  findings: { severity: string; message: string }[];
  blocked: boolean;
}): string {
  if (answer.blocked) {
    const problems = answer.findings.filter((finding) => finding.severity === 'error').map((f) => f.message);
    return `blocked: ${shortList(problems, 1)}`;
  }
  const skipped = answer.plan.resources.filter((resource) => resource.action === 'skip').length;
  const moving = answer.plan.resources.length - skipped;
  return `would move ${String(moving)}${skipped > 0 ? ` (skip ${String(skipped)})` : ''}`;
}

/** "3.2 s", "2 min 5 s": a downtime as a person reads it. */
export function formatDowntime(ms: number): string {
  if (ms < 1000) return `${String(Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${String(Math.floor(seconds / 60))} min ${String(seconds % 60)} s`;
}

const ENDED_AS: Record<'completed' | 'failed' | 'cancelled' | 'rolled_back', string> = {
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
  rolled_back: 'rolled back',
};

/**
 * The entry written when a migration ends: its outcome and downtime, under the same target (the migration id)
 * as the row that started it. A user's cancel is an outcome the user asked for, so it reads `ok`.
 */
export function migrationEndedEntry(
  migration: MigrationRecord,
  names: WorkerNames,
  at: string,
): NewAuditEntry {
  const status =
    migration.status === 'pending' || migration.status === 'running' ? 'failed' : migration.status;
  const downtime =
    migration.downtimeMs === null ? 'no downtime' : `downtime ${formatDowntime(migration.downtimeMs)}`;
  const error = migration.error === null || status === 'completed' ? '' : ` — ${migration.error}`;
  return {
    at,
    actor: 'master',
    action: 'migration.ended',
    target: migration.id,
    outcome: status === 'completed' || status === 'cancelled' ? 'ok' : 'error',
    status: 0,
    summary: `${ENDED_AS[status]}, ${downtime}: ${migrationLine(migration, names)}${error}`,
    details: {
      ...migrationDetails({ ...migration, migrationId: migration.id }, names),
      status: migration.status,
      downtime_ms: migration.downtimeMs,
      bytes_transferred: migration.bytesTransferred,
      ...(migration.error === null ? {} : { error: migration.error }),
    },
    remoteAddress: null,
  };
}

/**
 * What the recorder calls when a migration ends: appends its `migration.ended` row. A failure to write it is
 * logged and swallowed, so that the audit log can never fail a migration.
 */
export function auditMigrationEnd(options: {
  store: Pick<MasterStore, 'appendAudit'>;
  registry: Pick<WorkerRegistry, 'get'>;
  clock: Clock;
  logger: Logger;
}): (migration: MigrationRecord) => Promise<void> {
  const names: WorkerNames = (id) => options.registry.get(id)?.name;
  return async (migration) => {
    await options.store
      .appendAudit(migrationEndedEntry(migration, names, options.clock.now().toISOString()))
      .catch((error: unknown) => {
        options.logger.warn({ err: error, migrationId: migration.id }, 'cannot audit the end of a migration');
      });
  };
}
