// What the web UI SAYS while a migration runs, checked against what really happens: the built binary as master and
// workers, two real Docker hosts, Debian's Chromium. A cold move of a container that ignores SIGTERM (its stop waits
// out a 3 s grace period), watched on its page: the stepper's order is the order of the events, the downtime counts
// while the source is down and ends equal to the API's downtime_ms, "X of Y" never has X > Y, and the completed
// page names the target. At phone width every column of its resources shows. Then Move back in the UI (no conflict
// policy anywhere), and a cancel through the UI: it ends Cancelled, with its downtime shown.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { formatDuration } from '../../web/src/lib/format.js';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterApi } from '../support/master-api.js';
import { bytesOf, startTestMaster, startTestWorkers, type RunningProcess } from '../support/processes.js';

const exec = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-truth-${id}`;
const SOURCE = `truth-a-${id}`;
const TARGET = `truth-b-${id}`;
const STUBBORN = `stubborn-${id}`;
const STUBBORN_DATA = `stubdata-${id}`;
const LATER = `later-${id}`;
const LATER_DATA = `laterdata-${id}`;
const IMAGE = `truth-${id}:1`;
const docker = dockerCli;

interface MigrationJson {
  id: string;
  status: string;
  phase: string;
  downtime_ms: number | null;
  downtime_started_at: string | null;
  events?: { phase: string; message: string }[];
  error: string | null;
}

let master: RunningProcess;
let baseUrl = '';
const workers: RunningProcess[] = [];
let browser: BrowserSession;
let page: Page;
let hostA = '';
let hostB = '';
let moved = '';

const { call: api, workerId } = masterApi(() => baseUrl, adminToken);

async function migration(migrationId: string): Promise<MigrationJson> {
  return (await api<{ migration: MigrationJson }>('GET', `/api/migrations/${migrationId}`)).json.migration;
}

function finished(migrationId: string): Promise<MigrationJson> {
  return eventually(
    `migration ${migrationId} to end`,
    async () => {
      const current = await migration(migrationId);
      return ['completed', 'failed', 'rolled_back', 'cancelled'].includes(current.status)
        ? current
        : undefined;
    },
    180_000,
  );
}

/** Every "X of Y" / "X / Y" the page shows, as pairs of bytes. */
async function movedOfPairs(): Promise<Array<[string, number, number]>> {
  const texts = [
    await page.getByTestId('transferred').textContent(),
    ...(await page.locator('td').allTextContents()),
  ];
  const pairs: Array<[string, number, number]> = [];
  for (const text of texts) {
    const match = /([\d.]+ (?:B|KiB|MiB|GiB|TiB)) (?:of|\/) ([\d.]+ (?:B|KiB|MiB|GiB|TiB))/.exec(text ?? '');
    if (match) pairs.push([match[0], bytesOf(match[1]!), bytesOf(match[2]!)]);
  }
  return pairs;
}

/** The stepper as shown: each step's label and its state in words. */
async function stepper(): Promise<Array<{ label: string; state: string }>> {
  const items = await page.getByRole('list', { name: 'Phases' }).getByRole('listitem').allTextContents();
  return items.map((text) => {
    const match = /^\W*(.+?) \((done|in progress|failed here|cancelled here|not reached)\)/.exec(text);
    return { label: match?.[1] ?? text, state: match?.[2] ?? '?' };
  });
}

const STEP_OF_PHASE: Record<string, string> = {
  preflight: 'Preflight',
  prepare: 'Prepare',
  stop_source: 'Stop source',
  transfer: 'Transfer',
  create: 'Create',
  start: 'Start',
  finalize: 'Finalize',
  done: 'Done',
};

beforeAll(async () => {
  // Each copy waits 4 s before it starts, with the source stopped: the downtime counts on screen meanwhile, and a
  // cancel lands mid-transfer.
  let joinArgs: string[];
  ({
    master,
    apiUrl: baseUrl,
    joinArgs,
  } = await startTestMaster('truth', adminToken, [], {
    DOCKER_MIGRATE_MASTER_FAILPOINTS: 'pause:transfer=4s',
  }));
  workers.push(
    ...startTestWorkers(joinArgs, [
      [SOURCE, h1],
      [TARGET, h2],
    ]),
  );
  await exec('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  for (const [container, volume] of [
    [STUBBORN, STUBBORN_DATA],
    [LATER, LATER_DATA],
  ] as const) {
    await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, volume);
    await docker(
      h1,
      'run',
      '--rm',
      '-v',
      `${volume}:/data`,
      h1.baseImage,
      'sh',
      '-c',
      'dd if=/dev/urandom of=/data/blob bs=1M count=12 2>/dev/null',
    );
    // The shell is PID 1 and ignores SIGTERM: each stop waits out the 3 s grace period.
    await docker(
      h1,
      'run',
      '-d',
      '--name',
      container,
      '--label',
      `${runLabel}=1`,
      '--stop-timeout',
      '3',
      '-v',
      `${volume}:/data`,
      IMAGE,
      'sh',
      '-c',
      `trap '' TERM; while true; do date >> /data/log; sleep 1; done`,
    );
  }
  [hostA, hostB] = [await workerId(SOURCE), await workerId(TARGET)];
  browser = await openBrowser();
  page = browser.page;
  await page.goto(`${baseUrl}/sign-in`);
  await page.getByLabel('Admin token').fill(adminToken);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${baseUrl}/`);
}, 180_000);

afterAll(async () => {
  await (browser as BrowserSession | undefined)?.close();
  for (const worker of workers) await worker.stop();
  await (master as RunningProcess | undefined)?.stop();
  for (const host of [h1, h2]) {
    await removeLabelled(engineOverSocket(host), runLabel).catch(() => undefined);
    await docker(host, 'rm', '-f', STUBBORN, LATER).catch(() => '');
    await docker(host, 'volume', 'rm', '-f', STUBBORN_DATA, LATER_DATA).catch(() => '');
    await docker(host, 'rmi', '-f', IMAGE).catch(() => '');
  }
});

describe('what the web UI says while a migration runs (Chromium, two real Docker hosts)', () => {
  it('a cold move of a container that ignores SIGTERM: stepper, live downtime, X of Y and the result are true', async () => {
    const created = await api<{ migration: MigrationJson }>('POST', '/api/migrations', {
      source_worker_id: hostA,
      target_worker_id: hostB,
      container_ids: [STUBBORN],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    moved = created.json.migration.id;
    await page.goto(`${baseUrl}/migrations/${moved}`);
    await page.getByRole('list', { name: 'Phases' }).waitFor();

    const downtimes: number[] = [];
    const overTotal: string[] = [];
    for (;;) {
      const now = await migration(moved);
      for (const [text, x, y] of await movedOfPairs()) if (x > y) overTotal.push(text);
      const shown = (await page.getByTestId('downtime').textContent()) ?? '';
      // While the source is down, the page counts (it hears of the stop within a second or two).
      if (now.status === 'running' && now.downtime_started_at !== null && shown !== '—')
        downtimes.push(Number.parseFloat(shown) * (shown.endsWith(' ms') ? 0.001 : 1));
      if (now.status !== 'running' && now.status !== 'pending') break;
      await page.waitForTimeout(400);
    }
    const done = await finished(moved);
    expect(done.status, done.error ?? '').toBe('completed');
    expect(overTotal).toEqual([]);
    // It counted: several growing figures while the source was down.
    expect(downtimes.length).toBeGreaterThanOrEqual(3);
    expect(downtimes.at(-1)!).toBeGreaterThan(downtimes[0]!);
    for (let i = 1; i < downtimes.length; i++)
      expect(downtimes[i]!).toBeGreaterThanOrEqual(downtimes[i - 1]!);

    // Once completed: the downtime the page shows is the API's, and it took the 3 s grace period at least.
    expect(done.downtime_ms).toBeGreaterThanOrEqual(3_000);
    await expect
      .poll(() => page.getByTestId('downtime').textContent())
      .toBe(formatDuration(done.downtime_ms));
    const result = page.getByRole('region', { name: 'Result' });
    await expect.poll(() => result.textContent()).toContain(`Now running on ${TARGET}.`);
    expect(await result.textContent()).toContain(
      `Left on ${SOURCE}: ${STUBBORN} (container, stopped), ${STUBBORN_DATA} (volume), ${IMAGE} (image)`,
    );

    // The stepper lists the steps in the order the events went through them, all done.
    const steps = await stepper();
    expect(steps.map((s) => s.label)).toEqual([
      'Preflight',
      'Prepare',
      'Stop source',
      'Transfer',
      'Create',
      'Start',
      'Finalize',
      'Done',
    ]);
    expect(steps.every((s) => s.state === 'done')).toBe(true);
    const order = steps.map((s) => s.label);
    const seen = [...new Set((done.events ?? []).map((e) => STEP_OF_PHASE[e.phase]))].filter(
      (label): label is string => label !== undefined,
    );
    expect(seen.map((label) => order.indexOf(label))).toEqual(
      [...seen.map((label) => order.indexOf(label))].sort((a, b) => a - b),
    );
    expect(seen).toContain('Stop source');
    // The stop's event says it waited out the grace period.
    expect((done.events ?? []).map((e) => e.message).join('\n')).toMatch(
      new RegExp(
        `container ${STUBBORN} stopped on the source in [3-9]\\.\\d s: waited out the 3 s stop grace period`,
      ),
    );
    expect(await docker(h2, 'inspect', '-f', '{{.State.Running}}', STUBBORN)).toBe('true');
    await browser.screenshot('truth-01-completed');
  }, 240_000);

  it('shows every column of the resources at phone width, stacked and labelled', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${baseUrl}/migrations/${moved}`);
    const table = page.getByRole('table', { name: 'Resources' });
    await table.waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const rows = table.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThanOrEqual(3);
    for (let r = 0; r < (await rows.count()); r++) {
      const cells = rows.nth(r).locator('td');
      expect(await cells.count()).toBe(5);
      for (let c = 0; c < 5; c++) {
        const box = await cells.nth(c).boundingBox();
        expect(box, `row ${r} cell ${c}`).not.toBeNull();
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(390);
        expect((await cells.nth(c).textContent())?.trim()).not.toBe('');
      }
    }
    // Each value says which column it is.
    const label = await rows
      .first()
      .locator('td')
      .nth(2)
      .evaluate((cell) => {
        // Runs in the page, where getComputedStyle is a global.
        const view = globalThis as unknown as {
          getComputedStyle(e: unknown, pseudo: string): { content: string };
        };
        return view.getComputedStyle(cell, '::before').content;
      });
    expect(label).toBe('"On the target"');
    await browser.screenshot('truth-02-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('moves it back with Move back, no conflict policy touched', async () => {
    await page.goto(`${baseUrl}/migrations/${moved}`);
    await page.getByRole('button', { name: 'Move back' }).click();
    await page.getByRole('dialog', { name: `Move this back to ${SOURCE}?` }).waitFor();
    await page.getByRole('button', { name: 'Yes, move it back' }).click();
    await page
      .waitForURL((url) => /\/migrations\/m-/.test(url.pathname) && !url.pathname.endsWith(moved), {
        timeout: 30_000,
      })
      .catch(async (error: unknown) => {
        throw new Error(
          `no move back started: ${(await page.getByRole('alert').allTextContents()).join(' | ')} (${String(error)})`,
        );
      });
    await page.waitForURL((url) => /\/migrations\/m-/.test(url.pathname) && !url.pathname.endsWith(moved));
    const backId = new URL(page.url()).pathname.split('/').pop() ?? '';
    const back = await finished(backId);
    expect(back.status, back.error ?? '').toBe('completed');
    expect(await docker(h1, 'inspect', '-f', '{{.State.Running}}', STUBBORN)).toBe('true');
    expect(await docker(h2, 'inspect', '-f', '{{.State.Running}}', STUBBORN)).toBe('false');
    const result = page.getByRole('region', { name: 'Result' });
    await expect.poll(() => result.textContent()).toContain(`Now running on ${SOURCE}.`);
    expect(await result.textContent()).toContain(`Moves back migration ${moved}`);
    await browser.screenshot('truth-03-moved-back');
  }, 240_000);

  it('a cancel in the UI ends Cancelled, with the downtime the source had', async () => {
    const created = await api<{ migration: MigrationJson }>('POST', '/api/migrations', {
      source_worker_id: hostA,
      target_worker_id: hostB,
      container_ids: [LATER],
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const cancelId = created.json.migration.id;
    await page.goto(`${baseUrl}/migrations/${cancelId}`);
    // Cancelled once the source is down (the copy is held 4 s before it starts).
    await eventually('the source stopped', async () => {
      const now = await migration(cancelId);
      return (now.events ?? []).some((e) => e.message.startsWith(`container ${LATER} stopped on the source`))
        ? true
        : undefined;
    });
    await page.getByRole('button', { name: 'Cancel migration' }).click();
    await page.getByRole('button', { name: 'Yes, cancel it' }).click();
    const done = await finished(cancelId);
    expect(done.status).toBe('cancelled');
    expect(done.downtime_ms).toBeGreaterThanOrEqual(3_000);
    const result = page.getByRole('region', { name: 'Result' });
    await expect.poll(() => result.textContent()).toContain('Cancelled');
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain('Cancelled');
    await expect
      .poll(() => page.getByTestId('downtime').textContent())
      .toBe(formatDuration(done.downtime_ms));
    expect(await result.textContent()).toContain(
      `The source was down for ${formatDuration(done.downtime_ms)}.`,
    );
    // The step marked "cancelled here" is the one the events say the cancel stopped.
    const events = done.events ?? [];
    const rollback = events.findIndex((e) => e.phase === 'rollback');
    const stoppedIn = events.slice(0, rollback).at(-1)?.phase ?? '';
    expect(stoppedIn).not.toBe('');
    const steps = await stepper();
    expect(steps.filter((s) => s.state === 'cancelled here').map((s) => s.label)).toEqual([
      STEP_OF_PHASE[stoppedIn],
    ]);
    expect(steps.some((s) => s.state === 'failed here')).toBe(false);
    expect(await docker(h1, 'inspect', '-f', '{{.State.Running}}', LATER)).toBe('true');
    await browser.screenshot('truth-04-cancelled');
  }, 240_000);

  it('logged no error in the browser console', () => {
    expect(browser.errors).toEqual([]);
  });
});
