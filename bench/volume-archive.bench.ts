// Volume archive throughput against the practical limit, a host `tar c | tar x` between the two engines' volume
// folders, measured in the same run on a 1 GiB volume (512 MiB random, 512 MiB zeros, 2,000 small files) and on a
// volume of 100,000 small files.
// In-process pack → unpack (no network, no TLS), and packing alone: one side of a transfer, as a sender runs it.
// Rounds alternate tar and ours, because a shared machine's speed drifts; medians and the best round are printed,
// with CPU seconds (all threads and children), which drift less than wall time.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { removeLabelled } from '../src/core/testing/docker-engine-contract.js';
import { createDockerodeEngine } from '../src/docker/dockerode-engine.js';
import { packDirectory, unpackToDirectory } from '../src/transfer/volume-archive.js';

interface Host {
  socket: string;
}

const hosts = JSON.parse(process.env.DM_BENCH_HOSTS ?? '[]') as Host[];
if (hosts.length < 2) throw new Error('needs two test Docker hosts: run through `make bench`');
const [h1, h2] = [hosts[0]!, hosts[1]!];
const rounds = Number(process.env.DM_BENCH_ROUNDS ?? 3);
const label = `docker-migrate.bench.${process.pid}`;
const engine = (host: Host) =>
  createDockerodeEngine({ host: host.socket, certPath: '', tlsVerify: false, tls: false });
const e1 = engine(h1);
const e2 = engine(h2);
const MiB = 1024 * 1024;
const total = 1024 * MiB;

function fill(path: string, bytes: number, random: boolean): void {
  const fd = openSync(path, 'w');
  const zeros = Buffer.alloc(4 * MiB);
  for (let written = 0; written < bytes; written += 4 * MiB)
    writeSync(fd, random ? randomBytes(4 * MiB) : zeros);
  closeSync(fd);
}

/** CPU seconds of this process (all threads) and of its waited-for children (the tar processes). */
function cpuSeconds(): { self: number; children: number } {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  const usage = process.cpuUsage();
  return {
    self: (usage.user + usage.system) / 1e6,
    children: (Number(fields[13]) + Number(fields[14])) / 100, // cutime, cstime in clock ticks (USER_HZ = 100)
  };
}

interface Sample {
  seconds: number;
  cpu: number;
}

async function measure(run: () => Promise<void>, cpuOf: 'self' | 'children'): Promise<Sample> {
  const cpu = cpuSeconds();
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  return { seconds, cpu: cpuSeconds()[cpuOf] - cpu[cpuOf] };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Time per round of tar (the baseline), our pack → unpack, and our pack alone, from `source` to fresh targets. */
async function compare(
  name: string,
  source: string,
): Promise<{ tar: Sample[]; ours: Sample[]; packOnly: Sample[] }> {
  // A fresh target volume per run, as a migration has: emptying one would time the filesystem's handling of
  // just-deleted inodes (slow on ext4 without a journal) rather than the copy.
  const target = (kind: string, round: number): Promise<{ mountpoint: string }> =>
    e2.createVolume({
      name: `bench-${name}-${kind}-${String(round)}-${String(process.pid)}`,
      labels: { [label]: '1' },
    });
  const tar: Sample[] = [];
  const ours: Sample[] = [];
  const packOnly: Sample[] = [];
  for (let round = 0; round < rounds; round++) {
    const tarTarget = await target('tar', round);
    tar.push(
      await measure(() => {
        execFileSync('sh', ['-c', `tar -C '${source}' -cf - . | tar -C '${tarTarget.mountpoint}' -xpf -`]);
        return Promise.resolve();
      }, 'children'),
    );

    const ourTarget = await target('ours', round);
    ours.push(
      await measure(async () => {
        const packed = packDirectory(source);
        const wire = new PassThrough();
        packed.stream.pipe(wire);
        await Promise.all([unpackToDirectory(ourTarget.mountpoint, wire), packed.done]);
      }, 'self'),
    );

    packOnly.push(
      await measure(async () => {
        const packed = packDirectory(source);
        const discard = new Writable({
          write: (_chunk: Buffer, _encoding, callback) => {
            callback();
          },
        });
        await pipeline(packed.stream, discard);
        await packed.done;
      }, 'self'),
    );
  }
  return { tar, ours, packOnly };
}

/** Prints a scenario's medians, as a rate of `amount` `unit`s per second, and each against the tar baseline. */
function report(
  title: string,
  amount: number,
  unit: string,
  samples: Awaited<ReturnType<typeof compare>>,
): void {
  const rate = (seconds: number): string => `${(amount / seconds).toFixed(0).padStart(6)} ${unit}/s`;
  const line = (name: string, of: Sample[]): string => {
    const seconds = median(of.map((sample) => sample.seconds));
    const best = Math.min(...of.map((sample) => sample.seconds));
    const cpu = median(of.map((sample) => sample.cpu));
    return `${name.padEnd(34)} ${seconds.toFixed(1).padStart(4)} s ${rate(seconds)}  (best ${rate(best)})  CPU ${cpu.toFixed(1)} s`;
  };
  const tarSeconds = median(samples.tar.map((sample) => sample.seconds));
  const ratio = (of: Sample[]): string =>
    `${(tarSeconds / median(of.map((sample) => sample.seconds))).toFixed(2)}x the baseline's throughput`;
  console.log(`${title}, h1 → h2 volume folders, ${String(rounds)} rounds (medians)`);
  console.log(line('host tar c | tar x (baseline)', samples.tar));
  console.log(`${line('pack → unpack (in-process)', samples.ours)}   ${ratio(samples.ours)}`);
  console.log(`${line('pack alone (a sender)', samples.packOnly)}   ${ratio(samples.packOnly)}`);
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
  // 100,000 small files (200 B – 2 KiB): the cost per entry (headers, PAX records, extended attributes, times).
  const many = await e1.createVolume({ name: `bench-many-${process.pid}`, labels: { [label]: '1' } });
  for (let d = 0; d < 100; d++) {
    const dir = join(many.mountpoint, `d${String(d)}`);
    mkdirSync(dir);
    for (let f = 0; f < 1000; f++)
      writeFileSync(join(dir, `f${String(f)}`), randomBytes(200 + ((d * 1000 + f) % 1800)));
  }
  execFileSync('sync');

  report(
    '1 GiB volume (512 MiB random + 512 MiB zeros + 2,000 small files)',
    total / MiB,
    'MiB',
    await compare('big', source.mountpoint),
  );
  report('100,000 small files', 100_000, 'files', await compare('many', many.mountpoint));
} finally {
  await removeLabelled(e1, label);
  await removeLabelled(e2, label);
}
