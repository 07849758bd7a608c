// Docker resources across every worker: containers, images, volumes and networks, each tagged with its worker.
import type { FastifyInstance } from 'fastify';

import { AppError } from '../../core/errors.js';
import type { Inventory } from '../../core/workers.js';
import type { MasterContext } from '../master-context.js';
import type { WorkerRegistry, WorkerView } from '../worker-registry.js';
import type { ContainerAnswerJson } from '../../contract/index.js';
import { findContainer } from './container-lookup.js';
import { containerDetailsJson } from './container-details-json.js';
import { ID_PARAMS, WORKER_FILTER } from './route-schemas.js';

const LISTS = ['containers', 'images', 'volumes', 'networks'] as const satisfies readonly (keyof Inventory)[];

interface WorkerFilter {
  Querystring: { worker_id?: string };
}

/**
 * The workers a request looks at: all of them, or the one ?worker_id= names. A filter naming no worker is the
 * caller's mistake (a typo would otherwise look like an empty host), hence invalid_argument rather than an empty list.
 */
export function selectWorkers(registry: WorkerRegistry, workerId: string | undefined): WorkerView[] {
  if (workerId === undefined) return registry.list();
  const worker = registry.get(workerId);
  if (!worker) {
    throw new AppError('invalid_argument', `worker_id "${workerId}" names no worker`, {
      details: { worker_id: workerId },
    });
  }
  return [worker];
}

/**
 * Registers the cross-worker lists, which answer from the workers' inventories, and one container's details, which
 * come from its worker.
 */
export function registerResourceRoutes(app: FastifyInstance, context: MasterContext): void {
  for (const list of LISTS) {
    app.get<WorkerFilter>(`/api/${list}`, { schema: { querystring: WORKER_FILTER } }, (request) => ({
      [list]: selectWorkers(context.registry, request.query.worker_id).flatMap((worker) =>
        context.registry.inventory(worker.id)[list].map((item) => ({
          ...item,
          worker_id: worker.id,
          worker_name: worker.name,
        })),
      ),
    }));
  }

  app.get<WorkerFilter & { Params: { id: string } }>(
    '/api/containers/:id',
    { schema: { params: ID_PARAMS, querystring: WORKER_FILTER } },
    async (request): Promise<ContainerAnswerJson> => {
      const candidates = selectWorkers(context.registry, request.query.worker_id).map((worker) => ({
        worker,
        containers: context.registry.inventory(worker.id).containers,
      }));
      const { worker, container } = findContainer(candidates, request.params.id);
      return {
        container: { ...container, worker_id: worker.id, worker_name: worker.name },
        details: containerDetailsJson(await inspectLive(context, worker, container.id)),
      };
    },
  );
}

/**
 * Details come from a live inspect on the worker rather than from its inventory: they are what the engine says
 * now. An offline worker cannot be asked, which is said (503) rather than answered with what it reported last.
 */
async function inspectLive(context: MasterContext, worker: WorkerView, containerId: string) {
  if (!worker.online) {
    throw new AppError(
      'unavailable',
      `worker "${worker.name}" is offline: a container's details are read from its engine, try again once it is back`,
      { details: { worker_id: worker.id, container_id: containerId } },
    );
  }
  return context.inspectContainer(worker.id, containerId);
}
