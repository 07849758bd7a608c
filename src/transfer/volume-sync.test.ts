// Unit tests of volume sync rounds on real temporary folders: a full round, then delta rounds that send only what
// changed and leave the target identical; patches verified whole; hostile sync entries refused.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { getAttributeSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { afterAll, describe, expect, it } from 'vitest';

import { nanosecondTimes } from '../platform/file-times.js';
import { directoryDigest, unpackToDirectory } from './volume-archive.js';
import { END_OF_ARCHIVE, encodeHeader, encodeSparseMap, paddingAfter } from './volume-archive-tar.js';
import type { TarHeader } from './volume-archive-tar.js';
import { mergeBase } from './volume-sync-base.js';
import { manifestOf, packChanges } from './volume-sync-pack.js';
import type { SyncPackOptions, SyncStats } from './volume-sync-pack.js';
import type { KnownContent } from './volume-sync-apply.js';
import { loadManifest, parseManifest, saveManifest, serializeManifest } from './volume-manifest.js';
import type { Manifest } from './volume-manifest.js';

const MiB = 1024 * 1024;
const TIMES = nanosecondTimes ? 'ns' : 'us';
const created: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/dm-sync-`);
  created.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/** One sync round from `source` into `target`, as the two ends of a connection would run it. */
async function syncRound(
  source: string,
  target: string,
  options: SyncPackOptions & { fsync?: boolean } = {},
): Promise<{
  manifest: Manifest;
  stats: SyncStats;
  mismatched: string[];
}> {
  const packed = packChanges(source, options);
  const received = await unpackToDirectory(target, packed.stream, {
    update: true,
    ...(options.fsync === true ? { fsync: true } : {}),
  });
  const { manifest, stats } = await packed.done;
  return { manifest, stats, mismatched: received.sync.mismatched };
}

async function sameTree(source: string, target: string): Promise<void> {
  expect(await directoryDigest(target, { times: TIMES })).toBe(
    await directoryDigest(source, { times: TIMES }),
  );
}

/** Bytes of the regular files under `root`. */
function volumeBytes(root: string): number {
  let total = 0;
  for (const entry of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) total += fs.statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** A small volume with one of everything the archive carries. */
function smallVolume(): string {
  const root = tempDir();
  fs.mkdirSync(join(root, 'etc/conf.d'), { recursive: true });
  fs.writeFileSync(join(root, 'etc/app.conf'), 'listen 80\n');
  fs.writeFileSync(join(root, 'etc/conf.d/extra.conf'), 'x'.repeat(5000));
  fs.writeFileSync(join(root, 'data.bin'), randomBytes(MiB + 123));
  fs.writeFileSync(join(root, 'empty'), '');
  fs.symlinkSync('etc/app.conf', join(root, 'current'));
  fs.linkSync(join(root, 'etc/app.conf'), join(root, 'app-link.conf'));
  setAttributeSync(join(root, 'data.bin'), 'user.origin', 'test');
  fs.chmodSync(join(root, 'etc/conf.d'), 0o750);
  const sparse = fs.openSync(join(root, 'sparse.img'), 'w');
  fs.writeSync(sparse, 'head', 0);
  fs.writeSync(sparse, 'tail', 8 * MiB);
  fs.closeSync(sparse);
  return root;
}

describe('volume sync rounds', () => {
  it('copies a whole volume into an empty folder in a first round', async () => {
    const source = smallVolume();
    const target = tempDir();
    const { stats, manifest, mismatched } = await syncRound(source, target);
    await sameTree(source, target);
    expect(mismatched).toEqual([]);
    expect(stats.whole).toBe(5); // app.conf (app-link.conf as its link), extra.conf, data.bin, empty, sparse.img
    expect(stats.hardlinks).toBe(1);
    expect(manifest.get('data.bin')?.blocks?.length).toBe(Math.ceil((MiB + 123) / 8192) * 8);
    expect(stats.dataBytes).toBeLessThan(2 * MiB); // the 8 MiB hole of sparse.img is not sent
  });

  it('sends under 3% of the volume for 1% scattered writes, appends, new, deleted and retyped entries', async () => {
    const source = tempDir();
    const big = join(source, 'big.bin');
    fs.writeFileSync(big, randomBytes(64 * MiB));
    fs.writeFileSync(join(source, 'log.txt'), randomBytes(MiB));
    fs.writeFileSync(join(source, 'gone.txt'), 'bye');
    fs.mkdirSync(join(source, 'old/deeper'), { recursive: true });
    fs.writeFileSync(join(source, 'old/deeper/x'), 'x');
    fs.writeFileSync(join(source, 'file-to-folder'), 'a file');
    fs.mkdirSync(join(source, 'folder-to-file'));
    fs.writeFileSync(join(source, 'folder-to-file/inside'), 'inside');
    fs.writeFileSync(join(source, 'mode.txt'), 'mode', { mode: 0o644 });
    fs.writeFileSync(join(source, 'attr.txt'), 'attr');
    setAttributeSync(join(source, 'attr.txt'), 'user.color', 'red');
    setAttributeSync(join(source, 'attr.txt'), 'user.gone', 'soon');
    fs.writeFileSync(join(source, 'a.txt'), 'linked');
    fs.symlinkSync('a.txt', join(source, 'pointer'));
    const target = tempDir();
    const first = await syncRound(source, target);
    await sameTree(source, target);

    // ~1% of big.bin in scattered 8 KiB writes (unaligned), and the rest of the changes.
    const fd = fs.openSync(big, 'r+');
    const writes = Math.round((64 * MiB * 0.01) / 8192);
    for (let index = 0; index < writes; index += 1) {
      const offset = Math.floor(Math.random() * (64 * MiB - 8192));
      fs.writeSync(fd, randomBytes(8192), 0, 8192, offset);
    }
    fs.closeSync(fd);
    fs.appendFileSync(join(source, 'log.txt'), randomBytes(64 * 1024));
    fs.writeFileSync(join(source, 'new.txt'), randomBytes(16 * 1024));
    fs.unlinkSync(join(source, 'gone.txt'));
    fs.rmSync(join(source, 'old'), { recursive: true });
    fs.unlinkSync(join(source, 'file-to-folder'));
    fs.mkdirSync(join(source, 'file-to-folder'));
    fs.writeFileSync(join(source, 'file-to-folder/child'), 'child');
    fs.rmSync(join(source, 'folder-to-file'), { recursive: true });
    fs.writeFileSync(join(source, 'folder-to-file'), 'now a file');
    fs.chmodSync(join(source, 'mode.txt'), 0o600);
    setAttributeSync(join(source, 'attr.txt'), 'user.color', 'blue');
    fs.writeFileSync(join(source, 'attr.txt'), 'attr'); // same content: only the attributes differ
    removeAttributeSync(join(source, 'attr.txt'), 'user.gone');
    fs.unlinkSync(join(source, 'pointer'));
    fs.symlinkSync('mode.txt', join(source, 'pointer'));
    fs.linkSync(join(source, 'a.txt'), join(source, 'b.txt'));

    const second = await syncRound(source, target, { base: first.manifest });
    await sameTree(source, target);
    expect(second.mismatched).toEqual([]);
    expect(second.stats.wireBytes).toBeLessThan(0.03 * volumeBytes(source));
    expect(second.stats.patched).toBe(2); // big.bin, log.txt
    expect(second.stats.blocksSent).toBeLessThanOrEqual(2 * writes + 9); // ≤ 2 blocks a write, 8 + 1 for the append
    expect(second.stats.deletions).toBe(5); // gone.txt, old, old/deeper, old/deeper/x, folder-to-file/inside
    expect(getAttributeSync(join(target, 'attr.txt'), 'user.gone')).toBeNull();
    expect(fs.statSync(join(target, 'a.txt')).ino).toBe(fs.statSync(join(target, 'b.txt')).ino);
  }, 60_000);

  it('sends almost nothing for an unchanged volume', async () => {
    const source = smallVolume();
    const target = tempDir();
    const first = await syncRound(source, target);
    const second = await syncRound(source, target, { base: first.manifest });
    await sameTree(source, target);
    expect(second.stats.whole + second.stats.patched + second.stats.metadataOnly).toBe(1); // the hard-link group
    expect(second.stats.dataBytes).toBeLessThan(64);
    expect(second.stats.deletions).toBe(0);
    expect(second.stats.wireBytes).toBeLessThan(16 * 1024);
  });

  it('re-reads a racily clean file whose stat looks unchanged', async () => {
    const source = tempDir();
    const path = join(source, 'racy.txt');
    fs.writeFileSync(path, 'version 1');
    const target = tempDir();
    const first = await syncRound(source, target);
    const before = fs.statSync(path, { bigint: true });
    fs.writeFileSync(path, 'version 2'); // same size, within the same second as the round
    fs.utimesSync(path, before.atime, before.mtime);
    const after = fs.statSync(path, { bigint: true });
    expect(after.ctimeNs).not.toBe(before.ctimeNs);
    // As on a filesystem whose ctime did not move either: only the racy rule can tell.
    const base = new Map(first.manifest);
    const entry = base.get('racy.txt');
    if (entry === undefined) throw new Error('racy.txt is not in the manifest');
    base.set('racy.txt', { ...entry, ctimeNs: after.ctimeNs, mtimeNs: after.mtimeNs });
    const second = await syncRound(source, target, { base });
    expect(second.stats.patched).toBe(1);
    expect(fs.readFileSync(join(target, 'racy.txt'), 'utf8')).toBe('version 2');
  });

  it('checks the content of a hot file whose stat is unchanged', async () => {
    const source = tempDir();
    const path = join(source, 'hot.db');
    fs.writeFileSync(path, randomBytes(256 * 1024));
    const target = tempDir();
    const first = await syncRound(source, target);
    const before = fs.statSync(path, { bigint: true });
    const fd = fs.openSync(path, 'r+');
    fs.writeSync(fd, Buffer.from('changed'), 0, 7, 100_000);
    fs.closeSync(fd);
    fs.utimesSync(path, before.atime, before.mtime);
    const after = fs.statSync(path, { bigint: true });
    // The stat as the base saw it, read well after the file's mtime: neither stat nor the racy rule can tell.
    const stale = (manifest: Manifest): Manifest => {
      const base = new Map(manifest);
      const entry = base.get('hot.db');
      if (entry === undefined) throw new Error('hot.db is not in the manifest');
      base.set('hot.db', {
        ...entry,
        ctimeNs: after.ctimeNs,
        mtimeNs: after.mtimeNs,
        readStartNs: after.mtimeNs + 10_000_000_000n,
      });
      return base;
    };
    const cold = await syncRound(source, target, { base: stale(first.manifest) });
    expect(cold.stats.reread).toBe(0);
    expect(fs.readFileSync(join(target, 'hot.db')).equals(fs.readFileSync(path))).toBe(false);
    const hot = await syncRound(source, target, { base: stale(first.manifest), hot: new Set(['hot.db']) });
    expect(hot.stats.patched).toBe(1);
    expect(hot.stats.blocksSent).toBe(1);
    expect(fs.readFileSync(join(target, 'hot.db')).equals(fs.readFileSync(path))).toBe(true);
  });

  it('reports a patch whose target was altered behind its back, and a resend round fixes it', async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'db'), randomBytes(4 * MiB));
    const target = tempDir();
    const first = await syncRound(source, target);
    const altered = fs.openSync(join(target, 'db'), 'r+');
    fs.writeSync(altered, Buffer.from('tampered'), 0, 8, 3 * MiB);
    fs.closeSync(altered);
    const fd = fs.openSync(join(source, 'db'), 'r+');
    fs.writeSync(fd, randomBytes(100), 0, 100, 1000);
    fs.closeSync(fd);

    const second = await syncRound(source, target, { base: first.manifest });
    expect(second.mismatched).toEqual(['db']);
    const third = await syncRound(source, target, {
      base: second.manifest,
      resend: new Set(second.mismatched),
    });
    expect(third.mismatched).toEqual([]);
    expect(third.stats.whole).toBe(1);
    await sameTree(source, target);
  });

  it('keeps a manifest through serialization, and refuses a damaged one', async () => {
    const source = smallVolume();
    const target = tempDir();
    const first = await syncRound(source, target, { fsync: true });
    const sidecar = join(tempDir(), 'volume.manifest');
    await saveManifest(sidecar, first.manifest);
    const loaded = await loadManifest(sidecar);
    expect(loaded).toEqual(first.manifest);
    fs.appendFileSync(join(source, 'etc/app.conf'), 'more\n');
    const second = await syncRound(source, target, { base: loaded });
    await sameTree(source, target);
    expect(second.stats.whole).toBe(1); // the hard-link group app.conf/app-link.conf, data once
    const bytes = await serializeManifest(first.manifest);
    bytes[bytes.length - 40] = (bytes[bytes.length - 40] ?? 0) ^ 1;
    await expect(parseManifest(bytes)).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

/** A stream of hand-made sync entries, as a hostile peer could send them. */
function archive(entries: { header: TarHeader; data?: Buffer; map?: Buffer }[]): Readable {
  const parts: Buffer[] = [];
  for (const { header, data, map } of entries) {
    parts.push(encodeHeader(header));
    if (map) parts.push(map);
    if (data) parts.push(data, Buffer.alloc(paddingAfter(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Readable.from([Buffer.concat(parts)]);
}

function patchEntry(name: string, data: Buffer): { header: TarHeader; data: Buffer; map: Buffer } {
  const map = encodeSparseMap([{ offset: 0, length: data.length }]);
  return {
    header: {
      name,
      type: 'file',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0n,
      size: map.length + data.length,
      sparse: { realSize: data.length },
      records: [
        { key: 'DOCKER_MIGRATE.patch', value: '1' },
        { key: 'DOCKER_MIGRATE.digest', value: '0'.repeat(32) },
      ],
    },
    data,
    map,
  };
}

function deletionsEntry(paths: string[]): { header: TarHeader; data: Buffer } {
  const data = Buffer.from(paths.join('\0'));
  return {
    header: {
      name: './.docker-migrate-deletions',
      type: 'file',
      mode: 0o600,
      uid: 0,
      gid: 0,
      mtime: 0n,
      size: data.length,
      records: [{ key: 'DOCKER_MIGRATE.deletions', value: '1' }],
    },
    data,
  };
}

describe('volume sync edge cases', () => {
  it('marks a file that changes while it is read as dirty, and the next round re-reads it', async () => {
    const source = tempDir();
    const path = join(source, 'growing.log');
    fs.writeFileSync(path, randomBytes(16 * MiB));
    const target = tempDir();
    const packed = packChanges(source);
    let received = 0;
    let touched = false;
    const wire = (async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of packed.stream) {
        received += (chunk as Buffer).length;
        // Half-way through the file: its header went out with the size it had then.
        if (!touched && received > 4 * MiB) {
          touched = true;
          fs.appendFileSync(path, 'written while the round read it');
        }
        yield chunk as Buffer;
      }
    })();
    await unpackToDirectory(target, wire, { update: true });
    const first = await packed.done;
    expect(first.manifest.get('growing.log')?.dirty).toBe(true);
    expect(first.stats.dirty).toBe(1);
    const second = await syncRound(source, target, { base: first.manifest });
    expect(second.manifest.get('growing.log')?.dirty).toBe(false);
    expect(second.stats.patched).toBe(1);
    await sameTree(source, target);
  });

  it('brings an older copy up to date from the manifest of the target, deleting what the source lacks', async () => {
    const source = smallVolume();
    const target = tempDir();
    fs.cpSync(source, target, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true });
    fs.writeFileSync(join(target, 'extra.txt'), 'only on the target');
    fs.mkdirSync(join(target, 'extra-folder'));
    fs.writeFileSync(join(target, 'extra-folder/file'), 'only on the target');
    const fd = fs.openSync(join(target, 'data.bin'), 'r+');
    fs.writeSync(fd, randomBytes(8192), 0, 8192, 500_000);
    fs.closeSync(fd);
    const base = await manifestOf(target);
    const round = await syncRound(source, target, { base });
    await sameTree(source, target);
    expect(round.mismatched).toEqual([]);
    expect(fs.existsSync(join(target, 'extra.txt'))).toBe(false);
    expect(round.stats.deletions).toBe(3);
    expect(round.stats.dataBytes).toBeLessThan(64 * 1024); // data.bin's changed blocks, not its 1 MiB
  });

  it('trusts what the source kept as sent only where the target still holds it, and reads nothing else', async () => {
    const source = smallVolume();
    fs.writeFileSync(join(source, 'big.bin'), randomBytes(4 * MiB));
    // Written long ago, as most of a volume is: no file is racily clean.
    const old = new Date('2020-01-01T00:00:00Z');
    for (const entry of fs.readdirSync(source, { recursive: true, withFileTypes: true }))
      if (entry.isFile()) fs.utimesSync(join(entry.parentPath, entry.name), old, old);
    const target = tempDir();
    const sent = (await syncRound(source, target)).manifest;

    // Behind both ends' back, the target's copy of data.bin changes; on the source one block of big.bin changes,
    // a file goes and one comes.
    const fd = fs.openSync(join(target, 'data.bin'), 'r+');
    fs.writeSync(fd, randomBytes(100), 0, 100, 300_000);
    fs.closeSync(fd);
    const big = fs.openSync(join(source, 'big.bin'), 'r+');
    fs.writeSync(big, randomBytes(8192), 0, 8192, 2 * MiB);
    fs.closeSync(big);
    fs.rmSync(join(source, 'etc/conf.d/extra.conf'));
    fs.writeFileSync(join(source, 'new.txt'), 'new');

    const described = await manifestOf(target);
    const merged = mergeBase(described, sent);
    expect(merged.compared).toBe(1); // data.bin: the target no longer holds what was sent
    expect(merged.trusted).toBe(described.size - 1);
    const round = await syncRound(source, target, { base: merged.base });
    await sameTree(source, target);
    expect(round.mismatched).toEqual([]);
    // Read: big.bin (its stat moved), data.bin (compared), new.txt (new); nothing else.
    expect(round.stats.reread).toBe(3);
    expect(round.stats.deletions).toBe(1);
    expect(round.stats.dataBytes).toBe(8192 + 8192 + 3); // a block of each changed file, and the new one

    // Without what was sent, every file is read and compared; the same few blocks travel.
    fs.writeFileSync(join(source, 'new.txt'), 'newer');
    const blind = await syncRound(source, target, {
      base: mergeBase(await manifestOf(target), undefined).base,
    });
    await sameTree(source, target);
    expect(blind.stats.reread).toBe(6); // every regular file: the hard-linked pair once
    // new.txt's 5 bytes, and the hard-linked app.conf (10 bytes): a hard-link group read as a candidate goes whole.
    expect(blind.stats.dataBytes).toBe(5 + 10);
  });

  it('keeps the block digests of each file it writes or patches, when a description follows', async () => {
    const source = smallVolume();
    const target = tempDir();
    const first = await syncRound(source, target);
    const fd = fs.openSync(join(source, 'data.bin'), 'r+');
    fs.writeSync(fd, randomBytes(8192), 0, 8192, 81920);
    fs.closeSync(fd);
    fs.writeFileSync(join(source, 'etc/app.conf'), 'listen 8080\n'); // hard-linked: goes whole, digested as written
    const packed = packChanges(source, { base: first.manifest });
    const received = await unpackToDirectory(target, packed.stream, { update: true, describe: true });
    const { manifest } = await packed.done;
    await sameTree(source, target);
    expect([...(received.sync.verified?.keys() ?? [])].sort()).toEqual(['app-link.conf', 'data.bin']);
    // A file written whole is digested as it is written: the same digests as the source's.
    expect(
      received.sync.verified
        ?.get('app-link.conf')
        ?.digest.equals(manifest.get('app-link.conf')?.digest ?? Buffer.alloc(0)),
    ).toBe(true);
    const known = received.sync.verified?.get('data.bin');
    expect(known?.digest.equals(manifest.get('data.bin')?.digest ?? Buffer.alloc(0))).toBe(true);
    expect(known?.blocks.equals(manifest.get('data.bin')?.blocks ?? Buffer.alloc(0))).toBe(true);
    // Described from what is known, the file is not read again: its stat is the one seen now.
    const describing = packChanges(target, { known: received.sync.verified! });
    describing.stream.resume();
    const { manifest: fromKnown, stats } = await describing.done;
    const described = await manifestOf(target);
    // Read: the other files (sparse.img's 8 MiB among them), not data.bin's 1 MiB.
    expect(stats.bytesRead).toBeLessThan(8.5 * MiB);
    const entry = fromKnown.get('data.bin');
    expect(entry).toMatchObject({
      size: described.get('data.bin')?.size,
      ino: described.get('data.bin')?.ino,
    });
    expect(entry?.digest?.equals(described.get('data.bin')?.digest ?? Buffer.alloc(1))).toBe(true);
    expect(entry?.xattrDigest.equals(described.get('data.bin')?.xattrDigest ?? Buffer.alloc(1))).toBe(true);
  });

  it("checks a patch against the target's description by reading only the blocks it wrote, while its stat matches", async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'big.bin'), randomBytes(2 * MiB));
    fs.writeFileSync(join(source, 'other.bin'), randomBytes(MiB));
    const old = new Date('2020-01-01T00:00:00Z');
    for (const name of ['big.bin', 'other.bin']) fs.utimesSync(join(source, name), old, old);
    const target = tempDir();
    await syncRound(source, target);
    for (const name of ['big.bin', 'other.bin']) {
      const fd = fs.openSync(join(source, name), 'r+');
      fs.writeSync(fd, randomBytes(8192), 0, 8192, 8192 * 10);
      fs.closeSync(fd);
    }
    const described = await manifestOf(target);
    const base = mergeBase(described, undefined).base;
    // A description that lies about a block the patch does not write: trusted as the stat says, the check then
    // fails — so it was not read again — and the file is reported for a whole resend, never taken as verified.
    const lying = described.get('big.bin')!;
    lying.blocks = Buffer.from(lying.blocks!);
    lying.blocks.fill(0, 0, 8);
    // other.bin changed on the target after it was described, in a block the patch does not write: its stat moved,
    // so it is read whole, and the change is caught (trusting the description would have let it through).
    const touched = fs.openSync(join(target, 'other.bin'), 'r+');
    fs.writeSync(touched, Buffer.from('x'), 0, 1, 8192 * 20);
    fs.closeSync(touched);
    const packed = packChanges(source, { base });
    const received = await unpackToDirectory(target, packed.stream, { update: true, described });
    await packed.done;
    expect(received.sync.mismatched.sort()).toEqual(['big.bin', 'other.bin']);
    expect(received.sync.patched).toBe(0);
    const fixed = await syncRound(source, target, { resend: new Set(received.sync.mismatched), base });
    expect(fixed.mismatched).toEqual([]);
    await sameTree(source, target);
  });

  it('never patches a file hard-linked on the target: the write would reach its other names', async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'a'), randomBytes(64 * 1024));
    fs.linkSync(join(source, 'a'), join(source, 'b'));
    const old = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(join(source, 'a'), old, old);
    const target = tempDir();
    const sent = (await syncRound(source, target)).manifest;
    expect(fs.statSync(join(target, 'b')).nlink).toBe(2);
    // On the source, b is replaced by a rename (a new file, no longer linked) and a gets a chmod.
    const original = fs.readFileSync(join(source, 'a'));
    const changed = Buffer.from(original);
    changed.fill(7, 0, 100);
    fs.writeFileSync(join(source, 'b.new'), changed);
    fs.utimesSync(join(source, 'b.new'), old, old);
    fs.renameSync(join(source, 'b.new'), join(source, 'b'));
    fs.chmodSync(join(source, 'a'), 0o600);
    const base = mergeBase(await manifestOf(target), sent).base;
    const first = await syncRound(source, target, { base });
    // Both names are refused as patches on the target (their inode is shared there) and sent whole next.
    expect(first.mismatched.sort()).toEqual(['a', 'b']);
    expect(fs.readFileSync(join(target, 'a')).equals(original)).toBe(true);
    const fixed = await syncRound(source, target, { base, resend: new Set(first.mismatched) });
    expect(fixed.mismatched).toEqual([]);
    await sameTree(source, target);
    expect(fs.readFileSync(join(target, 'a')).equals(original)).toBe(true);
    expect(fs.readFileSync(join(target, 'b')).equals(changed)).toBe(true);
  });

  it('digests every file it writes whole as it writes it, holes and all, as the source does', async () => {
    const source = smallVolume();
    fs.writeFileSync(join(source, 'odd.bin'), randomBytes(3 * 8192 + 17));
    const holes = fs.openSync(join(source, 'holes.img'), 'w');
    fs.writeSync(holes, randomBytes(5000), 0, 5000, 3 * MiB + 100);
    fs.writeSync(holes, randomBytes(300 * 1024), 0, 300 * 1024, 9 * MiB);
    fs.ftruncateSync(holes, 12 * MiB + 3);
    fs.closeSync(holes);
    const target = tempDir();
    const packed = packChanges(source, {});
    const received = await unpackToDirectory(target, packed.stream, { update: true, describe: true });
    const { manifest } = await packed.done;
    await sameTree(source, target);
    const verified = received.sync.verified ?? new Map<string, KnownContent>();
    for (const name of ['data.bin', 'sparse.img', 'holes.img', 'odd.bin', 'empty', 'etc/conf.d/extra.conf']) {
      expect(verified.get(name)?.blocks.equals(manifest.get(name)?.blocks ?? Buffer.alloc(1)), name).toBe(
        true,
      );
      expect(verified.get(name)?.digest.equals(manifest.get(name)?.digest ?? Buffer.alloc(1)), name).toBe(
        true,
      );
    }
  });

  it('stops a round when its signal aborts', async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'big'), randomBytes(8 * MiB));
    const controller = new AbortController();
    const packed = packChanges(source, { signal: controller.signal });
    controller.abort();
    await expect(packed.done).rejects.toMatchObject({ code: 'canceled' });
  });
});

describe('hostile sync entries', () => {
  it('refuses a patch that climbs out of the root', async () => {
    const target = tempDir();
    await expect(
      unpackToDirectory(target, archive([patchEntry('../escape', Buffer.from('x'))]), { update: true }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('never writes a patch through a symlink, and reports it', async () => {
    const outside = tempDir();
    fs.writeFileSync(join(outside, 'victim'), 'safe');
    const target = tempDir();
    fs.symlinkSync(join(outside, 'victim'), join(target, 'file'));
    fs.symlinkSync(outside, join(target, 'folder'));
    const result = await unpackToDirectory(target, archive([patchEntry('./file', Buffer.from('evil'))]), {
      update: true,
    });
    expect(result.sync.mismatched).toEqual(['file']);
    await expect(
      unpackToDirectory(target, archive([patchEntry('./folder/victim', Buffer.from('evil'))]), {
        update: true,
      }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(fs.readFileSync(join(outside, 'victim'), 'utf8')).toBe('safe');
  });

  it('deletes nothing outside the root or through a symlink', async () => {
    const outside = tempDir();
    fs.writeFileSync(join(outside, 'victim'), 'safe');
    const target = tempDir();
    fs.symlinkSync(outside, join(target, 'folder'));
    await unpackToDirectory(target, archive([deletionsEntry(['folder/victim'])]), { update: true });
    expect(fs.readFileSync(join(outside, 'victim'), 'utf8')).toBe('safe');
    await expect(
      unpackToDirectory(target, archive([deletionsEntry(['../victim'])]), { update: true }),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(fs.existsSync(join(target, 'folder'))).toBe(true);
  });

  it('leaves a folder in the place of a patched file alone, and reports it', async () => {
    const target = tempDir();
    fs.mkdirSync(join(target, 'file'));
    fs.writeFileSync(join(target, 'file/kept'), 'kept');
    const result = await unpackToDirectory(target, archive([patchEntry('./file', Buffer.from('evil'))]), {
      update: true,
    });
    expect(result.sync.mismatched).toEqual(['file']);
    expect(fs.readFileSync(join(target, 'file/kept'), 'utf8')).toBe('kept');
  });

  it('refuses a patch without a valid digest', async () => {
    const target = tempDir();
    fs.writeFileSync(join(target, 'file'), 'data');
    const entry = patchEntry('./file', Buffer.from('evil'));
    entry.header = { ...entry.header, records: [{ key: 'DOCKER_MIGRATE.patch', value: '1' }] };
    await expect(unpackToDirectory(target, archive([entry]), { update: true })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(fs.readFileSync(join(target, 'file'), 'utf8')).toBe('data');
  });

  it('refuses a hard link to a symlink already in the target', async () => {
    const outside = tempDir();
    fs.writeFileSync(join(outside, 'victim'), 'safe');
    const target = tempDir();
    fs.symlinkSync(join(outside, 'victim'), join(target, 'pointer'));
    const link: TarHeader = {
      name: './link',
      type: 'link',
      linkname: './pointer',
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: 0n,
    };
    await expect(
      unpackToDirectory(target, archive([{ header: link }]), { update: true }),
    ).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    expect(fs.existsSync(join(target, 'link'))).toBe(false);
  });

  it('refuses sync entries when not updating', async () => {
    const target = tempDir();
    fs.writeFileSync(join(target, 'file'), 'data');
    await expect(
      unpackToDirectory(target, archive([patchEntry('./file', Buffer.from('evil'))])),
    ).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(fs.readFileSync(join(target, 'file'), 'utf8')).toBe('data');
  });
});
