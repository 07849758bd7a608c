import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { FakeDockerEngine } from '../core/testing/fake-docker-engine.js';
import { VolumeAccess } from './volume-access.js';

describe('VolumeAccess.route', () => {
  let root: string;
  let engine: FakeDockerEngine;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'dm-route-'));
    engine = new FakeDockerEngine({ volumeRoot: root });
    for (const [name, options] of [
      ['plain', {}],
      ['bound', { type: 'none', o: 'bind', device: '/srv/app' }],
      ['share', { type: 'nfs', o: 'addr=10.0.0.5', device: ':/exports' }],
    ] as const) {
      await engine.createVolume({ name, options });
      await mkdir(join(root, name, '_data'), { recursive: true });
    }
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('reads a volume with driver options through the Engine even when its mountpoint is reachable', async () => {
    const access = new VolumeAccess(engine, 'auto');
    expect(await access.route('plain')).toEqual({
      via: 'mountpoint',
      mountpoint: join(root, 'plain', '_data'),
    });
    expect(await access.route('bound')).toEqual({ via: 'engine' });
    expect(await access.route('share')).toEqual({ via: 'engine' });
  });

  it('refuses a volume with driver options when told to use mountpoints only', async () => {
    const error = await new VolumeAccess(engine, 'mountpoint').route('bound').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('failed_precondition');
    expect((error as AppError).message).toContain('device=/srv/app');
  });
});
