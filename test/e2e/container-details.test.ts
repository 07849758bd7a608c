// A container's details over the REST API, end to end: the built binary as master and worker, a real Docker
// engine. The container has a volume, a read-only bind, a published port, a restart policy, a failing healthcheck
// and a secret in its environment; GET /api/containers/:id must say what `docker inspect` says, and the secret's
// value must not be anywhere in the answer. Then an unknown id is a JSON 404, and an offline worker a readable 503.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ContainerAnswerJson, ContainerDetailsJson } from '../../src/contract/index.js';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { openBrowser } from '../support/browser.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { startTestMaster, startTestWorkers, type RunningProcess } from '../support/processes.js';

const host = testDockerHost(0);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-details-${id}`;
const CONTAINER = `details-${id}`;
const VOLUME = `detailsvol-${id}`;
const NETWORK = `detailsnet-${id}`;
/** Unique, so that finding it anywhere in the answer can only mean it leaked. */
const SECRET = `s3cr3t-value-${id}`;
const bindFolder = mkdtempSync(join(tmpdir(), 'dm-e2e-details-'));

let master: RunningProcess;
let worker: RunningProcess;
let apiUrl = '';
const { call: api, workerId } = masterApi(() => apiUrl, adminToken);

/** The fields of `docker inspect` this test compares. */
interface Inspect {
  Id: string;
  Created: string;
  Image: string;
  RestartCount: number;
  State: {
    StartedAt: string;
    Health?: { FailingStreak: number; Log: { End: string; ExitCode: number; Output: string }[] };
  };
  Mounts: { Type: string; Source: string }[];
  Config: { Entrypoint: string[] | null; Env: string[]; Labels: Record<string, string> };
  NetworkSettings: {
    Ports: Record<string, { HostIp: string; HostPort: string }[] | null>;
    Networks: Record<
      string,
      {
        IPAddress: string;
        GlobalIPv6Address: string;
        Gateway: string;
        MacAddress: string;
        Aliases: string[] | null;
      }
    >;
  };
}

/** `docker inspect` of the container, parsed: the truth the API is held to. */
async function inspect(): Promise<Inspect> {
  const [document] = JSON.parse(await dockerCli(host, 'inspect', CONTAINER)) as Inspect[];
  return document!;
}

beforeAll(async () => {
  let joinArgs: string[];
  ({ master, apiUrl, joinArgs } = await startTestMaster('details', adminToken));
  [worker] = startTestWorkers(joinArgs, [[`details-${id}`, host]]) as [RunningProcess];
  await dockerCli(host, 'network', 'create', '--label', `${runLabel}=1`, NETWORK);
  await dockerCli(host, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await dockerCli(
    host,
    'run',
    '-d',
    '--name',
    CONTAINER,
    '--label',
    `${runLabel}=1`,
    '--label',
    'tier=front',
    '--network',
    NETWORK,
    '-v',
    `${VOLUME}:/data`,
    '--mount',
    `type=bind,source=${bindFolder},target=/config,readonly`,
    '-p',
    '127.0.0.1::80',
    '--restart',
    'on-failure:3',
    '--health-cmd',
    'echo not ready yet; exit 1',
    '--health-interval',
    '1s',
    '--health-retries',
    '2',
    '-e',
    `SECRET_KEY=${SECRET}`,
    '-e',
    'PLAIN=y',
    host.baseImage,
    'httpd',
    '-f',
    '-p',
    '80',
  );
  await workerId(`details-${id}`);
}, 120_000);

afterAll(async () => {
  await worker.stop();
  await master.stop();
  await removeLabelled(engineOverSocket(host), runLabel);
  await dockerCli(host, 'rm', '-f', CONTAINER).catch(() => undefined);
  rmSync(bindFolder, { recursive: true, force: true });
});

describe('GET /api/containers/:id', () => {
  it('says what docker inspect says, with the secret’s value hidden', async () => {
    // The healthcheck runs every second: take an answer between two inspects that agree, so all three say the same.
    const { truth, body } = await eventually('an answer while the container holds still', async () => {
      const before = await inspect();
      const response = await fetch(`${apiUrl}/api/containers/${CONTAINER}`, {
        headers: { authorization: `Bearer ${adminToken}` },
      });
      const after = await inspect();
      if (response.status !== 200) return undefined;
      const unhealthy = (after.State.Health?.FailingStreak ?? 0) >= 2;
      return unhealthy && JSON.stringify(before) === JSON.stringify(after)
        ? { truth: after, body: await response.text() }
        : undefined;
    });
    expect(truth.Config.Env).toContain(`SECRET_KEY=${SECRET}`);
    expect(body).not.toContain(SECRET);
    const { container, details } = JSON.parse(body) as ContainerAnswerJson;
    expect(container).toMatchObject({ id: truth.Id, name: CONTAINER, worker_name: `details-${id}` });

    const health = truth.State.Health!;
    const published = truth.NetworkSettings.Ports['80/tcp'] ?? [];
    const endpoint = truth.NetworkSettings.Networks[NETWORK]!;
    expect(details).toEqual({
      id: truth.Id,
      name: CONTAINER,
      image: host.baseImage,
      image_id: truth.Image,
      state: 'running',
      exit_code: 0,
      restart_count: truth.RestartCount,
      created_at: truth.Created,
      started_at: truth.State.StartedAt,
      finished_at: null,
      entrypoint: truth.Config.Entrypoint ?? [],
      command: ['httpd', '-f', '-p', '80'],
      restart_policy: { name: 'on-failure', maximum_retry_count: 3 },
      health: {
        status: 'unhealthy',
        failing_streak: health.FailingStreak,
        last_output: 'not ready yet',
        last_exit_code: 1,
        last_checked_at: health.Log.at(-1)!.End,
      },
      mounts: expect.arrayContaining([
        {
          type: 'volume',
          source: truth.Mounts.find((mount) => mount.Type === 'volume')!.Source,
          volume_name: VOLUME,
          destination: '/data',
          read_only: false,
        },
        { type: 'bind', source: bindFolder, volume_name: null, destination: '/config', read_only: true },
      ]) as ContainerDetailsJson['mounts'],
      ports: published.map((binding) => ({
        container_port: 80,
        protocol: 'tcp',
        host_ip: binding.HostIp,
        host_port: Number(binding.HostPort),
      })),
      labels: truth.Config.Labels,
      env: expect.arrayContaining([
        { name: 'SECRET_KEY', value: '[redacted]', redacted: true },
        { name: 'PLAIN', value: 'y', redacted: false },
      ]) as ContainerDetailsJson['env'],
      networks: [
        {
          name: NETWORK,
          ip_address: endpoint.IPAddress,
          ipv6_address: endpoint.GlobalIPv6Address || null,
          gateway: endpoint.Gateway,
          mac_address: endpoint.MacAddress,
          aliases: endpoint.Aliases ?? [],
        },
      ],
    });
    expect(details.mounts).toHaveLength(truth.Mounts.length);
    expect(details.env.map((variable) => variable.name)).toEqual(
      truth.Config.Env.map((entry) => entry.split('=')[0]),
    );
    expect(published.length).toBeGreaterThan(0);
    expect(details.labels).toMatchObject({ tier: 'front' });
  });

  it('shows the same on the worker page in the browser, the secret hidden there too', async () => {
    const truth = await inspect();
    const [binding] = truth.NetworkSettings.Ports['80/tcp'] ?? [];
    const browser = await openBrowser();
    try {
      const { page } = browser;
      await page.goto(`${apiUrl.replace(/\/api$/, '')}/sign-in`);
      await page.getByLabel('Admin token').fill(adminToken);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/$/);
      await page.goto(`${apiUrl.replace(/\/api$/, '')}/workers/${await workerId(`details-${id}`)}`);
      await page.getByRole('button', { name: `Show details of ${CONTAINER}` }).click();
      const row = page.getByRole('row', { name: `Details of ${CONTAINER}`, exact: true });
      await row.getByText('Restart policy').waitFor();
      const text = await row.innerText();
      expect(text).toContain('on-failure (at most 3 retries)');
      expect(text).toContain(`${binding!.HostIp}:${binding!.HostPort}→80/tcp`);
      expect(text).toContain(`volume ${VOLUME} → /data`);
      expect(text).toContain(`bind ${bindFolder} → /config (read-only)`);
      expect(text).toContain('PLAIN=y');
      expect(text).toMatch(/SECRET_KEY=\s*hidden/);
      expect(await page.content()).not.toContain(SECRET);
      await browser.screenshot('container-details', page);
      expect(browser.errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('answers an unknown container with a JSON 404', async () => {
    const { status, json } = await api<{ error: { code: string; message: string } }>(
      'GET',
      `/api/containers/no-such-container-${id}`,
    );
    expect(status).toBe(404);
    expect(json.error).toEqual({
      code: 'not_found',
      message: `no container "no-such-container-${id}" on any worker`,
    });
  });

  it('answers 503 naming the worker once it is offline', async () => {
    await worker.stop();
    const { status, json } = await eventually('the worker offline', async () => {
      const answer = await api<{ error: { code: string; message: string } }>(
        'GET',
        `/api/containers/${CONTAINER}`,
      );
      return answer.status === 200 ? undefined : answer;
    });
    expect(status).toBe(503);
    expect(json.error.code).toBe('unavailable');
    expect(json.error.message).toMatch(new RegExp(`^worker "details-${id}" is offline`));
  });
});
