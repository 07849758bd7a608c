// The steps a master asks a worker to run against its engine during a migration: each kind with its arguments and
// result. They travel as JSON on the control stream; every one is safe to repeat (idempotent) where it changes state.
import type {
  ContainerDetails,
  ImageDetails,
  NetworkCreateSpec,
  VolumeCreateSpec,
} from './docker-resources.js';

/** How the bytes of one transfer travel: worker to worker, or both workers to the master which relays. */
export type TransferRoute = 'direct' | 'proxy';

export interface TransferResource {
  type: 'volume' | 'image';
  /** Volume name, or image id. */
  name: string;
}

export interface TransferResult {
  /** SHA-256 (hex) of every byte of the stream. */
  sha256: string;
  bytes: number;
  /** Images: layer bytes not sent because the receiver had them. */
  skippedBytes?: number;
}

export interface WorkerCommands {
  /** Engine facts preflight needs. */
  'engine.describe': {
    args: Record<string, never>;
    result: { architecture: string; os: string; dockerRootDir: string; freeBytes: number | null };
  };
  'container.inspect': { args: { ref: string }; result: ContainerDetails };
  /** Stops the container if it runs; answers whether it was running. */
  'container.stop': { args: { ref: string; timeoutSeconds?: number }; result: { wasRunning: boolean } };
  'container.start': { args: { ref: string }; result: Record<string, never> };
  /** Creates the container from an Engine create body and connects its other networks; idempotent by name. */
  'container.create': {
    args: {
      name: string;
      body: Record<string, unknown>;
      networks: Array<{ name: string; aliases: string[]; ipv4Address?: string; ipv6Address?: string }>;
    };
    result: { id: string };
  };
  /** Waits until the container runs (and is healthy when it has a healthcheck). */
  'container.await_ready': {
    args: { ref: string; timeoutMs: number };
    result: { state: string; health?: string };
  };
  /** Removes the container if it exists (force); volumes are never removed with it. */
  'container.remove': { args: { ref: string }; result: { removed: boolean } };
  'image.inspect': { args: { ref: string }; result: ImageDetails };
  /** Diff id lists of every image on the engine: what layer chains the engine already has. */
  'image.layer_chains': { args: Record<string, never>; result: { chains: string[][] } };
  /** Adds tags to an image that is already present. */
  'image.tag': { args: { id: string; tags: string[] }; result: Record<string, never> };
  'image.remove': { args: { ref: string }; result: { removed: boolean } };
  'volume.create': { args: { spec: VolumeCreateSpec }; result: { created: boolean } };
  'volume.remove': { args: { name: string }; result: { removed: boolean } };
  'network.create': { args: { spec: NetworkCreateSpec }; result: { id: string; created: boolean } };
  'network.remove': { args: { ref: string }; result: { removed: boolean } };
  /**
   * Receives one resource: a volume's content into the (existing) volume, or an image into the engine. `direct`
   * waits for the sender to connect to this worker; `proxy` fetches from the master.
   */
  'transfer.receive': {
    args: { transferId: string; grant: string; resource: TransferResource; route: TransferRoute };
    result: TransferResult;
  };
  /**
   * Sends one resource. `direct` connects to the receiver at `targetAddress`; `proxy` pushes to the master.
   * Images skip their first `skipLayers` layers, which the receiver already has.
   */
  'transfer.send': {
    args: {
      transferId: string;
      grant: string;
      resource: TransferResource;
      route: TransferRoute;
      targetAddress: string;
      targetWorkerId: string;
      skipLayers?: number;
    };
    result: TransferResult;
  };
}

export type WorkerCommandKind = keyof WorkerCommands;
export type CommandArgs<K extends WorkerCommandKind> = WorkerCommands[K]['args'];
export type CommandResultOf<K extends WorkerCommandKind> = WorkerCommands[K]['result'];

export const WORKER_COMMAND_KINDS: readonly WorkerCommandKind[] = [
  'engine.describe',
  'container.inspect',
  'container.stop',
  'container.start',
  'container.create',
  'container.await_ready',
  'container.remove',
  'image.inspect',
  'image.layer_chains',
  'image.tag',
  'image.remove',
  'volume.create',
  'volume.remove',
  'network.create',
  'network.remove',
  'transfer.receive',
  'transfer.send',
];

export function isWorkerCommandKind(kind: string): kind is WorkerCommandKind {
  return (WORKER_COMMAND_KINDS as readonly string[]).includes(kind);
}

/** Progress a long command reports while it runs. */
export interface CommandProgressReport {
  bytes: number;
  totalBytes: number;
}

/** How the master runs commands on its workers (implemented over the control stream). */
export interface WorkerGateway {
  run<K extends WorkerCommandKind>(
    workerId: string,
    kind: K,
    args: CommandArgs<K>,
    options?: {
      timeoutMs?: number;
      signal?: AbortSignal;
      onProgress?: (report: CommandProgressReport) => void;
    },
  ): Promise<CommandResultOf<K>>;
}
