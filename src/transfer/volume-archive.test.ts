// Unit tests of volume archives on real temporary directories: a realistic volume round-trips with its metadata,
// hostile or damaged archives are refused, and memory stays flat for a large file.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppError } from '../core/errors.js';
import { directoryDigest, packDirectory, unpackToDirectory } from './volume-archive.js';
import type { ArchiveStats } from './volume-archive.js';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';

import { readSmallFile } from './volume-archive-pack.js';
import { SparseFileWriter } from './volume-archive-sparse.js';
import { aclXattr, setCapability } from './volume-archive-samples.js';
import { formatPaxTime } from './volume-archive-tar.js';
import { nanosecondTimes } from '../platform/file-times.js';

const MiB = 1024 * 1024;
const created: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(`${os.tmpdir()}/dm-archive-`);
  created.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Packs `source` and unpacks it into `target` through a PassThrough, as a network connection would carry it; the
 * SHA-256 of the bytes on the way tells whether two packs sent the same archive.
 */
async function moveVolume(
  source: string,
  target: string,
): Promise<{ sent: { stats: ArchiveStats }; received: { stats: ArchiveStats }; sha256: string }> {
  const packed = packDirectory(source);
  const hash = createHash('sha256');
  const wire = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  const carrying = pipeline(packed.stream, wire);
  const received = await unpackToDirectory(target, wire);
  await carrying;
  return { sent: await packed.done, received, sha256: hash.digest('hex') };
}

async function packToBuffer(source: string): Promise<{ bytes: Buffer; sha256: string }> {
  const packed = packDirectory(source);
  const chunks: Buffer[] = [];
  for await (const chunk of packed.stream) chunks.push(chunk as Buffer);
  await packed.done;
  const bytes = Buffer.concat(chunks);
  return { bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** How finely times arrive here: to the nanosecond with the native add-on, else to the microsecond. */
const TIMES = nanosecondTimes ? 'ns' : 'us';

/** Builds an archive by hand, as a hostile or broken peer could. */
async function handmadeArchive(
  entries: { header: Partial<Header> & { name: string }; body?: string }[],
): Promise<Buffer> {
  const pack = tar.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function unpackError(target: string, bytes: Buffer): Promise<AppError> {
  const error: unknown = await unpackToDirectory(target, Readable.from([bytes])).then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const FIXED = new Date('2021-03-04T05:06:07Z');
const OLDER = new Date('2015-01-02T03:04:05Z');

describe('a realistic volume moved with packDirectory and unpackToDirectory', () => {
  let source: string;
  let target: string;
  let moved: Awaited<ReturnType<typeof moveVolume>>;
  const longPath = join('long', 'a'.repeat(100), 'b'.repeat(95));
  const longName = 'c'.repeat(200);

  beforeAll(async () => {
    source = tempDir();
    target = join(tempDir(), 'volume');
    const at = (...parts: string[]): string => join(source, ...parts);

    for (let i = 0; i < 2000; i += 1) {
      const dir = at('small', `d${String(i % 20).padStart(2, '0')}`);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(
        join(dir, `f${String(i).padStart(4, '0')}.txt`),
        `file number ${String(i)}\n`.repeat(i % 7),
      );
    }
    fs.writeFileSync(at('random.bin'), randomBytes(20 * MiB));
    fs.mkdirSync(at('owned'));
    fs.writeFileSync(at('owned', 'by-1000'), 'app data');
    fs.chownSync(at('owned', 'by-1000'), 1000, 1000);
    fs.writeFileSync(at('owned', 'by-nobody'), 'nobody data');
    fs.chownSync(at('owned', 'by-nobody'), 65534, 65534);
    fs.chownSync(at('owned'), 1000, 65534);
    fs.writeFileSync(at('owned', 'secret'), 'key', { mode: 0o600 });
    fs.chmodSync(at('owned', 'secret'), 0o600);
    fs.writeFileSync(at('owned', 'tool'), '#!/bin/sh\n');
    fs.chmodSync(at('owned', 'tool'), 0o755);
    fs.writeFileSync(at('owned', 'setuid-tool'), '#!/bin/sh\n');
    fs.chmodSync(at('owned', 'setuid-tool'), 0o4755);
    fs.mkdirSync(at('shared'));
    fs.chmodSync(at('shared'), 0o2775);
    fs.mkdirSync(at('tmp'));
    fs.chmodSync(at('tmp'), 0o1777);
    fs.mkdirSync(at('links'));
    fs.symlinkSync('../random.bin', at('links', 'relative'));
    fs.symlinkSync('/etc/hostname', at('links', 'absolute'));
    fs.symlinkSync('does/not/exist', at('links', 'dangling'));
    fs.writeFileSync(at('links', 'original'), 'shared inode');
    fs.linkSync(at('links', 'original'), at('links', 'second'));
    fs.mkdirSync(at('empty'));
    fs.mkdirSync(at(longPath), { recursive: true });
    fs.writeFileSync(at(longPath, 'x'), 'deep');
    fs.writeFileSync(at(longName), 'long name');
    fs.writeFileSync(at('sparse.img'), '');
    fs.truncateSync(at('sparse.img'), 64 * MiB);
    const handle = fs.openSync(at('sparse.img'), 'r+');
    fs.writeSync(handle, randomBytes(MiB), 0, MiB, 32 * MiB);
    fs.closeSync(handle);
    execFileSync('mkfifo', [at('pipe')]);

    fs.utimesSync(at('owned', 'secret'), FIXED, FIXED);
    fs.utimesSync(at('random.bin'), OLDER, OLDER);
    fs.lutimesSync(at('links', 'relative'), OLDER, OLDER);
    for (const dir of ['owned', 'shared', 'tmp', 'empty', 'links']) fs.utimesSync(at(dir), FIXED, FIXED);
    fs.utimesSync(source, OLDER, OLDER);

    moved = await moveVolume(source, target);
  }, 120_000);

  it('arrives with equal content and metadata digests', async () => {
    expect(await directoryDigest(target, { times: TIMES })).toBe(
      await directoryDigest(source, { times: TIMES }),
    );
  }, 60_000);

  it('counts what it moved the same way on both sides', () => {
    expect(moved.sent.stats).toEqual(moved.received.stats);
    // 2000 small + random + 5 in owned + original + deep x + long name + sparse
    expect(moved.sent.stats.files).toBe(2010);
    // root, small, 20 of small, owned, shared, tmp, links, empty, long, long/a…, long/a…/b…
    expect(moved.sent.stats.directories).toBe(30);
    expect(moved.sent.stats.symlinks).toBe(3);
    expect(moved.sent.stats.hardlinks).toBe(1);
    expect(moved.sent.stats.bytes).toBeGreaterThan(84 * MiB);
    expect(moved.sent.stats.ownershipNotRestored).toBe(0);
  });

  it('keeps the random file byte for byte', () => {
    expect(
      fs.readFileSync(join(target, 'random.bin')).equals(fs.readFileSync(join(source, 'random.bin'))),
    ).toBe(true);
  });

  it('keeps owners, modes with special bits and mtimes', () => {
    const stat = (...parts: string[]): fs.Stats => fs.lstatSync(join(target, ...parts));
    expect(stat('owned', 'by-1000')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(stat('owned', 'by-nobody')).toMatchObject({ uid: 65534, gid: 65534 });
    expect(stat('owned')).toMatchObject({ uid: 1000, gid: 65534 });
    expect(stat('owned', 'secret').mode & 0o7777).toBe(0o600);
    expect(stat('owned', 'tool').mode & 0o7777).toBe(0o755);
    expect(stat('owned', 'setuid-tool').mode & 0o7777).toBe(0o4755);
    expect(stat('shared').mode & 0o7777).toBe(0o2775);
    expect(stat('tmp').mode & 0o7777).toBe(0o1777);
    expect(stat('owned', 'secret').mtime).toEqual(FIXED);
    expect(stat('random.bin').mtime).toEqual(OLDER);
    expect(stat('links', 'relative').mtime).toEqual(OLDER);
    expect(stat('owned').mtime).toEqual(FIXED);
    expect(stat().mtime).toEqual(OLDER);
  });

  it('keeps symlink targets verbatim, even absolute or dangling', () => {
    expect(fs.readlinkSync(join(target, 'links', 'relative'))).toBe('../random.bin');
    expect(fs.readlinkSync(join(target, 'links', 'absolute'))).toBe('/etc/hostname');
    expect(fs.readlinkSync(join(target, 'links', 'dangling'))).toBe('does/not/exist');
  });

  it('recreates a hard-linked pair as one inode', () => {
    const original = fs.statSync(join(target, 'links', 'original'));
    const second = fs.statSync(join(target, 'links', 'second'));
    expect(second.ino).toBe(original.ino);
    expect(original.nlink).toBe(2);
  });

  it('keeps a sparse file sparse', () => {
    const sparse = fs.statSync(join(target, 'sparse.img'));
    expect(sparse.size).toBe(64 * MiB);
    expect(sparse.blocks * 512).toBeLessThan(4 * MiB);
    expect(
      fs.readFileSync(join(target, 'sparse.img')).equals(fs.readFileSync(join(source, 'sparse.img'))),
    ).toBe(true);
  });

  it('keeps empty directories, 200-character paths and FIFOs', () => {
    expect(fs.readdirSync(join(target, 'empty'))).toEqual([]);
    expect(fs.readFileSync(join(target, longPath, 'x'), 'utf8')).toBe('deep');
    expect(fs.readFileSync(join(target, longName), 'utf8')).toBe('long name');
    expect(fs.lstatSync(join(target, 'pipe')).isFIFO()).toBe(true);
  });

  it('produces the same bytes when the same volume is packed twice', async () => {
    // Packing read files without touching their atimes; listing a folder sets its atime once (relatime), so the
    // pack before this one may have changed what this one sends, and the next one must send the same.
    const first = await packToBuffer(source);
    expect((await packToBuffer(source)).sha256).toBe(first.sha256);
  });

  it('notices a changed file in the digest', async () => {
    const copy = join(tempDir(), 'copy');
    await moveVolume(source, copy);
    fs.writeFileSync(join(copy, 'owned', 'by-1000'), 'app dat4');
    fs.chownSync(join(copy, 'owned', 'by-1000'), 1000, 1000);
    expect(await directoryDigest(copy)).not.toBe(await directoryDigest(source));
  }, 60_000);
});

describe('unpackToDirectory with a hostile archive', () => {
  it.each([
    ['../escape', 'a .. component'],
    ['/abs', 'an absolute path'],
  ])('refuses the entry %s and writes nothing outside the root', async (name) => {
    const parent = tempDir();
    const root = join(parent, 'volume');
    const bytes = await handmadeArchive([{ header: { name, type: 'file' }, body: 'pwned' }]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(name);
    expect(fs.readdirSync(parent)).toEqual(['volume']);
    expect(fs.existsSync('/abs')).toBe(false);
  });

  it('refuses an entry that goes through a symlink the archive created', async () => {
    const outside = tempDir();
    const root = join(tempDir(), 'volume');
    const bytes = await handmadeArchive([
      { header: { name: 'link', type: 'symlink', linkname: outside } },
      { header: { name: 'link/passwd', type: 'file' }, body: 'root::0:0::/:/bin/sh' },
    ]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain("'link/passwd' goes through the symlink 'link'");
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('refuses a file that would write through a symlink of the same name', async () => {
    const outside = tempDir();
    fs.writeFileSync(join(outside, 'target'), 'original');
    const root = join(tempDir(), 'volume');
    const bytes = await handmadeArchive([
      { header: { name: 'x', type: 'symlink', linkname: join(outside, 'target') } },
      { header: { name: 'x', type: 'file' }, body: 'overwritten' },
    ]);
    await unpackToDirectory(root, Readable.from([bytes]));
    expect(fs.readFileSync(join(outside, 'target'), 'utf8')).toBe('original');
    expect(fs.readFileSync(join(root, 'x'), 'utf8')).toBe('overwritten');
  });

  it.each([
    ['../outside/file', "a '..' component"],
    ['/etc/passwd', 'an absolute path'],
    ['later', 'which is not an earlier entry'],
  ])('refuses a hard link to %s', async (linkname, reason) => {
    const root = join(tempDir(), 'volume');
    const bytes = await handmadeArchive([
      { header: { name: 'hard', type: 'link', linkname } },
      { header: { name: 'later', type: 'file' }, body: 'data' },
    ]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(reason);
    expect(fs.existsSync(join(root, 'hard'))).toBe(false);
  });

  it('does not write through a symlink the target volume already holds', async () => {
    const outside = tempDir();
    const root = join(tempDir(), 'volume');
    fs.mkdirSync(root);
    fs.symlinkSync(outside, join(root, 'data'));
    const bytes = await handmadeArchive([{ header: { name: 'data/file', type: 'file' }, body: 'pwned' }]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain("goes through the symlink 'data'");
    expect(fs.readdirSync(outside)).toEqual([]);
  });

  it('replaces a symlink the target volume holds where the archive has a folder, and leaves its target alone', async () => {
    const outside = tempDir();
    fs.chmodSync(outside, 0o700);
    const root = join(tempDir(), 'volume');
    fs.mkdirSync(root);
    fs.symlinkSync(outside, join(root, 'data'));
    const bytes = await handmadeArchive([
      { header: { name: 'data/', type: 'directory', mode: 0o777 } },
      { header: { name: 'data/file', type: 'file' }, body: 'inside' },
    ]);
    await unpackToDirectory(root, Readable.from([bytes]));
    expect(fs.lstatSync(join(root, 'data')).isDirectory()).toBe(true);
    expect(fs.readFileSync(join(root, 'data', 'file'), 'utf8')).toBe('inside');
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.statSync(outside).mode & 0o777).toBe(0o700);
  });

  it.each([
    ['a PAX path', { name: 'innocent', pax: { path: '../escape' } }],
    ['a PAX path that is absolute', { name: 'innocent', pax: { path: '/tmp/escape' } }],
    ['a long GNU-style name', { name: `${'a/'.repeat(60)}${'../'.repeat(61)}escape` }],
  ])('refuses %s leading outside the root', async (_what, header) => {
    const parent = tempDir();
    const root = join(parent, 'volume');
    const bytes = await handmadeArchive([{ header: { ...header, type: 'file' }, body: 'pwned' }]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(fs.readdirSync(parent)).toEqual(['volume']);
    expect(fs.existsSync('/tmp/escape')).toBe(false);
  });

  it('refuses an entry under a file the archive has just created', async () => {
    const root = join(tempDir(), 'volume');
    const bytes = await handmadeArchive([
      { header: { name: 'x', type: 'file' }, body: 'a file' },
      { header: { name: 'x/y', type: 'file' }, body: 'under a file' },
    ]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain("'x/y' goes through the non-directory 'x'");
  });

  it('refuses a file that would replace a directory of the archive', async () => {
    const root = join(tempDir(), 'volume');
    const bytes = await handmadeArchive([
      { header: { name: 'd/', type: 'directory' } },
      { header: { name: 'd/inside', type: 'file' }, body: 'kept' },
      { header: { name: 'd', type: 'file' }, body: 'replaces d?' },
    ]);
    const error = await unpackError(root, bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain("'d' would replace a directory");
  });

  it('applies entries at the same path in archive order, even while earlier ones are still being written', async () => {
    const root = join(tempDir(), 'volume');
    const entries: { header: Partial<Header> & { name: string }; body?: string }[] = [];
    for (let i = 0; i < 50; i += 1) {
      entries.push({ header: { name: `f${String(i)}`, type: 'file' }, body: `first ${String(i)}` });
      entries.push({ header: { name: `l${String(i)}`, type: 'link', linkname: `f${String(i)}` } });
      entries.push({ header: { name: `f${String(i)}`, type: 'file' }, body: `second ${String(i)}` });
    }
    entries.push({ header: { name: 'f0', type: 'symlink', linkname: 'f1' } });
    await unpackToDirectory(root, Readable.from([await handmadeArchive(entries)]));
    expect(fs.readlinkSync(join(root, 'f0'))).toBe('f1');
    for (let i = 1; i < 50; i += 1) {
      expect(fs.readFileSync(join(root, `f${String(i)}`), 'utf8')).toBe(`second ${String(i)}`);
      expect(fs.readFileSync(join(root, `l${String(i)}`), 'utf8')).toBe(`first ${String(i)}`);
    }
  });
});

/**
 * The archive below holds the root's headers, then per 3000-byte file its headers and 6 data blocks; each entry has
 * a PAX header (its nanosecond times) and its records before its ustar header: three blocks.
 */
function fileHeaderOffset(index: number): number {
  return 3 * 512 + index * 9 * 512 + 2 * 512;
}

describe('unpackToDirectory with a damaged archive', () => {
  let source: string;
  let archive: { bytes: Buffer; sha256: string };

  beforeAll(async () => {
    source = tempDir();
    for (let i = 0; i < 50; i += 1)
      fs.writeFileSync(join(source, `f${String(i).padStart(2, '0')}`), randomBytes(3000));
    archive = await packToBuffer(source);
  });

  it('reports a garbled header as a corrupt archive', async () => {
    const bytes = Buffer.from(archive.bytes);
    const headerAt = fileHeaderOffset(25);
    bytes.fill(0x41, headerAt, headerAt + 100);
    const error = await unpackError(join(tempDir(), 'volume'), bytes);
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/^the volume archive is corrupt: /);
  });

  it('reports a truncated archive as corrupt', async () => {
    const error = await unpackError(
      join(tempDir(), 'volume'),
      archive.bytes.subarray(0, archive.bytes.length / 2),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/^the volume archive is corrupt: /);
  });

  it('reports data after the end-of-archive marker as corrupt', async () => {
    const error = await unpackError(
      join(tempDir(), 'volume'),
      Buffer.concat([archive.bytes, Buffer.from('trailing garbage')]),
    );
    expect(error.message).toBe('the volume archive is corrupt: data follows the end-of-archive marker');
  });

  it('reports bytes that are not a tar archive as corrupt', async () => {
    const error = await unpackError(join(tempDir(), 'volume'), randomBytes(8192));
    expect(error.code).toBe('invalid_argument');
  });
});

describe('canceling and failing', () => {
  let source: string;

  beforeAll(() => {
    source = tempDir();
    fs.writeFileSync(join(source, 'big'), randomBytes(16 * MiB));
  });

  it('stops unpacking with canceled when the signal aborts mid-way', async () => {
    const controller = new AbortController();
    const packed = packDirectory(source);
    async function* slowAfterAMegabyte(): AsyncGenerator<Buffer> {
      let sent = 0;
      for await (const chunk of packed.stream) {
        sent += (chunk as Buffer).length;
        if (sent > MiB) controller.abort();
        yield chunk as Buffer;
      }
    }
    const error: unknown = await unpackToDirectory(join(tempDir(), 'volume'), slowAfterAMegabyte(), {
      signal: controller.signal,
    }).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('canceled');
    packed.stream.destroy();
  });

  it('ends the pack stream and its result with canceled when the signal aborts', async () => {
    const controller = new AbortController();
    const packed = packDirectory(source, { signal: controller.signal });
    const reading = (async (): Promise<void> => {
      for await (const chunk of packed.stream) {
        expect(chunk).toBeDefined();
        controller.abort();
      }
    })();
    await expect(reading).rejects.toMatchObject({ code: 'canceled' });
    await expect(packed.done).rejects.toMatchObject({ code: 'canceled' });
  });

  it('reports a write that fails while later batches are on their way, and settles them before the close', async () => {
    const path = join(tempDir(), 'read-only');
    fs.writeFileSync(path, '');
    const fd = fs.openSync(path, 'r'); // every write fails with EBADF
    const writer = new SparseFileWriter(fd, 8 * MiB);
    const writing = (async (): Promise<void> => {
      for (let i = 0; i < 8; i++) await writer.write(randomBytes(MiB));
      await writer.finish();
    })();
    await expect(writing).rejects.toMatchObject({ code: 'EBADF' });
    await writer.settle();
    fs.closeSync(fd);
    expect(fs.statSync(path).size).toBe(0);
  });

  it('reports a missing volume directory as not_found', async () => {
    const packed = packDirectory(join(tempDir(), 'missing'));
    await expect(pipeline(packed.stream, new PassThrough().resume())).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(packed.done).rejects.toMatchObject({ code: 'not_found' });
  });
});

describe('memory while moving a large file', () => {
  it('stays flat while 256 MiB goes through pack and unpack', async () => {
    const source = tempDir();
    const block = randomBytes(MiB);
    const handle = fs.openSync(join(source, 'large.bin'), 'w');
    for (let i = 0; i < 256; i += 1) fs.writeSync(handle, block);
    fs.closeSync(handle);

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const started = performance.now();
    try {
      const moved = await moveVolume(source, join(tempDir(), 'volume'));
      expect(moved.received.stats.bytes).toBe(256 * MiB);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    peak = Math.max(peak, process.memoryUsage().rss);
    console.log(
      `volume-archive: 256 MiB pack→unpack in ${seconds.toFixed(2)} s = ${((256 * MiB) / 1e6 / seconds).toFixed(0)} MB/s, rss growth ${((peak - baseline) / MiB).toFixed(1)} MiB`,
    );
    expect(peak - baseline).toBeLessThan(64 * MiB);
  }, 120_000);
});

/** Writes `size` bytes where the given [start, end) ranges hold random data and everything else is zeros. */
function patterned(path: string, size: number, data: [number, number][]): Buffer {
  const bytes = Buffer.alloc(size);
  for (const [start, end] of data) randomBytes(end - start).copy(bytes, start);
  fs.writeFileSync(path, bytes);
  return bytes;
}

describe('files of awkward sizes and shapes', () => {
  let source: string;
  let target: string;
  let moved: Awaited<ReturnType<typeof moveVolume>>;
  const shapes: Record<string, { size: number; data: [number, number][] }> = {
    // Zero runs that start and end at odd offsets, in a size that is not a multiple of the block size.
    'odd-zero-runs': {
      size: 3 * 4096 + 1234,
      data: [
        [0, 1],
        [4097, 4099],
        [9000, 9001],
        [3 * 4096 + 1000, 3 * 4096 + 1001],
      ],
    },
    'one-block-of-data': { size: 4096, data: [[0, 4096]] },
    'one-block-of-zeros': { size: 4096, data: [] },
    'one-byte': { size: 1, data: [[0, 1]] },
    'zeros-then-one-byte': { size: 10 * 4096 + 1, data: [[10 * 4096, 10 * 4096 + 1]] },
    'data-then-zero-tail': { size: 3 * 4096 + 17, data: [[0, 100]] },
    'small-file-limit': { size: 256 * 1024, data: [[0, 256 * 1024]] },
    'just-above-small-file-limit': { size: 256 * 1024 + 1, data: [[5, 256 * 1024 + 1]] },
    'one-read-exactly': { size: MiB, data: [[0, MiB]] },
    'one-read-and-a-byte': {
      size: MiB + 1,
      data: [
        [0, 4096],
        [MiB, MiB + 1],
      ],
    },
    'zeros-across-reads': {
      size: 3 * MiB + 777,
      data: [
        [0, 10],
        [MiB - 3, MiB + 5000],
        [3 * MiB, 3 * MiB + 777],
      ],
    },
  };
  const contents: Record<string, Buffer> = {};

  beforeAll(async () => {
    source = tempDir();
    target = join(tempDir(), 'volume');
    for (const [name, { size, data }] of Object.entries(shapes)) {
      contents[name] = patterned(join(source, name), size, data);
    }
    fs.writeFileSync(join(source, 'empty'), '');
    fs.linkSync(join(source, 'empty'), join(source, 'empty-link'));
    fs.linkSync(join(source, 'zeros-across-reads'), join(source, 'zz-large-link'));
    moved = await moveVolume(source, target);
  }, 60_000);

  it.each(Object.keys(shapes))('moves %s byte for byte', (name) => {
    const received = fs.readFileSync(join(target, name));
    expect(received.length).toBe(shapes[name]!.size);
    expect(received.equals(contents[name]!)).toBe(true);
  });

  it('leaves whole blocks of zeros as holes and keeps blocks with data', () => {
    const blocks = (name: string): number => fs.statSync(join(target, name)).blocks * 512;
    expect(blocks('one-block-of-zeros')).toBe(0);
    expect(blocks('zeros-then-one-byte')).toBeLessThanOrEqual(4096);
    expect(blocks('one-block-of-data')).toBe(4096);
  });

  it('keeps empty and large hard-linked files linked', () => {
    expect(fs.statSync(join(target, 'empty-link')).ino).toBe(fs.statSync(join(target, 'empty')).ino);
    expect(fs.statSync(join(target, 'zz-large-link')).ino).toBe(
      fs.statSync(join(target, 'zeros-across-reads')).ino,
    );
    expect(moved.sent.stats.hardlinks).toBe(2);
  });

  it('arrives with equal digests and stats', async () => {
    expect(moved.received.stats).toEqual(moved.sent.stats);
    expect(await directoryDigest(target, { times: TIMES })).toBe(
      await directoryDigest(source, { times: TIMES }),
    );
  });

  it('packs the same bytes whatever the read size', async () => {
    const usual = await packToBuffer(source);
    const packed = packDirectory(source, { readSize: 64 * 1024 });
    const hash = createHash('sha256');
    for await (const chunk of packed.stream) {
      expect((chunk as Buffer).length).toBeLessThanOrEqual(256 * 1024 + 2048);
      hash.update(chunk as Buffer);
    }
    await packed.done;
    expect(hash.digest('hex')).toBe(usual.sha256);
  });

  it('unpacks the same files from an archive that arrives in tiny pieces', async () => {
    const { bytes } = await packToBuffer(source);
    // Odd sizes, so that pieces never line up with tar or file blocks.
    const pieces: Buffer[] = [];
    for (let at = 0, step = 1; at < bytes.length; at += step, step = (step * 7 + 3) % 997 || 1) {
      pieces.push(bytes.subarray(at, Math.min(at + step, bytes.length)));
    }
    // A generator hands them over one by one (a Readable would join what it buffers).
    async function* inPieces(): AsyncGenerator<Buffer> {
      for (const piece of pieces) yield await Promise.resolve(piece);
    }
    const slowTarget = join(tempDir(), 'volume');
    const received = await unpackToDirectory(slowTarget, inPieces());
    expect(received.stats).toEqual(moved.sent.stats);
    expect(await directoryDigest(slowTarget, { times: TIMES })).toBe(
      await directoryDigest(source, { times: TIMES }),
    );
  }, 60_000);

  it('replaces what an earlier unpack left in the target', async () => {
    fs.writeFileSync(join(target, 'one-byte'), 'stale and longer');
    fs.rmSync(join(target, 'empty'));
    fs.mkdirSync(join(target, 'empty'));
    await moveVolume(source, target);
    expect(await directoryDigest(target)).toBe(await directoryDigest(source));
  });
});

describe('headers beyond plain ustar', () => {
  let source: string;
  let target: string;
  const deepName = `${'d'.repeat(120)}/${'e'.repeat(150)}/${'f'.repeat(120)}`;
  const BEFORE_1970 = new Date('1960-05-06T07:08:09Z');
  const AFTER_2038 = new Date('2100-01-02T03:04:05Z');

  beforeAll(async () => {
    source = tempDir();
    target = join(tempDir(), 'volume');
    fs.mkdirSync(join(source, deepName), { recursive: true });
    fs.writeFileSync(join(source, deepName, 'x'), 'deep');
    fs.writeFileSync(join(source, 'naïve café ☕'), 'utf-8 name');
    fs.symlinkSync(`${'t'.repeat(150)}/ünïcode`, join(source, 'long-target'));
    fs.writeFileSync(join(source, 'no-permissions'), 'mode 000');
    fs.chmodSync(join(source, 'no-permissions'), 0);
    fs.writeFileSync(join(source, 'everyone-writes'), 'mode 777, more than the umask lets through');
    fs.chmodSync(join(source, 'everyone-writes'), 0o777);
    fs.writeFileSync(join(source, 'setgid-sticky'), 'mode 3664');
    fs.chmodSync(join(source, 'setgid-sticky'), 0o3664);
    fs.writeFileSync(join(source, 'uid-300000'), 'above six octal digits');
    fs.chownSync(join(source, 'uid-300000'), 300_000, 300_001);
    fs.writeFileSync(join(source, 'uid-3000000'), 'above seven octal digits');
    fs.chownSync(join(source, 'uid-3000000'), 3_000_000, 3_000_001);
    fs.writeFileSync(join(source, 'old'), 'before 1970');
    fs.utimesSync(join(source, 'old'), BEFORE_1970, BEFORE_1970);
    fs.writeFileSync(join(source, 'future'), 'after 2038');
    fs.utimesSync(join(source, 'future'), AFTER_2038, AFTER_2038);
    await moveVolume(source, target);
  });

  it('keeps paths and link targets longer than ustar holds, and non-ASCII ones', () => {
    expect(fs.readFileSync(join(target, deepName, 'x'), 'utf8')).toBe('deep');
    expect(fs.readFileSync(join(target, 'naïve café ☕'), 'utf8')).toBe('utf-8 name');
    expect(fs.readlinkSync(join(target, 'long-target'))).toBe(`${'t'.repeat(150)}/ünïcode`);
  });

  it('keeps modes the umask would change, large owner ids and mtimes outside 1970–2038', () => {
    const stat = (name: string): fs.Stats => fs.lstatSync(join(target, name));
    expect(stat('no-permissions').mode & 0o7777).toBe(0);
    expect(stat('everyone-writes').mode & 0o7777).toBe(0o777);
    expect(stat('setgid-sticky').mode & 0o7777).toBe(0o3664);
    expect(stat('uid-300000')).toMatchObject({ uid: 300_000, gid: 300_001 });
    expect(stat('uid-3000000')).toMatchObject({ uid: 3_000_000, gid: 3_000_001 });
    expect(stat('old').mtime).toEqual(BEFORE_1970);
    expect(stat('future').mtime).toEqual(AFTER_2038);
  });

  it('arrives with equal digests', async () => {
    expect(await directoryDigest(target)).toBe(await directoryDigest(source));
  });

  it('writes archives GNU tar reads, and reads the archives GNU tar writes', async () => {
    const { bytes } = await packToBuffer(source);
    const byTar = join(tempDir(), 'by-tar');
    fs.mkdirSync(byTar);
    execFileSync('tar', ['-C', byTar, '--numeric-owner', '-xpf', '-'], { input: bytes });
    expect(await directoryDigest(byTar)).toBe(await directoryDigest(source));

    const fromTar = execFileSync(
      'tar',
      ['-C', source, '--numeric-owner', '--format=posix', '-cf', '-', '.'],
      {
        maxBuffer: 64 * MiB,
      },
    );
    const fromTarTarget = join(tempDir(), 'from-tar');
    await unpackToDirectory(fromTarTarget, Readable.from([fromTar]));
    expect(await directoryDigest(fromTarTarget)).toBe(await directoryDigest(source));
  });
});

describe('extended attributes, nanosecond times and holes', () => {
  let source: string;
  let target: string;
  let moved: Awaited<ReturnType<typeof moveVolume>>;
  let archive: Buffer;
  const binary = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
  const access = aclXattr({ owner: 7, users: [[1000, 5]], group: 5, mask: 7, other: 0 });
  const inherited = aclXattr({ owner: 7, users: [[1000, 7]], group: 5, mask: 7, other: 5 });
  const NS = 1_700_000_000_123_456_789n;
  const at = (...parts: string[]): string => join(source, ...parts);

  beforeAll(async () => {
    source = tempDir();
    target = join(tempDir(), 'volume');
    fs.writeFileSync(at('attrs'), 'with attributes');
    setAttributeSync(at('attrs'), 'user.note', 'hello');
    setAttributeSync(at('attrs'), 'user.binary', binary);
    setAttributeSync(at('attrs'), 'trusted.origin', 'host-a');
    fs.writeFileSync(at('ping'), '#!/bin/sh\n', { mode: 0o755 });
    fs.chownSync(at('ping'), 1000, 1000);
    setCapability(at('ping'));
    fs.mkdirSync(at('shared'));
    fs.chmodSync(at('shared'), 0o770);
    setAttributeSync(at('shared'), 'system.posix_acl_access', access);
    setAttributeSync(at('shared'), 'system.posix_acl_default', inherited);
    fs.symlinkSync('attrs', at('link'));
    setAttributeSync(at('link'), 'trusted.of-the-link', 'itself');
    setAttributeSync(source, 'user.root-folder', 'kept');
    // 12 MiB: holes the filesystem knows, 1 MiB of random data, 2 MiB of zeros written as data, a tail of data.
    const image = at('disk.img');
    fs.writeFileSync(image, '');
    fs.truncateSync(image, 12 * MiB);
    const fd = fs.openSync(image, 'r+');
    fs.writeSync(fd, randomBytes(MiB), 0, MiB, 2 * MiB);
    fs.writeSync(fd, Buffer.alloc(2 * MiB), 0, 2 * MiB, 5 * MiB);
    fs.writeSync(fd, randomBytes(5000), 0, 5000, 12 * MiB - 5000);
    fs.closeSync(fd);
    execFileSync('dd', ['if=/dev/zero', `of=${at('zeros.bin')}`, 'bs=1M', 'count=3'], { stdio: 'ignore' });
    fs.writeFileSync(at('ns'), 'nanoseconds');
    execFileSync('touch', ['-h', '-d', `@${formatPaxTime(NS)}`, at('ns'), at('link'), at('shared')]);
    archive = (await packToBuffer(source)).bytes;
    moved = await moveVolume(source, target);
  }, 60_000);

  it('sends every extended attribute and sets it on the target', () => {
    expect(getAttributeSync(join(target, 'attrs'), 'user.note')?.toString()).toBe('hello');
    expect(getAttributeSync(join(target, 'attrs'), 'user.binary')).toEqual(binary);
    expect(getAttributeSync(join(target, 'attrs'), 'trusted.origin')?.toString()).toBe('host-a');
    expect(getAttributeSync(join(target, 'link'), 'trusted.of-the-link')?.toString()).toBe('itself');
    expect(getAttributeSync(target, 'user.root-folder')?.toString()).toBe('kept');
    expect(moved.sent.stats.xattrs).toBe(8);
    expect(moved.received.stats).toMatchObject({ xattrs: 8, xattrsNotRestored: 0 });
  });

  it('keeps a file capability after setting the owner, which clears it', () => {
    expect(fs.statSync(join(target, 'ping'))).toMatchObject({ uid: 1000, gid: 1000 });
    expect(execFileSync('/usr/sbin/getcap', [join(target, 'ping')], { encoding: 'utf8' })).toContain(
      'cap_net_raw=ep',
    );
  });

  it('keeps POSIX ACLs, access and default, with the mode they go with', () => {
    expect(getAttributeSync(join(target, 'shared'), 'system.posix_acl_access')).toEqual(access);
    expect(getAttributeSync(join(target, 'shared'), 'system.posix_acl_default')).toEqual(inherited);
    expect(fs.statSync(join(target, 'shared')).mode & 0o7777).toBe(0o770);
  });

  it('keeps mtimes to the nanosecond where times are set natively, else to the microsecond', () => {
    const unit = nanosecondTimes ? 1n : 1000n;
    for (const name of ['ns', 'link', 'shared']) {
      const arrived = fs.lstatSync(join(target, name), { bigint: true }).mtimeNs;
      expect(arrived / unit, name).toBe(NS / unit);
    }
    expect(fs.statSync(join(target, 'ns'), { bigint: true }).atimeNs / unit).toBe(NS / unit);
  });

  it('sends neither holes nor zeros, and leaves both as holes on the target', () => {
    // 1 MiB + 5000 bytes of data in 15 MiB of files, and the small files' headers.
    expect(archive.length).toBeLessThan(MiB + 64 * 1024);
    for (const name of ['disk.img', 'zeros.bin'])
      expect(fs.readFileSync(join(target, name)).equals(fs.readFileSync(at(name))), name).toBe(true);
    expect(fs.statSync(join(target, 'disk.img')).blocks * 512).toBeLessThanOrEqual(MiB + 8192);
    expect(fs.statSync(join(target, 'zeros.bin'))).toMatchObject({ size: 3 * MiB, blocks: 0 });
    expect(moved.received.stats.bytes).toBe(moved.sent.stats.bytes);
  });

  it('arrives with equal digests', async () => {
    expect(await directoryDigest(target, { times: TIMES })).toBe(
      await directoryDigest(source, { times: TIMES }),
    );
  });

  it('writes sparse files and attributes GNU tar extracts', () => {
    const byTar = join(tempDir(), 'by-tar');
    fs.mkdirSync(byTar);
    execFileSync(
      'tar',
      ['-C', byTar, '--numeric-owner', '--xattrs', '--xattrs-include=user.*', '-xpf', '-'],
      {
        input: archive,
      },
    );
    for (const name of ['disk.img', 'zeros.bin'])
      expect(fs.readFileSync(join(byTar, name)).equals(fs.readFileSync(at(name))), name).toBe(true);
    expect(fs.statSync(join(byTar, 'disk.img')).blocks * 512).toBeLessThanOrEqual(MiB + 8192);
    expect(fs.statSync(join(byTar, 'ns'), { bigint: true }).mtimeNs).toBe(NS);
    expect(getAttributeSync(join(byTar, 'attrs'), 'user.binary')).toEqual(binary);
  });

  it('reads the sparse files and attributes GNU tar writes', async () => {
    const fromTar = execFileSync(
      'tar',
      ['-C', source, '--format=posix', '--sparse', '--xattrs', '--xattrs-include=*', '-cf', '-', '.'],
      { maxBuffer: 64 * MiB },
    );
    const fromTarTarget = join(tempDir(), 'from-tar');
    await unpackToDirectory(fromTarTarget, Readable.from([fromTar]));
    for (const name of ['disk.img', 'zeros.bin'])
      expect(fs.readFileSync(join(fromTarTarget, name)).equals(fs.readFileSync(at(name))), name).toBe(true);
    expect(fs.statSync(join(fromTarTarget, 'disk.img')).blocks * 512).toBeLessThanOrEqual(MiB + 8192);
    expect(getAttributeSync(join(fromTarTarget, 'attrs'), 'user.binary')).toEqual(binary);
    expect(await directoryDigest(fromTarTarget, { times: TIMES })).toBe(
      await directoryDigest(source, { times: TIMES }),
    );
  });
});

describe('extended attributes a target refuses', () => {
  /** Unpacks `archive` as the unprivileged user 65534 in a child process; its result or error as JSON. */
  function unpackAsNobody(archive: Buffer): {
    stats?: ArchiveStats;
    error?: { code: string; message: string };
  } {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755);
    fs.writeFileSync(join(dir, 'archive.tar'), archive);
    fs.mkdirSync(join(dir, 'volume'));
    fs.chownSync(join(dir, 'volume'), 65534, 65534);
    const script = join(dir, 'unpack.mts');
    fs.writeFileSync(
      script,
      [
        `import { createReadStream } from 'node:fs';`,
        `import { unpackToDirectory } from ${JSON.stringify(new URL('./volume-archive.ts', import.meta.url).pathname)};`,
        `unpackToDirectory(${JSON.stringify(join(dir, 'volume'))}, createReadStream(${JSON.stringify(join(dir, 'archive.tar'))}))`,
        `  .then((result) => console.log(JSON.stringify(result)))`,
        `  .catch((error) => console.log(JSON.stringify({ error: { code: error.code, message: error.message } })));`,
      ].join('\n'),
    );
    const output = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', script],
      { cwd: process.cwd(), encoding: 'utf8' },
    );
    return JSON.parse(output) as { stats?: ArchiveStats; error?: { code: string; message: string } };
  }

  it('counts attributes it may not set (trusted.*) and keeps the rest', async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'file'), 'data');
    setAttributeSync(join(source, 'file'), 'user.kept', 'yes');
    setAttributeSync(join(source, 'file'), 'trusted.refused', 'root only');
    fs.chownSync(join(source, 'file'), 65534, 65534);
    fs.chownSync(source, 65534, 65534);
    const result = unpackAsNobody((await packToBuffer(source)).bytes);
    expect(result.error).toBeUndefined();
    expect(result.stats).toMatchObject({
      files: 1,
      xattrs: 1,
      xattrsNotRestored: 1,
      ownershipNotRestored: 0,
    });
  });

  it('fails, naming the file, when a file capability cannot be set', async () => {
    const source = tempDir();
    fs.writeFileSync(join(source, 'ping'), '#!/bin/sh\n', { mode: 0o755 });
    fs.chownSync(join(source, 'ping'), 65534, 65534);
    fs.chownSync(source, 65534, 65534);
    setCapability(join(source, 'ping'));
    const result = unpackAsNobody((await packToBuffer(source)).bytes);
    expect(result.error?.code).toBe('permission_denied');
    expect(result.error?.message).toMatch(
      /^cannot set the file capability \(security\.capability\) of '\.\/ping': /,
    );
  });
});

describe('a file that changes size while it is packed', () => {
  async function packWhileChanging(change: (path: string) => void): Promise<AppError> {
    const source = tempDir();
    const path = join(source, 'live.bin');
    fs.writeFileSync(path, randomBytes(32 * MiB));
    const packed = packDirectory(source);
    const chunks = packed.stream[Symbol.asyncIterator]();
    // Its header and first data are out: packing has begun.
    for (let received = 0; received < MiB;) received += ((await chunks.next()).value as Buffer).length;
    change(path);
    const error: unknown = await (async () => {
      for (let next = await chunks.next(); !next.done; next = await chunks.next());
    })().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    await expect(packed.done).rejects.toBe(error);
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }

  it('fails with a readable error when it shrinks, instead of padding it', async () => {
    const error = await packWhileChanging((path) => {
      fs.truncateSync(path, 20 * MiB);
    });
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toMatch(
      /live\.bin changed size while it was being packed \(33554432 bytes when packing began, 20971520 bytes now\)$/,
    );
    expect(error.hint).toContain('stop the containers');
  });

  it('fails with a readable error when it grows, instead of cutting it', async () => {
    const error = await packWhileChanging((path) => {
      fs.appendFileSync(path, 'more');
    });
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toContain('(33554432 bytes when packing began, 33554436 bytes now)');
  });

  it.each([
    ['grew', 50],
    ['shrank', 200],
  ])('notices a small file that %s between its stat and its read', async (_how, announced) => {
    const dir = tempDir();
    const path = join(dir, 'small');
    fs.writeFileSync(path, randomBytes(100));
    const fd = fs.openSync(path, 'r');
    try {
      const header = { name: './small', type: 'file' as const, mode: 0o644, uid: 0, gid: 0, mtime: 0n };
      const error: unknown = await readSmallFile(fd, { ...header, size: announced }, announced, path).catch(
        (failure: unknown) => failure,
      );
      expect(error).toMatchObject({ code: 'failed_precondition' });
      expect((error as Error).message).toContain(
        `(${String(announced)} bytes when packing began, 100 bytes now)`,
      );
    } finally {
      fs.closeSync(fd);
    }
  });
});

describe('a folder swapped for a symlink while the volume is packed', () => {
  const MARKER = 'bytes from outside the volume';
  const BIG = 300 * 1024; // above the packer's small-file size: each such file holds its turn with an open descriptor

  /** A folder outside the volume holding `names`, each with the marker. */
  function outsideFolder(names: string[]): string {
    const outside = tempDir();
    for (const name of names) fs.writeFileSync(join(outside, name), `${MARKER} (${name})`);
    return outside;
  }

  /**
   * Packs `source` without reading until the packer has stopped for the reader, runs `swap`, then reads the rest.
   * Deterministic: the packer inspects at most 32 entries ahead of the one it sends and sends about 1 MiB ahead of
   * the reader, so with more than 40 files of 300 KiB listed before the folder swapped, the swap happens after the
   * listing that named that folder and before the packer reaches what the swap replaced.
   */
  async function packAroundSwap(
    source: string,
    swap: () => void,
  ): Promise<{ bytes: Buffer; error: unknown }> {
    const packed = packDirectory(source);
    while (packed.stream.readableLength < MiB) await new Promise((resolve) => setTimeout(resolve, 5));
    await new Promise((resolve) => setTimeout(resolve, 50));
    swap();
    const chunks: Buffer[] = [];
    const error: unknown = await (async () => {
      for await (const chunk of packed.stream) chunks.push(chunk as Buffer);
      await packed.done;
    })().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    return { bytes: Buffer.concat(chunks), error };
  }

  it('packs a folder swapped for a symlink after its parent was listed as the symlink, never what it points to', async () => {
    const source = tempDir();
    for (let i = 0; i < 60; i += 1)
      fs.writeFileSync(join(source, `f${String(i).padStart(2, '0')}`), randomBytes(BIG));
    fs.mkdirSync(join(source, 'z'));
    fs.writeFileSync(join(source, 'z', 'secret'), 'inside');
    const outside = outsideFolder(['secret']);

    const { bytes, error } = await packAroundSwap(source, () => {
      fs.renameSync(join(source, 'z'), join(source, 'z.moved'));
      fs.symlinkSync(outside, join(source, 'z'));
    });

    expect(bytes.includes(Buffer.from(MARKER))).toBe(false);
    expect(error).toBeUndefined();
    const entries = await archiveEntries(bytes);
    expect(entries.get('./z')).toEqual({ type: 'symlink', linkname: outside });
    expect([...entries.keys()].filter((name) => name.startsWith('./z/'))).toEqual([]);
  });

  it('keeps reading the folder it listed when that folder is swapped for a symlink half-way through', async () => {
    const source = tempDir();
    fs.mkdirSync(join(source, 'd'));
    const names: string[] = [];
    for (let i = 0; i < 60; i += 1) {
      const name = `f${String(i).padStart(2, '0')}`;
      names.push(name);
      fs.writeFileSync(join(source, 'd', name), randomBytes(BIG));
    }
    fs.writeFileSync(join(source, 'd', 'zz'), 'inside');
    const outside = outsideFolder([...names, 'zz']);
    const descriptors = fs.readdirSync('/proc/self/fd').length;

    const { bytes, error } = await packAroundSwap(source, () => {
      fs.renameSync(join(source, 'd'), join(source, 'd.moved'));
      fs.symlinkSync(outside, join(source, 'd'));
    });

    expect(bytes.includes(Buffer.from(MARKER))).toBe(false);
    expect(error).toBeUndefined();
    const entries = await archiveEntries(bytes);
    expect(entries.get('./d/')?.type).toBe('directory');
    expect(entries.get('./d/zz')).toEqual({ type: 'file', content: 'inside' });
    expect([...entries.keys()].filter((name) => name.startsWith('./d/f'))).toHaveLength(60);
    expect(fs.readdirSync('/proc/self/fd')).toHaveLength(descriptors); // every folder and file closed again
  });
});

/** The entries of a packed archive by name: type, and link target or (for small files) content. */
async function archiveEntries(
  bytes: Buffer,
): Promise<Map<string, { type: string; linkname?: string; content?: string }>> {
  const extract = tar.extract();
  const entries = new Map<string, { type: string; linkname?: string; content?: string }>();
  const reading = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const { name, type, linkname, size } = entry.header;
      if (type === 'symlink') entries.set(name, { type, linkname });
      else if (type === 'file' && size < 100)
        entries.set(name, { type, content: Buffer.concat(chunks).toString() });
      else entries.set(name, { type });
    }
  })();
  extract.end(bytes);
  await reading;
  return entries;
}
