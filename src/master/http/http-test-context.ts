// Test fixtures of the REST API: a MasterContext over a real registry and an in-memory SQLite store, sample
// workers and inventories, and a logger whose lines the test can read.
import { Writable } from 'node:stream';

import type { WorkerRecord } from '../../core/workers.js';
import { createLogger, type Logger } from '../../platform/logger.js';
import { hashToken } from '../../platform/secrets.js';
import type { EnrollmentInfo, MasterContext } from '../master-context.js';
import { CommandDispatcher } from '../command-dispatcher.js';
import { EventLog } from '../event-log.js';
import { createMasterMetrics } from '../metrics.js';
import { MigrationService } from '../migration-service.js';
import { PairingCodes } from '../pairing-codes.js';
import { createReleaseDownloads } from '../release-downloads.js';
import { createSessionManager } from '../sessions.js';
import { openSqliteMasterStore, type SqlMasterStore } from '../store/sql-master-store.js';
import { WorkerRegistry } from '../worker-registry.js';

// The REST tests' names for the shared samples.
export {
  sampleContainer as container,
  sampleInventory,
  sampleWorker as workerRecord,
} from '../../core/testing/sample-resources.js';

export const ADMIN_TOKEN = 'dm-admin-0123456789abcdef';

export const ENROLLMENT: EnrollmentInfo = {
  token: 'dm-enroll-first',
  caHash: 'sha256:0f0e0d0c',
  masterUrl: 'master.example.internal:7443',
  joinCommand: 'docker-migrate worker join master.example.internal:7443 --token dm-enroll-first',
};

export interface TestContext {
  context: MasterContext;
  store: SqlMasterStore;
  registry: WorkerRegistry;
  /** The live event log, writing (as a leading master's). */
  events: EventLog;
  logger: Logger;
  /** Every log line written so far, parsed. */
  logLines(): Record<string, unknown>[];
  /** Every log line written so far, as text (to look for leaked secrets). */
  logText(): string;
}

/** A context whose collaborators are real (registry, store, metrics) and whose token handling is a stand-in. */
export async function createTestContext(overrides: Partial<MasterContext> = {}): Promise<TestContext> {
  const store = await openSqliteMasterStore({ path: ':memory:' });
  const registry = await WorkerRegistry.load({ store, workerTimeoutMs: 30_000 });
  const metrics = createMasterMetrics({ onlineWorkers: () => registry.onlineCount() });
  let enrollment = ENROLLMENT;
  const pairing = new PairingCodes(store);
  let generation = 1;
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json', destination });
  const gateway = new CommandDispatcher(registry);
  const migrations = new MigrationService({
    store,
    registry,
    gateway,
    // Never used to sign here: these tests start no transfer.
    caKeyPem: '',
    logger,
    metrics,
  });
  const sessions = createSessionManager({
    store,
    logger,
    ttlMs: 3600_000,
    adminTokenHash: () => Promise.resolve(hashToken(ADMIN_TOKEN)),
  });
  const events = new EventLog({ store, source: registry, logger });
  await events.start({ mode: 'write' });
  const context: MasterContext = {
    registry,
    events,
    sessions,
    store,
    metrics,
    migrations,
    subscribeMigrations: (listener) => migrations.subscribe(listener),
    leadership: () => ({ leader: true, epoch: 1 }),
    enrollment: () => enrollment,
    regenerateEnrollmentToken: () => {
      generation += 1;
      const token = `dm-enroll-${generation}`;
      enrollment = { ...ENROLLMENT, token, joinCommand: `docker-migrate worker join x --token ${token}` };
      return Promise.resolve(enrollment);
    },
    checkAdminToken: (token) => Promise.resolve(token === ADMIN_TOKEN),
    ready: () => true,
    version: '0.1.0-test',
    createPairingCode: async () => {
      const created = await pairing.create(600_000);
      return { ...created, joinCommand: `docker-migrate worker --master-url m:9090 --token ${created.code}` };
    },
    releases: createReleaseDownloads(undefined),
    installScript: undefined,
    inspectContainer: (workerId, ref) => gateway.run(workerId, 'container.inspect', { ref }),
    ...overrides,
  };
  const logText = (): string => chunks.join('');
  return {
    context,
    store,
    registry,
    events,
    logger,
    logText,
    logLines: () =>
      logText()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** Persists a worker and tells the registry, as the enrollment service does. */
export async function enrollWorker(test: TestContext, record: WorkerRecord): Promise<WorkerRecord> {
  await test.store.insertWorker(record);
  test.registry.enrolled(record);
  return record;
}
