// A move back: the request that takes a completed migration's workload from its target back to its source, under
// the names it had there, reusing what the migration left on the source (see preflight's settleLeftover).
import { AppError } from './errors.js';
import type {
  MigrationMode,
  MigrationRecord,
  MigrationRequest,
  MigrationStrategy,
  TransferCompression,
  TransferMode,
} from './migration.js';
import { leftOnSource } from './migration-leftovers.js';

/** What a move back may choose; everything else follows the migration it reverses. */
export interface ReverseOptions {
  mode?: MigrationMode;
  strategy?: MigrationStrategy;
  transferMode?: TransferMode;
  compression?: TransferCompression;
  stopTimeoutSeconds?: number;
}

/**
 * The request that moves `migration`'s workload back: every container it moved (by the name it has on the target
 * now), the compose projects, volumes, networks and images it was asked for, from its target to its source. The
 * conflict policy is `fail`: what the migration left on the source is reused instead, and anything else under
 * those names is a conflict the user should see. Bind mounts map back the way they were mapped.
 */
export function reverseRequest(migration: MigrationRecord, options: ReverseOptions = {}): MigrationRequest {
  if (migration.status !== 'completed')
    throw new AppError(
      'conflict',
      `migration ${migration.id} ${migration.status === 'running' || migration.status === 'pending' ? 'has not ended yet' : `ended ${migration.status.replace('_', ' ')}`}: only a completed migration can be moved back`,
      { details: { status: migration.status } },
    );
  const { request } = migration;
  const moved = migration.plan.resources.filter((r) => r.action !== 'skip');
  const asked = (type: string): string[] =>
    moved.filter((r) => r.type === type && r.reason === 'requested').map((r) => r.targetName);
  const bindMounts: MigrationRequest['bindMounts'] = {};
  for (const [from, rule] of Object.entries(request.bindMounts))
    if ('path' in rule) bindMounts[rule.path] = { path: from };
  const mode = options.mode ?? request.mode;
  return {
    sourceWorkerId: request.targetWorkerId,
    targetWorkerId: request.sourceWorkerId,
    containers: moved.filter((r) => r.type === 'container').map((r) => r.targetName),
    // Images keep their id across workers; the id names the very image.
    images: moved.filter((r) => r.type === 'image' && r.reason === 'requested').map((r) => r.sourceId),
    volumes: asked('volume'),
    networks: asked('network'),
    composeProjects: request.composeProjects,
    mode,
    strategy: options.strategy ?? request.strategy,
    transferMode: options.transferMode ?? request.transferMode,
    compression: options.compression ?? request.compression ?? 'none',
    conflictPolicy: 'fail',
    sourcePolicy: request.sourcePolicy,
    bindMounts,
    acknowledge: request.acknowledge ?? [],
    ...(mode === 'warm' && request.downtimeBudgetMs !== undefined
      ? { downtimeBudgetMs: request.downtimeBudgetMs }
      : {}),
    ...(mode === 'warm' && request.maxRounds !== undefined ? { maxRounds: request.maxRounds } : {}),
    ...(options.stopTimeoutSeconds === undefined ? {} : { stopTimeoutSeconds: options.stopTimeoutSeconds }),
    reverse: {
      of: migration.id,
      leftovers: leftOnSource(migration).map(({ state: _state, ...leftover }) => leftover),
    },
  };
}
