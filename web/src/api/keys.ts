// Query keys, in one place, so that live events invalidate exactly what the pages show.
import type { MigrationRequestBody, MigrationStatus } from './migration-types';

export const keys = {
  session: ['session'] as const,
  /** GET /api/workers, and under it each worker's own GET /api/workers/:id. */
  workers: ['workers'] as const,
  worker: (id: string) => ['workers', id] as const,
  resources: (workerId: string) => ['resources', workerId] as const,
  /** One container's details (GET /api/containers/:id): under its worker's resources, so inventory events refresh it. */
  container: (workerId: string, containerId: string) =>
    ['resources', workerId, 'container', containerId] as const,
  /** Every list of migrations sits under it; one migration sits under it too, at ['migrations', 'one', id]. */
  migrations: ['migrations'] as const,
  migration: (id: string) => ['migrations', 'one', id] as const,
  /** The dashboard's pending and running migrations. */
  activeMigrations: ['migrations', 'active'] as const,
  /** The history, per status filter ('' for all). */
  history: (status: MigrationStatus | '') => ['migrations', 'history', status] as const,
  /** The preflight of one request: outside ['migrations'], so that live events never run it again. */
  dryRun: (body: MigrationRequestBody | null) => ['migration-dry-run', body] as const,
  audit: ['audit'] as const,
  enrollment: ['enrollment'] as const,
};
