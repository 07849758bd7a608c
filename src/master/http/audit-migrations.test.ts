// The audit log's words for migrations: names of workers and resources, a dry run's verdict, how a migration ended.
import { describe, expect, it } from 'vitest';

import { emptyTiming, type MigrationRecord, type PlannedResource } from '../../core/migration.js';
import {
  createMigrationEndWatch,
  dryRunVerdict,
  migrationEndEntry,
  migrationStartSummary,
} from './audit-migrations.js';

const NAMES: Record<string, string> = { 'w-000000000001': 'hosta', 'w-000000000002': 'hostb' };
const nameOf = (id: string): string => NAMES[id] ?? id;

function resource(overrides: Partial<PlannedResource>): PlannedResource {
  return {
    type: 'container',
    name: 'web',
    sourceId: 'c1',
    targetName: 'web',
    reason: 'requested',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
    ...overrides,
  };
}

function migration(overrides: Partial<MigrationRecord> = {}): MigrationRecord {
  return {
    id: 'm-0123456789ab',
    status: 'running',
    phase: 'transfer',
    request: {
      sourceWorkerId: 'w-000000000001',
      targetWorkerId: 'w-000000000002',
      containers: ['web'],
      images: [],
      volumes: ['data'],
      networks: [],
      composeProjects: [],
      mode: 'cold',
      strategy: 'full',
      transferMode: 'auto',
      conflictPolicy: 'fail',
      sourcePolicy: 'keep_stopped',
      bindMounts: {},
    },
    plan: {
      resources: [
        resource({ name: 'web' }),
        resource({ type: 'volume', name: 'data', sourceId: 'data', estimatedBytes: 3 * 2 ** 20 }),
        resource({ type: 'image', name: 'nginx:1.27', reason: 'dependency', estimatedBytes: 2 ** 20 }),
      ],
      findings: [],
      totalBytes: 4 * 2 ** 20,
    },
    progress: 0.5,
    bytesTransferred: 0,
    totalBytes: 4 * 2 ** 20,
    rateBytesPerSecond: 0,
    createdAt: '2026-01-02T03:04:05.000Z',
    startedAt: '2026-01-02T03:04:05.000Z',
    completedAt: null,
    downtimeMs: null,
    timing: emptyTiming(),
    error: null,
    cancelRequested: false,
    state: {},
    ...overrides,
  } as MigrationRecord;
}

describe('migration audit summaries', () => {
  it('names what was asked for, the source and target workers, mode and strategy', () => {
    const { request, plan } = migration();
    expect(migrationStartSummary(request, plan, nameOf)).toBe('web, data from hosta to hostb: cold, full');
  });

  it('counts the names past three and names compose projects', () => {
    const base = migration();
    const request = { ...base.request, composeProjects: ['shop'], containers: ['a', 'b', 'c'], volumes: [] };
    expect(migrationStartSummary(request, null, nameOf)).toBe(
      'compose shop, a, b (+1) from hosta to hostb: cold, full',
    );
  });

  it('says what a dry run would move, or what blocks it', () => {
    const { plan } = migration();
    expect(dryRunVerdict({ plan, findings: [], blocked: false })).toBe('would move 3 resources (4.0 MiB)');
    const conflict = { severity: 'error', code: 'name_conflict', message: 'web exists' } as const;
    const warning = { severity: 'warning', code: 'stop_signal_ignored', message: 'shell' } as const;
    expect(dryRunVerdict({ plan, findings: [conflict, warning, conflict], blocked: true })).toBe(
      'blocked: name_conflict',
    );
  });

  it('records how a migration ended, with its downtime, as an entry of the master', () => {
    const entry = migrationEndEntry(
      migration({ status: 'rolled_back', downtimeMs: 3250, error: 'the target engine refused' }),
      nameOf,
      new Date('2026-01-02T03:05:00.000Z'),
    );
    expect(entry).toMatchObject({
      actor: 'master',
      action: 'migration.ended',
      target: 'm-0123456789ab',
      outcome: 'error',
      summary: 'rolled back: web, data from hosta to hostb, downtime 3.3 s',
      details: {
        source_worker_id: 'w-000000000001',
        target_worker: 'hostb',
        status: 'rolled_back',
        downtime_ms: 3250,
        error: 'the target engine refused',
      },
    });
    expect(migrationEndEntry(migration({ status: 'cancelled' }), nameOf, new Date()).outcome).toBe('ok');
  });
});

describe('migration end watch', () => {
  it('announces each migration once, when one seen unfinished finishes', () => {
    const ended: string[] = [];
    const watch = createMigrationEndWatch((m) => ended.push(`${m.id} ${m.status}`));
    watch.updated(migration({ id: 'm-1', status: 'running' }));
    watch.updated(migration({ id: 'm-2', status: 'completed' }));
    watch.updated(migration({ id: 'm-1', status: 'completed' }));
    watch.updated(migration({ id: 'm-1', status: 'completed' }));
    expect(ended).toEqual(['m-1 completed']);
  });
});
