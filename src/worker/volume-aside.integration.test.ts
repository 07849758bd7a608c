// volume.set_aside and volume.restore_aside on a real engine, through the volume's folder and through the Engine
// alone, including repeats after a crash midway (the states such a crash leaves are made by hand).
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { removeLabelled } from '../core/testing/docker-engine-contract.js';
import { dockerCli, engineOverSocket, newRunLabel, testDockerHost } from '../../test/support/docker-hosts.js';
import { VolumeAccess, type VolumeAccessMode } from './volume-access.js';
import { ASIDE_LABEL, COMPLETE_MARK, RESTORING_MARK, VolumeAside } from './volume-aside.js';

const host = testDockerHost(0);
const engine = engineOverSocket(host);
const runLabel = newRunLabel();
let counter = 0;

afterAll(async () => {
  await removeLabelled(engine, runLabel);
  // Aside volumes carry the product's own label, not the run's: they are this run's by name.
  for (const volume of await engine.listVolumes({ labels: { 'io.dockation.aside-of': true } }))
    if (volume.name.startsWith(`dm-aside-${runLabel.slice(-8)}-`))
      await engine.removeVolume(volume.name).catch(() => undefined);
});

const POPULATE = [
  'mkdir -p /data/app/logs /data/empty',
  'i=0; while [ $i -lt 20 ]; do echo "line $i" > /data/app/logs/f$i; i=$((i+1)); done',
  'dd if=/dev/urandom of=/data/blob bs=1024 count=512 2>/dev/null',
  'chown 1000:1000 /data/app/logs/f1 && chmod 600 /data/app/logs/f2',
  'ln -s app/logs/f4 /data/link && echo top > /data/top.txt',
  'chown 999:999 /data && chmod 0750 /data',
].join(' && ');

/**
 * Every entry of a folder with its type, owner, mode, size, content digest and (below the top) mtime; in whole
 * seconds when the content went through an archive of the Engine, which keeps no more.
 */
async function snapshot(root: string, options: { seconds?: boolean } = {}): Promise<string[]> {
  const lines: string[] = [];
  async function visit(path: string, relative: string): Promise<void> {
    const info = await lstat(path);
    const kind = info.isDirectory() ? 'd' : info.isSymbolicLink() ? 'l' : 'f';
    const digest =
      kind === 'f'
        ? createHash('sha256')
            .update(await readFile(path))
            .digest('hex')
        : '';
    const time =
      relative === '.'
        ? ''
        : String(options.seconds ? Math.floor(info.mtimeMs / 1000) : Math.floor(info.mtimeMs));
    lines.push(
      `${relative} ${kind} ${info.uid}:${info.gid} ${(info.mode & 0o7777).toString(8)} ${digest} ${time}`,
    );
    if (kind === 'd') {
      for (const entry of (await readdir(path)).sort())
        await visit(join(path, entry), relative === '.' ? entry : `${relative}/${entry}`);
    }
  }
  await visit(root, '.');
  return lines;
}

async function newVolume(populate = POPULATE): Promise<{ name: string; folder: string }> {
  counter += 1;
  const name = `dm-aside-${runLabel.slice(-8)}-${counter}`;
  const volume = await engine.createVolume({ name, labels: { [runLabel]: '1', app: 'kept' } });
  await dockerCli(
    host,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    '-v',
    `${name}:/data`,
    host.baseImage,
    'sh',
    '-c',
    populate,
  );
  return { name, folder: volume.mountpoint };
}

function asideFor(mode: VolumeAccessMode): VolumeAside {
  return new VolumeAside(engine, new VolumeAccess(engine, mode));
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => (error instanceof AppError ? error.code : String(error)),
  );
}

describe('volume set-aside through the volume folder', () => {
  const aside = asideFor('auto');

  it("moves the content aside by rename, keeps the folder's owner and mode, and puts it back over new content", async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder);
    const rootBefore = await lstat(folder);
    const asideName = `${name}-aside`;

    expect(await aside.setAside(name, asideName)).toEqual({ moved: true });
    expect(await readdir(folder)).toEqual([]);
    const asideVolume = await engine.inspectVolume(asideName);
    expect(asideVolume.labels[ASIDE_LABEL]).toBe(name);
    expect(await snapshot(asideVolume.mountpoint)).toEqual(before);
    const root = await lstat(folder);
    expect([root.uid, root.gid, root.mode, root.ino]).toEqual([
      rootBefore.uid,
      rootBefore.gid,
      rootBefore.mode,
      rootBefore.ino,
    ]);
    // A repeat (the master lost the answer) finds it done and leaves new content alone.
    await writeFile(join(folder, 'new.txt'), 'received\n');
    expect(await aside.setAside(name, asideName)).toEqual({ moved: false });
    expect(await readdir(folder)).toEqual(['new.txt']);

    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot(folder)).toEqual(before);
    expect(await codeOf(engine.inspectVolume(asideName))).toBe('not_found');
    expect(await aside.restore(name, asideName)).toEqual({ restored: false });
    expect((await engine.inspectVolume(name)).labels).toMatchObject({ app: 'kept' });
  });

  it('converges when repeated after a crash that moved some entries aside', async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder);
    const asideName = `${name}-aside`;
    await aside.setAside(name, asideName);
    // The state a crash midway leaves: some entries moved, no completion mark.
    const asideFolder = (await engine.inspectVolume(asideName)).mountpoint;
    await rm(join(dirname(asideFolder), COMPLETE_MARK));
    for (const entry of ['app', 'top.txt']) await rename(join(asideFolder, entry), join(folder, entry));

    expect(await aside.setAside(name, asideName)).toEqual({ moved: true });
    expect(await readdir(folder)).toEqual([]);
    expect(await snapshot(asideFolder)).toEqual(before);
    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot(folder)).toEqual(before);
  });

  it('restores after a set-aside that crashed midway without deleting what was not moved yet', async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder);
    const asideName = `${name}-aside`;
    await aside.setAside(name, asideName);
    const asideFolder = (await engine.inspectVolume(asideName)).mountpoint;
    await rm(join(dirname(asideFolder), COMPLETE_MARK));
    for (const entry of ['blob', 'link']) await rename(join(asideFolder, entry), join(folder, entry));

    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot(folder)).toEqual(before);
  });

  it('converges when a restore is repeated after a crash that moved some entries back', async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder);
    const asideName = `${name}-aside`;
    await aside.setAside(name, asideName);
    const asideFolder = (await engine.inspectVolume(asideName)).mountpoint;
    // The state a crash midway through a restore leaves: new content deleted, the mark made, some entries back.
    await writeFile(join(dirname(asideFolder), RESTORING_MARK), `${name}\n`);
    for (const entry of ['app', 'blob']) await rename(join(asideFolder, entry), join(folder, entry));

    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot(folder)).toEqual(before);
  });

  it('refuses while a running container uses the volume, and a volume of the aside name that is not its aside', async () => {
    const { name } = await newVolume();
    const runner = `${name}-runner`;
    await dockerCli(
      host,
      'run',
      '-d',
      '--name',
      runner,
      '--label',
      `${runLabel}=1`,
      '-v',
      `${name}:/data`,
      host.baseImage,
      'sleep',
      '300',
    );
    expect(await codeOf(aside.setAside(name, `${name}-aside`))).toBe('failed_precondition');
    await dockerCli(host, 'rm', '-f', runner);
    await engine.createVolume({ name: `${name}-taken`, labels: { [runLabel]: '1' } });
    expect(await codeOf(aside.setAside(name, `${name}-taken`))).toBe('conflict');
    expect(await codeOf(aside.restore(name, `${name}-taken`))).toBe('failed_precondition');
  });

  it("refuses a volume bound to a host folder: that folder is the user's", async () => {
    counter += 1;
    const name = `dm-aside-${runLabel.slice(-8)}-${counter}`;
    await engine.createVolume({
      name,
      labels: { [runLabel]: '1' },
      options: { type: 'none', o: 'bind', device: '/tmp' },
    });
    const error = await aside.setAside(name, `${name}-aside`).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('failed_precondition');
    expect((error as AppError).message).toContain('host folder /tmp');
    expect(await codeOf(engine.inspectVolume(`${name}-aside`))).toBe('not_found');
  });
});

describe('volume set-aside through the Engine alone', () => {
  const aside = asideFor('engine');
  const seconds = { seconds: true };

  it('copies the content aside, makes the volume anew with its labels, and restores over new content', async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder, seconds);
    const asideName = `${name}-aside`;

    expect(await aside.setAside(name, asideName)).toEqual({ moved: true });
    const remade = await engine.inspectVolume(name);
    expect(remade.labels).toMatchObject({ app: 'kept', [runLabel]: '1' });
    expect(await readdir(remade.mountpoint)).toEqual([]);
    const asideFolder = (await engine.inspectVolume(asideName)).mountpoint;
    expect(await snapshot(asideFolder, seconds)).toEqual(before);
    expect(await aside.setAside(name, asideName)).toEqual({ moved: false });

    await writeFile(join(remade.mountpoint, 'new.txt'), 'received\n');
    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot((await engine.inspectVolume(name)).mountpoint, seconds)).toEqual(before);
    expect(await codeOf(engine.inspectVolume(asideName))).toBe('not_found');
    expect(await aside.restore(name, asideName)).toEqual({ restored: false });
  });

  it('finishes a set-aside that crashed between removing the volume and making it anew', async () => {
    const { name, folder } = await newVolume();
    const before = await snapshot(folder, seconds);
    const asideName = `${name}-aside`;
    await aside.setAside(name, asideName);
    await engine.removeVolume(name);
    expect(await aside.setAside(name, asideName)).toEqual({ moved: true });
    expect((await engine.inspectVolume(name)).labels).toMatchObject({ app: 'kept' });
    await engine.removeVolume(name);
    expect(await aside.restore(name, asideName)).toEqual({ restored: true });
    expect(await snapshot((await engine.inspectVolume(name)).mountpoint, seconds)).toEqual(before);
  });

  it('refuses while any container uses the volume: emptying it means making it anew', async () => {
    const { name } = await newVolume();
    await dockerCli(
      host,
      'create',
      '--name',
      `${name}-user`,
      '--label',
      `${runLabel}=1`,
      '-v',
      `${name}:/data`,
      host.baseImage,
      'true',
    );
    const error = await aside.setAside(name, `${name}-aside`).catch((e: unknown) => e);
    expect((error as AppError).code).toBe('failed_precondition');
    expect((error as AppError).message).toContain(`"${name}-user"`);
    expect(await codeOf(engine.inspectVolume(`${name}-aside`))).toBe('not_found');
  });
});
