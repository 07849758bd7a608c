// The ready-made Grafana dashboard (deploy/grafana-dashboard.json) imports cleanly and asks only for metrics the
// master registers and the README documents; names are read from the master's registry, not from a list here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMasterMetrics } from '../../src/master/metrics.js';
import { dashboardQueries, metricNamesOf, readDashboard } from '../support/grafana-dashboard.js';
import { seriesNames, type MetricFamily } from '../support/metric-names.js';

const DATASOURCE = { type: 'prometheus', uid: '${DS_PROMETHEUS}' };

async function registeredFamilies(): Promise<MetricFamily[]> {
  const metrics = await createMasterMetrics({ onlineWorkers: () => 0 }).registry.getMetricsAsJSON();
  return metrics.map((m) => ({ name: m.name, type: String(m.type) }));
}

/** Every value under a `datasource` key anywhere in the JSON, but Grafana's own annotation source. */
function datasources(node: unknown): unknown[] {
  if (Array.isArray(node)) return node.flatMap(datasources);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Record<string, unknown>).flatMap(([key, value]) =>
    key === 'datasource'
      ? (value as { type?: string }).type === 'grafana'
        ? []
        : [value]
      : datasources(value),
  );
}

describe('deploy/grafana-dashboard.json', () => {
  const dashboard = readDashboard();
  const queries = dashboardQueries(dashboard);

  it('asks for a Prometheus data source on import and uses it in every panel, target and variable', () => {
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    const used = datasources(dashboard);
    expect(used.length).toBeGreaterThan(queries.length);
    expect(used.filter((d) => JSON.stringify(d) !== JSON.stringify(DATASOURCE))).toEqual([]);
  });

  it('uses only metrics the master registers', async () => {
    const registered = seriesNames(await registeredFamilies());
    const unknown = queries.flatMap(({ where, expr }) =>
      [...metricNamesOf(expr)].filter((name) => !registered.has(name)).map((name) => `${where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    expect(queries.every(({ expr }) => metricNamesOf(expr).size > 0)).toBe(true);
  });

  it('uses only metrics the README documents', async () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const families = await registeredFamilies();
    const familyOf = (series: string): string =>
      families.find((f) => seriesNames([f]).has(series))?.name ?? series;
    const used = new Set(queries.flatMap(({ expr }) => [...metricNamesOf(expr)].map(familyOf)));
    expect([...used].filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
  });

  it('shows migrations, downtime, throughput, workers, HTTP rate and latency, CPU, memory and event loop lag', () => {
    const used = new Set(queries.flatMap(({ expr }) => [...metricNamesOf(expr)]));
    expect([...used]).toEqual(
      expect.arrayContaining([
        'docker_migrate_migrations_total',
        'docker_migrate_downtime_seconds_bucket',
        'docker_migrate_transfer_bytes_total',
        'docker_migrate_connected_peers',
        'docker_migrate_http_requests_total',
        'docker_migrate_http_request_duration_seconds_bucket',
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'nodejs_eventloop_lag_p99_seconds',
      ]),
    );
  });

  it('reads metric names out of PromQL, leaving labels, functions and ranges aside', () => {
    expect([
      ...metricNamesOf(
        'histogram_quantile(0.95, sum by (le, mode) (increase(a_bucket{job=~"$job", x="y(z)"}[1h]))) / on (mode) b_total offset 5m',
      ),
    ]).toEqual(['a_bucket', 'b_total']);
    expect([...metricNamesOf('label_values(c_peers{job=~"$job"}, instance)')]).toEqual(['c_peers']);
  });
});
