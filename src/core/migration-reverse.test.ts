// A move back: what a completed migration left on its source, and the request that takes its workload back.
import { describe, expect, it } from 'vitest';
import type { PlannedResource } from './migration.js';
import { leftOnSource } from './migration-leftovers.js';
import { reverseRequest } from './migration-reverse.js';
import { sampleMigration } from './testing/sample-resources.js';

function moved(
  type: PlannedResource['type'],
  name: string,
  extra: Partial<PlannedResource> = {},
): PlannedResource {
  return {
    type,
    name,
    sourceId: `${name}-id`,
    targetName: name,
    reason: 'dependency',
    action: 'create',
    estimatedBytes: 0,
    status: 'done',
    bytes: 0,
    ...extra,
  };
}

const PLAN = {
  resources: [
    moved('network', 'front'),
    moved('image', 'nginx:1.27', { sourceId: 'sha256:nginx' }),
    moved('image', 'busybox', { sourceId: 'sha256:busybox', reason: 'requested', action: 'skip' }),
    moved('volume', 'data', { sourceId: 'data' }),
    moved('volume', 'extra', { sourceId: 'extra', reason: 'requested' }),
    moved('container', 'web', { reason: 'requested', targetName: 'web-migrated' }),
    moved('container', 'worker', { reason: 'compose' }),
  ],
  findings: [],
  totalBytes: 0,
};

describe('leftOnSource', () => {
  it('names what keep_stopped left: the containers stopped, the rest kept; never what was skipped', () => {
    const left = leftOnSource(sampleMigration({ plan: PLAN }));
    expect(left.map((l) => `${l.type} ${l.name} ${l.state}`)).toEqual([
      'network front kept',
      'image nginx:1.27 kept',
      'volume data kept',
      'volume extra kept',
      'container web stopped',
      'container worker stopped',
    ]);
    expect(left.find((l) => l.name === 'web')?.movedAs).toBe('web-migrated');
  });

  it('keeps no container under remove, and says which ones still run under keep_running', () => {
    expect(
      leftOnSource(sampleMigration({ plan: PLAN, request: { sourcePolicy: 'remove' } })).map((l) => l.type),
    ).not.toContain('container');
    const running = leftOnSource(
      sampleMigration({
        plan: PLAN,
        request: { sourcePolicy: 'keep_running' },
        state: { sourceRunning: ['web-id'], sourceStopped: [], created: [], completedSteps: [] },
      }),
    );
    expect(running.filter((l) => l.type === 'container').map((l) => `${l.name} ${l.state}`)).toEqual([
      'web running',
      'worker stopped',
    ]);
  });

  it('is empty unless the migration completed', () => {
    expect(leftOnSource(sampleMigration({ plan: PLAN, status: 'rolled_back' }))).toEqual([]);
  });
});

describe('reverseRequest', () => {
  it('moves every container back from the target by the name it has there, and what was asked for', () => {
    const request = reverseRequest(
      sampleMigration({
        id: 'm-forth',
        plan: PLAN,
        request: {
          composeProjects: ['shop'],
          strategy: 'incremental',
          bindMounts: { '/srv/a': { path: '/mnt/a' }, '/srv/b': { skip: true } },
          acknowledge: ['volume_host_path'],
        },
      }),
    );
    expect(request).toMatchObject({
      sourceWorkerId: 'b',
      targetWorkerId: 'a',
      containers: ['web-migrated', 'worker'],
      images: [],
      volumes: ['extra'],
      networks: [],
      composeProjects: ['shop'],
      strategy: 'incremental',
      conflictPolicy: 'fail',
      sourcePolicy: 'keep_stopped',
      bindMounts: { '/mnt/a': { path: '/srv/a' } },
      acknowledge: ['volume_host_path'],
    });
    expect(request.reverse?.of).toBe('m-forth');
    expect(request.reverse?.leftovers).toContainEqual({
      type: 'container',
      name: 'web',
      id: 'web-id',
      movedAs: 'web-migrated',
    });
  });

  it('takes the mode, strategy and transfer settings asked for', () => {
    const request = reverseRequest(sampleMigration({ plan: PLAN }), {
      mode: 'warm',
      strategy: 'incremental',
      transferMode: 'proxy',
      compression: 'zstd',
    });
    expect(request).toMatchObject({
      mode: 'warm',
      strategy: 'incremental',
      transferMode: 'proxy',
      compression: 'zstd',
    });
  });

  it('refuses a migration that did not complete, saying how it ended', () => {
    expect(() => reverseRequest(sampleMigration({ status: 'rolled_back' }))).toThrow(
      /ended rolled back: only a completed migration can be moved back/,
    );
    expect(() => reverseRequest(sampleMigration({ status: 'running' }))).toThrow(/has not ended yet/);
  });
});
