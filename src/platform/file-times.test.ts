// Nanosecond file times through the native add-on: files, folders and symlinks keep exactly the times they are given.
import {
  closeSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

import { nanosecondTimes, setTimesByFd, setTimesByPath } from './file-times.js';
import { nativeAddon } from './native-addon.js';
import type * as NativeAddonModule from './native-addon.js';

const dir = mkdtempSync(join(tmpdir(), 'dm-file-times-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Odd nanosecond digits that a double of seconds cannot carry (it rounds them to ~240 ns today).
const ATIME = 1_712_345_678_123_456_789n;
const MTIME = 1_698_765_432_987_654_321n;

function times(path: string, own = false) {
  const info = own ? lstatSync(path, { bigint: true }) : statSync(path, { bigint: true });
  return { atime: info.atimeNs, mtime: info.mtimeNs };
}

describe('file times', () => {
  it('loads the native add-on here, where a C compiler built it', () => {
    expect(nativeAddon.problem).toBeUndefined();
    expect(nanosecondTimes).toBe(true);
  });

  it('sets an open file’s times to the nanosecond', () => {
    const file = join(dir, 'by-fd');
    writeFileSync(file, 'data');
    const fd = openSync(file, 'r+');
    try {
      setTimesByFd(fd, ATIME, MTIME);
    } finally {
      closeSync(fd);
    }
    expect(times(file)).toEqual({ atime: ATIME, mtime: MTIME });
  });

  it('sets a file’s and a folder’s times by path to the nanosecond', () => {
    const file = join(dir, 'by-path');
    const folder = join(dir, 'folder');
    writeFileSync(file, 'data');
    mkdirSync(folder);
    setTimesByPath(file, ATIME, MTIME);
    setTimesByPath(folder, MTIME, ATIME);
    expect(times(file)).toEqual({ atime: ATIME, mtime: MTIME });
    expect(times(folder)).toEqual({ atime: MTIME, mtime: ATIME });
  });

  it('sets a symlink’s own times and leaves its target’s alone', () => {
    const target = join(dir, 'target');
    const link = join(dir, 'link');
    writeFileSync(target, 'data');
    symlinkSync(target, link);
    const before = times(target);
    setTimesByPath(link, ATIME, MTIME);
    expect(times(link, true)).toEqual({ atime: ATIME, mtime: MTIME });
    expect(times(target)).toEqual(before);
  });

  it('sets times before 1970 and at the epoch', () => {
    const file = join(dir, 'old');
    writeFileSync(file, '');
    setTimesByPath(file, -1_500_000_001n, 0n);
    expect(times(file)).toEqual({ atime: -1_500_000_001n, mtime: 0n });
  });

  it('fails like Node’s fs, with code, errno, syscall and path', () => {
    const missing = join(dir, 'no-such-folder', 'file');
    let failure: NodeJS.ErrnoException | undefined;
    try {
      setTimesByPath(missing, ATIME, MTIME);
    } catch (error) {
      failure = error as NodeJS.ErrnoException;
    }
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({
      code: 'ENOENT',
      errno: -constants.errno.ENOENT,
      syscall: 'utimensat',
      path: missing,
    });
    expect(failure?.message).toMatch(/^ENOENT: .+, utimensat '.+no-such-folder\/file'$/);
    // A descriptor number no process here has open.
    expect(() => {
      setTimesByFd(1_000_000, ATIME, MTIME);
    }).toThrow(
      expect.objectContaining({ code: 'EBADF', errno: -constants.errno.EBADF, syscall: 'futimens' }),
    );
  });

  it('without the add-on still sets times, to the microsecond', async () => {
    vi.resetModules();
    vi.doMock('./native-addon.js', async (original) => ({
      ...(await original<typeof NativeAddonModule>()),
      nativeAddon: { addon: undefined, path: 'nowhere', problem: 'not built' },
    }));
    try {
      const fallback = await import('./file-times.js');
      expect(fallback.nanosecondTimes).toBe(false);
      const file = join(dir, 'fallback');
      writeFileSync(file, '');
      fallback.setTimesByPath(file, ATIME, MTIME);
      const set = times(file);
      expect(set.mtime).not.toBe(MTIME);
      expect(Math.abs(Number(set.mtime - MTIME))).toBeLessThan(1000);
      expect(Math.abs(Number(set.atime - ATIME))).toBeLessThan(1000);
    } finally {
      vi.doUnmock('./native-addon.js');
      vi.resetModules();
    }
  });
});
