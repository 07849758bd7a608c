// The master's metrics: standard process and runtime names, and what a finished migration records.
import { describe, expect, it } from 'vitest';

import { sampleMigration } from '../core/testing/sample-resources.js';
import { createMasterMetrics, observeMigrationTiming } from './metrics.js';

describe('createMasterMetrics', () => {
  it('exposes process and runtime metrics under their standard names, without our prefix', async () => {
    const text = await createMasterMetrics({ onlineWorkers: () => 0 }).registry.metrics();
    expect(text).toContain('# TYPE process_cpu_seconds_total counter');
    expect(text).toContain('# TYPE process_resident_memory_bytes gauge');
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge');
    expect(text).toContain('# TYPE nodejs_heap_size_used_bytes gauge');
    expect(text).not.toMatch(/^docker_migrate_(process|nodejs)_/m);
  });

  it('names no gauge as a counter (the `_total` suffix is for counters)', async () => {
    const metrics = await createMasterMetrics({ onlineWorkers: () => 0 }).registry.getMetricsAsJSON();
    const misnamed = metrics.filter((m) => m.name.endsWith('_total') && String(m.type) !== 'counter');
    expect(misnamed.map((m) => m.name)).toEqual([]);
    const counters = metrics.filter((m) => String(m.type) === 'counter');
    expect(counters.filter((m) => !m.name.endsWith('_total')).map((m) => m.name)).toEqual([]);
  });
});

describe('observeMigrationTiming', () => {
  it('counts the downtime in seconds by mode, the rounds, and the bytes of each round', async () => {
    const metrics = createMasterMetrics({ onlineWorkers: () => 0 });
    observeMigrationTiming(
      metrics,
      sampleMigration({
        request: { mode: 'warm' },
        downtimeMs: 1500,
        timing: {
          downtime: { stopMs: 300, finalSyncMs: 700, applyMs: 100, startMs: 250, readyMs: 150 },
          rounds: [
            { round: 1, final: false, bytes: 5e8, durationMs: 4000, files: 2000 },
            { round: 2, final: false, bytes: 2e7, durationMs: 400, files: 12 },
            { round: 3, final: true, bytes: 3e6, durationMs: 700, files: 4 },
          ],
        },
      }),
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('docker_migrate_downtime_seconds_sum{mode="warm"} 1.5');
    expect(text).toContain('docker_migrate_downtime_seconds_count{mode="warm"} 1');
    expect(text).toContain('docker_migrate_sync_rounds_sum{mode="warm"} 3');
    expect(text).toContain('docker_migrate_sync_round_bytes_count{final="false"} 2');
    expect(text).toContain('docker_migrate_sync_round_bytes_sum{final="true"} 3000000');
  });

  it('records nothing for a migration that stopped nothing and copied no volume', async () => {
    const metrics = createMasterMetrics({ onlineWorkers: () => 0 });
    observeMigrationTiming(metrics, sampleMigration({ request: { mode: 'warm' } }));
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('docker_migrate_downtime_seconds_count{');
    expect(text).not.toContain('docker_migrate_sync_rounds_count{');
  });
});
