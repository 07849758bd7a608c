// The steps a master asks a worker to run against its engine during a migration: each kind with its arguments and
// result. They travel as JSON on the control stream; every one is safe to repeat (idempotent) where it changes state.
import type { TransferCompression } from './migration.js';
import type {
  ContainerDetails,
  ImageDetails,
  NetworkCreateSpec,
  VolumeCreateSpec,
  VolumeSummary,
} from './docker-resources.js';

/** How the bytes of one transfer travel: worker to worker, or both workers to the master which relays. */
export type TransferRoute = 'direct' | 'proxy';

export interface TransferResource {
  /**
   * `manifest`: the description of a volume's copy (its files' attributes and block digests) that the target of an
   * incremental sync sends back to the source, named by the target's volume.
   */
  type: 'volume' | 'image' | 'manifest';
  /** Volume name, or image id. */
  name: string;
  /**
   * Images: exactly the "repo:tag" references the image carries on the target once loaded (the plan's target
   * tags, which differ from the source's under the `rename` policy). The grant names them too; the receiver
   * refuses an archive whose image or tags differ, and loads it under these tags only.
   */
  tags?: string[];
}

/**
 * What a volume holds, measured on its worker before the copy. Bytes are null when they cannot be known (a volume
 * of another driver, a share not mounted here): an unknown size is said, never guessed as 0.
 */
export interface VolumeMeasure {
  /**
   * Bytes of the regular files as their sizes say (holes of sparse files included), each hard-linked file once:
   * the volume bytes the copy goes through, which its progress counts against.
   */
  apparentBytes: number | null;
  /** Bytes the volume takes on disk (st_blocks × 512 of its files and folders): what the target must have free. */
  allocatedBytes: number | null;
  /** Regular files, hard links once; null when the content was not walked. */
  files: number | null;
  /**
   * `walk`: the worker walked the volume's folder (lstat only, nothing read); `engine`: the Engine's /system/df
   * figure (apparent bytes only); `unknown`: neither could tell, see `reason`.
   */
  method: 'walk' | 'engine' | 'unknown';
  /** Why the size is not known, or how it was found when that is worth saying. */
  reason?: string;
  /** ISO 8601 time of the measurement (answers come from a short-lived cache). */
  measuredAt: string;
}

export interface TransferResult {
  /** XXH3-128 (hex) of every data byte of the stream, as both ends counted it. */
  xxh128: string;
  bytes: number;
  /** Images: layer bytes not sent because the receiver had them. */
  skippedBytes?: number;
  /**
   * Volumes read from their folder: the volume's bytes the transfer covered (file sizes, holes included) — what a
   * volume's size is measured in; `bytes` counts what went over the wire (holes are not sent).
   */
  coveredBytes?: number;
}

/**
 * A volume sent as what changed against what the receiver holds (warm mode's rounds, and later incremental syncs)
 * rather than whole. The sender keeps, per session and volume, the manifest of what the receiver holds after each
 * round it confirmed; round 1 of a session sends everything.
 */
export interface VolumeSyncSend {
  /** One per migration: the master's migration id. */
  session: string;
  round: number;
  /**
   * The round made with the source stopped: files changed shortly before (or ever re-read in an earlier round) are
   * also compared by content, since a write through a memory map may change a file without changing its stat.
   */
  final: boolean;
  /** Paths the receiver could not verify after the previous round: sent whole this time. */
  resend?: string[];
  /**
   * The final round: keep what was sent as the description of the copy that `targetVolume` on the receiving worker
   * now holds, so that a later incremental sync to it reads only the files changed since (see VolumeBaseMerged).
   */
  keep?: { targetVolume: string };
}

/**
 * What the target of an incremental sync found when it described its copy of a volume (the manifest it sent):
 * files read again (their stat moved since the copy was made, or no description was kept), and how many entries
 * differ from the copy an earlier migration left there — null when no description of that copy was kept.
 */
export interface VolumeBaseDescribed {
  entries: number;
  filesRead: number;
  bytesRead: number;
  /** Entries added, changed or removed since the copy was made; null: cannot tell (no description kept). */
  changedSinceCopy: number | null;
  /** The migration that made the copy, when its description was kept. */
  madeBy?: string;
  /** The volume folder's identity (device, inode, birth time): the sync refuses to write into another one. */
  identity: string;
}

/**
 * What the source of an incremental sync made of the target's description: entries it can trust without reading
 * (the target holds what the source kept as sent, and the source's file has not changed since), and entries it
 * compares by content.
 */
export interface VolumeBaseMerged {
  trusted: number;
  compared: number;
}

/** What a sync round read and sent, as the sender counted it. */
export interface VolumeSyncSent {
  /** Entries the walk saw. */
  walked: number;
  /** Regular files read (sent whole, or compared block by block). */
  filesRead: number;
  /** Bytes of those files. */
  bytesRead: number;
  /** Sizes of the files the final round re-checks by content (hot): what the next final round would read. */
  hotBytes: number;
  wholeFiles: number;
  patchedFiles: number;
  deletions: number;
  /** Files that changed while read: sent anyway, read again next round. */
  dirty: number;
}

/** What the receiver of a sync round changed, and what it could not verify. */
export interface VolumeSyncApplied {
  patched: number;
  deleted: number;
  /** Patched files whose digest differed afterwards: the next round sends them whole. */
  mismatched: string[];
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
  /**
   * Renames a container (how `overwrite` keeps the target's old container aside until the new one is ready).
   * Idempotent: done when `ref` is gone and `name` exists.
   */
  'container.rename': { args: { ref: string; name: string }; result: { renamed: boolean } };
  /**
   * Files changed in the container's writable layer (the Engine's changes query): they live outside volumes and
   * are never migrated. `paths` holds at most `limit` (default 20) of them, `count` how many there are.
   */
  'container.changes': { args: { ref: string; limit?: number }; result: { count: number; paths: string[] } };
  'image.inspect': { args: { ref: string }; result: ImageDetails };
  /** Diff id lists of every image on the engine: what layer chains the engine already has. */
  'image.layer_chains': { args: Record<string, never>; result: { chains: string[][] } };
  /** Adds tags to an image that is already present. */
  'image.tag': { args: { id: string; tags: string[] }; result: Record<string, never> };
  'image.remove': { args: { ref: string }; result: { removed: boolean } };
  /**
   * Removes one tag and never the image behind it: when the tag is the image's last reference the tag stays
   * (`removed: false`, `lastTag: true`), since removing it would delete the image.
   */
  'image.untag': { args: { tag: string }; result: { removed: boolean; lastTag: boolean } };
  'volume.create': { args: { spec: VolumeCreateSpec }; result: { created: boolean } };
  'volume.remove': { args: { name: string }; result: { removed: boolean } };
  /**
   * How much the volume holds, measured cheaply (no file is read) so that a plan knows its bytes before the copy.
   * Answers are cached on the worker for a short time; `not_found` when the volume does not exist.
   */
  'volume.measure': { args: { name: string }; result: VolumeMeasure };
  /** The volume as its engine describes it; `not_found` when it does not exist. */
  'volume.inspect': { args: { name: string }; result: VolumeSummary };
  /**
   * `overwrite` keeps the target's old volume data: its content moves into a new local volume `asideName`
   * (labelled io.dockation.aside-of=<name>) and `name` is left empty, ready to receive. Volumes cannot be renamed
   * and containers may still reference `name`, so the object stays and only its content moves. Idempotent.
   */
  'volume.set_aside': { args: { name: string; asideName: string }; result: { moved: boolean } };
  /**
   * Undoes volume.set_aside: empties `name`, moves the content of `asideName` back and removes `asideName`.
   * Idempotent: done when `asideName` no longer exists.
   */
  'volume.restore_aside': { args: { name: string; asideName: string }; result: { restored: boolean } };
  'network.create': { args: { spec: NetworkCreateSpec }; result: { id: string; created: boolean } };
  'network.remove': { args: { ref: string }; result: { removed: boolean } };
  /**
   * Receives one resource: a volume's content into the (existing) volume, or an image into the engine. `direct`
   * waits for the sender to connect to this worker; `proxy` takes it from the master's relay.
   */
  'transfer.receive': {
    args: {
      transferId: string;
      grant: string;
      resource: TransferResource;
      route: TransferRoute;
      /** `proxy`: the port of the master's relay, on the host this worker reaches the master at. */
      relayPort?: number;
      /**
       * Volumes: the stream is a sync round (see VolumeSyncSend) to apply to the content the volume holds;
       * `fsync`: flush every file and folder it touched before answering (the final round); `describe`: then keep a
       * description of the copy outside it (a sidecar manifest, for a later incremental sync), naming its origin.
       */
      update?: {
        fsync: boolean;
        describe?: { migrationId: string; sourceVolume: string };
        /** The copy's identity as described at the start (incremental): another volume there is refused. */
        identity?: string;
      };
      /**
       * Manifests: the sync session and source volume the target's description is the base for (the session's
       * round 1 then sends only what differs from it).
       */
      into?: { session: string; volume: string };
    };
    result: TransferResult & { applied?: VolumeSyncApplied; merged?: VolumeBaseMerged };
  };
  /**
   * Sends one resource. `direct` connects to the receiver at `targetAddress`; `proxy` sends through the master's relay.
   * Images skip their first `skipLayers` layers, which the receiver already has. `compression: zstd` sends blocks
   * that shrink as data_zstd frames; the receiver decodes whatever comes, so only the sender is told.
   */
  'transfer.send': {
    args: {
      transferId: string;
      grant: string;
      resource: TransferResource;
      route: TransferRoute;
      targetAddress: string;
      targetWorkerId: string;
      /** `proxy`: the port of the master's relay, on the host this worker reaches the master at. */
      relayPort?: number;
      skipLayers?: number;
      /** Absent: `none`. */
      compression?: TransferCompression;
      /** Volumes: send what changed since the session's last round instead of everything. */
      sync?: VolumeSyncSend;
      /**
       * `manifest`: containers on this worker that the migration replaces. Those among the volume's users that are
       * stopped do not stop its description; any other user does.
       */
      replacing?: string[];
    };
    result: TransferResult & { sync?: VolumeSyncSent; described?: VolumeBaseDescribed };
  };
  /** Drops what the sender kept for a sync session (the migration ended, whichever way). Idempotent. */
  'volume.sync_forget': { args: { session: string }; result: { forgotten: boolean } };
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
  'container.rename',
  'container.changes',
  'image.inspect',
  'image.layer_chains',
  'image.tag',
  'image.remove',
  'image.untag',
  'volume.create',
  'volume.remove',
  'volume.inspect',
  'volume.measure',
  'volume.set_aside',
  'volume.restore_aside',
  'network.create',
  'network.remove',
  'transfer.receive',
  'transfer.send',
  'volume.sync_forget',
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
  /**
   * Waits, at most `timeoutMs`, until the worker has answered every command whose caller stopped waiting (a
   * cancel, a timeout) or can no longer answer; true when it did. Rollback calls it before it inspects what the
   * engine holds, so that a stop still under way cannot land after the rollback started the container again.
   */
  quiesce?(workerId: string, timeoutMs: number): Promise<boolean>;
}
