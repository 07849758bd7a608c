// The naming rules of the master's metrics, checked on its registry: no repeated prefix, counters and only counters
// end in `_total`, and every metric of our own namespace is named in the README.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMasterMetrics } from '../../src/master/metrics.js';
import { repeatedPrefix } from '../support/metric-names.js';

async function families(): Promise<{ name: string; type: string }[]> {
  const metrics = await createMasterMetrics({ onlineWorkers: () => 0 }).registry.getMetricsAsJSON();
  return metrics.map((m) => ({ name: m.name, type: String(m.type) }));
}

describe('repeatedPrefix', () => {
  it('finds a namespace said twice or after the start, and a segment said twice in a row', () => {
    expect(repeatedPrefix('docker_migrate_docker_migrate_transfers_total')).toMatch(/docker_migrate/);
    expect(repeatedPrefix('docker_migrate_process_process_cpu_seconds_total')).toMatch(/process/);
    expect(repeatedPrefix('process_process_cpu_seconds_total')).toMatch(/process/);
    expect(repeatedPrefix('nodejs_heap_heap_bytes')).toMatch(/"heap" is said twice/);
  });

  it('lets standard names and our own through', () => {
    for (const name of [
      'process_cpu_seconds_total',
      'nodejs_eventloop_lag_p99_seconds',
      'docker_migrate_docker_operations_total',
      'docker_migrate_http_request_duration_seconds',
    ]) {
      expect(repeatedPrefix(name)).toBeNull();
    }
  });
});

describe("the master's metric names", () => {
  it('repeat no prefix', async () => {
    const names = (await families()).map((f) => f.name);
    expect(names.map(repeatedPrefix).filter((why) => why !== null)).toEqual([]);
  });

  it('end in _total for counters and only for counters', async () => {
    const all = await families();
    expect(
      all.filter((f) => (f.type === 'counter') !== f.name.endsWith('_total')).map((f) => f.name),
    ).toEqual([]);
  });

  it('of our own namespace are each named in the README', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const ours = (await families()).map((f) => f.name).filter((name) => name.startsWith('docker_migrate_'));
    expect(ours.length).toBeGreaterThan(5);
    expect(ours.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });
});
