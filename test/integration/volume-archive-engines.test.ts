// Volume archives on real engines: a volume written by a container on host h1, packed from its mountpoint and
// unpacked into a new volume on h2, reads the same inside a container there (the fast path of a volume move).
import { execFile } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import { directoryDigest, packDirectory, unpackToDirectory } from '../../src/transfer/volume-archive.js';
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
async function inContainer(host: TestDockerHost, script: string): Promise<string> {
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
      `${name}:/data`,
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
