// Finds one container across workers by id, name or id prefix, the way `docker inspect` resolves a reference.
import type { ContainerSummary } from '../../core/docker-resources.js';
import { AppError } from '../../core/errors.js';
import type { WorkerView } from '../worker-registry.js';

/** Shorter id prefixes are refused: on many hosts they would match by chance. */
export const MIN_ID_PREFIX = 12;

export interface WorkerContainers {
  worker: WorkerView;
  containers: ContainerSummary[];
}

export interface FoundContainer {
  worker: WorkerView;
  container: ContainerSummary;
}

/**
 * Resolves a reference in Docker's order (full id, then exact name, then an id prefix of at least 12 characters),
 * taking the first kind that matches anything. Container names are unique per engine only, so a name (or prefix)
 * matching on several workers is a `conflict` that names them: the caller narrows with ?worker_id=.
 */
export function findContainer(candidates: WorkerContainers[], reference: string): FoundContainer {
  const name = reference.replace(/^\//, '');
  const lower = reference.toLowerCase();
  const rules: ((container: ContainerSummary) => boolean)[] = [
    (container) => container.id === lower,
    (container) => container.name === name,
  ];
  if (/^[0-9a-f]+$/.test(lower) && lower.length >= MIN_ID_PREFIX) {
    rules.push((container) => container.id.startsWith(lower));
  }
  for (const rule of rules) {
    const matches = candidates.flatMap(({ worker, containers }) =>
      containers.filter(rule).map((container) => ({ worker, container })),
    );
    const [first] = matches;
    if (first === undefined) continue;
    if (matches.length === 1) return first;
    const where = matches.map(
      (match) => `${match.container.name} on ${match.worker.name} (${match.worker.id})`,
    );
    throw new AppError(
      'conflict',
      `"${reference}" matches ${matches.length} containers: ${where.join(', ')}; add ?worker_id= to choose one`,
      {
        details: {
          matches: matches.map((match) => ({
            container_id: match.container.id,
            worker_id: match.worker.id,
            worker_name: match.worker.name,
          })),
        },
      },
    );
  }
  throw new AppError('not_found', `no container "${reference}" on any worker`);
}
