// Migration routes: start (or dry-run) a migration, list them newest first, show one with its events, cancel.
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';

import type {
  DryRunJson,
  MigrationAnswerJson,
  MigrationListJson,
  MigrationListQuery,
} from '../../contract/index.js';
import { MIGRATION_STATUSES, type MigrationStatus } from '../../contract/index.js';
import { AppError } from '../../core/errors.js';
import { DOWNTIME_BUDGET_RANGE_MS, type MigrationRequest } from '../../core/migration.js';
import { parseDuration } from '../../platform/duration.js';
import type { MasterContext } from '../master-context.js';
import type { AuditHook } from './audit-hook.js';
import {
  dryRunVerdict,
  migrationAuditDetails,
  migrationStartSummary,
  whatWhere,
  workerRoute,
  type WorkerNameOf,
} from './audit-migrations.js';
import { findingJson, migrationJson, planJson } from './migration-json.js';
import { ID_PARAMS, LIST_QUERY, MIGRATION_BODY, REVERSE_BODY } from './route-schemas.js';

/** A body checked against its schema, or invalid_argument naming each field that is wrong. */
function parsed<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: issue.path.join('.'),
    message: issue.message,
  }));
  throw new AppError(
    'invalid_argument',
    `invalid ${what}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`,
    { details: { issues } },
  );
}

/** `downtime_budget` as milliseconds: "2s", "500ms" or a number of milliseconds, within the allowed range. */
function downtimeBudgetMs(value: string | number): number {
  const ms = parseDuration(value);
  const { min, max } = DOWNTIME_BUDGET_RANGE_MS;
  if (ms < min || ms > max)
    throw new AppError(
      'invalid_argument',
      `downtime_budget must be between ${String(min)} ms and ${String(max / 60_000)} min, not ${String(ms)} ms`,
    );
  return ms;
}

/** What a migration body asks for, read before it is checked: its action and "source → target" as written. */
function requestedWay(body: unknown): { action: string; target: string; summary: string } {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const worker = (value: unknown): string => (typeof value === 'string' ? value.slice(0, 64) : '?');
  const target = `${worker(fields.source_worker_id)} → ${worker(fields.target_worker_id)}`;
  return {
    action: fields.dry_run === true ? 'migration.dry_run' : 'migration.start',
    target,
    summary: `refused request from ${target}`,
  };
}

/** A worker by id or by name; `not_found` names what was asked for. */
function workerId(context: MasterContext, ref: string, role: string): string {
  const worker = context.registry.get(ref) ?? context.registry.findByName(ref);
  if (!worker) throw new AppError('not_found', `${role} worker "${ref}" not found`);
  return worker.id;
}

function parseBody(context: MasterContext, body: unknown): { request: MigrationRequest; dryRun: boolean } {
  const value = parsed(MIGRATION_BODY, body, 'migration request');
  if (value.mode !== 'warm' && (value.downtime_budget !== undefined || value.max_rounds !== undefined))
    throw new AppError(
      'invalid_argument',
      `downtime_budget and max_rounds apply to warm migrations only; this one is "${value.mode}"`,
    );
  const bindMounts: MigrationRequest['bindMounts'] = {};
  for (const [path, rule] of Object.entries(value.bind_mounts)) {
    if (typeof rule !== 'string') bindMounts[path] = rule;
    else if (rule === 'skip') bindMounts[path] = { skip: true };
    else if (rule.startsWith('/')) bindMounts[path] = { path: rule };
    else throw new AppError('invalid_argument', `bind_mounts["${path}"] must be an absolute path or "skip"`);
  }
  return {
    dryRun: value.dry_run,
    request: {
      sourceWorkerId: workerId(context, value.source_worker_id, 'source'),
      targetWorkerId: workerId(context, value.target_worker_id, 'target'),
      containers: value.container_ids,
      images: value.image_ids,
      volumes: value.volume_names,
      networks: value.network_ids,
      composeProjects: value.compose_projects,
      mode: value.mode,
      strategy: value.strategy,
      transferMode: value.transfer_mode,
      compression: value.compression,
      conflictPolicy: value.conflict_policy,
      sourcePolicy: value.source_policy,
      bindMounts,
      acknowledge: value.acknowledge,
      ...(value.downtime_budget === undefined
        ? {}
        : { downtimeBudgetMs: downtimeBudgetMs(value.downtime_budget) }),
      ...(value.max_rounds === undefined ? {} : { maxRounds: value.max_rounds }),
      ...(value.stop_timeout === undefined ? {} : { stopTimeoutSeconds: value.stop_timeout }),
    },
  };
}

export function registerMigrationRoutes(
  app: FastifyInstance,
  context: MasterContext,
  audit: Pick<AuditHook, 'describe'>,
): void {
  const nameOf: WorkerNameOf = (id) => context.registry.get(id)?.name ?? id;

  const dryRunAnswer = async (
    migrationRequest: MigrationRequest,
  ): Promise<Awaited<ReturnType<typeof context.migrations.dryRun>> & { json: DryRunJson }> => {
    const answer = await context.migrations.dryRun(migrationRequest);
    return {
      ...answer,
      json: {
        dry_run: true,
        plan: planJson(answer.plan),
        findings: answer.findings.map(findingJson),
        blocked: answer.blocked,
      },
    };
  };

  app.post('/api/migrations', async (request, reply) => {
    // A body refused before it names known workers is still a start or a dry run, on the way it asked for.
    audit.describe(request, requestedWay(request.body));
    const { request: migrationRequest, dryRun } = parseBody(context, request.body);
    const action = dryRun ? 'migration.dry_run' : 'migration.start';
    // Until there is a migration (a dry run, a refused start), the target is the way it would go.
    const target = workerRoute(migrationRequest, nameOf);
    audit.describe(request, {
      action,
      target,
      summary: migrationStartSummary(migrationRequest, null, nameOf),
      details: migrationAuditDetails(migrationRequest, null, nameOf),
    });
    if (dryRun) {
      const answer = await dryRunAnswer(migrationRequest);
      audit.describe(request, {
        action,
        target,
        summary: `${migrationStartSummary(migrationRequest, answer.plan, nameOf)} — ${dryRunVerdict(answer)}`,
        details: migrationAuditDetails(migrationRequest, answer.plan, nameOf),
      });
      return reply.code(200).send(answer.json);
    }
    const migration = await context.migrations.start(migrationRequest);
    audit.describe(request, {
      action,
      target: migration.id,
      summary: migrationStartSummary(migration.request, migration.plan, nameOf),
      details: migrationAuditDetails(migration.request, migration.plan, nameOf),
    });
    return reply.code(201).send({ migration: migrationJson(migration) } satisfies MigrationAnswerJson);
  });

  app.post<{ Params: { id: string } }>(
    '/api/migrations/:id/reverse',
    { schema: { params: ID_PARAMS } },
    async (request, reply) => {
      const body = parsed(REVERSE_BODY, request.body, 'move back request');
      const options = {
        ...(body.mode === undefined ? {} : { mode: body.mode }),
        ...(body.strategy === undefined ? {} : { strategy: body.strategy }),
        ...(body.transfer_mode === undefined ? {} : { transferMode: body.transfer_mode }),
        ...(body.compression === undefined ? {} : { compression: body.compression }),
        ...(body.stop_timeout === undefined ? {} : { stopTimeoutSeconds: body.stop_timeout }),
      };
      const of = request.params.id;
      const action = body.dry_run ? 'migration.reverse_dry_run' : 'migration.reverse';
      audit.describe(request, {
        action,
        target: of,
        summary: `move back of ${of}`,
        details: { reverse_of: of },
      });
      if (body.dry_run) {
        const reverseRequest = await context.migrations.reverseRequest(of, options);
        const answer = await dryRunAnswer(reverseRequest);
        audit.describe(request, {
          action,
          target: of,
          summary: `move back of ${of}: ${migrationStartSummary(reverseRequest, answer.plan, nameOf)} — ${dryRunVerdict(answer)}`,
          details: { ...migrationAuditDetails(reverseRequest, answer.plan, nameOf), reverse_of: of },
        });
        return reply.code(200).send(answer.json);
      }
      const migration = await context.migrations.reverse(of, options);
      audit.describe(request, {
        action,
        target: migration.id,
        summary: `move back of ${of}: ${migrationStartSummary(migration.request, migration.plan, nameOf)}`,
        details: { ...migrationAuditDetails(migration.request, migration.plan, nameOf), reverse_of: of },
      });
      return reply.code(201).send({ migration: migrationJson(migration) } satisfies MigrationAnswerJson);
    },
  );

  app.get<{ Querystring: MigrationListQuery & { limit: number } }>(
    '/api/migrations',
    { schema: { querystring: LIST_QUERY } },
    async (request): Promise<MigrationListJson> => {
      const { limit, before, status } = request.query;
      const statuses = status?.split(',').map((s) => s.trim());
      for (const s of statuses ?? [])
        if (!(MIGRATION_STATUSES as readonly string[]).includes(s))
          throw new AppError(
            'invalid_argument',
            `unknown status "${s}" (one of ${MIGRATION_STATUSES.join(', ')})`,
          );
      const list = await context.migrations.list({
        limit,
        ...(before === undefined ? {} : { before }),
        ...(statuses ? { status: statuses as MigrationStatus[] } : {}),
      });
      return {
        migrations: list.map((migration) => migrationJson(migration)),
        next_before: list.length === limit ? (list[list.length - 1]?.id ?? null) : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/migrations/:id',
    { schema: { params: ID_PARAMS } },
    async (request): Promise<MigrationAnswerJson> => {
      const { migration, events } = await context.migrations.get(request.params.id);
      return { migration: migrationJson(migration, events) };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/migrations/:id/cancel',
    { schema: { params: ID_PARAMS } },
    async (request): Promise<MigrationAnswerJson> => {
      const { id } = request.params;
      audit.describe(request, { action: 'migration.cancel', target: id, summary: `cancel of ${id}` });
      const migration = await context.migrations.cancel(id);
      audit.describe(request, {
        action: 'migration.cancel',
        target: migration.id,
        summary: `cancel of ${whatWhere(migration.request, migration.plan, nameOf)}`,
        details: migrationAuditDetails(migration.request, migration.plan, nameOf),
      });
      return { migration: migrationJson(migration) };
    },
  );
}
