// Status words, the phase stepper's states, durations and the one-line summary of what a migration moves.
import { describe, expect, it } from 'vitest';

import type { MigrationPhase, MigrationStatus, ResourceJson } from '../api/migration-types';
import {
  elapsedMs,
  isFinished,
  mainResourceName,
  migrationDurationMs,
  phaseSteps,
  resourcesSummary,
} from './migration-status';

function resource(
  name: string,
  reason: ResourceJson['reason'],
  type: ResourceJson['type'] = 'volume',
): ResourceJson {
  return {
    type,
    name,
    source_id: name,
    target_name: name,
    reason,
    action: 'create',
    status: 'pending',
    bytes: 0,
    estimated_bytes: 0,
  };
}

const events = (...phases: MigrationPhase[]) => phases.map((phase) => ({ phase }));

describe('isFinished', () => {
  it('is true for the statuses a migration never leaves', () => {
    expect(isFinished('completed')).toBe(true);
    expect(isFinished('rolled_back')).toBe(true);
    expect(isFinished('failed')).toBe(true);
    expect(isFinished('cancelled')).toBe(true);
    expect(isFinished('running')).toBe(false);
    expect(isFinished('pending')).toBe(false);
  });
});

describe('phaseSteps', () => {
  const moved = [resource('web', 'requested', 'container'), resource('data', 'dependency')];
  const cold = (
    phase: MigrationPhase,
    status: MigrationStatus,
    extra: { cancel_requested?: boolean } = {},
  ) => ({
    phase,
    status,
    mode: 'cold' as const,
    resources: moved,
    ...extra,
  });
  const shown = (steps: ReturnType<typeof phaseSteps>) => steps.map((step) => `${step.label}:${step.state}`);

  it('orders a cold run as it runs: the source stops before the copy', () => {
    const steps = phaseSteps(cold('transfer', 'running'), events('preflight', 'prepare', 'stop_source'));
    expect(shown(steps)).toEqual([
      'Preflight:done',
      'Prepare:done',
      'Stop source:done',
      'Transfer:current',
      'Create:upcoming',
      'Start:upcoming',
      'Finalize:upcoming',
      'Done:upcoming',
    ]);
  });

  it('orders a warm run as it runs: pre-copy while the source runs, the stop, then the final copy', () => {
    const warm = {
      phase: 'transfer' as const,
      status: 'running' as const,
      mode: 'warm' as const,
      resources: moved,
    };
    const before = phaseSteps(warm, events('preflight', 'prepare', 'create', 'transfer'));
    expect(shown(before)).toEqual([
      'Preflight:done',
      'Prepare:done',
      'Create:done',
      'Pre-copy:current',
      'Stop source:upcoming',
      'Final copy:upcoming',
      'Start:upcoming',
      'Finalize:upcoming',
      'Done:upcoming',
    ]);
    const after = phaseSteps(
      warm,
      events('preflight', 'prepare', 'create', 'transfer', 'stop_source', 'transfer'),
    );
    expect(shown(after).slice(3, 6)).toEqual(['Pre-copy:done', 'Stop source:done', 'Final copy:current']);
  });

  it('has no Stop source step when no container moves', () => {
    const volumeOnly = { ...cold('prepare', 'running'), resources: [resource('data', 'requested')] };
    expect(phaseSteps(volumeOnly, []).map((step) => step.phase)).not.toContain('stop_source');
  });

  it('marks every step done when completed', () => {
    expect(phaseSteps(cold('done', 'completed'), []).every((step) => step.state === 'done')).toBe(true);
  });

  it('shows where a rolled-back migration failed, and its rollback', () => {
    const steps = phaseSteps(
      cold('done', 'rolled_back'),
      events('preflight', 'prepare', 'stop_source', 'transfer', 'create', 'rollback', 'rollback', 'done'),
    );
    expect(shown(steps)).toEqual([
      'Preflight:done',
      'Prepare:done',
      'Stop source:done',
      'Transfer:done',
      'Create:failed',
      'Start:upcoming',
      'Finalize:upcoming',
      'Rollback:done',
      'Done:done',
    ]);
  });

  it('shows the rollback as current while it runs, and failed when it could not finish', () => {
    const running = phaseSteps(cold('rollback', 'running'), events('preflight', 'transfer', 'rollback'));
    expect(running.find((step) => step.phase === 'rollback')?.state).toBe('current');
    expect(running.find((step) => step.phase === 'transfer')?.state).toBe('failed');
    const failed = phaseSteps(cold('done', 'failed'), events('transfer', 'rollback', 'done'));
    expect(failed.find((step) => step.phase === 'rollback')?.state).toBe('failed');
  });

  it('shows where a cancelled migration was stopped as cancelled, not failed, during and after its rollback', () => {
    const rolling = phaseSteps(
      cold('rollback', 'running', { cancel_requested: true }),
      events('preflight', 'prepare', 'stop_source', 'transfer', 'rollback'),
    );
    expect(rolling.find((step) => step.phase === 'transfer')?.state).toBe('cancelled');
    expect(rolling.find((step) => step.phase === 'stop_source')?.state).toBe('done');
    const ended = phaseSteps(cold('done', 'cancelled'), events('transfer', 'rollback', 'done'));
    expect(ended.find((step) => step.phase === 'transfer')?.state).toBe('cancelled');
    expect(ended.find((step) => step.phase === 'rollback')?.state).toBe('done');
    expect(ended.some((step) => step.state === 'failed')).toBe(false);
  });

  it('takes the failed step from the migration when there are no events', () => {
    const steps = phaseSteps(cold('create', 'rolled_back'), []);
    expect(steps.find((step) => step.state === 'failed')?.phase).toBe('create');
  });
});

describe('durations', () => {
  const migration = {
    created_at: '2026-11-29T12:00:00.000Z',
    started_at: '2026-11-29T12:00:02.000Z',
    completed_at: '2026-11-29T12:01:02.000Z',
  };

  it('measures from start to completion', () => {
    expect(migrationDurationMs(migration)).toBe(60_000);
    expect(migrationDurationMs({ ...migration, completed_at: null })).toBeNull();
    expect(migrationDurationMs({ ...migration, started_at: null })).toBeNull();
  });

  it('counts elapsed time up to now while running, from creation when not started', () => {
    const now = Date.parse('2026-11-29T12:00:12.000Z');
    expect(elapsedMs({ ...migration, completed_at: null }, now)).toBe(10_000);
    expect(elapsedMs({ ...migration, started_at: null, completed_at: null }, now)).toBe(12_000);
    expect(elapsedMs(migration, now)).toBe(60_000);
  });
});

describe('names and summaries', () => {
  it('names a migration by its first requested container', () => {
    const resources = [
      resource('data', 'requested'),
      resource('nginx:1.27', 'dependency', 'image'),
      resource('app-1', 'requested', 'container'),
    ];
    expect(mainResourceName({ id: 'm-1', resources })).toBe('app-1');
    expect(mainResourceName({ id: 'm-1', resources: [] })).toBe('m-1');
  });

  it('summarises what moves: the requested names, then how many dependencies', () => {
    expect(resourcesSummary([])).toBe('nothing planned');
    expect(
      resourcesSummary([
        resource('shop_default', 'dependency', 'network'),
        resource('nginx', 'dependency', 'image'),
        resource('app-data', 'dependency'),
        resource('app-1', 'requested', 'container'),
      ]),
    ).toBe('app-1 + 3 dependencies');
    expect(resourcesSummary([resource('scratch', 'requested')])).toBe('scratch');
    expect(
      resourcesSummary([
        resource('a', 'compose', 'container'),
        resource('b', 'compose', 'container'),
        resource('c', 'compose', 'container'),
        resource('d', 'requested'),
        resource('img', 'dependency', 'image'),
      ]),
    ).toBe('a, b and 2 more + 1 dependency');
  });
});
