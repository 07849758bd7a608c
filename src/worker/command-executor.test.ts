import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { AppError, type ErrorCode } from '../core/errors.js';
import { FakeDockerEngine } from '../core/testing/fake-docker-engine.js';
import { streamOf, tarOf } from '../core/testing/tar-bytes.js';
import type { CommandArgs, CommandResultOf, WorkerCommandKind } from '../core/worker-commands.js';
import { createLogger } from '../platform/logger.js';
import { CommandExecutor } from './command-executor.js';
import { SyncSessions } from './sync-sessions.js';
import { VolumeCopies } from './volume-copies.js';
import { TransferInbox } from './transfer-inbox.js';
import { VolumeAccess } from './volume-access.js';

function executorOn(
  engine: FakeDockerEngine,
): <K extends WorkerCommandKind>(kind: K, args: CommandArgs<K>) => Promise<CommandResultOf<K>> {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-executor-'));
  const syncSessions = new SyncSessions(dataDir);
  const volumes = new VolumeAccess(engine, 'engine');
  const executor = new CommandExecutor({
    engine,
    volumes,
    inbox: new TransferInbox(),
    identity: () => {
      throw new Error('no identity in this test');
    },
    logger: createLogger({ level: 'silent', format: 'json' }),
    syncSessions,
    copies: new VolumeCopies(engine, volumes, syncSessions, dataDir),
  });
  const context = { signal: new AbortController().signal, progress: () => undefined };
  return (kind, args) => executor.run(kind, args, context);
}

async function failure(promise: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  const error = await promise.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!(error instanceof AppError)) throw error;
  return { code: error.code, message: error.message };
}

describe('CommandExecutor', () => {
  it('renames a container once; a repeat finds it done', async () => {
    const engine = new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] });
    const run = executorOn(engine);
    await engine.createContainer({ name: 'web', image: 'base:latest' });
    expect(await run('container.rename', { ref: 'web', name: 'web-old' })).toEqual({ renamed: true });
    expect(await run('container.rename', { ref: 'web', name: 'web-old' })).toEqual({ renamed: false });
    expect((await failure(run('container.rename', { ref: 'nobody', name: 'x' }))).code).toBe('not_found');
  });

  it('counts the files a container changed outside its mounts and names the first of them', async () => {
    const engine = new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] });
    const run = executorOn(engine);
    await engine.createContainer({ name: 'app', image: 'base:latest', volumes: { data: '/data' } });
    await engine.putArchive(
      'app',
      '/',
      streamOf(tarOf({ etc: null, 'etc/app.conf': 'x', 'var/log/app.log': 'y', 'data/in-volume': 'z' })),
    );
    expect(await run('container.changes', { ref: 'app' })).toEqual({
      count: 2,
      paths: ['/etc/app.conf', '/var/log/app.log'],
    });
    expect(await run('container.changes', { ref: 'app', limit: 1 })).toEqual({
      count: 2,
      paths: ['/etc/app.conf'],
    });
  });

  it('untags a tag among others and keeps the last one, which would delete the image', async () => {
    const engine = new FakeDockerEngine({ images: [{ tags: ['app:1', 'app:old'] }] });
    const run = executorOn(engine);
    expect(await run('image.untag', { tag: 'app:old' })).toEqual({ removed: true, lastTag: false });
    expect(await run('image.untag', { tag: 'app:old' })).toEqual({ removed: false, lastTag: false });
    expect(await run('image.untag', { tag: 'app:1' })).toEqual({ removed: false, lastTag: true });
    expect((await engine.inspectImage('app:1')).tags).toEqual(['app:1']);
  });

  it('never removes an image or a volume a stopped container uses, and names the container', async () => {
    const engine = new FakeDockerEngine({ images: [{ tags: ['app:1'] }] });
    const run = executorOn(engine);
    await engine.createContainer({ name: 'keeper', image: 'app:1', volumes: { data: '/data' } });
    const image = await failure(run('image.remove', { ref: 'app:1' }));
    expect(image).toEqual({
      code: 'conflict',
      message: 'image app:1 is used by container "keeper"; it is kept',
    });
    const volume = await failure(run('volume.remove', { name: 'data' }));
    expect(volume).toEqual({
      code: 'conflict',
      message: 'volume "data" is used by container "keeper"; it is kept',
    });
    expect((await engine.inspectImage('app:1')).tags).toEqual(['app:1']);

    await engine.removeContainer('keeper');
    expect(await run('image.remove', { ref: 'app:1' })).toEqual({ removed: true });
    expect(await run('image.remove', { ref: 'app:1' })).toEqual({ removed: false });
    expect(await run('volume.remove', { name: 'data' })).toEqual({ removed: true });
    expect(await run('volume.remove', { name: 'data' })).toEqual({ removed: false });
  });

  it('refuses to remove an image by id while several repositories tag it', async () => {
    const engine = new FakeDockerEngine({ images: [{ tags: ['app:1', 'other:1'] }] });
    const run = executorOn(engine);
    const { id } = await engine.inspectImage('app:1');
    expect((await failure(run('image.remove', { ref: id }))).code).toBe('conflict');
    expect((await engine.inspectImage(id)).tags).toEqual(['app:1', 'other:1']);
  });

  it('describes a volume, and says not_found for a missing one', async () => {
    const engine = new FakeDockerEngine();
    const run = executorOn(engine);
    await engine.createVolume({ name: 'v', options: { type: 'tmpfs', device: 'tmpfs' } });
    expect(await run('volume.inspect', { name: 'v' })).toMatchObject({
      name: 'v',
      options: { type: 'tmpfs' },
    });
    expect((await failure(run('volume.inspect', { name: 'nope' }))).code).toBe('not_found');
  });
});
