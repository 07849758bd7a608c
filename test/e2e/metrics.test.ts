// The master's /metrics page as Prometheus reads it, from the built binary with two workers on two real Docker hosts
// after a migration and some HTTP requests (so labelled series exist): `promtool check metrics` accepts it, no
// metric name repeats a prefix, process and runtime metrics carry their standard names, and every query of the
// Grafana dashboard in deploy/ parses as PromQL and asks for series the page has.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { masterApi } from '../support/master-api.js';
import {
  concreteQuery,
  dashboardQueries,
  metricNamesOf,
  readDashboard,
} from '../support/grafana-dashboard.js';
import { familiesOfPage, repeatedPrefix, seriesNames } from '../support/metric-names.js';
import { startTestMaster, startTestWorkers, tempDir, type RunningProcess } from '../support/processes.js';

const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-metrics-${id}`;
const docker = dockerCli;
const CONTAINER = `metricsweb-${id}`;
const VOLUME = `metricsvol-${id}`;
const IMAGE = `metricsimg-${id}:1`;
const PROMTOOL = process.env.DOCKER_MIGRATE_PROMTOOL ?? 'promtool';
const execFileAsync = promisify(execFile);

let master: RunningProcess;
const workers: RunningProcess[] = [];
let apiUrl = '';
let page = '';

const { call: api, workerId, finished } = masterApi(() => apiUrl, adminToken);

/** Runs promtool with `input` on its stdin: its exit code and everything it printed. */
function promtool(args: string[], input = ''): Promise<{ code: number | string; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PROMTOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new Error(`${PROMTOOL} is missing: run 'make promtool' (Debian's prometheus package)`)
          : error,
      );
    });
    child.on('close', (code, signal) => {
      resolve({ code: code ?? signal ?? -1, output: output.trim() });
    });
    child.stdin.end(input);
  });
}

beforeAll(async () => {
  let joinArgs: string[];
  ({ master, apiUrl, joinArgs } = await startTestMaster('metrics', adminToken));
  workers.push(
    ...startTestWorkers(joinArgs, [
      [`metrics-a-${id}`, h1],
      [`metrics-b-${id}`, h2],
    ]),
  );
  // An image of its own (each test host's base image has another id, so it could not move under its tag).
  await execFileAsync('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--label',
    `${runLabel}=1`,
    '-v',
    `${VOLUME}:/data`,
    IMAGE,
    'sh',
    '-c',
    `trap 'exit 0' TERM; echo hello > /data/greeting; while true; do sleep 1; done`,
  );
  const [source, target] = [await workerId(`metrics-a-${id}`), await workerId(`metrics-b-${id}`)];

  const created = await api<{ migration: { id: string } }>('POST', '/api/migrations', {
    source_worker_id: source,
    target_worker_id: target,
    container_ids: [CONTAINER],
  });
  expect(created.status, JSON.stringify(created.json)).toBe(201);
  const ended = await finished<{ status: string; error: string | null }>(created.json.migration.id, 120_000);
  expect(ended, ended.error ?? '').toMatchObject({ status: 'completed' });

  // Requests that end in other statuses, so that the HTTP series carry several labels.
  expect((await fetch(`${apiUrl}/api/workers`)).status).toBe(401);
  expect((await api('GET', '/api/migrations/no-such-migration')).status).toBe(404);
  expect((await fetch(`${apiUrl}/health`)).status).toBe(200);
  page = await (await fetch(`${apiUrl}/metrics`)).text();
}, 180_000);

afterAll(async () => {
  for (const worker of workers) await worker.stop();
  await master.stop();
  for (const host of [h1, h2]) {
    await removeLabelled(engineOverSocket(host), runLabel);
    await docker(host, 'rm', '-f', CONTAINER).catch(() => undefined);
    await docker(host, 'volume', 'rm', '-f', VOLUME).catch(() => undefined);
    await docker(host, 'image', 'rm', '-f', IMAGE).catch(() => undefined);
  }
});

describe('the /metrics page', () => {
  it('holds labelled series of workers, migrations and HTTP requests', () => {
    const expected = [
      /^docker_migrate_connected_peers 2$/m,
      /^docker_migrate_migrations_total\{status="completed"\} 1$/m,
      /^docker_migrate_downtime_seconds_count\{mode="cold"\} 1$/m,
      /^docker_migrate_docker_operations_total\{operation="container\.create",outcome="ok"\} \d+$/m,
      /^docker_migrate_http_requests_total\{method="GET",route="\/api\/workers",status="401"\} 1$/m,
      /^docker_migrate_http_request_duration_seconds_count\{method="POST",route="\/api\/migrations"\} 1$/m,
      /^docker_migrate_transfer_bytes_total [1-9]\d*$/m,
    ];
    expect(expected.filter((line) => !line.test(page)).map(String), 'lines missing from /metrics').toEqual(
      [],
    );
  });

  it('passes promtool check metrics without a single complaint', async () => {
    expect(await promtool(['check', 'metrics'], page)).toEqual({ code: 0, output: '' });
  });

  it('names no metric with a repeated prefix, and ends every counter in _total', () => {
    const families = familiesOfPage(page);
    expect(families.length).toBeGreaterThan(20);
    expect(families.map((f) => repeatedPrefix(f.name)).filter((why) => why !== null)).toEqual([]);
    const counters = families.filter((f) => f.type === 'counter').map((f) => f.name);
    expect(counters.filter((name) => !name.endsWith('_total'))).toEqual([]);
    expect(
      families.filter((f) => f.type !== 'counter' && f.name.endsWith('_total')).map((f) => f.name),
    ).toEqual([]);
  });

  it('exposes process and runtime metrics under the standard process_* and nodejs_* names', () => {
    const names = familiesOfPage(page).map((f) => f.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'process_cpu_seconds_total',
        'process_resident_memory_bytes',
        'process_start_time_seconds',
        'process_open_fds',
        'nodejs_eventloop_lag_seconds',
        'nodejs_heap_size_used_bytes',
        'nodejs_gc_duration_seconds',
      ]),
    );
    expect(names.filter((name) => !/^(docker_migrate|process|nodejs)_/.test(name))).toEqual([]);
  });
});

describe('the Grafana dashboard', () => {
  const queries = dashboardQueries(readDashboard());

  it('asks only for series the page has', () => {
    const onPage = seriesNames(familiesOfPage(page));
    const missing = queries.flatMap(({ where, expr }) =>
      [...metricNamesOf(expr)].filter((name) => !onPage.has(name)).map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);
  });

  it('has queries that parse as PromQL (promtool check rules)', async () => {
    // Each panel query as a recording rule (JSON is YAML); variables' label_values() is Grafana's, not PromQL.
    const rules = queries
      .filter(({ expr }) => !expr.startsWith('label_values('))
      .map(({ expr }, index) => ({ record: `dashboard:query_${index}`, expr: concreteQuery(expr) }));
    const file = join(tempDir('dashboard-rules'), 'rules.yml');
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
    const { code, output } = await promtool(['check', 'rules', file]);
    expect(code, output).toBe(0);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
  });
});
