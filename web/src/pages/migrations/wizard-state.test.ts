// The wizard's logic: reducer, step checks, dependencies, compose projects, request body and the start decision.
import { describe, expect, it } from 'vitest';

import type { FindingJson } from '../../api/migration-types';
import { groupFindings } from '../../lib/migration-findings';
import {
  ALPHA_RESOURCES,
  ALREADY_PRESENT_INFO,
  NAME_CONFLICT_ERROR,
  RUNNING_WARNING,
  UNMAPPED_BIND_ERROR,
  WORKERS,
} from '../../testing/fixtures';
import {
  bindMountProblems,
  bindMountRules,
  broughtAlong,
  buildRequest,
  composeProjects,
  containerDependencies,
  detectedBindMounts,
  filterResources,
  hasSelection,
  imageName,
  initialWizardState,
  isRunningResync,
  isUserNetwork,
  selectedCount,
  selectionNames,
  startDecision,
  startRequest,
  stepProblem,
  warningSignature,
  wizardReducer,
  type WizardAction,
  type WizardState,
} from './wizard-state';

function run(state: WizardState, ...actions: WizardAction[]): WizardState {
  return actions.reduce(wizardReducer, state);
}

const [APP, DB, CACHE] = ALPHA_RESOURCES.containers;

/** A wizard that has reached the options step with app-1 from alpha to beta. */
function atOptions(): WizardState {
  return run(
    initialWizardState('w-alpha'),
    { type: 'next' },
    { type: 'toggle', kind: 'containers', id: APP!.id },
    { type: 'next' },
    { type: 'chooseTarget', workerId: 'w-beta' },
    { type: 'next' },
  );
}

describe('initialWizardState', () => {
  it('preselects the source from ?from= and starts on step 1 with the safe defaults', () => {
    const state = initialWizardState('w-alpha');
    expect(state.step).toBe(1);
    expect(state.sourceId).toBe('w-alpha');
    expect(state.options).toEqual({
      mode: 'cold',
      strategy: 'full',
      transferMode: 'auto',
      compression: 'none',
      conflictPolicy: 'fail',
      sourcePolicy: 'keep_stopped',
    });
  });

  it('has no source without ?from= or with an empty one', () => {
    expect(initialWizardState().sourceId).toBeNull();
    expect(initialWizardState(null).sourceId).toBeNull();
    expect(initialWizardState('').sourceId).toBeNull();
  });
});

describe('wizardReducer', () => {
  it('moves between steps without leaving 1..5', () => {
    let state = initialWizardState();
    state = run(state, { type: 'back' });
    expect(state.step).toBe(1);
    state = run(
      state,
      { type: 'next' },
      { type: 'next' },
      { type: 'next' },
      { type: 'next' },
      { type: 'next' },
    );
    expect(state.step).toBe(5);
    state = run(state, { type: 'back' });
    expect(state.step).toBe(4);
  });

  it('jumps back to a passed step but never ahead', () => {
    const state = atOptions();
    expect(run(state, { type: 'goTo', step: 2 }).step).toBe(2);
    expect(run(state, { type: 'goTo', step: 5 }).step).toBe(4);
  });

  it('toggles a selection on and off', () => {
    let state = run(initialWizardState('w-alpha'), { type: 'toggle', kind: 'volumes', id: 'scratch' });
    expect(state.selection.volumes).toEqual(['scratch']);
    state = run(state, { type: 'toggle', kind: 'volumes', id: 'scratch' });
    expect(state.selection.volumes).toEqual([]);
  });

  it('forgets the resources and bind mounts of the old source when the source changes', () => {
    let state = run(
      initialWizardState('w-alpha'),
      { type: 'toggle', kind: 'containers', id: APP!.id },
      { type: 'chooseTarget', workerId: 'w-beta' },
      { type: 'addBindMount' },
      { type: 'setFilter', filter: 'app' },
    );
    state = run(state, { type: 'chooseSource', workerId: 'w-beta' });
    expect(state.sourceId).toBe('w-beta');
    expect(hasSelection(state.selection)).toBe(false);
    expect(state.bindMounts).toEqual([]);
    expect(state.filter).toBe('');
    expect(state.targetId).toBeNull();
  });

  it('keeps everything when the same source is chosen again', () => {
    const state = run(initialWizardState('w-alpha'), { type: 'toggle', kind: 'containers', id: APP!.id });
    expect(run(state, { type: 'chooseSource', workerId: 'w-alpha' })).toBe(state);
  });

  it('keeps a target that differs from the new source', () => {
    const state = run(
      initialWizardState('w-alpha'),
      { type: 'chooseTarget', workerId: 'w-beta' },
      { type: 'chooseSource', workerId: 'w-gamma' },
    );
    expect(state.targetId).toBe('w-beta');
  });

  it('merges option changes', () => {
    const state = run(initialWizardState(), { type: 'setOptions', options: { conflictPolicy: 'rename' } });
    expect(state.options.conflictPolicy).toBe('rename');
    expect(state.options.transferMode).toBe('auto');
  });

  it('adds, edits and removes bind mount rows with their own ids', () => {
    let state = run(initialWizardState(), { type: 'addBindMount' }, { type: 'addBindMount' });
    expect(state.bindMounts.map((row) => row.id)).toEqual([1, 2]);
    state = run(state, { type: 'updateBindMount', id: 2, changes: { source: '/srv', skip: true } });
    expect(state.bindMounts[1]).toEqual({ id: 2, source: '/srv', target: '', skip: true });
    state = run(state, { type: 'removeBindMount', id: 1 }, { type: 'addBindMount' });
    expect(state.bindMounts.map((row) => row.id)).toEqual([2, 3]);
  });

  it('adds detected bind mounts once each, mapped to the same path', () => {
    let state = run(
      initialWizardState(),
      { type: 'addBindMount' },
      { type: 'updateBindMount', id: 1, changes: { source: '/srv/logs/', skip: true } },
    );
    state = run(state, { type: 'addDetectedBindMounts', sources: ['/srv/logs', '/srv/conf', '/srv/conf'] });
    expect(state.bindMounts).toEqual([
      { id: 1, source: '/srv/logs/', target: '', skip: true },
      { id: 2, source: '/srv/conf', target: '/srv/conf', skip: false },
    ]);
  });

  it('drops the acknowledgement of warnings whenever the plan could change', () => {
    const acknowledged = run(atOptions(), { type: 'next' }, { type: 'acknowledge', warnings: 'sig' });
    expect(acknowledged.acknowledged).toBe('sig');
    const changes: WizardAction[] = [
      { type: 'toggle', kind: 'images', id: 'sha256:img-redis' },
      { type: 'chooseTarget', workerId: 'w-gamma' },
      { type: 'chooseSource', workerId: 'w-gamma' },
      { type: 'setOptions', options: { sourcePolicy: 'remove' } },
      { type: 'addBindMount' },
      { type: 'addDetectedBindMounts', sources: ['/srv'] },
    ];
    for (const change of changes) expect(run(acknowledged, change).acknowledged).toBeNull();
    expect(run(acknowledged, { type: 'back' }, { type: 'next' }).acknowledged).toBe('sig');
  });
});

describe('resources', () => {
  it('tells user-defined networks from the built-in ones', () => {
    expect(isUserNetwork({ name: 'shop_default', builtIn: false })).toBe(true);
    expect(isUserNetwork({ name: 'bridge' })).toBe(false);
    expect(isUserNetwork({ name: 'host', builtIn: false })).toBe(false);
    expect(isUserNetwork({ name: 'custom', builtIn: true })).toBe(false);
  });

  it('names an image by its first tag, or its short id when untagged', () => {
    expect(imageName({ id: 'sha256:abc', tags: ['nginx:1.27', 'nginx:latest'] })).toBe('nginx:1.27');
    expect(imageName({ id: 'sha256:0123456789abcdef', tags: [] })).toBe('0123456789ab');
  });

  it('lists the image, named volumes and user-defined networks a container brings along', () => {
    expect(containerDependencies(APP!, ALPHA_RESOURCES)).toEqual({
      image: { id: 'sha256:img-nginx', name: 'nginx:1.27' },
      volumes: ['app-data'],
      networks: [{ id: 'n-shop', name: 'shop_default' }],
    });
    expect(containerDependencies(CACHE!, ALPHA_RESOURCES).networks).toEqual([]);
  });

  it('falls back to the container’s image reference and network names the worker does not list', () => {
    const dependencies = containerDependencies(
      { ...APP!, imageId: 'sha256:gone', image: 'nginx:old', networkNames: ['vanished', 'none'] },
      ALPHA_RESOURCES,
    );
    expect(dependencies.image).toEqual({ id: 'sha256:gone', name: 'nginx:old' });
    expect(dependencies.networks).toEqual([{ id: 'vanished', name: 'vanished' }]);
  });

  it('derives compose projects from the project label, sorted by name', () => {
    const other = { ...CACHE!, id: 'c4', name: 'web', labels: { 'com.docker.compose.project': 'blog' } };
    const projects = composeProjects([...ALPHA_RESOURCES.containers, other]);
    expect(projects.map((project) => project.name)).toEqual(['blog', 'shop']);
    expect(projects[1]!.containers.map((c) => c.name)).toEqual(['app-1', 'db-1']);
  });

  it('says what a selected container brings along, and for whom', () => {
    const along = broughtAlong(
      { containers: [APP!.id, DB!.id], images: [], volumes: [], networks: [], composeProjects: [] },
      ALPHA_RESOURCES,
    );
    expect(along.get('image:sha256:img-nginx')).toEqual(['app-1']);
    expect(along.get('volume:db-data')).toEqual(['db-1']);
    expect(along.get('network:shop_default')).toEqual(['app-1', 'db-1']);
    expect(along.has('network:bridge')).toBe(false);
    expect(along.has('volume:scratch')).toBe(false);
  });

  it('brings along the containers of a selected compose project and what they need', () => {
    const along = broughtAlong(
      { containers: [], images: [], volumes: [], networks: [], composeProjects: ['shop'] },
      ALPHA_RESOURCES,
    );
    expect(along.get(`container:${APP!.id}`)).toEqual(['project shop']);
    expect(along.get(`container:${DB!.id}`)).toEqual(['project shop']);
    expect(along.get('image:sha256:img-postgres')).toEqual(['db-1']);
    expect(along.has(`container:${CACHE!.id}`)).toBe(false);
  });

  it('knows whether anything is selected, and how much', () => {
    const none = initialWizardState().selection;
    expect(hasSelection(none)).toBe(false);
    expect(hasSelection({ ...none, composeProjects: ['shop'] })).toBe(true);
    expect(selectedCount({ ...none, volumes: ['a', 'b'], networks: ['n'] })).toBe(3);
  });

  it('filters every list by the filter box, case-insensitively, and hides built-in networks', () => {
    const all = filterResources(ALPHA_RESOURCES, '');
    expect(all.containers.map((c) => c.name)).toEqual(['app-1', 'cache', 'db-1']);
    expect(all.networks.map((n) => n.name)).toEqual(['shop_default', 'tools']);
    expect(all.projects.map((p) => p.name)).toEqual(['shop']);

    const db = filterResources(ALPHA_RESOURCES, '  DB ');
    expect(db.containers.map((c) => c.name)).toEqual(['db-1']);
    expect(db.volumes.map((v) => v.name)).toEqual(['db-data']);
    expect(db.projects.map((p) => p.name)).toEqual(['shop']);
    expect(db.images).toEqual([]);

    const postgres = filterResources(ALPHA_RESOURCES, 'postgres');
    expect(postgres.containers.map((c) => c.name)).toEqual(['db-1']);
    expect(postgres.images.map((i) => i.tags[0])).toEqual(['postgres:16']);
  });

  it('names the selection for the review, keeping ids the worker no longer lists', () => {
    const names = selectionNames(
      {
        containers: [APP!.id, 'c-gone'],
        images: ['sha256:img-redis'],
        volumes: ['scratch'],
        networks: ['n-tools'],
        composeProjects: ['shop'],
      },
      ALPHA_RESOURCES,
    );
    expect(names).toEqual({
      containers: ['app-1', 'c-gone'],
      images: ['redis:7'],
      volumes: ['scratch'],
      networks: ['tools'],
      composeProjects: ['shop'],
    });
  });
});

describe('bind mounts', () => {
  const row = (id: number, source: string, target: string, skip = false) => ({ id, source, target, skip });

  it('accepts absolute paths and skipped mounts', () => {
    expect(bindMountProblems([row(1, '/srv/a', '/data/a'), row(2, '/srv/b', '', true)])).toEqual([]);
  });

  it('explains each problem with the row number', () => {
    expect(
      bindMountProblems([
        row(1, '', '/x'),
        row(2, 'srv', '/x'),
        row(3, '/srv/a', ''),
        row(4, '/srv/b', 'data'),
        row(5, '/srv/a/', '/y'),
      ]),
    ).toEqual([
      'Bind mount 1: enter the source path, or remove the row.',
      'Bind mount 2: the source path must be absolute (start with /).',
      'Bind mount 3: enter a target path, or choose skip.',
      'Bind mount 4: the target path must be absolute (start with /).',
      'Bind mount 5: /srv/a/ is listed twice.',
    ]);
  });

  it('turns rows into the request’s rules: a path or "skip"', () => {
    expect(
      bindMountRules([row(1, ' /srv/a ', ' /data/a '), row(2, '/srv/b', '/ignored', true), row(3, '', '')]),
    ).toEqual({ '/srv/a': '/data/a', '/srv/b': 'skip' });
  });

  it('reads unmapped bind mounts out of preflight findings’ details, once per source path', () => {
    const second: FindingJson = { ...UNMAPPED_BIND_ERROR, resource: { type: 'container', name: 'app-2' } };
    const third: FindingJson = {
      ...UNMAPPED_BIND_ERROR,
      message: 'worded differently',
      details: { host_path: '/srv/logs', container_path: '/var/log/app' },
    };
    expect(
      detectedBindMounts([UNMAPPED_BIND_ERROR, second, third, RUNNING_WARNING, NAME_CONFLICT_ERROR]),
    ).toEqual([
      { container: 'app-1', source: '/srv/app/config', destination: '/etc/nginx/conf.d' },
      { container: 'app-1', source: '/srv/logs', destination: '/var/log/app' },
    ]);
  });
});

describe('stepProblem', () => {
  it('needs an online source on step 1', () => {
    expect(stepProblem(initialWizardState(), WORKERS)).toBe('Choose the worker to migrate from.');
    expect(stepProblem(initialWizardState('w-gamma'), WORKERS)).toBe(
      'gamma is offline; choose an online worker.',
    );
    expect(stepProblem(initialWizardState('w-removed'), WORKERS)).toMatch(/not enrolled/);
    expect(stepProblem(initialWizardState('w-alpha'), WORKERS)).toBeNull();
  });

  it('needs something selected on step 2', () => {
    const state = run(initialWizardState('w-alpha'), { type: 'next' });
    expect(stepProblem(state, WORKERS)).toMatch(/Select at least one/);
    const selected = run(state, { type: 'toggle', kind: 'composeProjects', id: 'shop' });
    expect(stepProblem(selected, WORKERS)).toBeNull();
  });

  it('needs an online target other than the source on step 3', () => {
    const state = run(
      initialWizardState('w-alpha'),
      { type: 'next' },
      { type: 'toggle', kind: 'volumes', id: 'scratch' },
      { type: 'next' },
    );
    expect(stepProblem(state, WORKERS)).toBe('Choose the worker to migrate to.');
    expect(stepProblem(run(state, { type: 'chooseTarget', workerId: 'w-alpha' }), WORKERS)).toMatch(
      /another worker/,
    );
    expect(stepProblem(run(state, { type: 'chooseTarget', workerId: 'w-gamma' }), WORKERS)).toMatch(
      /offline/,
    );
    expect(stepProblem(run(state, { type: 'chooseTarget', workerId: 'w-beta' }), WORKERS)).toBeNull();
  });

  it('needs valid bind mount rules on step 4', () => {
    const state = atOptions();
    expect(stepProblem(state, WORKERS)).toBeNull();
    expect(stepProblem(run(state, { type: 'addBindMount' }), WORKERS)).toMatch(
      /^Bind mount 1: enter the source/,
    );
  });
});

describe('buildRequest', () => {
  it('sends the selection, the options and the bind mount rules in the API’s names', () => {
    const state = run(
      atOptions(),
      { type: 'goTo', step: 2 },
      { type: 'toggle', kind: 'composeProjects', id: 'shop' },
      { type: 'toggle', kind: 'networks', id: 'n-tools' },
      { type: 'toggle', kind: 'images', id: 'sha256:img-redis' },
      { type: 'toggle', kind: 'volumes', id: 'scratch' },
      {
        type: 'setOptions',
        options: {
          strategy: 'incremental',
          transferMode: 'proxy',
          compression: 'zstd',
          conflictPolicy: 'rename',
          sourcePolicy: 'remove',
        },
      },
      { type: 'addDetectedBindMounts', sources: ['/srv/app/config'] },
    );
    expect(buildRequest(state, true)).toEqual({
      source_worker_id: 'w-alpha',
      target_worker_id: 'w-beta',
      container_ids: [APP!.id],
      image_ids: ['sha256:img-redis'],
      volume_names: ['scratch'],
      network_ids: ['n-tools'],
      compose_projects: ['shop'],
      mode: 'cold',
      strategy: 'incremental',
      transfer_mode: 'proxy',
      compression: 'zstd',
      conflict_policy: 'rename',
      source_policy: 'remove',
      bind_mounts: { '/srv/app/config': '/srv/app/config' },
      acknowledge: [],
      dry_run: true,
    });
    expect(buildRequest(state, false).dry_run).toBe(false);
  });

  it('sends the default strategy, full, when none was chosen', () => {
    expect(buildRequest(atOptions(), true).strategy).toBe('full');
  });

  it('refuses to build a request without both workers', () => {
    expect(() => buildRequest(initialWizardState('w-alpha'), true)).toThrow(/source and a target/);
  });
});

describe('isRunningResync', () => {
  /** Only the volume scratch from alpha to beta, incremental, the source kept running. */
  function volumeResync(): WizardState {
    return run(
      atOptions(),
      { type: 'toggle', kind: 'containers', id: APP!.id },
      { type: 'toggle', kind: 'volumes', id: 'scratch' },
      { type: 'setOptions', options: { strategy: 'incremental', sourcePolicy: 'keep_running' } },
    );
  }

  it('calls an incremental copy of volumes alone from a source kept running a re-sync', () => {
    expect(isRunningResync(volumeResync())).toBe(true);
    // Images and networks beside the volumes are not written by the running source.
    const withImage = run(volumeResync(), { type: 'toggle', kind: 'images', id: 'sha256:img-redis' });
    expect(isRunningResync(withImage)).toBe(true);
  });

  it('does not when a container or compose project is selected, or the strategy or source policy differs', () => {
    const state = volumeResync();
    expect(isRunningResync(run(state, { type: 'toggle', kind: 'containers', id: APP!.id }))).toBe(false);
    expect(isRunningResync(run(state, { type: 'toggle', kind: 'composeProjects', id: 'shop' }))).toBe(false);
    expect(isRunningResync(run(state, { type: 'setOptions', options: { strategy: 'full' } }))).toBe(false);
    expect(
      isRunningResync(run(state, { type: 'setOptions', options: { sourcePolicy: 'keep_stopped' } })),
    ).toBe(false);
    expect(isRunningResync(run(state, { type: 'toggle', kind: 'volumes', id: 'scratch' }))).toBe(false);
  });
});

describe('findings and starting', () => {
  const findings = [ALREADY_PRESENT_INFO, RUNNING_WARNING, NAME_CONFLICT_ERROR];

  it('groups findings by severity', () => {
    expect(groupFindings(findings)).toEqual({
      error: [NAME_CONFLICT_ERROR],
      acknowledge: [],
      warning: [RUNNING_WARNING],
      info: [ALREADY_PRESENT_INFO],
    });
  });

  it('lets a plan blocked only by findings to accept start once they are read, naming their codes', () => {
    const toAccept: FindingJson = { severity: 'error', code: 'volume_host_path', message: 'host folder' };
    const shown = [toAccept, RUNNING_WARNING];
    expect(groupFindings(shown).acknowledge).toEqual([toAccept]);
    expect(startDecision({ findings: shown, blocked: true }, null).allowed).toBe(false);
    expect(
      startDecision({ findings: shown, blocked: true }, warningSignature([RUNNING_WARNING])).allowed,
    ).toBe(false);
    expect(startDecision({ findings: shown, blocked: true }, warningSignature(shown))).toEqual({
      allowed: true,
      reason: null,
    });
    const body = buildRequest(atOptions(), true);
    expect(startRequest(body, shown)).toEqual({ ...body, acknowledge: ['volume_host_path'], dry_run: false });
    expect(startRequest(body, [RUNNING_WARNING]).acknowledge).toEqual([]);
  });

  it('signs a set of warnings so that a different set needs a new acknowledgement', () => {
    expect(warningSignature([ALREADY_PRESENT_INFO])).toBeNull();
    const one = warningSignature([RUNNING_WARNING]);
    const other = warningSignature([{ ...RUNNING_WARNING, message: 'something else' }]);
    expect(one).not.toBeNull();
    expect(one).not.toBe(other);
    expect(warningSignature([ALREADY_PRESENT_INFO, RUNNING_WARNING])).toBe(one);
  });

  it('waits for a preflight answer', () => {
    const decision = startDecision(undefined, null);
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/preflight/);
  });

  it('is blocked by errors, even when the warnings were read', () => {
    const decision = startDecision({ findings, blocked: true }, warningSignature(findings));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/^Preflight found 1 error that blocks the migration/);
    expect(
      startDecision({ findings: [NAME_CONFLICT_ERROR, UNMAPPED_BIND_ERROR], blocked: true }, null).reason,
    ).toMatch(/2 errors that block/);
  });

  it('is blocked when the master says so without naming an error', () => {
    const decision = startDecision({ findings: [], blocked: true }, null);
    expect(decision.allowed).toBe(false);
    // No error to count: the reason must not invent one ("1 error that block").
    expect(decision.reason).toMatch(/^Preflight blocks the migration: /);
  });

  it('needs the acknowledgement of exactly these warnings', () => {
    const warned = [RUNNING_WARNING, ALREADY_PRESENT_INFO];
    expect(startDecision({ findings: warned, blocked: false }, null)).toEqual({
      allowed: false,
      reason: 'Read the warnings and tick "I have read the warnings" to start.',
    });
    expect(startDecision({ findings: warned, blocked: false }, 'an older set').allowed).toBe(false);
    expect(startDecision({ findings: warned, blocked: false }, warningSignature(warned))).toEqual({
      allowed: true,
      reason: null,
    });
  });

  it('allows a clean plan at once', () => {
    expect(startDecision({ findings: [ALREADY_PRESENT_INFO], blocked: false }, null).allowed).toBe(true);
  });
});
