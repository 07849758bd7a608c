// Volume archive throughput against the practical limit, a host `tar c | tar x` between the two engines' volume
// folders, measured in the same run on a 1 GiB volume (512 MiB random, 512 MiB zeros, 2,000 small files).
// In-process pack → unpack only: no network and no TLS yet (the peer transfer comes with migrations).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { removeLabelled } from '../src/core/testing/docker-engine-contract.js';
import { createDockerodeEngine } from '../src/docker/dockerode-engine.js';
import { packDirectory, unpackToDirectory } from '../src/transfer/volume-archive.js';

interface Host {
  socket: string;
}

const hosts = JSON.parse(process.env.DM_BENCH_HOSTS ?? '[]') as Host[];
if (hosts.length < 2) throw new Error('needs two test Docker hosts: run through `make bench`');
const [h1, h2] = [hosts[0]!, hosts[1]!];
const label = `docker-migrate.bench.${process.pid}`;
const engine = (host: Host) =>
  createDockerodeEngine({ host: host.socket, certPath: '', tlsVerify: false, tls: false });
const e1 = engine(h1);
const e2 = engine(h2);
const MiB = 1024 * 1024;

function fill(path: string, bytes: number, random: boolean): void {
  const fd = openSync(path, 'w');
  const zeros = Buffer.alloc(4 * MiB);
  for (let written = 0; written < bytes; written += 4 * MiB)
    writeSync(fd, random ? randomBytes(4 * MiB) : zeros);
  closeSync(fd);
}

try {
  const source = await e1.createVolume({ name: `bench-src-${process.pid}`, labels: { [label]: '1' } });
  fill(join(source.mountpoint, 'random.bin'), 512 * MiB, true);
  fill(join(source.mountpoint, 'zeros.bin'), 512 * MiB, false);
  for (let d = 0; d < 20; d++) {
    const dir = join(source.mountpoint, 'small', String(d));
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++)
      writeFileSync(join(dir, `f${f}.txt`), randomBytes(512 + ((d * 100 + f) % 3500)));
  }
  execFileSync('sync');
  const total = 1024 * MiB;

  const baselineTarget = await e2.createVolume({
    name: `bench-tar-${process.pid}`,
    labels: { [label]: '1' },
  });
  let start = performance.now();
  execFileSync('sh', [
    '-c',
    `tar -C '${source.mountpoint}' -cf - . | tar -C '${baselineTarget.mountpoint}' -xpf -`,
  ]);
  const tarMs = performance.now() - start;

  const ourTarget = await e2.createVolume({ name: `bench-ours-${process.pid}`, labels: { [label]: '1' } });
  start = performance.now();
  const packed = packDirectory(source.mountpoint);
  const wire = new PassThrough();
  packed.stream.pipe(wire);
  const [received, sent] = await Promise.all([unpackToDirectory(ourTarget.mountpoint, wire), packed.done]);
  const oursMs = performance.now() - start;
  if (received.sha256 !== sent.sha256) throw new Error('digest mismatch');

  const rate = (ms: number) => `${(total / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
  console.log('1 GiB volume (512 MiB random + 512 MiB zeros + 2,000 small files), h1 → h2 volume folders');
  console.log(`host tar c | tar x (baseline)            ${(tarMs / 1000).toFixed(1)} s   ${rate(tarMs)}`);
  console.log(
    `pack → unpack with SHA-256 (in-process)  ${(oursMs / 1000).toFixed(1)} s   ${rate(oursMs)}   ${(tarMs / oursMs).toFixed(2)}x the baseline's throughput`,
  );
} finally {
  await removeLabelled(e1, label);
  await removeLabelled(e2, label);
}
