// Status words, the phase stepper's states, durations and the one-line summary of what a migration moves.
import { describe, expect, it } from 'vitest';

import type { MigrationPhase, ResourceJson } from '../api/migration-types';
import {
  elapsedMs,
  failedPhase,
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
  it('marks the phases before the current one done while it runs', () => {
    const steps = phaseSteps({ phase: 'transfer', status: 'running' }, events('preflight', 'prepare'));
    expect(steps.map((step) => `${step.phase}:${step.state}`)).toEqual([
      'preflight:done',
      'prepare:done',
      'transfer:current',
      'stop_source:upcoming',
      'create:upcoming',
      'start:upcoming',
      'finalize:upcoming',
      'done:upcoming',
    ]);
  });

  it('marks every phase done when completed', () => {
    expect(
      phaseSteps({ phase: 'done', status: 'completed' }, []).every((step) => step.state === 'done'),
    ).toBe(true);
  });

  it('shows where a rolled-back migration failed, and its rollback', () => {
    const steps = phaseSteps(
      { phase: 'done', status: 'rolled_back' },
      events('preflight', 'prepare', 'transfer', 'create', 'rollback', 'rollback', 'done'),
    );
    expect(steps.map((step) => `${step.phase}:${step.state}`)).toEqual([
      'preflight:done',
      'prepare:done',
      'transfer:done',
      'stop_source:done',
      'create:failed',
      'start:upcoming',
      'finalize:upcoming',
      'rollback:done',
      'done:done',
    ]);
  });

  it('shows the rollback as current while it runs, and failed when it could not finish', () => {
    const running = phaseSteps(
      { phase: 'rollback', status: 'running' },
      events('preflight', 'transfer', 'rollback'),
    );
    expect(running.find((step) => step.phase === 'rollback')?.state).toBe('current');
    expect(running.find((step) => step.phase === 'transfer')?.state).toBe('failed');
    const failed = phaseSteps({ phase: 'done', status: 'failed' }, events('transfer', 'rollback', 'done'));
    expect(failed.find((step) => step.phase === 'rollback')?.state).toBe('failed');
  });

  it('shows where a cancelled migration was stopped as cancelled, not failed, during and after its rollback', () => {
    const rolling = phaseSteps(
      { phase: 'rollback', status: 'running', cancel_requested: true },
      events('preflight', 'prepare', 'transfer', 'rollback'),
    );
    expect(rolling.find((step) => step.phase === 'transfer')?.state).toBe('cancelled');
    const ended = phaseSteps({ phase: 'done', status: 'cancelled' }, events('transfer', 'rollback', 'done'));
    expect(ended.find((step) => step.phase === 'transfer')?.state).toBe('cancelled');
    expect(ended.find((step) => step.phase === 'rollback')?.state).toBe('done');
    expect(ended.some((step) => step.state === 'failed')).toBe(false);
  });

  it('names the failed phase from the migration when there are no events', () => {
    expect(failedPhase({ phase: 'rollback' }, [])).toBe('preflight');
    expect(failedPhase({ phase: 'create' }, [])).toBe('create');
    expect(failedPhase({ phase: 'done' }, events('prepare', 'transfer', 'done'))).toBe('transfer');
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
