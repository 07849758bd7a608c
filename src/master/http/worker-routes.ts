// Worker routes: list, show, remove, and one worker's Docker resources as it last reported them.
import type { FastifyInstance } from 'fastify';

import type { WorkerAnswerJson, WorkerListJson, WorkerResourcesJson } from '../../contract/index.js';
import type { MasterContext } from '../master-context.js';
import { workerJson } from './api-json.js';
import { ID_PARAMS } from './route-schemas.js';

/** Registers /api/workers routes; removal revokes the worker (its certificate stops working) and is audited. */
export function registerWorkerRoutes(app: FastifyInstance, context: MasterContext): void {
  const { registry } = context;

  app.get('/api/workers', (): WorkerListJson => ({ workers: registry.list().map(workerJson) }));

  app.get<{ Params: { id: string } }>(
    '/api/workers/:id',
    { schema: { params: ID_PARAMS } },
    (request): WorkerAnswerJson => ({
      worker: workerJson(registry.require(request.params.id)),
    }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/workers/:id',
    { schema: { params: ID_PARAMS } },
    async (request) => {
      await registry.remove(request.params.id);
      return { removed: true, worker_id: request.params.id };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/workers/:id/resources',
    { schema: { params: ID_PARAMS } },
    (request): WorkerResourcesJson => {
      const worker = registry.require(request.params.id);
      const inventory = registry.inventory(worker.id);
      return {
        worker_id: worker.id,
        containers: inventory.containers,
        images: inventory.images,
        volumes: inventory.volumes,
        networks: inventory.networks,
      };
    },
  );
}
