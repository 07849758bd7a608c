// The master's Prometheus metrics, with the names of the product description; one registry per master.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface MasterMetrics {
  registry: Registry;
  transferBytes: Counter;
  transferDuration: Histogram;
  activeMigrations: Gauge;
  migrations: Counter<'status'>;
  connectedPeers: Gauge;
  dockerOperations: Counter<'operation' | 'outcome'>;
  httpRequests: Counter<'method' | 'route' | 'status'>;
}

/** Creates the metrics; `connectedPeers` reads the live count when scraped. */
export function createMasterMetrics(options: { onlineWorkers: () => number }): MasterMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'docker_migrate_process_' });
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
    connectedPeers: new Gauge({
      name: 'docker_migrate_connected_peers',
      help: 'Workers online (connected, heartbeats arriving).',
      registers: [registry],
      collect() {
        this.set(options.onlineWorkers());
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
  };
}
