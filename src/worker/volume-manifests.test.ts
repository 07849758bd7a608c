import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { VolumeManifests } from './volume-manifests.js';

const origin = { migrationId: 'm-1', sourceWorkerId: 'w-src', sourceVolume: 'data' };
const volume = { name: 'data', identity: '2026-12-01T10:00:00Z' };

function store(): { manifests: VolumeManifests; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-manifests-'));
  return { manifests: new VolumeManifests(dataDir), dataDir };
}

describe('VolumeManifests', () => {
  it('gives back the manifest written for a volume, with where the copy came from', async () => {
    const { manifests } = store();
    const bytes = Buffer.from([0, 1, 2, 10, 13, 255]); // binary, newlines included
    await manifests.write(volume, origin, bytes, new Date('2026-12-01T11:00:00Z'));
    expect(await manifests.read(volume)).toEqual({
      origin,
      savedAt: '2026-12-01T11:00:00.000Z',
      manifest: bytes,
    });
  });

  it('has none for a volume never copied here', async () => {
    const { manifests } = store();
    expect(await manifests.read(volume)).toBeUndefined();
  });

  it('does not trust a manifest written for an earlier volume of the same name', async () => {
    const { manifests } = store();
    await manifests.write(volume, origin, Buffer.from('old'));
    expect(await manifests.read({ name: 'data', identity: '2026-12-02T09:00:00Z' })).toBeUndefined();
  });

  it('has none once withdrawn, so that a copy that stops half-way leaves no manifest claiming it is whole', async () => {
    const { manifests } = store();
    await manifests.write(volume, origin, Buffer.from('v1'));
    await manifests.withdraw('data');
    expect(await manifests.read(volume)).toBeUndefined();
    await manifests.write(volume, origin, Buffer.from('v2'));
    expect((await manifests.read(volume))?.manifest.toString()).toBe('v2');
  });

  it('keeps volumes apart whatever their names, and ignores and cleans half-written files', async () => {
    const { manifests, dataDir } = store();
    const names = ['data', 'Data', 'a.b', 'a_b', '..', 'x'.repeat(200)];
    for (const name of names) await manifests.write({ name, identity: 't' }, origin, Buffer.from(name));
    for (const name of names)
      expect((await manifests.read({ name, identity: 't' }))?.manifest.toString()).toBe(name);
    const folder = join(dataDir, 'volume-manifests');
    const [first] = readdirSync(folder);
    writeFileSync(join(folder, `${first}.tmp-999`), 'half');
    await manifests.clean();
    expect(readdirSync(folder)).toHaveLength(names.length);
  });

  it('takes a damaged file as no manifest', async () => {
    const { manifests, dataDir } = store();
    await manifests.write(volume, origin, Buffer.from('ok'));
    const folder = join(dataDir, 'volume-manifests');
    const [file] = readdirSync(folder);
    writeFileSync(join(folder, file!), 'not json\nrest');
    expect(await manifests.read(volume)).toBeUndefined();
  });
});
