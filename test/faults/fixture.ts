// What every fault case moves and how its end state is read: a running container on the source with its own image,
// a user-defined network and a named volume of known checksum; targets compared with a snapshot taken before.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dockerCli, type TestDockerHost } from '../support/docker-hosts.js';

const exec = promisify(execFile);

/** Random bytes in the volume: larger than host 5's volumes filesystem, small enough to move in seconds. */
export const VOLUME_RANDOM_MIB = 40;
const SMALL_FILES = 300;

export interface AppNames {
  container: string;
  image: string;
  volume: string;
  network: string;
}

export function appNames(id: string): AppNames {
  return {
    container: `fault-app-${id}`,
    image: `dm-fault-app-${id}:1`,
    volume: `fault-vol-${id}`,
    network: `fault-net-${id}`,
  };
}

/** Everything on an engine, by id, so that "nothing left behind" compares whole engines, not guessed names. */
export interface EngineSnapshot {
  containers: string[];
  volumes: string[];
  networks: string[];
  images: string[];
}

async function lines(host: TestDockerHost, ...args: string[]): Promise<string[]> {
  const out = await dockerCli(host, ...args);
  return out ? out.split('\n').sort() : [];
}

export async function snapshot(host: TestDockerHost): Promise<EngineSnapshot> {
  return {
    containers: await lines(host, 'ps', '-aq', '--no-trunc'),
    volumes: await lines(host, 'volume', 'ls', '-q'),
    networks: await lines(host, 'network', 'ls', '-q', '--no-trunc'),
    images: await lines(host, 'image', 'ls', '-aq', '--no-trunc'),
  };
}

/** What `now` has that `before` had not, as "kind id" lines; empty when the engine is as it was. */
export function leftovers(before: EngineSnapshot, now: EngineSnapshot): string[] {
  const extra: string[] = [];
  for (const kind of ['containers', 'volumes', 'networks', 'images'] as const) {
    const known = new Set(before[kind]);
    for (const ref of now[kind]) if (!known.has(ref)) extra.push(`${kind.slice(0, -1)} ${ref}`);
  }
  return extra;
}

/** Removes what a migration (or a case) added to an engine since `before`: containers first, images last. */
export async function restore(host: TestDockerHost, before: EngineSnapshot): Promise<void> {
  const now = await snapshot(host);
  const known = (kind: keyof EngineSnapshot) => new Set(before[kind]);
  const containers = now.containers.filter((ref) => !known('containers').has(ref));
  if (containers.length > 0) await dockerCli(host, 'rm', '-f', '-v', ...containers);
  const volumes = now.volumes.filter((ref) => !known('volumes').has(ref));
  if (volumes.length > 0) await dockerCli(host, 'volume', 'rm', '-f', ...volumes);
  const networks = now.networks.filter((ref) => !known('networks').has(ref));
  if (networks.length > 0) await dockerCli(host, 'network', 'rm', ...networks);
  const images = now.images.filter((ref) => !known('images').has(ref));
  // Children before parents: `image ls -a` lists newest first.
  if (images.length > 0) await dockerCli(host, 'image', 'rm', '-f', ...images).catch(() => '');
  const after = leftovers(before, await snapshot(host));
  if (after.length > 0) throw new Error(`could not clean ${host.name}: ${after.join(', ')}`);
}

/**
 * The cold cases' container: it only sleeps, so its volume keeps the checksum it had when made. PID 1 ignores
 * SIGTERM unless it traps it; without the trap every stop would wait out the 10 s grace period.
 */
const SLEEPER = 'trap "exit 0" TERM; while :; do sleep 1; done';

/** Files the writer rewrites in turn (1 MiB each): what changes between two copy rounds is bounded by them. */
export const CHURN_FILES = 32;

/**
 * The warm cases' container: while it runs it appends the next number to `live/counter` (carrying on after the
 * last line when started again) and rewrites one of CHURN_FILES 1 MiB files of random bytes, about 10 MiB/s, so
 * that every copy round has a delta. It writes only in the container that made the volume (its hostname, the
 * Engine's short id, is in `live/owner`): a copy started on the target keeps the data as it came, so that the target
 * can be compared with the source as it stopped.
 */
const WRITER = [
  'trap "exit 0" TERM',
  'mkdir -p /data/live',
  'h=$(hostname)',
  '[ -s /data/live/owner ] || echo "$h" > /data/live/owner',
  'if [ "$(cat /data/live/owner)" != "$h" ]; then while :; do sleep 1; done; fi',
  'i=$(tail -n 1 /data/live/counter 2>/dev/null); i=${i:-0}',
  `while :; do i=$((i+1)); dd if=/dev/urandom of=/data/live/c$((i % ${CHURN_FILES})) bs=1M count=1 2>/dev/null; echo $i >> /data/live/counter; sleep 0.05; done`,
].join('; ');

/** Builds the image, network, volume and running container on the source; returns the volume's checksum. */
export async function createApp(
  source: TestDockerHost,
  names: AppNames,
  label: string,
  /** `writer`: the container keeps writing into its volume (warm cases); `sleeper`: it never writes. */
  kind: 'sleeper' | 'writer' = 'sleeper',
): Promise<string> {
  await exec('sh', [
    '-c',
    `printf 'FROM ${source.baseImage}\\nRUN echo fault-app > /marker\\nLABEL ${label}=1\\n' | docker -H ${source.socket} build -q -t ${names.image} -`,
  ]);
  await dockerCli(source, 'network', 'create', '--label', `${label}=1`, names.network);
  await dockerCli(source, 'volume', 'create', '--label', `${label}=1`, names.volume);
  await dockerCli(
    source,
    'run',
    '--rm',
    '-v',
    `${names.volume}:/data`,
    source.baseImage,
    'sh',
    '-c',
    [
      'mkdir -p /data/small /data/deep/a/b',
      `i=0; while [ $i -lt ${SMALL_FILES} ]; do echo "file $i" > /data/small/f$i; i=$((i+1)); done`,
      `dd if=/dev/urandom of=/data/big bs=1M count=${VOLUME_RANDOM_MIB} 2>/dev/null`,
      'echo deep > /data/deep/a/b/c && chown -R 1000:1000 /data/deep && chmod 600 /data/small/f1',
    ].join(' && '),
  );
  const checksum = await volumeChecksum(source, names.volume);
  await dockerCli(
    source,
    'run',
    '-d',
    '--name',
    names.container,
    '--label',
    `${label}=1`,
    '--network',
    names.network,
    '-v',
    `${names.volume}:/data`,
    names.image,
    'sh',
    '-c',
    kind === 'writer' ? WRITER : SLEEPER,
  );
  return checksum;
}

/**
 * Names, owners, modes and content of every file in a volume, read from inside a container as a user would;
 * `except` leaves out one top-level folder (what a writer changes).
 */
export async function volumeChecksum(host: TestDockerHost, volume: string, except?: string): Promise<string> {
  const list =
    except === undefined ? 'find . -mindepth 1' : `find . -mindepth 1 -path ./${except} -prune -o -print`;
  const files = except === undefined ? 'find . -type f' : `find . -path ./${except} -prune -o -type f -print`;
  return dockerCli(
    host,
    'run',
    '--rm',
    '-v',
    `${volume}:/data:ro`,
    host.baseImage,
    'sh',
    '-c',
    `cd /data && ${list} | sort | xargs -n 100 stat -c "%n %u:%g %a %F" | md5sum && ${files} | sort | xargs -n 100 md5sum | md5sum`,
  );
}

/** The writer's counter file as read now: how many lines, and the first line that is not its own number. */
export interface CounterState {
  lines: number;
  /** 0 when every line n holds n: nothing lost, nothing repeated. */
  firstGap: number;
  last: number;
}

export async function counterState(host: TestDockerHost, volume: string): Promise<CounterState> {
  const out = await dockerCli(
    host,
    'run',
    '--rm',
    '-v',
    `${volume}:/data:ro`,
    host.baseImage,
    'sh',
    '-c',
    "cat /data/live/counter 2>/dev/null | awk '$0 != NR && !gap { gap = NR } { last = $0 } END { print NR, gap + 0, last + 0 }'",
  );
  const [lines = 0, firstGap = 0, last = 0] = out.split(/\s+/).map(Number);
  return { lines, firstGap, last };
}

export interface ContainerState {
  exists: boolean;
  running: boolean;
}

export async function containerState(host: TestDockerHost, name: string): Promise<ContainerState> {
  try {
    const running = await dockerCli(host, 'inspect', '--format', '{{.State.Running}}', name);
    return { exists: true, running: running === 'true' };
  } catch {
    return { exists: false, running: false };
  }
}

export async function volumeExists(host: TestDockerHost, volume: string): Promise<boolean> {
  try {
    await dockerCli(host, 'volume', 'inspect', volume);
    return true;
  } catch {
    return false;
  }
}
