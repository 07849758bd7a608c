// What a migration is: the request, the plan it becomes, its findings, its progress and its history.
import type { BindMountDetails, FindingCode } from '../contract/codes.js';
import type { UndoEntry } from './migration-journal.js';
import type { VolumeMeasure } from './worker-commands.js';

export type MigrationStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled' | 'rolled_back';

/** Steps in the order they run; `rollback` only after a failure or a cancel. */
export type MigrationPhase =
  | 'preflight'
  | 'prepare'
  | 'transfer'
  | 'stop_source'
  | 'create'
  | 'start'
  | 'finalize'
  | 'rollback'
  | 'done';

export type MigrationMode = 'cold' | 'warm' | 'live';
export type MigrationStrategy = 'full' | 'incremental';
export type TransferMode = 'direct' | 'proxy' | 'auto';
/**
 * How volume and image bytes travel: as they are, or each block of about 1 MiB compressed with zstd level 1 when
 * that makes it smaller. zstd pays on slow links; on a LAN it costs more CPU time than it saves on the wire.
 */
export type TransferCompression = 'none' | 'zstd';
export type ConflictPolicy = 'fail' | 'skip' | 'rename' | 'overwrite';
export type SourcePolicy = 'keep_stopped' | 'remove' | 'keep_running';
export type ResourceType = 'container' | 'image' | 'volume' | 'network';

/**
 * The label every volume a migration creates carries, naming that migration: how a later migration with the
 * incremental strategy tells its own copy (brought up to date in place) from a volume someone else made there.
 */
export const VOLUME_COPY_LABEL = 'io.dockation.migration';

/**
 * The label that names what a migration copied a volume from: `<source worker id>/<source volume name>`. A later
 * incremental migration updates the copy in place only from that very volume.
 */
export const VOLUME_SOURCE_LABEL = 'io.dockation.source';

/**
 * Where a bind-mounted host path goes on the target: another host path (the same path to keep it), or `skip`
 * to leave the mount out. A bind mount without a rule is an error finding: its data does not move.
 */
export type BindMountRule = { path: string } | { skip: true };

export interface MigrationRequest {
  sourceWorkerId: string;
  targetWorkerId: string;
  /** Names, ids or unique id prefixes on the source. */
  containers: string[];
  /** Ids, id prefixes or "repo:tag" references on the source. */
  images: string[];
  volumes: string[];
  /** Names or ids of user-defined networks. */
  networks: string[];
  /** Values of the `com.docker.compose.project` label. */
  composeProjects: string[];
  mode: MigrationMode;
  strategy: MigrationStrategy;
  transferMode: TransferMode;
  /** Absent in records made before the field existed, which transferred uncompressed (`none`). */
  compression?: TransferCompression;
  conflictPolicy: ConflictPolicy;
  sourcePolicy: SourcePolicy;
  /** Source host path → rule. */
  bindMounts: Record<string, BindMountRule>;
  /**
   * Codes of findings the user has read and accepts (e.g. "writable_layer_changes", "volume_host_path"): such a
   * finding blocks the migration until it is named here. Absent in records made before the field existed.
   */
  acknowledge?: string[];
  /**
   * Warm mode: pre-copying stops once the last round's copy, made again with the source stopped, would fit in
   * this many milliseconds (DEFAULT_DOWNTIME_BUDGET_MS when absent).
   */
  downtimeBudgetMs?: number;
  /** Warm mode: pre-copy rounds at most before the source is stopped anyway (DEFAULT_MAX_ROUNDS when absent). */
  maxRounds?: number;
  /**
   * Seconds each source container is given to exit on its stop signal before it is killed, instead of its own stop
   * timeout (10 s unless the container sets one). For a process known to ignore its stop signal, a short one is
   * downtime won back; for one that flushes data on its way out, it is data lost.
   */
  stopTimeoutSeconds?: number;
  /**
   * A move back: the completed migration this one reverses, and what that one left on this request's target (its
   * source). Those leftovers are reused instead of conflicting: a stopped container is replaced, a volume updated
   * (incremental) or overwritten with its old content kept aside until the end, a network kept.
   */
  reverse?: { of: string; leftovers: Leftover[] };
}

/** Something a completed migration left on its source worker (its `source_policy` kept it there). */
export interface Leftover {
  type: ResourceType;
  /** The name it has on that worker. */
  name: string;
  /** Container/image/network id on that worker; the volume name for volumes. */
  id: string;
  /** The name the migration gave its copy on the other worker (the same, unless the rename policy changed it). */
  movedAs: string;
}

/** Warm mode's defaults: stop pre-copying when the final round would take at most 2 s, or after 8 rounds. */
export const DEFAULT_DOWNTIME_BUDGET_MS = 2_000;
export const DEFAULT_MAX_ROUNDS = 8;
/** What a request may ask for: a budget from 100 ms to 10 min, 1 to 32 rounds. */
export const DOWNTIME_BUDGET_RANGE_MS = { min: 100, max: 600_000 } as const;
export const MAX_ROUNDS_RANGE = { min: 1, max: 32 } as const;

export type FindingSeverity = 'error' | 'warning' | 'info';

/** One thing preflight noticed. Errors block the migration; warnings are shown and allowed. */
export interface Finding {
  severity: FindingSeverity;
  /** Stable machine code from the API contract's closed set, e.g. "name_conflict", "port_in_use", "disk_space". */
  code: FindingCode;
  message: string;
  resource?: { type: ResourceType; name: string };
  /** Structured facts, so that clients need not read the message: a bind mount finding names the mount. */
  details?: BindMountDetails;
}

export type ResourceStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'rolled_back';

/** One object the migration moves. */
export interface PlannedResource {
  type: ResourceType;
  /** Container/volume/network name, image reference (or id when untagged) on the source. */
  name: string;
  /** Container/image/network id on the source; the volume name for volumes. */
  sourceId: string;
  /** Name it gets on the target: the same, or a new one under the `rename` policy. */
  targetName: string;
  /** Asked for by name, brought along by a container, or part of a compose project. */
  reason: 'requested' | 'dependency' | 'compose';
  /**
   * What happens on the target: create it, keep what is there (`skip`), or replace it (`overwrite`). `update`
   * (volumes, the incremental strategy): the target holds a copy an earlier migration made, brought up to date in
   * place with only what differs.
   */
  action: 'create' | 'skip' | 'overwrite' | 'update';
  /**
   * Bytes expected to move: a volume's apparent bytes as measured on the source (what the copy's progress counts),
   * an image's size; 0 for configuration only, and for a volume whose size is unknown (see `measured`).
   */
  estimatedBytes: number;
  status: ResourceStatus;
  /** Bytes moved so far. */
  bytes: number;
  /**
   * Images: the "repo:tag" references the image must carry on the target when the migration ends (the source's
   * tags, renamed under `rename`). Absent in plans made before the field existed: then the source's tags.
   */
  targetTags?: string[];
  /**
   * Volumes: false when only the volume is made on the target, with its driver options, and no content is copied
   * (a network share keeps its content on the share; tmpfs holds none). Absent: the content is copied.
   */
  copyContent?: boolean;
  /**
   * Volumes: what the source's worker measured before the migration (apparent and allocated bytes, null when it
   * could not tell). Absent in plans made before volumes were measured.
   */
  measured?: VolumeMeasure;
  /**
   * Containers: the source ids of the other planned containers this one needs running (network mode, links,
   * volumes-from, compose depends_on). Containers stop in the reverse order, each level together.
   */
  needs?: string[];
}

export interface MigrationPlan {
  resources: PlannedResource[];
  findings: Finding[];
  /** Sum of estimatedBytes over resources that move. */
  totalBytes: number;
}

export type MigrationEventLevel = 'info' | 'warning' | 'error';

export interface MigrationEvent {
  id: number;
  migrationId: string;
  /** ISO 8601. */
  at: string;
  level: MigrationEventLevel;
  phase: MigrationPhase;
  message: string;
  resource?: { type: ResourceType; name: string };
}

export type NewMigrationEvent = Omit<MigrationEvent, 'id'>;

/** Something a migration made on the target, as records written before the journal (`undo`) list them. */
export interface CreatedObject {
  type: ResourceType;
  /** Id or name as the target engine knows it. */
  ref: string;
}

/** What the executor remembers between steps, so each step can be re-run or undone after a restart. */
export interface MigrationProgressState {
  /**
   * Source containers that ran before the migration, recorded before it asks to stop them; rollback starts each
   * one that does not run.
   */
  sourceRunning: string[];
  /** Kept for records written by earlier versions; empty in new ones (the journal, `undo`, replaced them). */
  sourceStopped: string[];
  /** Kept for records written by earlier versions, whose rollback reads it when they have no `undo`. */
  created: CreatedObject[];
  /** Kept for records written by earlier versions; unused. */
  completedSteps: string[];
  /** Unix ms when the first source container stopped, for downtime. */
  downtimeStartedAt?: number;
  /**
   * Changes about to be made on the target, each written before its command is sent (see migration-journal.ts);
   * rollback undoes them newest first, reconciling each with the engine. Absent in records made before.
   */
  undo?: UndoEntry[];
  /**
   * ISO 8601 time of the switch-over point: every target container started and ready, before the source is
   * touched again. After it, recovery finishes the migration instead of rolling it back.
   */
  switchedOverAt?: string;
  /**
   * Warm: the source worker could not be told to drop this migration's sync session when the migration ended (it
   * was offline); the master tells it again once it is back online, and clears this.
   */
  syncSessionKept?: boolean;
  /** The migration that moves this one's workload back (see MigrationRequest.reverse), once one was started. */
  reversedBy?: string;
}

/**
 * Where a migration's downtime went, on the master's monotonic clock, from the request to stop the first source
 * container: stopping the source, copying what changed since the last copy made while it ran (all of it, cold),
 * creating the target's containers, starting them (until running) and waiting until they are ready (healthy, or
 * running when they have no health check). The phases add up to `downtimeMs`; a phase not reached is null.
 */
export interface DowntimeBreakdown {
  stopMs: number | null;
  finalSyncMs: number | null;
  applyMs: number | null;
  startMs: number | null;
  readyMs: number | null;
}

/** One copy of the volumes: a pre-copy round while the source runs (warm), or the copy made with it stopped. */
export interface SyncRound {
  /** 1, 2, … in order; the final round (source stopped) has `final: true`. A cold copy is one final round. */
  round: number;
  final: boolean;
  /** Bytes sent on the wire for the round, every volume together. */
  bytes: number;
  durationMs: number;
  /** Files read and sent (whole or in part) in the round. */
  files: number;
}

/** What a migration's timing was; filled in as it runs. */
export interface MigrationTiming {
  downtime: DowntimeBreakdown | null;
  rounds: SyncRound[];
}

/** Timing of a migration that has not stopped anything nor copied anything yet. */
export function emptyTiming(): MigrationTiming {
  return { downtime: null, rounds: [] };
}

export interface MigrationRecord {
  id: string;
  status: MigrationStatus;
  phase: MigrationPhase;
  request: MigrationRequest;
  plan: MigrationPlan;
  /** 0..1 */
  progress: number;
  bytesTransferred: number;
  totalBytes: number;
  rateBytesPerSecond: number;
  /** ISO 8601 times. */
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  downtimeMs: number | null;
  timing: MigrationTiming;
  error: string | null;
  cancelRequested: boolean;
  state: MigrationProgressState;
}

/** True for the statuses a migration never leaves. */
export function isFinished(status: MigrationStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled' || status === 'rolled_back';
}
