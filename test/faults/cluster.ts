// The processes a fault case acts on: one master on fixed ports and data dir (so it can be killed and started again
// as it was), and a worker per host running inside that host's network namespace (so its links can be cut).
import type { TestDockerHost } from '../support/docker-hosts.js';
import { eventually } from '../support/eventually.js';
import { masterAddresses, startProcess, tempDir, type RunningProcess } from '../support/processes.js';
import { freePort } from '../support/ports.js';

/** The port workers serve transfers on inside their namespace; each host has its own port space. */
const WORKER_TRANSFER_PORT = 7443;

export interface MasterSettings {
  /** DOCKER_MIGRATE_MASTER_FAILPOINTS, e.g. "pause:create=4s"; empty for none. */
  failpoints: string;
}

interface WorkerSlot {
  name: string;
  host: TestDockerHost;
  dir: string;
  process?: RunningProcess;
}

export interface MigrationEventJson {
  phase: string;
  message: string;
}

export interface MigrationJson {
  id: string;
  status: string;
  phase: string;
  error: string | null;
  bytes_transferred: number;
  resources?: { type: string; name: string; status: string; bytes: number }[];
  events?: MigrationEventJson[];
}

export interface ApiAnswer {
  status: number;
  json: {
    migration?: MigrationJson;
    blocked?: boolean;
    findings?: { severity: string; code: string; message: string }[];
    workers?: { id: string; name: string; status: string }[];
    error?: { code: string; message: string };
  };
}

/** The root namespace's end of a host's veth (10.231.<i>.1): every host's namespace routes to it. */
function rootSideAddress(host: TestDockerHost): string {
  return host.ip.replace(/\.\d+$/, '.1');
}

export interface FaultCluster {
  readonly adminToken: string;
  readonly settings: MasterSettings;
  /** Environment variables the master refused as unknown (a binary without failpoints or a stall timeout). */
  readonly refusedVariables: string[];
  api(method: string, path: string, body?: unknown): Promise<ApiAnswer>;
  migration(id: string): Promise<MigrationJson>;
  /** Starts the master, or restarts it when it runs with other settings. */
  ensureMaster(settings: MasterSettings): Promise<void>;
  masterRunning(): boolean;
  killMaster(): Promise<void>;
  startMaster(): Promise<void>;
  stopMaster(): Promise<void>;
  workerName(host: TestDockerHost): string;
  /** The worker's --data-dir (where a sending worker keeps its sync sessions). */
  workerDataDir(host: TestDockerHost): string;
  workerRunning(host: TestDockerHost): boolean;
  killWorker(host: TestDockerHost): Promise<void>;
  startWorker(host: TestDockerHost): void;
  /** Starts whichever workers are not running and waits until the master sees every one online. */
  ensureWorkers(): Promise<void>;
  stopAll(): Promise<void>;
  /** Every line the processes printed, newest last, for a failure message. */
  logTail(lines?: number): string;
  /**
   * Processes that exited without the harness stopping them since the last call, with the error they printed.
   * Such a process is started again after a second, as a service manager would (systemd's Restart=on-failure).
   */
  takeCrashes(): string[];
}

/** How long a crashed process stays down before it is started again. */
const RESTART_DELAY_MS = 1_000;

export async function createFaultCluster(hosts: TestDockerHost[], id: string): Promise<FaultCluster> {
  const [first] = hosts;
  if (!first) throw new Error('no hosts');
  const adminToken = `dm-admin-faults-${id}`;
  const dataDir = tempDir('faults-master');
  const httpPort = await freePort('127.0.0.1');
  const grpcAddress = rootSideAddress(first);
  const grpcPort = await freePort(grpcAddress);
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  let joinArgs: string[] = [];
  let master: RunningProcess | undefined;
  let settings: MasterSettings = { failpoints: '' };
  const refused = new Set<string>();
  const logs: string[] = [];
  const crashes: string[] = [];
  /** Processes the harness stops or kills on purpose: their exit is no crash. */
  const stopping = new WeakSet<RunningProcess>();
  const slots = new Map<string, WorkerSlot>(
    hosts.map((host) => [
      host.name,
      { name: `f${host.name}-${id}`, host, dir: tempDir(`faults-worker-${host.name}`) },
    ]),
  );

  const slot = (host: TestDockerHost): WorkerSlot => {
    const found = slots.get(host.name);
    if (!found) throw new Error(`no worker for ${host.name}`);
    return found;
  };

  const keepLogs = (label: string, process: RunningProcess): void => {
    process.child.stdout?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(`${label}: ${line}`);
      if (logs.length > 4000) logs.splice(0, logs.length - 2000);
    });
    process.child.stderr?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(`${label}! ${line}`);
    });
  };

  /** Notes an exit nobody asked for and starts the process again unless something else did meanwhile. */
  const supervise = (label: string, process: RunningProcess, restart: () => void): void => {
    void process.exited.then((code) => {
      if (stopping.has(process)) return;
      const error = process.lines.find((line) => /^\s*[_A-Za-z]*Error\b/.test(line)) ?? process.lines.at(-1);
      crashes.push(`${label} exited by itself (${code}): ${error ?? 'no output'}`);
      setTimeout(restart, RESTART_DELAY_MS);
    });
  };

  const stop = async (process: RunningProcess | undefined, signal?: NodeJS.Signals): Promise<void> => {
    if (!process) return;
    stopping.add(process);
    await process.stop(signal);
  };

  const masterEnv = (): Record<string, string> => {
    const wanted: [string, string][] = [['DOCKER_MIGRATE_MASTER_TRANSFER_STALL_TIMEOUT', '5s']];
    if (settings.failpoints) wanted.push(['DOCKER_MIGRATE_MASTER_FAILPOINTS', settings.failpoints]);
    return Object.fromEntries(wanted.filter(([name]) => !refused.has(name)));
  };

  const launchMaster = (): RunningProcess =>
    startProcess(
      [
        'master',
        '--http-addr',
        `127.0.0.1:${httpPort}`,
        '--grpc-addr',
        `${grpcAddress}:${grpcPort}`,
        '--relay-addr',
        `${grpcAddress}:0`,
        '--data-dir',
        dataDir,
        '--admin-token',
        adminToken,
        '--heartbeat-interval',
        '1s',
        '--worker-timeout',
        '4s',
        '--ready-timeout',
        '30s',
        '--rollback-timeout',
        '90s',
      ],
      masterEnv(),
    );

  async function startMaster(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const started = launchMaster();
      keepLogs('master', started);
      try {
        ({ joinArgs } = await masterAddresses(started));
        master = started;
        supervise('master', started, () => {
          if (master === started) startMaster().catch((error: unknown) => crashes.push(String(error)));
        });
        return;
      } catch (error) {
        // A master that does not know a variable refuses to start and names it: note it, start without it.
        const unknown = [
          ...started.lines.join('\n').matchAll(/(DOCKER_MIGRATE_[A-Z_]+) \(environment\): unknown variable/g),
        ].map((m) => m[1]!);
        if (unknown.length === 0) throw error;
        for (const name of unknown) refused.add(name);
      }
    }
    throw new Error(`the master did not start:\n${logs.slice(-40).join('\n')}`);
  }

  async function api(method: string, path: string, body?: unknown): Promise<ApiAnswer> {
    const response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(15_000),
    });
    return { status: response.status, json: (await response.json()) as ApiAnswer['json'] };
  }

  function startWorker(host: TestDockerHost): void {
    const worker = slot(host);
    const started = startProcess(
      [
        ...joinArgs,
        '--name',
        worker.name,
        '--data-dir',
        worker.dir,
        '--grpc-addr',
        `${host.ip}:${WORKER_TRANSFER_PORT}`,
        '--reconnect-interval',
        '200ms',
        '--max-reconnect-interval',
        '1s',
      ],
      { DOCKER_HOST: host.socket },
      { netns: host.netns },
    );
    keepLogs(worker.name, started);
    worker.process = started;
    supervise(worker.name, started, () => {
      if (worker.process === started) startWorker(host);
    });
  }

  const alive = (process: RunningProcess | undefined): process is RunningProcess =>
    process !== undefined && process.child.exitCode === null && process.child.signalCode === null;

  const cluster: FaultCluster = {
    adminToken,
    get settings() {
      return settings;
    },
    get refusedVariables() {
      return [...refused];
    },
    api,
    async migration(migrationId) {
      const { json } = await api('GET', `/api/migrations/${migrationId}`);
      if (!json.migration) throw new Error(`no migration ${migrationId}: ${JSON.stringify(json)}`);
      return json.migration;
    },
    async ensureMaster(wanted) {
      if (alive(master) && wanted.failpoints === settings.failpoints) return;
      if (alive(master)) await stop(master);
      settings = wanted;
      await startMaster();
    },
    masterRunning: () => alive(master),
    async killMaster() {
      await stop(master, 'SIGKILL');
    },
    startMaster,
    async stopMaster() {
      await stop(master);
    },
    workerName: (host) => slot(host).name,
    workerDataDir: (host) => slot(host).dir,
    workerRunning: (host) => alive(slot(host).process),
    async killWorker(host) {
      await stop(slot(host).process, 'SIGKILL');
    },
    startWorker,
    async ensureWorkers() {
      for (const worker of slots.values()) if (!alive(worker.process)) startWorker(worker.host);
      const names = [...slots.values()].map((worker) => worker.name);
      await eventually(
        `workers ${names.join(', ')} online`,
        async () => {
          const { json } = await api('GET', '/api/workers');
          const online = new Set(json.workers?.filter((w) => w.status === 'online').map((w) => w.name));
          return names.every((name) => online.has(name)) ? true : undefined;
        },
        60_000,
      );
    },
    async stopAll() {
      for (const worker of slots.values()) await stop(worker.process);
      await stop(master);
    },
    logTail: (count = 60) => logs.slice(-count).join('\n'),
    takeCrashes: () => crashes.splice(0, crashes.length),
  };
  return cluster;
}
