// Volume content through VolumeAccess on real engines, for volumes whose content is not under the Docker root: a
// local volume bound to a host folder is only mounted while a container uses it, so its mountpoint is empty.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../core/testing/docker-engine-contract.js';
import { bytesOf, entriesOf } from '../core/testing/tar-bytes.js';
import { engineOverSocket, newRunLabel, testDockerHost } from '../../test/support/docker-hosts.js';
import { VolumeAccess } from './volume-access.js';

const engine1 = engineOverSocket(testDockerHost(0));
const engine2 = engineOverSocket(testDockerHost(1));
const runLabel = newRunLabel();
const folders: string[] = [];

afterAll(async () => {
  await removeLabelled(engine1, runLabel);
  await removeLabelled(engine2, runLabel);
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

async function hostFolder(): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), 'dm-bindvol-'));
  folders.push(folder);
  return folder;
}

describe('VolumeAccess on a volume bound to a host folder', () => {
  it("reads the host folder's files in auto mode, and writes them into the target's host folder", async () => {
    const source = await hostFolder();
    const blob = randomBytes(300_000);
    await mkdir(join(source, 'app'));
    await writeFile(join(source, 'app', 'blob.bin'), blob);
    await writeFile(join(source, 'note.txt'), 'kept in a host folder\n');
    const name = `dm-bindvol-${runLabel.slice(-8)}`;
    await engine1.createVolume({
      name,
      labels: { [runLabel]: '1' },
      options: { type: 'none', o: 'bind', device: source },
    });

    const tar = await bytesOf(await new VolumeAccess(engine1, 'auto').read(name));
    const files = new Map(
      entriesOf(tar)
        .filter((entry) => entry.type === 'file')
        .map((entry) => [entry.name.replace(/^\.\//, ''), entry.data]),
    );
    expect([...files.keys()].sort()).toEqual(['app/blob.bin', 'note.txt']);
    expect(Buffer.from(files.get('app/blob.bin') ?? new Uint8Array()).equals(blob)).toBe(true);

    const target = await hostFolder();
    await engine2.createVolume({
      name,
      labels: { [runLabel]: '1' },
      options: { type: 'none', o: 'bind', device: target },
    });
    await new VolumeAccess(engine2, 'auto').write(name, Readable.from([tar]));
    expect((await readFile(join(target, 'app', 'blob.bin'))).equals(blob)).toBe(true);
    expect(await readFile(join(target, 'note.txt'), 'utf8')).toBe('kept in a host folder\n');
  });
});

describe('VolumeAccess sync rounds between two engines', () => {
  it('sends everything in round 1, then only what changed, and the target ends equal to the source', async () => {
    const name = `dm-syncvol-${runLabel.slice(-8)}`;
    await engine1.createVolume({ name, labels: { [runLabel]: '1' } });
    await engine2.createVolume({ name, labels: { [runLabel]: '1' } });
    const source = (await engine1.inspectVolume(name)).mountpoint;
    const target = (await engine2.inspectVolume(name)).mountpoint;
    const big = randomBytes(4 * 1024 * 1024);
    await writeFile(join(source, 'big.bin'), big);
    await mkdir(join(source, 'app'));
    await writeFile(join(source, 'app', 'gone.txt'), 'deleted before round 2\n');
    const from = new VolumeAccess(engine1, 'auto');
    const to = new VolumeAccess(engine2, 'auto');

    const round1 = await from.readChanges(name, {});
    const { applied: applied1 } = await to.update(name, round1.stream, { fsync: false });
    const { manifest, stats: stats1 } = await round1.done;
    expect(applied1.mismatched).toEqual([]);
    expect(stats1.dataBytes).toBeGreaterThanOrEqual(big.length);

    big.set(randomBytes(8192), 1024 * 1024); // 8 KiB changed in the middle
    await writeFile(join(source, 'big.bin'), big);
    await rm(join(source, 'app', 'gone.txt'));
    await writeFile(join(source, 'app', 'new.txt'), 'new in round 2\n');

    const round2 = await from.readChanges(name, { base: manifest });
    const { applied: applied2 } = await to.update(name, round2.stream, { fsync: true });
    const { stats: stats2 } = await round2.done;
    expect(applied2).toEqual({ patched: 1, deleted: 1, mismatched: [] });
    expect(stats2.dataBytes).toBeLessThan(64 * 1024);
    expect((await readFile(join(target, 'big.bin'))).equals(big)).toBe(true);
    expect(await readFile(join(target, 'app', 'new.txt'), 'utf8')).toBe('new in round 2\n');
    await expect(readFile(join(target, 'app', 'gone.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses, in words, a sync of a volume it can only reach through the Engine', async () => {
    const name = `dm-syncvol-engine-${runLabel.slice(-8)}`;
    await engine1.createVolume({ name, labels: { [runLabel]: '1' } });
    const error = await new VolumeAccess(engine1, 'engine').readChanges(name, {}).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'failed_precondition' });
    expect((error as Error).message).toContain(`volume "${name}" can only be read through the Engine`);
  });
});
