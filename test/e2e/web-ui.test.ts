// The web UI end to end in a real browser (Debian's Chromium via playwright-core): the built binary as master,
// one worker on each of two real Docker hosts. A person signs in, sees both workers, watches a new volume appear,
// migrates a container with the wizard and watches it complete, finds it in history, and signs out. Screenshots
// of every page are saved in .artifacts/screenshots.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { formatBytes, formatDuration } from '../../web/src/lib/format.js';
import { openBrowser, type BrowserSession } from '../support/browser.js';
import { dockerCli, newRunLabel, testDockerHost, type TestDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';

const exec = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const runLabel = newRunLabel();
const id = runLabel.slice(-8);
const adminToken = `dm-admin-e2e-web-${id}`;
const SOURCE = `web-a-${id}`;
const TARGET = `web-b-${id}`;
const APP = `webapp-${id}`;
const VOLUME = `webdata-${id}`;
const NEW_VOLUME = `fresh-${id}`;
// An image only the source has (each test engine builds its own base image, so the base's tag differs).
const IMAGE = `dm-e2e-web-${id}:1`;

let master: RunningProcess;
let baseUrl = '';
const workers: RunningProcess[] = [];
let browser: BrowserSession;
let page: Page;

const docker = dockerCli;

async function api<T>(path: string): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  return (await response.json()) as T;
}

/** The worker's id once it is online. */
function workerId(name: string): Promise<string> {
  return eventually(`worker ${name} online`, async () => {
    const { workers: list } = await api<{ workers: { id: string; name: string; online: boolean }[] }>(
      '/api/workers',
    );
    return list.find((w) => w.name === name && w.online)?.id;
  });
}

/** What is in the volume, as a user would check it: file list with sizes, and checksums of every file. */
function volumeFingerprint(host: TestDockerHost): Promise<string> {
  return docker(
    host,
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/data:ro`,
    host.baseImage,
    'sh',
    '-c',
    'cd /data && find . -type f | sort | xargs md5sum && find . | sort | xargs ls -ld | sed "s/  */ /g" | cut -d" " -f1,3-5,9',
  );
}

beforeAll(async () => {
  master = startProcess([
    'master',
    '--http-addr',
    '127.0.0.1:0',
    '--grpc-addr',
    '127.0.0.1:0',
    '--relay-addr',
    '127.0.0.1:0',
    '--data-dir',
    tempDir('web-master'),
    '--admin-token',
    adminToken,
    '--heartbeat-interval',
    '1s',
    '--worker-timeout',
    '5s',
    '--ready-timeout',
    '60s',
  ]);
  const { apiUrl, joinArgs } = await masterAddresses(master);
  baseUrl = apiUrl;
  for (const [name, host] of [
    [SOURCE, h1],
    [TARGET, h2],
  ] as const) {
    workers.push(
      startProcess([...joinArgs, '--name', name, '--data-dir', tempDir(name), '--grpc-addr', '127.0.0.1:0'], {
        DOCKER_HOST: host.socket,
      }),
    );
  }
  await exec('sh', [
    '-c',
    `printf 'FROM ${h1.baseImage}\\nRUN echo built > /marker\\nLABEL ${runLabel}=1\\n' | docker -H ${h1.socket} build -q -t ${IMAGE} -`,
  ]);
  await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, VOLUME);
  await docker(
    h1,
    'run',
    '--rm',
    '-v',
    `${VOLUME}:/data`,
    h1.baseImage,
    'sh',
    '-c',
    'mkdir -p /data/site && echo hello > /data/site/index.html && dd if=/dev/urandom of=/data/blob bs=1M count=4 2>/dev/null && chown 1000:1000 /data/blob',
  );
  await docker(
    h1,
    'run',
    '-d',
    '--name',
    APP,
    '--label',
    `${runLabel}=1`,
    '-e',
    'GREETING=hello',
    '-v',
    `${VOLUME}:/data`,
    IMAGE,
    'httpd',
    '-f',
    '-p',
    '8080',
    '-h',
    '/data/site',
  );
  await Promise.all([workerId(SOURCE), workerId(TARGET)]);
  browser = await openBrowser();
  page = browser.page;
}, 180_000);

afterAll(async () => {
  // beforeAll may have failed before any of these started.
  await (browser as BrowserSession | undefined)?.close();
  for (const worker of workers) await worker.stop();
  await (master as RunningProcess | undefined)?.stop();
  for (const host of [h1, h2]) {
    await docker(host, 'rm', '-f', APP).catch(() => '');
    await docker(host, 'volume', 'rm', '-f', VOLUME, NEW_VOLUME).catch(() => '');
    await docker(host, 'rmi', '-f', IMAGE).catch(() => '');
  }
});

describe('web UI (built binary, two real Docker hosts, Chromium)', () => {
  it('shows only the sign-in page signed out, and refuses a wrong token in words', async () => {
    await page.goto(`${baseUrl}/audit`);
    await page.waitForURL(/\/sign-in\?next=%2Faudit/);
    const status = await page.evaluate(async () => (await fetch('/api/workers')).status);
    expect(status).toBe(401);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('the admin token is not valid');
    await browser.screenshot('01-sign-in');
  });

  it('signs in with the keyboard alone, returns to the page asked for, and shows both workers online', async () => {
    await page.getByLabel('Admin token').fill(adminToken);
    await page.keyboard.press('Enter');
    await page.waitForURL(`${baseUrl}/audit`);
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.waitForURL(`${baseUrl}/`);
    for (const name of [SOURCE, TARGET]) {
      const card = page.getByRole('article', { name: `Worker ${name}` });
      await card.waitFor();
      await expect.poll(() => card.textContent()).toContain('online');
    }
    const cookies = await browser.context.cookies();
    const session = cookies.find((c) => c.name === 'dm_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(session?.expires).toBeGreaterThan(Date.now() / 1000);
    await browser.screenshot('02-dashboard');
  });

  it('shows a volume created on the host without a reload', async () => {
    await page
      .getByRole('article', { name: `Worker ${SOURCE}` })
      .getByRole('link', { name: SOURCE, exact: true })
      .click();
    await page.waitForURL(/\/workers\//);
    await page.getByText(APP, { exact: true }).first().waitFor();
    expect(await page.getByText(NEW_VOLUME).count()).toBe(0);
    await docker(h1, 'volume', 'create', '--label', `${runLabel}=1`, NEW_VOLUME);
    await page.getByText(NEW_VOLUME, { exact: true }).first().waitFor({ timeout: 30_000 });
    await browser.screenshot('03-worker');
  });

  it('shows the join command on the enroll page', async () => {
    await page.getByRole('link', { name: 'Enroll a worker' }).first().click();
    await page.waitForURL(/\/enroll/);
    await expect.poll(() => page.locator('main').textContent()).toContain('docker-migrate worker');
    await browser.screenshot('04-enroll');
  });

  it('migrates the container warm with the wizard, after a dry-run preflight, and shows it complete with its downtime and rounds', async () => {
    const before = await volumeFingerprint(h1);
    await page.getByRole('link', { name: 'Migrate', exact: true }).first().click();
    await page.waitForURL(/\/migrations\/new/);
    // 1: source
    await page.getByRole('radio', { name: SOURCE }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    // 2: resources — the container brings its volume along
    await page.getByRole('checkbox', { name: APP }).check();
    await expect.poll(() => page.locator('main').textContent()).toContain(VOLUME);
    await page.getByRole('button', { name: 'Next' }).click();
    // 3: target
    await page.getByRole('radio', { name: TARGET }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    // 4: options: the copy strategy is offered beside the mode, each choice explained in one line, Full by default
    expect(await page.getByRole('radio', { name: 'Full' }).isChecked()).toBe(true);
    const incremental = page.getByRole('radio', { name: 'Incremental' });
    const explanation = page.locator(`[id="${(await incremental.getAttribute('aria-describedby')) ?? ''}"]`);
    expect(await explanation.textContent()).toContain('only what differs travels');
    // warm (the rest defaults: full copies, auto, fail on conflicts, keep the source stopped)
    await page.getByRole('radio', { name: 'Warm' }).check();
    await page.getByRole('button', { name: 'Next' }).click();
    // 5: review with the preflight's findings: the running source stops only for the last copy, a note
    const main = page.locator('main');
    await expect
      .poll(() => main.textContent(), { timeout: 30_000 })
      .toContain('warm migration copies the data');
    await browser.screenshot('05-wizard-review');
    const start = page.getByRole('button', { name: 'Start migration' });
    const acknowledge = page.getByRole('checkbox', { name: 'I have read the warnings' });
    if ((await acknowledge.count()) > 0) await acknowledge.check();
    await expect.poll(() => start.isEnabled()).toBe(true);
    await start.click();
    await page.waitForURL(/\/migrations\/(?!new)[^/]+$/);
    // The outcome box of this migration, not the page: "Completed" is also a phase and a status name elsewhere.
    await expect
      .poll(
        () =>
          page
            .getByRole('region', { name: 'Result' })
            .textContent({ timeout: 1_000 })
            .catch(() => ''),
        {
          timeout: 180_000,
          interval: 500,
        },
      )
      .toMatch(/^Completed/);
    await browser.screenshot('06-migration');
    // A warm migration's steps, in the order it ran them: the copy while the source runs, then the stop.
    const steps = (
      await page.getByRole('list', { name: 'Phases' }).locator(':scope > li').allTextContents()
    ).map((text) => text.replace(/\s*\(.*$/, '').replace(/^\W+/, ''));
    expect(steps).toEqual([
      'Preflight',
      'Prepare',
      'Create',
      'Pre-copy',
      'Stop source',
      'Final copy',
      'Start',
      'Finalize',
      'Done',
    ]);

    // The downtime and rounds the page shows are the API's, phase by phase and round by round.
    const migrationId = /\/migrations\/([^/]+)$/.exec(page.url())?.[1] ?? '';
    const { migration } = await api<{
      migration: {
        mode: string;
        downtime_ms: number;
        downtime_phases: Record<
          'stop_ms' | 'final_sync_ms' | 'apply_ms' | 'start_ms' | 'ready_ms',
          number | null
        >;
        rounds: { round: number; final: boolean; bytes: number; duration_ms: number; files: number }[];
      };
    }>(`/api/migrations/${migrationId}`);
    expect(migration.mode).toBe('warm');
    const card = page.locator('section', {
      has: page.getByRole('heading', { name: 'Downtime and copy rounds' }),
    });
    expect(await card.textContent()).toContain(`Down for ${formatDuration(migration.downtime_ms)}`);
    const phases = card.getByLabel('Downtime by phase');
    for (const [label, key] of [
      ['Stop source', 'stop_ms'],
      ['Final copy', 'final_sync_ms'],
      ['Create', 'apply_ms'],
      ['Start', 'start_ms'],
      ['Until ready', 'ready_ms'],
    ] as const) {
      const value = migration.downtime_phases[key];
      const shown = await phases
        .locator('div', { has: page.getByText(label, { exact: true }) })
        .locator('dd')
        .textContent();
      expect(shown, label).toBe(value === null ? 'not reached' : formatDuration(value));
    }
    const rows = card.getByRole('table', { name: 'Copy rounds' }).locator('tbody tr');
    expect(await rows.count()).toBe(migration.rounds.length);
    expect(migration.rounds.length).toBeGreaterThanOrEqual(2);
    expect(await rows.last().textContent()).toContain('stopped (final)');
    expect(await rows.first().textContent()).toContain(formatBytes(migration.rounds[0]?.bytes));

    const running = await docker(h2, 'inspect', '-f', '{{.State.Running}}', APP);
    expect(running).toBe('true');
    expect(await volumeFingerprint(h2)).toBe(before);
    expect(await docker(h1, 'inspect', '-f', '{{.State.Running}}', APP)).toBe('false');
  }, 240_000);

  it('lists the migration in history, newest first, and opens it from there', async () => {
    await page.getByRole('link', { name: 'History' }).first().click();
    await page.waitForURL(/\/migrations$/);
    const { migrations } = await api<{ migrations: { id: string; status: string }[] }>('/api/migrations');
    expect(migrations[0]?.status).toBe('completed');
    // The status cell of this migration's row: the page always shows "Completed" in the status filter's options.
    const row = page
      .getByRole('row')
      .filter({ has: page.locator(`a[href="/migrations/${migrations[0]!.id}"]`) });
    await expect.poll(() => row.getByRole('cell').nth(1).textContent()).toBe('Completed');
    await browser.screenshot('07-history');
    await page.locator(`a[href="/migrations/${migrations[0]!.id}"]`).first().click();
    await page.waitForURL(new RegExp(`/migrations/${migrations[0]!.id}$`));
  });

  it('shows who did what on the audit page', async () => {
    await page.getByRole('link', { name: 'Audit' }).first().click();
    await page.waitForURL(/\/audit/);
    // Who moved what where: the start names the container and both workers, the dry run is its own row, and
    // the master recorded how the migration ended.
    const main = page.locator('main');
    await expect.poll(() => main.textContent()).toContain('migration.ended');
    const text = (await main.textContent()) ?? '';
    expect(text).toContain(`migration.start`);
    expect(text).toContain(`${APP} from ${SOURCE} to ${TARGET}: warm, full`);
    expect(text).toContain('migration.dry_run');
    expect(text).toMatch(new RegExp(`completed: ${APP} from ${SOURCE} to ${TARGET}, downtime [\\d.]+ m?s`));
    expect(text).toContain(`enrolled worker ${SOURCE}`);
    await browser.screenshot('08-audit');
  });

  it('fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${baseUrl}/`);
    await page.getByRole('article', { name: `Worker ${SOURCE}` }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await browser.screenshot('09-dashboard-phone');
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it('shows a worker going offline without a reload', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    const card = page.getByRole('article', { name: `Worker ${TARGET}` });
    await expect.poll(() => card.textContent()).toContain('online');
    await workers[1]!.stop();
    await expect.poll(() => card.textContent(), { timeout: 30_000 }).toContain('offline');
  });

  it('signs out: the pages and the API are closed again', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await page.goto(`${baseUrl}/migrations`);
    await page.waitForURL(/\/sign-in/);
    const status = await page.evaluate(async () => (await fetch('/api/workers')).status);
    expect(status).toBe(401);
  });

  it('logged no error in the browser console', () => {
    // Chromium logs every 4xx answer: the wrong token and the test's two signed-out fetches are expected.
    const refused = browser.errors.filter((line) => line.includes('status of 401'));
    expect(refused.length).toBeLessThanOrEqual(3);
    expect(browser.errors.filter((line) => !line.includes('status of 401'))).toEqual([]);
  });
});
