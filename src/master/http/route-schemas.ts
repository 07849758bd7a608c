// Schemas of the REST API's bodies, path and query parameters, checked before any handler acts: JSON schemas that
// fastify applies, zod schemas for the bodies. Each is held equal to its type in the API contract by a compile-time
// check, so the contract the CLI and the web UI read cannot drift from what the master accepts.
import { z } from 'zod';

import {
  CONFLICT_POLICIES,
  MIGRATION_MODES,
  MIGRATION_STRATEGIES,
  SOURCE_POLICIES,
  TRANSFER_COMPRESSIONS,
  TRANSFER_MODES,
  type MigrationListQuery,
  type MigrationRequestBody,
  type ReverseRequestBody,
} from '../../contract/index.js';
import { MAX_ROUNDS_RANGE } from '../../core/migration.js';

/** True only when each type is assignable to the other. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** True only for the same field names, each with the same type: a field added, dropped or retyped on one side fails. */
type SameFields<A, B> =
  Same<keyof A, keyof B> extends true
    ? false extends { [K in keyof A & keyof B]-?: Same<A[K], B[K]> }[keyof A & keyof B]
      ? false
      : true
    : false;

/** `:id` of a worker or container. */
export const ID_PARAMS = {
  type: 'object',
  properties: { id: { type: 'string', minLength: 1 } },
  required: ['id'],
} as const;

/** `?worker_id=` narrowing a cross-worker list or lookup to one worker. */
export const WORKER_FILTER = {
  type: 'object',
  properties: { worker_id: { type: 'string', minLength: 1 } },
} as const;

/** Most audit entries one page returns; the store caps at the same number. */
export const MAX_AUDIT_PAGE = 1000;
export const DEFAULT_AUDIT_PAGE = 100;

/** `?limit=&before=` of the audit log: a page size and the id to page back from. */
export const AUDIT_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: MAX_AUDIT_PAGE, default: DEFAULT_AUDIT_PAGE },
    before: { type: 'integer', minimum: 1 },
  },
} as const;

const names = z.array(z.string().min(1).max(256)).max(1000).default([]);

const bindRule = z.union([
  z.object({ path: z.string().startsWith('/', 'must be an absolute path') }).strict(),
  z.object({ skip: z.literal(true) }).strict(),
  // "/new/path" or "skip", as people write it.
  z.string().min(1),
]);

/**
 * A migration's mode. The CLI sends any word given to --mode, so the refusal of an unknown one names the modes that
 * run; `live` passes here and is refused by the plan, which says why (CRIU).
 */
const mode = z.enum(MIGRATION_MODES, {
  error: (issue) =>
    `${JSON.stringify(issue.input)} is not a mode: use "cold" or "warm" ("live" needs CRIU checkpointing)`,
});

/** Seconds a source container gets to exit on its stop signal (Docker's --stop-timeout), at most an hour. */
const stopTimeout = z.number().int().min(0).max(3600).optional();

/** The body of POST /api/migrations, as the product description names its fields. */
export const MIGRATION_BODY = z
  .object({
    source_worker_id: z.string().min(1),
    target_worker_id: z.string().min(1),
    container_ids: names,
    image_ids: names,
    volume_names: names,
    network_ids: names,
    compose_projects: names,
    mode: mode.default('cold'),
    strategy: z.enum(MIGRATION_STRATEGIES).default('full'),
    transfer_mode: z.enum(TRANSFER_MODES).default('auto'),
    compression: z.enum(TRANSFER_COMPRESSIONS).default('none'),
    conflict_policy: z.enum(CONFLICT_POLICIES).default('fail'),
    source_policy: z.enum(SOURCE_POLICIES).default('keep_stopped'),
    bind_mounts: z
      .record(z.string().startsWith('/', 'bind mount sources are absolute paths'), bindRule)
      .default({}),
    acknowledge: z
      .array(z.string().regex(/^[a-z_]{1,64}$/, 'finding codes are lower-case words'))
      .max(50)
      .default([]),
    downtime_budget: z.union([z.string(), z.number()]).optional(),
    max_rounds: z.number().int().min(MAX_ROUNDS_RANGE.min).max(MAX_ROUNDS_RANGE.max).optional(),
    stop_timeout: stopTimeout,
    dry_run: z.boolean().default(false),
  })
  .strict();

/** The body of POST /api/migrations/:id/reverse: what a move back may choose; the rest follows the migration. */
export const REVERSE_BODY = z
  .object({
    mode: mode.optional(),
    strategy: z.enum(MIGRATION_STRATEGIES).optional(),
    transfer_mode: z.enum(TRANSFER_MODES).optional(),
    compression: z.enum(TRANSFER_COMPRESSIONS).optional(),
    stop_timeout: stopTimeout,
    dry_run: z.boolean().default(false),
  })
  .strict();

/** `?limit=&before=&status=` of GET /api/migrations; `status` is a comma-separated list the route checks. */
export const LIST_QUERY = {
  type: 'object',
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    before: { type: 'string', minLength: 1 },
    status: { type: 'string', minLength: 1 },
  },
} as const;

/** The JSON schema's property names and value types, as a type (enough for the flat query objects above). */
type QueryOf<Schema extends { properties: Record<string, { type: string }> }> = {
  [Key in keyof Schema['properties']]?: Schema['properties'][Key]['type'] extends 'integer' ? number : string;
};

const _bodiesMatchContract: [
  SameFields<z.input<typeof MIGRATION_BODY>, MigrationRequestBody>,
  SameFields<z.input<typeof REVERSE_BODY>, ReverseRequestBody>,
  SameFields<QueryOf<typeof LIST_QUERY>, MigrationListQuery>,
] = [true, true, true];
