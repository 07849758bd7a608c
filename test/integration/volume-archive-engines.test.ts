// Volume archives on real engines: a volume written on host h1, packed from its mountpoint and unpacked into a new
// volume on h2 — straight into its mountpoint, or through the Engine's archive API — reads the same inside a
// container there, with its extended attributes, ACLs, file capabilities, nanosecond times, holes and links.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { nanosecondTimes } from '../../src/platform/file-times.js';
import { directoryDigest, packDirectory, unpackToDirectory } from '../../src/transfer/volume-archive.js';
import { aclXattr, setCapability } from '../../src/transfer/volume-archive-samples.js';
import { formatPaxTime } from '../../src/transfer/volume-archive-tar.js';
import { VolumeAccess } from '../../src/worker/volume-access.js';
import {
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';

const run = promisify(execFile);
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const engine1 = engineOverSocket(h1);
const engine2 = engineOverSocket(h2);
const runLabel = newRunLabel();
const name = `dm-archive-${runLabel.slice(-8)}`;

/** Runs a shell script in a throw-away container with the volume at /data, as a user would check it. */
async function inContainer(host: TestDockerHost, script: string, volume = name): Promise<string> {
  const { stdout } = await run(
    'docker',
    [
      '-H',
      host.socket,
      'run',
      '--rm',
      '--label',
      `${runLabel}=1`,
      '-v',
      `${volume}:/data`,
      host.baseImage,
      'sh',
      '-c',
      script,
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

const POPULATE = [
  'mkdir -p /data/app/logs /data/empty',
  'i=0; while [ $i -lt 500 ]; do echo "line $i" > /data/app/logs/f$i; i=$((i+1)); done',
  'dd if=/dev/urandom of=/data/app/blob bs=1024 count=8192 2>/dev/null',
  'chown 1000:1000 /data/app/logs/f1 && chmod 600 /data/app/logs/f2 && chmod 4755 /data/app/logs/f3',
  'ln -s app/logs/f4 /data/link && ln /data/app/logs/f5 /data/hard',
  'dd if=/dev/zero of=/data/sparse bs=1 count=0 seek=67108864 2>/dev/null',
  'touch -d "2021-06-01 12:00:00" /data/app/logs/f6',
].join(' && ');

const INSPECT = [
  'cd /data',
  'sha256sum app/blob app/logs/f0 app/logs/f499',
  'stat -c "%n %u:%g %a %Y" app/logs/f1 app/logs/f2 app/logs/f3 app/logs/f6 empty',
  'readlink link',
  'stat -c "%h" hard',
  'find . | wc -l',
].join(' && ');

afterAll(async () => {
  await removeLabelled(engine1, runLabel);
  await removeLabelled(engine2, runLabel);
});

describe('volume archive between two real engines', () => {
  it('moves a volume from h1 to h2 with its bytes, owners, modes, times and links intact', async () => {
    await engine1.createVolume({ name, labels: { [runLabel]: '1' } });
    await inContainer(h1, POPULATE);
    const source = await engine1.inspectVolume(name);
    const target = await engine2.createVolume({ name, labels: { [runLabel]: '1' } });

    const packed = packDirectory(source.mountpoint);
    const wire = new PassThrough();
    packed.stream.pipe(wire);
    const [received, sent] = await Promise.all([unpackToDirectory(target.mountpoint, wire), packed.done]);

    expect(received.stats).toMatchObject({ files: sent.stats.files, hardlinks: 1, symlinks: 1 });
    expect(await directoryDigest(target.mountpoint)).toBe(await directoryDigest(source.mountpoint));
    const before = await inContainer(h1, INSPECT);
    const after = await inContainer(h2, INSPECT);
    expect(after).toBe(before);
    expect(after).toContain('app/logs/f1 1000:1000');
    expect(after).toContain('app/logs/f3 0:0 4755');
    expect(after).toMatch(/^app\/logs\/f4$/m);
  });
});

const MiB = 1024 * 1024;
/** How finely times arrive through the mountpoint path here: natively to the ns, else to the µs. */
const TIMES = nanosecondTimes ? 'ns' : 'us';
const NS = 1_700_000_000_123_456_789n;
const ACCESS = aclXattr({ owner: 7, users: [[1000, 5]], group: 5, mask: 7, other: 0 });
const INHERITED = aclXattr({ owner: 7, users: [[1000, 7]], group: 5, mask: 5, other: 5 });

/** Sets a nanosecond mtime (and atime) on paths themselves, symlinks included. */
function touchNs(time: bigint, ...paths: string[]): void {
  execFileSync('touch', ['-h', '-d', `@${formatPaxTime(time)}`, ...paths]);
}

/** A volume folder with every kind of metadata the archive carries, and a tree of 100,000 small files. */
function populate(root: string): void {
  const at = (...parts: string[]): string => join(root, ...parts);
  for (let d = 0; d < 100; d += 1) {
    const dir = at('tree', `d${String(d).padStart(2, '0')}`);
    fs.mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 1000; f += 1)
      fs.writeFileSync(join(dir, `f${String(f).padStart(3, '0')}`), `${d}/${f}\n`);
  }
  fs.writeFileSync(at('attrs'), 'with attributes');
  setAttributeSync(at('attrs'), 'user.note', 'hello');
  setAttributeSync(at('attrs'), 'user.binary', Buffer.from([0, 1, 2, 0xff, 0x0a, 0x3d]));
  fs.mkdirSync(at('shared'));
  setAttributeSync(at('shared'), 'system.posix_acl_access', ACCESS);
  setAttributeSync(at('shared'), 'system.posix_acl_default', INHERITED);
  fs.writeFileSync(at('shared', 'report'), 'read by user 1000');
  setAttributeSync(at('shared', 'report'), 'system.posix_acl_access', ACCESS);
  fs.writeFileSync(at('ping'), '#!/bin/sh\necho pong\n', { mode: 0o755 });
  fs.chownSync(at('ping'), 1000, 1000);
  setCapability(at('ping'));
  const image = at('disk.img');
  fs.writeFileSync(image, '');
  fs.truncateSync(image, 64 * MiB);
  const fd = fs.openSync(image, 'r+');
  fs.writeSync(fd, randomBytes(MiB), 0, MiB, 10 * MiB);
  fs.writeSync(fd, randomBytes(100), 0, 100, 64 * MiB - 100);
  fs.closeSync(fd);
  execFileSync('dd', ['if=/dev/zero', `of=${at('zeros.bin')}`, 'bs=1M', 'count=8'], { stdio: 'ignore' });
  fs.writeFileSync(at('hard-a'), 'one inode, two names');
  fs.linkSync(at('hard-a'), at('hard-b'));
  fs.linkSync(at('tree', 'd00', 'f000'), at('hard-into-tree'));
  fs.symlinkSync('attrs', at('link'));
  fs.symlinkSync('/etc/hostname', at('absolute-link'));
  fs.symlinkSync('does/not/exist', at('dangling'));
  touchNs(NS, at('attrs'), at('link'), at('shared', 'report'), at('disk.img'), at('ping'));
  touchNs(NS + 1n, at('shared'));
  fs.chownSync(root, 1234, 1234);
  fs.chmodSync(root, 0o2750);
  setAttributeSync(root, 'user.volume', 'root folder attribute');
  setAttributeSync(root, 'system.posix_acl_default', INHERITED);
  touchNs(NS + 2n, root);
}

/** What a user checks inside a container: names, sizes, modes, owners, link counts, times, link targets, content. */
const CHECK = [
  'cd /data',
  'stat -c "%n|%s|%a|%u:%g|%h|%y" . attrs shared shared/report ping disk.img zeros.bin hard-a hard-b link tree/d42/f042',
  'readlink link && readlink absolute-link && readlink dangling',
  'sha256sum disk.img zeros.bin ping tree/d99/f999',
  'find . | wc -l',
].join(' && ');

/** Cuts `stat`'s nanoseconds to microseconds where times are set only that finely. */
function atTimePrecision(output: string): string {
  return TIMES === 'ns' ? output : output.replace(/(\d{2}:\d{2}:\d{2}\.\d{6})\d{3}/g, '$1');
}

describe('a volume with every kind of metadata, moved from h1 to h2', () => {
  const volume = `${name}-meta`;
  let sourceDigest: { ns: string; us: string };
  let sourceMountpoint: string;

  beforeAll(async () => {
    const source = await engine1.createVolume({ name: volume, labels: { [runLabel]: '1' } });
    sourceMountpoint = source.mountpoint;
    populate(source.mountpoint);
    sourceDigest = {
      ns: await directoryDigest(source.mountpoint, { times: 'ns' }),
      us: await directoryDigest(source.mountpoint, { times: 'us' }),
    };
  }, 300_000);

  it.each(['mountpoint', 'engine'] as const)(
    'arrives identical when the receiving end writes through the %s path',
    async (mode) => {
      const targetName = `${volume}-${mode}`;
      const target = await engine2.createVolume({ name: targetName, labels: { [runLabel]: '1' } });
      const content = await new VolumeAccess(engine1, 'mountpoint').read(volume);
      await new VolumeAccess(engine2, mode).write(targetName, content);

      // The Engine sets times with Go's Chtimes, to the nanosecond; the mountpoint path as finely as file-times.ts.
      const times = mode === 'engine' ? 'ns' : TIMES;
      expect(await directoryDigest(target.mountpoint, { times })).toBe(sourceDigest[times]);

      const before = await inContainer(h1, CHECK, volume);
      const after = await inContainer(h2, CHECK, targetName);
      expect(mode === 'engine' ? after : atTimePrecision(after)).toBe(
        mode === 'engine' ? before : atTimePrecision(before),
      );
      expect(after).toMatch(/^ping\|20\|755\|1000:1000\|1\|/m);
      expect(after).toMatch(/^\.\|\d+\|2750\|1234:1234\|/m);
      expect(after).toMatch(/^100\d{3}$/m); // 100,000 files and the rest
      expect(getAttributeSync(join(target.mountpoint, 'ping'), 'security.capability')).toEqual(
        getAttributeSync(join(sourceMountpoint, 'ping'), 'security.capability'),
      );
      expect(getAttributeSync(target.mountpoint, 'system.posix_acl_default')).toEqual(INHERITED);
      expect(getAttributeSync(join(target.mountpoint, 'shared'), 'system.posix_acl_access')).toEqual(ACCESS);
      // Holes and zeros written by dd arrive as holes through the mountpoint path; Docker 20.10's extraction
      // writes a sparse file's holes as zeros (Go's archive/tar reads them as zeros), so only the content is equal.
      if (mode === 'engine') return;
      const blocks = await inContainer(h2, 'cd /data && stat -c "%n %b" disk.img zeros.bin', targetName);
      const allocated = new Map(
        blocks
          .trim()
          .split('\n')
          .map((line) => line.split(' ') as [string, string]),
      );
      expect(Number(allocated.get('disk.img')) * 512).toBeLessThanOrEqual(MiB + 8192);
      expect(Number(allocated.get('zeros.bin'))).toBe(0);
    },
    600_000,
  );
});

describe('a volume read through the Engine path at the sending end', () => {
  it("carries the root folder's owner, mode and mtime, and file capabilities", async () => {
    const volume = `${name}-engine-read`;
    const source = await engine1.createVolume({ name: volume, labels: { [runLabel]: '1' } });
    fs.writeFileSync(join(source.mountpoint, 'ping'), '#!/bin/sh\n', { mode: 0o755 });
    setCapability(join(source.mountpoint, 'ping'));
    fs.chownSync(source.mountpoint, 1234, 1234);
    fs.chmodSync(source.mountpoint, 0o2750);
    touchNs(NS, source.mountpoint);
    const target = await engine2.createVolume({ name: volume, labels: { [runLabel]: '1' } });

    const content = await new VolumeAccess(engine1, 'engine').read(volume);
    await new VolumeAccess(engine2, 'mountpoint').write(volume, content);

    const root = fs.statSync(target.mountpoint, { bigint: true });
    expect({ uid: root.uid, gid: root.gid, mode: root.mode & 0o7777n }).toEqual({
      uid: 1234n,
      gid: 1234n,
      mode: 0o2750n,
    });
    // Docker's GetArchive sends whole seconds.
    expect(root.mtimeNs / 1_000_000_000n).toBe(NS / 1_000_000_000n);
    expect(
      execFileSync('/usr/sbin/getcap', [join(target.mountpoint, 'ping')], { encoding: 'utf8' }),
    ).toContain('cap_net_raw=ep');
  });
});
