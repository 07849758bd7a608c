import { link, mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { FakeDockerEngine } from '../core/testing/fake-docker-engine.js';
import { VolumeMeasurer, walkFolder } from './volume-measure.js';

let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dm-measure-'));
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A volume folder with two files, a hard link to one, a symlink, a sparse file and a subfolder. */
async function fillVolume(folder: string): Promise<void> {
  await mkdir(join(folder, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(folder, 'a.txt'), Buffer.alloc(10_000, 1));
  await writeFile(join(folder, 'sub', 'deeper', 'b.bin'), Buffer.alloc(5_000, 2));
  await link(join(folder, 'a.txt'), join(folder, 'sub', 'a-again.txt'));
  await symlink('a.txt', join(folder, 'to-a'));
  await writeFile(join(folder, 'sparse.img'), '');
  await truncate(join(folder, 'sparse.img'), 64 * 1024 * 1024);
}

describe('walkFolder', () => {
  it('counts regular files by their sizes, a hard-linked file once, holes included, symlinks not followed', async () => {
    await fillVolume(root);
    const figures = await walkFolder(root);
    expect(figures.files).toBe(3);
    expect(figures.apparentBytes).toBe(10_000 + 5_000 + 64 * 1024 * 1024);
    // The sparse file takes (almost) no blocks: what the disk holds is far less than its apparent size.
    expect(figures.allocatedBytes).toBeGreaterThan(15_000);
    expect(figures.allocatedBytes).toBeLessThan(4 * 1024 * 1024);
  });

  it('gives zeros for an empty folder and stops when asked', async () => {
    expect(await walkFolder(root)).toMatchObject({ apparentBytes: 0, files: 0 });
    await fillVolume(root);
    const controller = new AbortController();
    controller.abort();
    await expect(walkFolder(root, controller.signal)).rejects.toThrow();
  });
});

describe('VolumeMeasurer', () => {
  it('walks the mountpoint of a local volume it can reach', async () => {
    const engine = new FakeDockerEngine({ volumeRoot: root });
    await engine.createVolume({ name: 'data' });
    await mkdir(join(root, 'data', '_data'), { recursive: true });
    await fillVolume(join(root, 'data', '_data'));
    const measure = await new VolumeMeasurer(engine).measure('data');
    expect(measure).toMatchObject({ method: 'walk', files: 3, apparentBytes: 15_000 + 64 * 1024 * 1024 });
    expect(measure.allocatedBytes).toBeLessThan(measure.apparentBytes ?? 0);
  });

  it('walks the host folder of a bind-mounted local volume, which holds its content', async () => {
    const engine = new FakeDockerEngine({ volumeRoot: join(root, 'nowhere') });
    await mkdir(join(root, 'host'));
    await writeFile(join(root, 'host', 'f'), Buffer.alloc(1234));
    await engine.createVolume({
      name: 'bound',
      options: { type: 'none', o: 'bind', device: join(root, 'host') },
    });
    expect(await new VolumeMeasurer(engine).measure('bound')).toMatchObject({
      method: 'walk',
      apparentBytes: 1234,
      files: 1,
    });
  });

  it("falls back to the Engine's figure when the folder is out of reach, and says the size is unknown when that fails too", async () => {
    const engine = new FakeDockerEngine({ volumeRoot: join(root, 'elsewhere') });
    await engine.createVolume({ name: 'far' });
    await engine.createVolume({ name: 'unknowable' });
    const listVolumes = engine.listVolumes.bind(engine);
    engine.listVolumes = async (options) =>
      (await listVolumes(options)).map((volume) => ({
        ...volume,
        size: volume.name === 'far' ? 777_000 : null,
      }));
    const measurer = new VolumeMeasurer(engine);
    expect(await measurer.measure('far')).toMatchObject({
      method: 'engine',
      apparentBytes: 777_000,
      allocatedBytes: null,
      files: null,
    });
    const unknowable = await measurer.measure('unknowable');
    expect(unknowable).toMatchObject({ method: 'unknown', apparentBytes: null, allocatedBytes: null });
    expect(unknowable.reason).toMatch(/cannot be read from this worker.*the Engine does not know/);
  });

  it('does not guess the size of a network share or tmpfs volume', async () => {
    const engine = new FakeDockerEngine({ volumeRoot: root });
    await engine.createVolume({ name: 'nfs', options: { type: 'nfs', o: 'addr=10.0.0.1', device: ':/x' } });
    expect(await new VolumeMeasurer(engine).measure('nfs')).toMatchObject({
      method: 'unknown',
      apparentBytes: null,
    });
  });

  it('reuses a measurement for its time to live, then measures again', async () => {
    const engine = new FakeDockerEngine({ volumeRoot: root });
    await engine.createVolume({ name: 'data' });
    const folder = join(root, 'data', '_data');
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'one'), Buffer.alloc(100));
    let now = 1_000_000;
    const measurer = new VolumeMeasurer(engine, { ttlMs: 30_000, now: () => now });
    expect((await measurer.measure('data')).apparentBytes).toBe(100);
    await writeFile(join(folder, 'two'), Buffer.alloc(50));
    now += 29_000;
    expect((await measurer.measure('data')).apparentBytes).toBe(100);
    now += 2_000;
    expect((await measurer.measure('data')).apparentBytes).toBe(150);
  });

  it('answers not_found for a volume that does not exist, and remembers no failure', async () => {
    const engine = new FakeDockerEngine({ volumeRoot: root });
    const measurer = new VolumeMeasurer(engine);
    const error = await measurer.measure('ghost').catch((e: unknown) => e);
    expect(AppError.from(error).code).toBe('not_found');
    await engine.createVolume({ name: 'ghost' });
    await mkdir(join(root, 'ghost', '_data'), { recursive: true });
    expect((await measurer.measure('ghost')).method).toBe('walk');
  });
});
