// How long `docker-migrate list containers --all --json` takes on an engine with many containers, against the
// docker CLI listing the same engine (`docker ps -a`) in the same run.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { createDockerodeEngine } from '../src/docker/dockerode-engine.js';
import { removeLabelled } from '../src/core/testing/docker-engine-contract.js';

interface Host {
  socket: string;
  baseImage: string;
}

const CONTAINERS = 200;
const RUNS = 15;
const hosts = JSON.parse(process.env.DM_BENCH_HOSTS ?? '[]') as Host[];
const host = hosts[0];
if (!host) throw new Error('no test Docker host: run through `make bench`');
const bin = new URL('../bin/docker-migrate', import.meta.url).pathname;
const label = `docker-migrate.bench.${process.pid}`;
const engine = createDockerodeEngine({ host: host.socket, certPath: '', tlsVerify: false, tls: false });

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function time(run: () => void): number {
  const samples: number[] = [];
  run();
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    run();
    samples.push(performance.now() - start);
  }
  return median(samples);
}

try {
  for (let i = 0; i < CONTAINERS; i++) {
    await engine.createContainer({
      name: `bench-list-${process.pid}-${i}`,
      image: host.baseImage,
      labels: { [label]: '1' },
    });
  }
  const env = { ...process.env, DOCKER_HOST: host.socket };
  const ours = time(() =>
    execFileSync(bin, ['list', 'containers', '--all', '--json'], { env, stdio: 'pipe' }),
  );
  const oursTable = time(() => execFileSync(bin, ['list', 'containers', '--all'], { env, stdio: 'pipe' }));
  const docker = time(() =>
    execFileSync('docker', ['ps', '-a', '--no-trunc', '--format', '{{json .}}'], { env, stdio: 'pipe' }),
  );
  const startup = time(() => execFileSync(bin, ['--help'], { env, stdio: 'pipe' }));
  console.log(`containers on the engine: ${CONTAINERS}+, runs: ${RUNS} (medians)`);
  console.log(
    `docker-migrate list containers --all --json  ${ours.toFixed(0)} ms   (${(ours / docker).toFixed(2)}x docker ps)`,
  );
  console.log(
    `docker-migrate list containers --all         ${oursTable.toFixed(0)} ms   (${(oursTable / docker).toFixed(2)}x docker ps)`,
  );
  console.log(`docker ps -a --format json (baseline)        ${docker.toFixed(0)} ms`);
  console.log(`docker-migrate --help (start-up alone)       ${startup.toFixed(0)} ms`);
} finally {
  await removeLabelled(engine, label);
}
