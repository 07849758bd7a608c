import { mkdtempSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import type { Manifest, ManifestEntry } from '../transfer/volume-manifest.js';
import { SyncSessions } from './sync-sessions.js';

function entry(size: number): ManifestEntry {
  return {
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    size,
    mtimeNs: 1_700_000_000_123_456_789n,
    ctimeNs: 1_700_000_000_123_456_789n,
    dev: 2049n,
    ino: 42n,
    nlink: 1,
    rdev: 0n,
    xattrDigest: Buffer.alloc(0),
    blockSize: 8192,
    blocks: Buffer.alloc(8, 7),
    digest: Buffer.alloc(16, 9),
    dirty: false,
    readStartNs: 1_700_000_000_000_000_000n,
  };
}

function sessions(): { store: SyncSessions; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'dm-sync-sessions-'));
  return { store: new SyncSessions(dataDir), dataDir };
}

describe('SyncSessions', () => {
  it('has no base before a round was confirmed, then the last confirmed manifest and the first round’s start', async () => {
    const { store } = sessions();
    expect(await store.base('m-1', 'data')).toBeUndefined();
    const first: Manifest = new Map([['a', entry(10)]]);
    await store.confirm('m-1', 'data', first, 100n);
    const second: Manifest = new Map([
      ['a', entry(20)],
      ['b', entry(5)],
    ]);
    await store.confirm('m-1', 'data', second, 200n);
    const base = await store.base('m-1', 'data');
    expect(base?.firstRoundStartNs).toBe(100n);
    expect(base?.rounds).toBe(2);
    expect([...(base?.manifest.keys() ?? [])].sort()).toEqual(['a', 'b']);
    expect(base?.manifest.get('a')?.size).toBe(20);
    expect(await store.base('m-1', 'other')).toBeUndefined();
    expect(await store.base('m-2', 'data')).toBeUndefined();
  });

  it('forgets a session, and cleans sessions left untouched too long', async () => {
    const { store, dataDir } = sessions();
    await store.confirm('m-old', 'data', new Map([['a', entry(1)]]), 1n);
    await store.confirm('m-new', 'data', new Map([['a', entry(1)]]), 1n);
    const long = (Date.now() - 3 * 86_400_000) / 1000;
    utimesSync(join(dataDir, 'sync-sessions', 'm-old'), long, long);
    await store.clean(86_400_000);
    expect(await store.base('m-old', 'data')).toBeUndefined();
    expect(await store.base('m-new', 'data')).toBeDefined();
    expect(await store.forget('m-new')).toBe(true);
    expect(await store.forget('m-new')).toBe(false);
    expect(await store.base('m-new', 'data')).toBeUndefined();
  });

  it('refuses a session id that could name another folder', async () => {
    const { store } = sessions();
    await expect(store.base('../x', 'data')).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});
