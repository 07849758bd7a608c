// The cold strategy lists today's pipeline, step for step, for the plans a migration meets.
import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import type { MigrationPlan, PlannedResource } from './migration.js';
import { stepKey, type MigrationStep, type StepOutcome } from './migration-steps.js';
import { coldStrategy, coldSteps, fixedStrategy, stopLevels, warmStrategy } from './migration-strategy.js';

function resource(
  type: PlannedResource['type'],
  sourceId: string,
  extra: Partial<PlannedResource> = {},
): PlannedResource {
  return {
    type,
    name: sourceId,
    sourceId,
    targetName: sourceId,
    reason: 'requested',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
    ...extra,
  };
}

function plan(...resources: PlannedResource[]): MigrationPlan {
  return { resources, findings: [], totalBytes: 0 };
}

/** Runs a strategy to its end, each step answered with no bytes: the keys of what it asked for. */
function drain(strategy: ReturnType<typeof coldStrategy>): string[] {
  const done: StepOutcome[] = [];
  for (let next = strategy.next(done); next !== 'done'; next = strategy.next(done))
    done.push({ step: next, bytes: 0, durationMs: 0 });
  return done.map((outcome) => stepKey(outcome.step));
}

const APP = plan(
  resource('network', 'n1', { name: 'appnet' }),
  resource('image', 'sha256:nginx'),
  resource('image', 'sha256:postgres'),
  resource('volume', 'web-data'),
  resource('volume', 'db-data'),
  resource('container', 'c-web'),
  resource('container', 'c-db'),
);

describe('coldStrategy', () => {
  it.each<[string, MigrationPlan, string[]]>([
    [
      'a compose app: networks, images, stop, volumes, create, start, switch over',
      APP,
      [
        'phase:prepare',
        'network.prepare:network/n1',
        'image.prepare:image/sha256:nginx',
        'image.prepare:image/sha256:postgres',
        'phase:stop_source',
        'source.stop:container/c-web+container/c-db',
        'phase:transfer',
        'volume.create:volume/web-data',
        'volume.copy:full:volume/web-data',
        'volume.create:volume/db-data',
        'volume.copy:full:volume/db-data',
        'phase:create',
        'container.create:container/c-web',
        'container.create:container/c-db',
        'phase:start',
        'container.start:container/c-web',
        'container.start:container/c-db',
        'switch_over',
      ],
    ],
    [
      'volumes alone: no stop phase, but every other phase is entered',
      plan(resource('volume', 'data')),
      [
        'phase:prepare',
        'phase:transfer',
        'volume.create:volume/data',
        'volume.copy:full:volume/data',
        'phase:create',
        'phase:start',
        'switch_over',
      ],
    ],
    [
      'skipped resources are left out, except images, whose step checks the target itself',
      plan(
        resource('network', 'n1', { action: 'skip' }),
        resource('image', 'sha256:nginx', { action: 'skip' }),
        resource('volume', 'kept', { action: 'skip' }),
        resource('container', 'c-web', { action: 'overwrite' }),
      ),
      [
        'phase:prepare',
        'image.prepare:image/sha256:nginx',
        'phase:stop_source',
        'source.stop:container/c-web',
        'phase:transfer',
        'phase:create',
        'container.create:container/c-web',
        'phase:start',
        'container.start:container/c-web',
        'switch_over',
      ],
    ],
    [
      'a volume whose content is not copied is only created',
      plan(resource('volume', 'share', { copyContent: false }), resource('volume', 'data')),
      [
        'phase:prepare',
        'phase:transfer',
        'volume.create:volume/share',
        'volume.create:volume/data',
        'volume.copy:full:volume/data',
        'phase:create',
        'phase:start',
        'switch_over',
      ],
    ],
  ])('%s', (_name, input, expected) => {
    expect(drain(coldStrategy(input))).toEqual(expected);
    expect(coldSteps(input).map(stepKey)).toEqual(expected);
  });

  it('copies every volume in full, never in rounds', () => {
    const copies = coldSteps(APP).filter(
      (s): s is Extract<MigrationStep, { kind: 'volume.copy' }> => s.kind === 'volume.copy',
    );
    expect(copies.map((s) => s.round)).toEqual(['full', 'full']);
  });

  it('answers the same next step for the same outcomes, whatever came before', () => {
    const strategy = coldStrategy(APP);
    const done: StepOutcome[] = [];
    for (let i = 0; i < 5; i += 1) {
      const step = strategy.next(done);
      if (step === 'done') throw new Error('ended early');
      done.push({ step, bytes: i * 100, durationMs: 10 });
    }
    expect(strategy.next(done)).toEqual(strategy.next([...done]));
    expect(strategy.next(done)).toEqual({
      kind: 'source.stop',
      resources: ['container/c-web', 'container/c-db'],
    });
  });
});

describe('stopLevels', () => {
  it('stops what nothing needs first, then what only those needed, each level together', () => {
    const levels = stopLevels([
      resource('container', 'c-db'),
      resource('container', 'c-cache'),
      resource('container', 'c-api', { needs: ['c-db', 'c-cache'] }),
      resource('container', 'c-web', { needs: ['c-api'] }),
      resource('container', 'c-cron'),
    ]);
    expect(levels.map((level) => level.map((r) => r.sourceId))).toEqual([
      ['c-web', 'c-cron'],
      ['c-api'],
      ['c-db', 'c-cache'],
    ]);
  });

  it('puts a cycle in one last level rather than never stopping it', () => {
    const levels = stopLevels([
      resource('container', 'a', { needs: ['b'] }),
      resource('container', 'b', { needs: ['a'] }),
      resource('container', 'c', { needs: ['a'] }),
    ]);
    expect(levels.map((level) => level.map((r) => r.sourceId))).toEqual([['c'], ['a', 'b']]);
  });
});

describe('fixedStrategy', () => {
  it('ends after its last step', () => {
    const strategy = fixedStrategy([{ kind: 'switch_over' }]);
    expect(strategy.next([])).toEqual({ kind: 'switch_over' });
    expect(strategy.next([{ step: { kind: 'switch_over' }, bytes: 0, durationMs: 0 }])).toBe('done');
  });
});

describe('ManualClock', () => {
  it('moves both clocks only when told, and never back', () => {
    const clock = new ManualClock(new Date('2026-12-03T17:00:00.000Z'));
    const mono = clock.monotonicMs();
    clock.advance(1_500);
    expect(clock.monotonicMs() - mono).toBe(1_500);
    expect(clock.now().toISOString()).toBe('2026-12-03T17:00:01.500Z');
    expect(() => {
      clock.advance(-1);
    }).toThrow(RangeError);
  });
});

describe('warmStrategy', () => {
  const MiB = 1024 * 1024;
  const policy = { budgetMs: 2000, maxRounds: 8, convergedBytes: 4 * MiB };

  /** Runs a warm strategy, each pre-copy round of each volume answered by `roundMiB[n - 1]` MiB at 200 MiB/s. */
  function run(p: MigrationPlan, roundMiB: number[]): { keys: string[]; why: string[] } {
    const why: string[] = [];
    const strategy = warmStrategy(p, policy, (verdict) => why.push(verdict.reason));
    const done: StepOutcome[] = [];
    for (let next = strategy.next(done); next !== 'done'; next = strategy.next(done)) {
      const mib =
        next.kind === 'volume.copy' && typeof next.round === 'number' ? (roundMiB[next.round - 1] ?? 0) : 0;
      done.push({ step: next, bytes: mib * MiB, durationMs: (mib / 200) * 1000 + 50 });
    }
    return { keys: done.map((outcome) => stepKey(outcome.step)), why };
  }

  it('makes the target ready while the source runs, copies in rounds until the rest fits the budget, then stops it', () => {
    const { keys, why } = run(APP, [1024, 300, 40]);
    expect(keys).toEqual([
      'phase:prepare',
      'network.prepare:network/n1',
      'image.prepare:image/sha256:nginx',
      'image.prepare:image/sha256:postgres',
      'phase:create',
      'volume.create:volume/web-data',
      'volume.create:volume/db-data',
      'container.create:container/c-web',
      'container.create:container/c-db',
      'phase:transfer',
      'volume.copy:1:volume/web-data',
      'volume.copy:1:volume/db-data',
      'volume.copy:2:volume/web-data',
      'volume.copy:2:volume/db-data',
      'volume.copy:3:volume/web-data',
      'volume.copy:3:volume/db-data',
      'phase:stop_source',
      'source.stop:container/c-web+container/c-db',
      'phase:transfer',
      'volume.copy:final:volume/web-data',
      'volume.copy:final:volume/db-data',
      'phase:start',
      'container.start:container/c-web',
      'container.start:container/c-db',
      'switch_over',
    ]);
    // Round 3 sent 80 MiB (both volumes): about 0.5 s at the measured rate, within the 2 s budget.
    expect(why).toEqual(['budget']);
  });

  it('stops after the rounds allowed when the writer keeps up, and never starts a target before the final copy', () => {
    const { keys, why } = run(APP, [1024, 900, 800, 700, 600, 500, 450, 420, 400]);
    expect(keys.filter((k) => k.startsWith('volume.copy:') && !k.includes(':final:'))).toHaveLength(16);
    expect(why).toEqual(['max_rounds']);
    expect(keys.indexOf('container.start:container/c-web')).toBeGreaterThan(
      keys.indexOf('volume.copy:final:volume/db-data'),
    );
  });

  it('without a volume to copy, goes straight from creating the containers to stopping the source', () => {
    const { keys } = run(plan(resource('container', 'c-web')), []);
    expect(keys).toEqual([
      'phase:prepare',
      'phase:create',
      'container.create:container/c-web',
      'phase:stop_source',
      'source.stop:container/c-web',
      'phase:start',
      'container.start:container/c-web',
      'switch_over',
    ]);
  });
});

describe('the incremental strategy', () => {
  const UPDATING = plan(
    resource('image', 'sha256:nginx'),
    resource('volume', 'kept', { action: 'update' }),
    resource('volume', 'fresh'),
    resource('container', 'c-web'),
  );

  it('cold: the target describes its copy before the source stops, then each volume is synced once', () => {
    expect(drain(coldStrategy(UPDATING, 'incremental'))).toEqual([
      'phase:prepare',
      'image.prepare:image/sha256:nginx',
      'volume.base:volume/kept',
      'phase:stop_source',
      'source.stop:container/c-web',
      'phase:transfer',
      'volume.create:volume/kept',
      'volume.copy:final:volume/kept',
      'volume.create:volume/fresh',
      'volume.copy:final:volume/fresh',
      'phase:create',
      'container.create:container/c-web',
      'phase:start',
      'container.start:container/c-web',
      'switch_over',
    ]);
  });

  it('warm: the description is the base of round 1, taken before the target container exists', () => {
    const strategy = warmStrategy(UPDATING, { budgetMs: 2000, maxRounds: 1, convergedBytes: 0 });
    const keys = drain(strategy);
    expect(keys.slice(0, 7)).toEqual([
      'phase:prepare',
      'image.prepare:image/sha256:nginx',
      'phase:create',
      'volume.create:volume/kept',
      'volume.create:volume/fresh',
      'volume.base:volume/kept',
      'container.create:container/c-web',
    ]);
    expect(keys).toContain('volume.copy:1:volume/kept');
  });

  it('full: whole copies, except into a copy brought up to date, which is always synced', () => {
    const rounds = coldSteps(UPDATING).flatMap((s) =>
      s.kind === 'volume.copy' ? [`${s.resource}:${s.round}`] : [],
    );
    expect(rounds).toEqual(['volume/kept:final', 'volume/fresh:full']);
  });
});
