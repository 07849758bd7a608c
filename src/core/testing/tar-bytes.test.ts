// The test tar codec must read what real engines write and reject what is not a tar, or the contract proves nothing.
import { describe, expect, it } from 'vitest';
import { bytesOf, entriesOf, firstDifference, streamOf, tarOf } from './tar-bytes.js';

describe('tar bytes', () => {
  it('reads back the files and directories it wrote, long names included', async () => {
    const long = `${'deep/'.repeat(30)}file.txt`;
    const tar = await bytesOf(
      streamOf(
        tarOf([
          ['deep', null],
          [long, 'content\n'],
          ['empty', ''],
        ]),
        100,
      ),
    );
    expect(tar.length % 512).toBe(0);
    expect(
      entriesOf(tar).map(({ name, type, data }) => [name, type, new TextDecoder().decode(data)]),
    ).toEqual([
      ['deep', 'directory', ''],
      [long, 'file', 'content\n'],
      ['empty', 'file', ''],
    ]);
  });

  it('reads a PAX long name as the entry name', () => {
    const name = `${'x'.repeat(120)}.txt`;
    const record = ` path=${name}\n`;
    const pax = `${record.length + String(record.length + 3).length}${record}`;
    const tar = tarOf([
      ['PaxHeader', pax],
      ['short', 'data'],
    ]);
    // Turn the first entry into a PAX extended header: type flag 'x', checksum recomputed.
    tar[156] = 'x'.charCodeAt(0);
    tar.fill(32, 148, 156);
    const sum = tar.subarray(0, 512).reduce((total, byte) => total + byte, 0);
    tar.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    expect(entriesOf(tar).map((entry) => entry.name)).toEqual([name]);
  });

  it('rejects bytes that are not a tar, saying why', () => {
    expect(() => entriesOf(new TextEncoder().encode('not a tar'))).toThrow(/not a tar archive/);
    const corrupt = tarOf({ a: 'b' });
    corrupt[0] = 'z'.charCodeAt(0);
    expect(() => entriesOf(corrupt)).toThrow(/checksum/);
  });

  it('finds the first byte where two arrays differ', () => {
    expect(firstDifference(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(firstDifference(new Uint8Array([1, 2, 3]), new Uint8Array([1, 9, 3]))).toBe(1);
    expect(firstDifference(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(2);
  });
});
