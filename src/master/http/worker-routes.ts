// Worker routes: list, show, remove, and one worker's Docker resources as it last reported them.
import type { FastifyInstance } from 'fastify';

import type {
  MigratedToJson,
  WorkerAnswerJson,
  WorkerListJson,
  WorkerResourcesJson,
} from '../../contract/index.js';
import type { ResourceType } from '../../core/migration.js';
import type { MasterContext } from '../master-context.js';
import { workerJson } from './api-json.js';
import { ID_PARAMS } from './route-schemas.js';

/** Registers /api/workers routes; removal revokes the worker (its certificate stops working) and is audited. */
export function registerWorkerRoutes(app: FastifyInstance, context: MasterContext): void {
  app.get('/api/workers', (): WorkerListJson => ({ workers: context.registry.list().map(workerJson) }));

  app.get<{ Params: { id: string } }>(
    '/api/workers/:id',
    { schema: { params: ID_PARAMS } },
    (request): WorkerAnswerJson => ({
      worker: workerJson(context.registry.require(request.params.id)),
    }),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/workers/:id',
    { schema: { params: ID_PARAMS } },
    async (request) => {
      await context.registry.remove(request.params.id);
      return { removed: true, worker_id: request.params.id };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/workers/:id/resources',
    { schema: { params: ID_PARAMS } },
    async (request): Promise<WorkerResourcesJson> => {
      const worker = context.registry.require(request.params.id);
      const inventory = context.registry.inventory(worker.id);
      // What a completed migration left here is marked with where it went ("migrated to hostb by m-…").
      const marks = await context.migrations.leftoversOn(worker.id);
      const marked =
        <T extends object>(type: ResourceType, key: (item: T) => string) =>
        (item: T): T & { migrated_to?: MigratedToJson } => {
          const mark = marks.get(`${type}:${key(item)}`);
          return mark
            ? {
                ...item,
                migrated_to: {
                  migration_id: mark.migrationId,
                  worker_id: mark.targetWorkerId,
                  worker_name: context.registry.get(mark.targetWorkerId)?.name ?? null,
                  name: mark.movedAs,
                  state: mark.state,
                },
              }
            : item;
        };
      return {
        worker_id: worker.id,
        containers: inventory.containers.map(marked('container', (c) => c.id)),
        images: inventory.images.map(marked('image', (i) => i.id)),
        volumes: inventory.volumes.map(marked('volume', (v) => v.name)),
        networks: inventory.networks.map(marked('network', (n) => n.id)),
      };
    },
  );
}
