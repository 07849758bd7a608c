// The wizard in a simulated browser against a fake API: the five steps, preflight findings and the start request.
import { screen, waitFor, within } from '@testing-library/react';
import userEvent, { type UserEvent } from '@testing-library/user-event';
import { Link, useParams } from 'react-router';
import { describe, expect, it } from 'vitest';

import type { FindingJson, MigrationRequestBody } from '../../api/migration-types';
import { apiError, fakeApi, type FakeCall, type FakeRoute } from '../../testing/fake-api';
import {
  ALPHA_RESOURCES,
  ALREADY_PRESENT_INFO,
  dryRun,
  migration,
  NAME_CONFLICT_ERROR,
  RUNNING_WARNING,
  UNMAPPED_BIND_ERROR,
  WORKERS,
} from '../../testing/fixtures';
import { renderAt } from '../../testing/render';
import { WizardPage } from './wizard';

function Landed() {
  const { id } = useParams();
  return <p>landed on {id}</p>;
}

/** The API the wizard talks to; `preflight` answers each dry run in turn (the last one repeats). */
function api(
  preflight: FakeRoute[],
  start: FakeRoute = { status: 201, body: { migration: migration({ id: 'm-new' }) } },
) {
  let dryRuns = 0;
  return fakeApi({
    'GET /api/workers': { body: { workers: WORKERS } },
    'GET /api/workers/w-alpha/resources': { body: ALPHA_RESOURCES },
    'POST /api/migrations': (call: FakeCall) => {
      if ((call.body as MigrationRequestBody).dry_run) {
        const route = preflight[Math.min(dryRuns, preflight.length - 1)]!;
        dryRuns += 1;
        return typeof route === 'function' ? route(call) : route;
      }
      return typeof start === 'function' ? start(call) : start;
    },
  });
}

function preflightWith(findings: FindingJson[]): FakeRoute {
  return { body: dryRun(findings) };
}

function renderWizard(path = '/migrations/new?from=w-alpha') {
  return renderAt(path, [
    {
      path: '/migrations/new',
      element: (
        <>
          <Link to="/migrations/new">Migrate</Link>
          <WizardPage />
        </>
      ),
    },
    { path: '/migrations/:id', element: <Landed /> },
  ]);
}

async function next(user: UserEvent, heading: string) {
  await user.click(screen.getByRole('button', { name: 'Next' }));
  expect(await screen.findByRole('heading', { name: heading })).toHaveFocus();
}

/** Source alpha (preselected), container app-1, target beta, default options: the review step. */
async function walkToReview(user: UserEvent) {
  await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' });
  await next(user, 'Step 2 of 5: Resources');
  await user.click(await screen.findByRole('checkbox', { name: 'app-1' }));
  await next(user, 'Step 3 of 5: Target worker');
  await user.click(screen.getByRole('radio', { name: 'beta' }));
  await next(user, 'Step 4 of 5: Options');
  await next(user, 'Step 5 of 5: Review');
}

function dryRunCalls(calls: FakeCall[]): FakeCall[] {
  return calls.filter((call) => call.method === 'POST' && (call.body as MigrationRequestBody).dry_run);
}

// Walking five steps with a simulated user takes a few seconds on a slow machine.
describe('WizardPage', { timeout: 20_000 }, () => {
  it('opens on the resources step with the container ticked when asked from a worker’s container row', async () => {
    api([preflightWith([])]);
    renderWizard('/migrations/new?from=w-alpha&container=c0ffee000001');
    expect(await screen.findByRole('heading', { name: 'Step 2 of 5: Resources' })).toBeInTheDocument();
    expect(await screen.findByRole('checkbox', { name: 'app-1' })).toBeChecked();
    expect(screen.getByRole('status')).toHaveTextContent('1 selected');
    // Its project's group is open, since something in it is ticked.
    expect(screen.getByText('shop', { selector: 'summary' }).closest('details')).toHaveAttribute('open');
    expect(screen.getByRole('button', { name: 'Next' })).toBeEnabled();
    // However long the lists, Next stays in view: the step's footer sticks to the bottom of the screen.
    expect(screen.getByRole('button', { name: 'Next' }).closest('.sticky.bottom-0')).not.toBeNull();
  });

  it('walks through the five steps and starts the migration with the chosen body', async () => {
    const user = userEvent.setup();
    const { calls } = api([preflightWith([RUNNING_WARNING, ALREADY_PRESENT_INFO])]);
    renderWizard();

    // Step 1: the source from ?from=, offline workers not selectable.
    const sources = await screen.findByRole('group', { name: 'Migrate from' });
    expect(within(sources).getByRole('radio', { name: 'alpha' })).toBeChecked();
    expect(within(sources).getByRole('radio', { name: 'gamma' })).toBeDisabled();
    expect(within(sources).getByText('offline')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Back' })).toBeDisabled();
    await next(user, 'Step 2 of 5: Resources');

    // Step 2: nothing selected yet, so Next waits; a container shows what it brings along. The containers of a
    // compose project are in its group, collapsed, with their count.
    const containers = await screen.findByRole('group', { name: /Containers/ });
    expect(within(containers).queryByRole('checkbox', { name: 'app-1' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    expect(screen.getByText(/Select at least one/)).toBeInTheDocument();
    const shop = screen.getByText('shop', { selector: 'summary' }).closest('details')!;
    expect(shop).not.toHaveAttribute('open');
    expect(shop.querySelector('summary')).toHaveTextContent('shop (2 containers)');
    await user.click(screen.getByText('shop', { selector: 'summary' }));
    expect(within(shop).getByRole('checkbox', { name: 'app-1' })).toHaveAccessibleDescription(
      /running · nginx:1.27/,
    );
    await user.click(within(shop).getByRole('checkbox', { name: 'app-1' }));
    const along = screen.getByRole('list', { name: 'Brought along with app-1' });
    expect(
      within(along)
        .getAllByRole('listitem')
        .map((item) => item.textContent),
    ).toEqual(['image nginx:1.27', 'volume app-data', 'network shop_default']);
    const volumes = screen.getByRole('group', { name: /Volumes/ });
    expect(within(volumes).getByRole('checkbox', { name: 'app-data' })).toHaveAccessibleDescription(
      /brought along with app-1/,
    );
    const networks = screen.getByRole('group', { name: /Networks/ });
    expect(within(networks).queryByRole('checkbox', { name: 'bridge' })).not.toBeInTheDocument();
    expect(within(networks).getByRole('checkbox', { name: 'tools' })).toBeInTheDocument();
    const projects = screen.getByRole('group', { name: /Compose projects/ });
    expect(within(projects).getByRole('checkbox', { name: 'shop' })).toHaveAccessibleDescription(
      /2 containers: app-1, db-1/,
    );

    // The filter narrows every list, and keeps what was ticked.
    await user.type(screen.getByRole('searchbox', { name: 'Filter resources' }), 'tools');
    expect(within(networks).getByRole('checkbox', { name: 'tools' })).toBeInTheDocument();
    expect(screen.queryByRole('checkbox', { name: 'app-1' })).not.toBeInTheDocument();
    await user.click(within(networks).getByRole('checkbox', { name: 'tools' }));
    expect(screen.getByRole('status')).toHaveTextContent('2 selected');
    await next(user, 'Step 3 of 5: Target worker');

    // Step 3: every worker but the source.
    const targets = screen.getByRole('group', { name: 'Migrate to' });
    expect(within(targets).queryByRole('radio', { name: 'alpha' })).not.toBeInTheDocument();
    expect(within(targets).getByRole('radio', { name: 'gamma' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    await user.click(within(targets).getByRole('radio', { name: 'beta' }));
    await next(user, 'Step 4 of 5: Options');

    // Step 4: defaults, live not available, warm chosen, a bind mount rule.
    expect(screen.getByRole('radio', { name: 'Cold' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Warm' })).toHaveAccessibleDescription(
      /while the containers run/,
    );
    expect(screen.getByRole('radio', { name: 'Live (not available yet)' })).toBeDisabled();
    expect(screen.getByRole('radio', { name: 'Auto' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Uncompressed' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Fail' })).toBeChecked();
    expect(screen.getByRole('radio', { name: 'Overwrite' })).toHaveAccessibleDescription(/Destructive/);
    expect(screen.getByRole('radio', { name: 'Remove' })).toHaveAccessibleDescription(
      /Remove the source containers/,
    );
    await user.click(screen.getByRole('radio', { name: 'Warm' }));
    await user.click(screen.getByRole('radio', { name: 'Through the master' }));
    await user.click(screen.getByRole('radio', { name: 'zstd' }));
    await user.click(screen.getByRole('radio', { name: 'Rename' }));
    await user.click(screen.getByRole('radio', { name: 'Keep running' }));
    await user.click(screen.getByRole('button', { name: 'Add bind mount' }));
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    const row = screen.getByRole('group', { name: 'Bind mount 1' });
    await user.click(within(row).getByRole('textbox', { name: 'Source path' }));
    await user.paste('/srv/app/config');
    await user.click(within(row).getByRole('textbox', { name: 'Target path' }));
    await user.paste('/data/config');
    await next(user, 'Step 5 of 5: Review');

    // Step 5: the preflight runs by itself, its answer said in a status; the warning must be acknowledged.
    expect(await screen.findByRole('cell', { name: 'nginx:1.27' })).toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent('Preflight found 1 warning and 1 note.');
    expect(screen.getByText(/Planned resources \(4\) · 202 MiB to copy/)).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Warnings (1)' })).toHaveTextContent(/cold migration stops/);
    expect(screen.getByRole('region', { name: 'Notes (1)' })).toHaveTextContent(/already on "beta"/);
    const start = screen.getByRole('button', { name: 'Start migration' });
    expect(start).toBeDisabled();
    expect(start).toHaveAccessibleDescription(/tick "I have read the warnings"/);
    await user.click(screen.getByRole('checkbox', { name: 'I have read the warnings' }));
    expect(start).toBeEnabled();
    await user.click(start);

    expect(await screen.findByText('landed on m-new')).toBeInTheDocument();
    const expected: MigrationRequestBody = {
      source_worker_id: 'w-alpha',
      target_worker_id: 'w-beta',
      container_ids: ['c0ffee000001'],
      image_ids: [],
      volume_names: [],
      network_ids: ['n-tools'],
      compose_projects: [],
      mode: 'warm',
      strategy: 'full',
      transfer_mode: 'proxy',
      compression: 'zstd',
      conflict_policy: 'rename',
      source_policy: 'keep_running',
      bind_mounts: { '/srv/app/config': '/data/config' },
      acknowledge: [],
      dry_run: true,
    };
    expect(dryRunCalls(calls).map((call) => call.body)).toEqual([expected]);
    const started = calls.filter(
      (call) => call.method === 'POST' && !(call.body as MigrationRequestBody).dry_run,
    );
    expect(started.map((call) => call.body)).toEqual([{ ...expected, dry_run: false }]);
  });

  it('offers the copy strategy, each explained, and sends and shows the one chosen', async () => {
    const user = userEvent.setup();
    const { calls } = api([preflightWith([])]);
    renderWizard();
    await walkToReview(user);
    expect(
      screen.getByText(/Cold migration · strategy: Full — every volume copied whole ·/),
    ).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Change options' }));
    await screen.findByRole('heading', { name: 'Step 4 of 5: Options' });

    const strategies = screen.getByRole('group', { name: 'Copy strategy' });
    const full = within(strategies).getByRole('radio', { name: 'Full' });
    const incremental = within(strategies).getByRole('radio', { name: 'Incremental' });
    expect(full).toBeChecked();
    expect(full).toHaveAccessibleDescription('Copies every volume’s whole content.');
    expect(incremental).toHaveAccessibleDescription(
      /^Updates in place .*: only what differs travels, extra files are deleted\. Others are copied whole\.$/,
    );
    // Keyboard: the arrow keys move the choice within the group, as in any radio group.
    await user.click(full);
    await user.keyboard('{ArrowDown}');
    expect(incremental).toBeChecked();
    expect(incremental).toHaveFocus();
    expect(full).not.toBeChecked();
    // The mode is a choice of its own.
    expect(screen.getByRole('radio', { name: 'Cold' })).toBeChecked();
    await next(user, 'Step 5 of 5: Review');

    expect(
      screen.getByText(/Cold migration · strategy: Incremental — only what differs travels ·/),
    ).toBeInTheDocument();
    await waitFor(() => {
      expect(screen.getByRole('button', { name: 'Start migration' })).toBeEnabled();
    });
    await user.click(screen.getByRole('button', { name: 'Start migration' }));
    expect(await screen.findByText('landed on m-new')).toBeInTheDocument();
    expect(dryRunCalls(calls).map((call) => (call.body as MigrationRequestBody).strategy)).toEqual([
      'full',
      'incremental',
    ]);
    const started = calls.filter(
      (call) => call.method === 'POST' && !(call.body as MigrationRequestBody).dry_run,
    );
    expect(started.map((call) => (call.body as MigrationRequestBody).strategy)).toEqual(['incremental']);
  });

  it('says that an incremental copy of volumes alone, the source kept running, is only crash-consistent', async () => {
    const user = userEvent.setup();
    api([preflightWith([])]);
    renderWizard();
    await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' });
    await next(user, 'Step 2 of 5: Resources');
    await user.click(await screen.findByRole('checkbox', { name: 'scratch' }));
    await next(user, 'Step 3 of 5: Target worker');
    await user.click(screen.getByRole('radio', { name: 'beta' }));
    await next(user, 'Step 4 of 5: Options');

    const strategies = screen.getByRole('group', { name: 'Copy strategy' });
    await user.click(within(strategies).getByRole('radio', { name: 'Incremental' }));
    expect(within(strategies).queryByText(/crash-consistent/)).not.toBeInTheDocument();
    await user.click(screen.getByRole('radio', { name: 'Keep running' }));
    expect(within(strategies).getByText(/crash-consistent/)).toHaveTextContent(
      'Volumes only, source kept running: a re-sync. The copy is only crash-consistent, as the source keeps writing.',
    );
    await next(user, 'Step 5 of 5: Review');
    expect(screen.getByText(/a re-sync\. The copy is only crash-consistent/)).toBeInTheDocument();
  });

  it('starts with no source chosen without ?from=', async () => {
    api([preflightWith([])]);
    renderWizard('/migrations/new');
    const sources = await screen.findByRole('group', { name: 'Migrate from' });
    // Opening the page is not a step change: focus stays where the browser put it.
    expect(screen.getByRole('heading', { name: 'Step 1 of 5: Source worker' })).not.toHaveFocus();
    expect(within(sources).getByRole('radio', { name: 'alpha' })).not.toBeChecked();
    expect(screen.getByRole('button', { name: 'Next' })).toBeDisabled();
    expect(screen.getByText('Choose the worker to migrate from.')).toBeInTheDocument();
  });

  it('lets a clean plan start at once', async () => {
    const user = userEvent.setup();
    api([preflightWith([ALREADY_PRESENT_INFO])]);
    renderWizard();
    await walkToReview(user);
    await screen.findByRole('region', { name: 'Notes (1)' });
    expect(screen.queryByRole('checkbox', { name: 'I have read the warnings' })).not.toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Start migration' })).toBeEnabled();
  });

  it('blocks the start on an error finding until preflight passes again', async () => {
    const user = userEvent.setup();
    const { calls } = api([
      preflightWith([NAME_CONFLICT_ERROR, RUNNING_WARNING]),
      preflightWith([RUNNING_WARNING]),
    ]);
    renderWizard();
    await walkToReview(user);

    expect(await screen.findByRole('region', { name: 'Errors (1)' })).toHaveTextContent(
      /a container named "app-1" already exists on "beta"/,
    );
    const start = screen.getByRole('button', { name: 'Start migration' });
    expect(start).toBeDisabled();
    expect(start).toHaveAccessibleDescription(/Preflight found 1 error that blocks the migration/);
    await user.click(screen.getByRole('checkbox', { name: 'I have read the warnings' }));
    expect(start).toBeDisabled();

    await user.click(screen.getByRole('button', { name: 'Run preflight again' }));
    await waitFor(() => {
      expect(screen.queryByRole('region', { name: 'Errors (1)' })).not.toBeInTheDocument();
    });
    expect(dryRunCalls(calls)).toHaveLength(2);
    // Running it again asks for the warnings to be read again.
    expect(screen.getByRole('checkbox', { name: 'I have read the warnings' })).not.toBeChecked();
    expect(screen.getByRole('button', { name: 'Start migration' })).toBeDisabled();
    await user.click(screen.getByRole('checkbox', { name: 'I have read the warnings' }));
    expect(screen.getByRole('button', { name: 'Start migration' })).toBeEnabled();
  });

  it('lets findings that block until accepted be accepted with the warnings and sends their codes', async () => {
    const user = userEvent.setup();
    const layer: FindingJson = {
      severity: 'error',
      code: 'writable_layer_changes',
      message:
        'container "app-1" has 3 files changed outside its volumes (/etc/app.conf, /var/cache/a, /root/.history): only volumes are migrated, so they are not on "beta", and removing it on "alpha" afterwards deletes them; acknowledge writable_layer_changes to go on',
      resource: { type: 'container', name: 'app-1' },
    };
    const hostPath: FindingJson = {
      severity: 'error',
      code: 'volume_host_path',
      message:
        'volume "app-data" is bound to the host folder /srv/app on "alpha": its content is written into the host folder /srv/app on "beta"; acknowledge volume_host_path to go on',
      resource: { type: 'volume', name: 'app-data' },
    };
    const { calls } = api([{ body: { ...dryRun([layer, hostPath, RUNNING_WARNING]), blocked: true } }]);
    renderWizard();
    await walkToReview(user);

    const toAccept = await screen.findByRole('region', { name: 'Blocking until you accept them (2)' });
    expect(toAccept).toHaveTextContent(/3 files changed outside its volumes/);
    expect(toAccept).toHaveTextContent(/host folder \/srv\/app on "beta"/);
    expect(screen.queryByRole('region', { name: /^Errors/ })).not.toBeInTheDocument();
    expect(screen.getByRole('status')).toHaveTextContent(
      'Preflight found 2 findings to accept and 1 warning.',
    );
    const start = screen.getByRole('button', { name: 'Start migration' });
    expect(start).toBeDisabled();
    expect(start).toHaveAccessibleDescription(/2 of them block the migration until you accept them/);
    const tick = screen.getByRole('checkbox', { name: 'I have read the warnings' });
    expect(tick).toHaveAccessibleDescription('and accept what blocks until accepted');
    await user.click(tick);
    expect(start).toBeEnabled();
    await user.click(start);

    expect(await screen.findByText('landed on m-new')).toBeInTheDocument();
    // One dry run, without acknowledgements; the start names exactly the codes of the findings shown.
    expect(dryRunCalls(calls).map((call) => (call.body as MigrationRequestBody).acknowledge)).toEqual([[]]);
    const started = calls.filter(
      (call) => call.method === 'POST' && !(call.body as MigrationRequestBody).dry_run,
    );
    expect(started.map((call) => (call.body as MigrationRequestBody).acknowledge)).toEqual([
      ['writable_layer_changes', 'volume_host_path'],
    ]);
  });

  it('still blocks on an error that cannot be accepted beside one that can', async () => {
    const user = userEvent.setup();
    const layer: FindingJson = {
      severity: 'error',
      code: 'writable_layer_changes',
      message: 'container "app-1" has 1 file changed outside its volumes',
    };
    api([{ body: { ...dryRun([NAME_CONFLICT_ERROR, layer]), blocked: true } }]);
    renderWizard();
    await walkToReview(user);
    await screen.findByRole('region', { name: 'Errors (1)' });
    await user.click(screen.getByRole('checkbox', { name: 'I have read the warnings' }));
    expect(screen.getByRole('button', { name: 'Start migration' })).toBeDisabled();
  });

  it('turns unmapped bind mounts from preflight into rules on the options step', async () => {
    const user = userEvent.setup();
    const { calls } = api([preflightWith([UNMAPPED_BIND_ERROR]), preflightWith([])]);
    renderWizard();
    await walkToReview(user);

    await user.click(await screen.findByRole('button', { name: 'Add rules for these bind mounts' }));
    expect(await screen.findByRole('heading', { name: 'Step 4 of 5: Options' })).toBeInTheDocument();
    const row = screen.getByRole('group', { name: 'Bind mount 1' });
    expect(within(row).getByRole('textbox', { name: 'Source path' })).toHaveValue('/srv/app/config');
    await user.click(within(row).getByRole('checkbox', { name: 'Skip' }));
    expect(within(row).getByRole('textbox', { name: 'Target path' })).toBeDisabled();
    await next(user, 'Step 5 of 5: Review');

    await waitFor(() => {
      expect(screen.getByRole('button', { name: 'Start migration' })).toBeEnabled();
    });
    expect(dryRunCalls(calls)[1]?.body).toMatchObject({ bind_mounts: { '/srv/app/config': 'skip' } });
  });

  it('says in words why the preflight could not run', async () => {
    const user = userEvent.setup();
    api([apiError(400, 'invalid_argument', 'source worker "alpha" not found')]);
    renderWizard();
    await walkToReview(user);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /The preflight check could not run.*source worker "alpha" not found/,
    );
    expect(screen.getByRole('button', { name: 'Start migration' })).toBeDisabled();
  });

  it('shows a refused start with the findings the master sent', async () => {
    const user = userEvent.setup();
    api(
      [preflightWith([])],
      apiError(
        412,
        'failed_precondition',
        'preflight found 1 problem: a container named "app-1" already exists',
        {
          findings: [NAME_CONFLICT_ERROR],
        },
      ),
    );
    renderWizard();
    await walkToReview(user);
    await user.click(await screen.findByRole('button', { name: 'Start migration' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /The migration did not start.*preflight found 1 problem/,
    );
    expect(screen.getByRole('region', { name: 'Errors (1)' })).toBeInTheDocument();
    expect(screen.queryByText(/landed on/)).not.toBeInTheDocument();
  });

  it('moves focus to the step a "Change" link of the review goes back to, the first one too', async () => {
    const user = userEvent.setup();
    api([preflightWith([])]);
    renderWizard();
    await walkToReview(user);

    await user.click(screen.getByRole('button', { name: 'Change source' }));
    expect(await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' })).toHaveFocus();
    await next(user, 'Step 2 of 5: Resources');
    await next(user, 'Step 3 of 5: Target worker');
    await next(user, 'Step 4 of 5: Options');
    await next(user, 'Step 5 of 5: Review');
    await user.click(screen.getByRole('button', { name: 'Change options' }));
    expect(await screen.findByRole('heading', { name: 'Step 4 of 5: Options' })).toHaveFocus();
  });

  it('keeps focus on the bind mount rules as rows are added and removed', async () => {
    const user = userEvent.setup();
    api([preflightWith([])]);
    renderWizard();
    await walkToReview(user);
    await user.click(screen.getByRole('button', { name: 'Change options' }));
    const add = await screen.findByRole('button', { name: 'Add bind mount' });

    await user.click(add);
    const first = within(screen.getByRole('group', { name: 'Bind mount 1' }));
    expect(first.getByRole('textbox', { name: 'Source path' })).toHaveFocus();
    await user.click(add);
    expect(
      within(screen.getByRole('group', { name: 'Bind mount 2' })).getByRole('textbox', {
        name: 'Source path',
      }),
    ).toHaveFocus();

    await user.click(screen.getByRole('button', { name: 'Remove bind mount 2' }));
    expect(first.getByRole('textbox', { name: 'Source path' })).toHaveFocus();
    await user.click(screen.getByRole('button', { name: 'Remove bind mount 1' }));
    expect(add).toHaveFocus();
  });

  it('starts afresh when a "Migrate" link is followed from the wizard itself', async () => {
    const user = userEvent.setup();
    api([preflightWith([])]);
    renderWizard();
    await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' });
    await next(user, 'Step 2 of 5: Resources');

    await user.click(screen.getByRole('link', { name: 'Migrate' }));

    expect(await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' })).toBeInTheDocument();
    expect(screen.getByRole('radio', { name: 'alpha' })).not.toBeChecked();
  });

  it('forgets the ticked resources when another source is chosen', async () => {
    const user = userEvent.setup();
    api([preflightWith([])]);
    renderWizard();
    await screen.findByRole('heading', { name: 'Step 1 of 5: Source worker' });
    await next(user, 'Step 2 of 5: Resources');
    await user.click(await screen.findByRole('checkbox', { name: 'cache' }));
    await user.click(screen.getByRole('button', { name: 'Back' }));
    await user.click(screen.getByRole('radio', { name: 'beta' }));
    await user.click(screen.getByRole('radio', { name: 'alpha' }));
    await next(user, 'Step 2 of 5: Resources');
    expect(await screen.findByRole('checkbox', { name: 'cache' })).not.toBeChecked();
  });

  it('says when the workers cannot be loaded', async () => {
    fakeApi({ 'GET /api/workers': apiError(503, 'unavailable', 'the master is shutting down') });
    renderWizard();
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'The workers could not be loadedthe master is shutting down',
    );
  });
});
