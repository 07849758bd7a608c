// Finding a sparse file's data with lseek: the regions hold every byte that is not zero, and holes are skipped.
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';

import { dataRegions, seeksHoles, type DataRegion } from './file-extents.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'dm-file-extents-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a new file, lets `fill` write it, and returns the regions found on a fresh descriptor. */
function regionsOf(
  name: string,
  fill: (fd: number) => void,
): { path: string; size: number; regions: DataRegion[] } {
  const path = join(dir, name);
  const writer = openSync(path, 'w');
  try {
    fill(writer);
  } finally {
    closeSync(writer);
  }
  const fd = openSync(path, 'r');
  try {
    const size = readFileSync(path).length;
    return { path, size, regions: dataRegions(fd, size) };
  } finally {
    closeSync(fd);
  }
}

/** The file as a reader of only its regions sees it: the regions' bytes, zeros elsewhere. */
function rebuilt(path: string, size: number, regions: DataRegion[]): Buffer {
  const whole = readFileSync(path);
  const copy = Buffer.alloc(size);
  for (const { offset, length } of regions) whole.copy(copy, offset, offset, offset + length);
  return copy;
}

describe('data regions', () => {
  it('seeks holes here, where the native add-on is built', () => {
    expect(seeksHoles).toBe(true);
  });

  it('finds the two runs of data in a file with holes, without the holes', () => {
    const head = randomBytes(4096);
    const middle = randomBytes(4096);
    const { path, size, regions } = regionsOf('sparse', (fd) => {
      writeSync(fd, head, 0, head.length, 0);
      writeSync(fd, middle, 0, middle.length, 10 * MiB);
      ftruncateSync(fd, 20 * MiB);
    });
    expect(size).toBe(20 * MiB);
    expect(regions).toHaveLength(2);
    const [first, second] = regions as [DataRegion, DataRegion];
    expect(first.offset).toBe(0);
    expect(first.length).toBeGreaterThanOrEqual(head.length);
    expect(second.offset).toBeLessThanOrEqual(10 * MiB);
    expect(second.offset + second.length).toBeGreaterThanOrEqual(10 * MiB + middle.length);
    // Blocks, not megabytes: the 20 MiB of holes are not part of any region.
    expect(first.length + second.length).toBeLessThan(MiB);
    expect(rebuilt(path, size, regions).equals(readFileSync(path))).toBe(true);
  });

  it('returns the whole file for a file without holes', () => {
    const data = randomBytes(3 * MiB + 5);
    const { size, regions } = regionsOf('dense', (fd) => {
      writeSync(fd, data);
    });
    expect(regions).toEqual([{ offset: 0, length: size }]);
  });

  it('returns no region for an empty file or one that is all hole', () => {
    expect(regionsOf('empty', () => undefined).regions).toEqual([]);
    expect(
      regionsOf('all-hole', (fd) => {
        ftruncateSync(fd, 4 * MiB);
      }).regions,
    ).toEqual([]);
  });

  it('stops at the size it is given', () => {
    const path = join(dir, 'longer');
    const fd = openSync(path, 'w+');
    try {
      writeSync(fd, Buffer.alloc(2 * MiB, 1));
      expect(dataRegions(fd, MiB)).toEqual([{ offset: 0, length: MiB }]);
    } finally {
      closeSync(fd);
    }
  });

  it('leaves the descriptor’s position where it was', () => {
    const path = join(dir, 'position');
    const fd = openSync(path, 'w+');
    try {
      writeSync(fd, Buffer.from('0123456789'), 0, 10, 0);
      writeSync(fd, Buffer.from('tail'), 0, 4, 5 * MiB);
      // Writes at a position leave the file position at 0; reads without one move it.
      const start = Buffer.alloc(3);
      readSync(fd, start, 0, 3, null);
      expect(start.toString()).toBe('012');
      dataRegions(fd, 5 * MiB + 4);
      readSync(fd, start, 0, 3, null);
      expect(start.toString()).toBe('345');
    } finally {
      closeSync(fd);
    }
  });

  it('fails like Node’s fs, with code and errno', () => {
    expect(() => dataRegions(1_000_000, 10)).toThrow(
      expect.objectContaining({ code: 'EBADF', errno: -constants.errno.EBADF, syscall: 'lseek' }),
    );
  });
});
