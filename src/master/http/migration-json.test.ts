import { describe, expect, it } from 'vitest';
import type { MigrationRecord, PlannedResource } from '../../core/migration.js';
import { sampleMigration } from '../../core/testing/sample-resources.js';
import { migrationJson, resourceJson } from './migration-json.js';

function volume(extra: Partial<PlannedResource> = {}): PlannedResource {
  return {
    type: 'volume',
    name: 'data',
    sourceId: 'data',
    targetName: 'data',
    reason: 'dependency',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
    ...extra,
  };
}

const measuredAt = '2026-01-01T00:00:00.000Z';

describe('resourceJson', () => {
  it('says null, not 0, for a volume whose size could not be measured', () => {
    const json = resourceJson(
      volume({
        measured: { apparentBytes: null, allocatedBytes: null, files: null, method: 'unknown', measuredAt },
      }),
    );
    expect(json).toMatchObject({ estimated_bytes: null, total_bytes: 0, allocated_bytes: null });
  });

  it('gives a measured volume its apparent and allocated bytes, and a total never below the bytes moved', () => {
    const measured = {
      apparentBytes: 1024 ** 3,
      allocatedBytes: 4096,
      files: 1,
      method: 'walk' as const,
      measuredAt,
    };
    expect(resourceJson(volume({ estimatedBytes: 1024 ** 3, measured }))).toMatchObject({
      estimated_bytes: 1024 ** 3,
      total_bytes: 1024 ** 3,
      allocated_bytes: 4096,
    });
    const grown = resourceJson(volume({ estimatedBytes: 100, status: 'running', bytes: 250 }));
    expect(grown).toMatchObject({ bytes: 250, estimated_bytes: 100, total_bytes: 250 });
    expect(resourceJson(volume({ estimatedBytes: 100, status: 'skipped' })).total_bytes).toBe(0);
  });
});

describe('migrationJson', () => {
  it('never shows more bytes moved than the total, even for a record written with a smaller total', () => {
    const record = sampleMigration({
      status: 'running',
      phase: 'transfer',
      request: { containers: [], volumes: ['data'] },
      plan: { resources: [volume()], findings: [], totalBytes: 1_980_000 },
      progress: 0.99,
      bytesTransferred: 212_000_000,
      totalBytes: 1_980_000,
      completedAt: null,
    });
    expect(migrationJson(record)).toMatchObject({ bytes_transferred: 212_000_000, total_bytes: 212_000_000 });
  });

  it('shows the downtime broken into its phases and each copy round, in snake_case milliseconds', () => {
    const json = migrationJson(
      warmWith({
        downtime: { stopMs: 310, finalSyncMs: 820, applyMs: 40, startMs: 230, readyMs: null },
        rounds: [
          { round: 1, final: false, bytes: 1_073_741_824, durationMs: 4100, files: 2003 },
          { round: 2, final: true, bytes: 9_437_184, durationMs: 820, files: 5 },
        ],
      }),
    );
    expect(json.downtime_phases).toEqual({
      stop_ms: 310,
      final_sync_ms: 820,
      apply_ms: 40,
      start_ms: 230,
      ready_ms: null,
    });
    expect(json.rounds).toEqual([
      { round: 1, final: false, bytes: 1_073_741_824, duration_ms: 4100, files: 2003 },
      { round: 2, final: true, bytes: 9_437_184, duration_ms: 820, files: 5 },
    ]);
    expect(migrationJson(warmWith({ downtime: null, rounds: [] }))).toMatchObject({
      downtime_phases: null,
      rounds: [],
    });
  });
});

function warmWith(timing: MigrationRecord['timing']): MigrationRecord {
  return sampleMigration({ request: { mode: 'warm' }, downtimeMs: 1400, timing });
}
