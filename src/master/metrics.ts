// The master's Prometheus metrics, with the names of the product description; one registry per master.
// Process and runtime metrics keep prom-client's standard names (process_*, nodejs_*), which dashboards expect.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type { MigrationRecord } from '../core/migration.js';

export interface MasterMetrics {
  registry: Registry;
  transferBytes: Counter;
  transferDuration: Histogram;
  activeMigrations: Gauge;
  migrations: Counter<'status'>;
  downtime: Histogram<'mode'>;
  syncRounds: Histogram<'mode'>;
  syncRoundBytes: Histogram<'final'>;
  connectedPeers: Gauge;
  leader: Gauge;
  dockerOperations: Counter<'operation' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpRequestDuration: Histogram<'method' | 'route'>;
}

/**
 * prom-client's gauges that end in `_total`, which Prometheus reserves for counters (`promtool check metrics`
 * rejects them); `sum(nodejs_active_handles)` and the like give the same numbers.
 */
const GAUGES_NAMED_LIKE_COUNTERS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/** Creates the metrics; `connectedPeers` reads the live count when scraped. */
export function createMasterMetrics(options: {
  onlineWorkers: () => number;
  /** This master's epoch while it leads, else undefined (a standby). */
  leadingEpoch?: () => number | undefined;
}): MasterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
  return {
    registry,
    transferBytes: new Counter({
      name: 'docker_migrate_transfer_bytes_total',
      help: 'Bytes moved between workers by migrations.',
      registers: [registry],
    }),
    transferDuration: new Histogram({
      name: 'docker_migrate_transfer_duration_seconds',
      help: 'Duration of resource transfers.',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: [registry],
    }),
    activeMigrations: new Gauge({
      name: 'docker_migrate_active_migrations',
      help: 'Migrations currently running.',
      registers: [registry],
    }),
    migrations: new Counter({
      name: 'docker_migrate_migrations_total',
      help: 'Migrations finished, by final status.',
      labelNames: ['status'],
      registers: [registry],
    }),
    downtime: new Histogram({
      name: 'docker_migrate_downtime_seconds',
      help: 'Downtime of completed migrations that stopped a container: from the stop request until the target is ready.',
      labelNames: ['mode'],
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers: [registry],
    }),
    syncRounds: new Histogram({
      name: 'docker_migrate_sync_rounds',
      help: 'Copy rounds per completed migration that copied volumes (cold: 1; warm: the pre-copy rounds and the final one).',
      labelNames: ['mode'],
      buckets: [1, 2, 3, 4, 6, 8, 12, 16],
      registers: [registry],
    }),
    syncRoundBytes: new Histogram({
      name: 'docker_migrate_sync_round_bytes',
      help: 'Bytes sent per copy round of volumes; final="true" for the round made with the source stopped.',
      labelNames: ['final'],
      buckets: [1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11],
      registers: [registry],
    }),
    connectedPeers: new Gauge({
      name: 'docker_migrate_connected_peers',
      help: 'Workers online (connected, heartbeats arriving).',
      registers: [registry],
      collect() {
        this.set(options.onlineWorkers());
      },
    }),
    leader: new Gauge({
      name: 'docker_migrate_master_leader',
      help: 'Whether this master leads (1) or stands by (0); the epoch label names its term.',
      labelNames: ['epoch'],
      registers: [registry],
      collect() {
        this.reset();
        const epoch = options.leadingEpoch?.();
        this.set({ epoch: String(epoch ?? 0) }, epoch === undefined ? 0 : 1);
      },
    }),
    dockerOperations: new Counter({
      name: 'docker_migrate_docker_operations_total',
      help: 'Docker Engine API operations performed for migrations, by operation and outcome.',
      labelNames: ['operation', 'outcome'],
      registers: [registry],
    }),
    httpRequests: new Counter({
      name: 'docker_migrate_http_requests_total',
      help: 'HTTP requests served by the master, by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpRequestDuration: new Histogram({
      name: 'docker_migrate_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by route; event streams are left out, as they last while their client stays.',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
  };
}

/** Records a completed migration's downtime and copy rounds. */
export function observeMigrationTiming(metrics: MasterMetrics, migration: MigrationRecord): void {
  const mode = migration.request.mode;
  if (migration.downtimeMs !== null) metrics.downtime.observe({ mode }, migration.downtimeMs / 1000);
  const { rounds } = migration.timing;
  if (rounds.length === 0) return;
  metrics.syncRounds.observe({ mode }, rounds.length);
  for (const round of rounds) metrics.syncRoundBytes.observe({ final: String(round.final) }, round.bytes);
}
