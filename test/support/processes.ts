// Runs the built binary as a real process for end-to-end tests: output captured line by line, waits, clean stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = new URL('../../bin/docker-migrate', import.meta.url).pathname;

export interface RunningProcess {
  child: ChildProcess;
  /** Every line written so far, stdout and stderr interleaved. */
  lines: string[];
  stdout: () => string;
  /** Resolves with the first line matching, waiting up to `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `dm-${prefix}-`));
}

export interface StartOptions {
  /**
   * Run inside this network namespace (/var/run/netns/<name>, as scripts/docker-hosts.sh makes them), so that the
   * process is on that host's network. nsenter execs the binary in place: the child's pid is the binary's own.
   */
  netns?: string;
  /** The executable to run instead of bin/docker-migrate (e.g. an unpacked release's launcher). */
  bin?: string;
  /** PATH instead of this process's own (e.g. one without Node.js). */
  path?: string;
}

/** Starts `bin/docker-migrate args…` with only the given environment (plus PATH), JSON logs. */
export function startProcess(
  args: string[],
  env: Record<string, string> = {},
  options: StartOptions = {},
): RunningProcess {
  const bin = options.bin ?? BIN;
  const [command, commandArgs] = options.netns
    ? ['nsenter', [`--net=/var/run/netns/${options.netns}`, bin, ...args]]
    : [bin, args];
  const child = spawn(command, commandArgs, {
    env: {
      PATH: options.path ?? process.env.PATH ?? '/usr/bin:/bin',
      HOME: env.HOME ?? tempDir('home'),
      DOCKER_MIGRATE_LOG_FORMAT: 'json',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stdoutText = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  const onLine = (line: string): void => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(line);
      if (match) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(match);
      }
    }
  };
  const reader = (stream: NodeJS.ReadableStream | null, isStdout: boolean): void => {
    let buffered = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      if (isStdout) stdoutText += chunk;
      buffered += chunk;
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        onLine(buffered.slice(0, newline));
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf('\n');
      }
    });
  };
  reader(child.stdout, true);
  reader(child.stderr, false);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(code ?? signal ?? -1);
    });
  });
  return {
    child,
    lines,
    stdout: () => stdoutText,
    waitFor(pattern, timeoutMs = 30_000) {
      const existing = lines.map((line) => pattern.exec(line)).find((m) => m !== null);
      if (existing) return Promise.resolve(existing);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(`no line matching ${pattern} within ${timeoutMs} ms; output:\n${lines.join('\n')}`),
          );
        }, timeoutMs);
        waiters.push({
          pattern,
          resolve: (match) => {
            clearTimeout(timer);
            resolve(match);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `process exited (${code}) before a line matched ${pattern}; output:\n${lines.join('\n')}`,
            ),
          );
        });
      });
    },
    exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** What a started master prints for its users: the REST API's base URL and the worker join command's arguments. */
export async function masterAddresses(
  master: RunningProcess,
): Promise<{ apiUrl: string; joinCommand: string; joinArgs: string[] }> {
  const apiUrl = (await master.waitFor(/REST API:\s+(http:\/\/\S+)\/api/))[1]!;
  const joinCommand = (await master.waitFor(/^\s+(docker-migrate worker --master-url .*)$/))[1]!;
  return { apiUrl, joinCommand, joinArgs: joinCommand.split(/\s+/).slice(1) };
}

/**
 * A master as the end-to-end tests start it: loopback, free ports, its own data dir, the admin token and a 1 s
 * heartbeat; `args` adds flags, `env` its environment (e.g. failpoints). Resolves once it printed its addresses.
 */
export async function startTestMaster(
  name: string,
  adminToken: string,
  args: string[] = [],
  env: Record<string, string> = {},
  options: StartOptions = {},
): Promise<{ master: RunningProcess; apiUrl: string; joinArgs: string[] }> {
  const master = startProcess(
    [
      'master',
      '--http-addr',
      '127.0.0.1:0',
      '--grpc-addr',
      '127.0.0.1:0',
      '--relay-addr',
      '127.0.0.1:0',
      '--data-dir',
      tempDir(`${name}-master`),
      '--admin-token',
      adminToken,
      '--heartbeat-interval',
      '1s',
      ...args,
    ],
    env,
    options,
  );
  const { apiUrl, joinArgs } = await masterAddresses(master);
  return { master, apiUrl, joinArgs };
}

/** One worker per [name, Docker host], joined to the master with its join arguments. */
export function startTestWorkers(
  joinArgs: readonly string[],
  hosts: ReadonlyArray<readonly [string, { socket: string }]>,
): RunningProcess[] {
  return hosts.map(([name, host]) =>
    startProcess([...joinArgs, '--name', name, '--data-dir', tempDir(name), '--grpc-addr', '127.0.0.1:0'], {
      DOCKER_HOST: host.socket,
    }),
  );
}

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** "54 MiB" → bytes, as the CLI and the web UI write sizes (binary units); NaN for anything else. */
export function bytesOf(text: string): number {
  const match = /^([\d.]+) (B|KiB|MiB|GiB|TiB)$/.exec(text.trim());
  return match ? Number(match[1]) * 1024 ** SIZE_UNITS.indexOf(match[2]!) : Number.NaN;
}
