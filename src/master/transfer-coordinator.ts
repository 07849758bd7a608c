// Moves one image or volume between the two workers of a migration: signs its grant, picks the route (direct, or
// relayed through the master; `auto` falls back to the relay), watches for a stall, keeps the rate and progress,
// and compares both ends' checksums.
import type { Clock } from '../core/clock.js';
import { AppError } from '../core/errors.js';
import type { MigrationRecord, PlannedResource } from '../core/migration.js';
import { planTotals } from '../core/migration-progress.js';
import type {
  TransferResult,
  TransferRoute,
  VolumeBaseDescribed,
  VolumeBaseMerged,
  VolumeSyncApplied,
  VolumeSyncSend,
  VolumeSyncSent,
  WorkerGateway,
} from '../core/worker-commands.js';
import { newId } from '../platform/secrets.js';
import { GRANT_TTL_MS, signGrant } from '../transfer/grant.js';
import type { MasterMetrics } from './metrics.js';
import type { MigrationRecorder } from './migration-recorder.js';
import type { WorkerRegistry } from './worker-registry.js';
import { plural } from '../core/plural.js';

/** Longest a single transfer command may run. */
const TRANSFER_TIMEOUT_MS = 12 * 3600_000;
/** Progress is written to the store and announced at most this often. */
const PROGRESS_EVERY_MS = 1_000;

/**
 * What moves: the object's name on each side (an image keeps its id, and travels with its tags). A `manifest` moves
 * the other way: the target's description of its copy of volume `target`, to the source, as the base for `source`.
 */
export interface TransferNames {
  type: 'volume' | 'image' | 'manifest';
  source: string;
  target: string;
  tags?: string[];
  /** `manifest`: the target's containers the migration replaces (see the `transfer.send` command). */
  replacing?: string[];
}

/** What the coordinator needs of the master (a subset of MigrationRunnerOptions). */
export interface TransferCoordinatorOptions {
  registry: WorkerRegistry;
  gateway: WorkerGateway;
  /** Signs transfer grants. */
  caKeyPem: string;
  clock: Clock;
  metrics?: MasterMetrics;
  /** A transfer that moves no byte for this long is aborted (a cut link leaves both ends waiting). */
  transferStallTimeoutMs?: number;
  /** The port of the master's transfer relay, which `proxy` transfers go through. */
  relayPort?: number;
}

/**
 * A volume copied as a sync round (warm, incremental): what the sender sends, whether the receiver flushes to disk,
 * and whether it then keeps a description of its copy (the final round of an incremental sync).
 */
export interface SyncRoundArgs {
  send: VolumeSyncSend;
  fsync: boolean;
  describe?: { migrationId: string; sourceVolume: string };
  /** The target copy's identity as described (incremental): the receiver refuses another volume. */
  identity?: string;
}

/**
 * What a transfer answers: the sender's result; for a sync round what the receiver applied; for a description of a
 * copy what the target found and what the source made of it.
 */
export type TransferAnswer = TransferResult & {
  sync?: VolumeSyncSent;
  applied?: VolumeSyncApplied;
  described?: VolumeBaseDescribed;
  merged?: VolumeBaseMerged;
};

export class TransferCoordinator {
  constructor(
    private readonly options: TransferCoordinatorOptions,
    private readonly record: MigrationRecorder,
  ) {}

  /** Runs one transfer with its grant; `auto` falls back to the relay when the receiver cannot be reached. */
  async transfer(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: TransferNames,
    signal: AbortSignal,
    skipLayers?: number,
    sync?: SyncRoundArgs,
  ): Promise<TransferAnswer> {
    const { request } = migration;
    const first: TransferRoute = request.transferMode === 'proxy' ? 'proxy' : 'direct';
    try {
      return await this.transferOnce(migration, resource, names, signal, first, skipLayers, sync);
    } catch (error) {
      if (request.transferMode !== 'auto' || signal.aborted || !receiverUnreachable(error)) throw error;
      const appError = AppError.from(error);
      await this.record.event(
        migration,
        'warning',
        migration.phase,
        `direct transfer impossible (${appError.message}); relaying through the master`,
        resource,
      );
      return this.transferOnce(migration, resource, names, signal, 'proxy', skipLayers, sync);
    }
  }

  /** Where a relayed transfer goes: the relay's port, on the host each worker reaches the master at. */
  private relayArgs(route: TransferRoute): { relayPort?: number } {
    return route === 'proxy' && this.options.relayPort !== undefined
      ? { relayPort: this.options.relayPort }
      : {};
  }

  private async transferOnce(
    migration: MigrationRecord,
    resource: PlannedResource,
    names: TransferNames,
    signal: AbortSignal,
    route: TransferRoute,
    skipLayers?: number,
    sync?: SyncRoundArgs,
  ): Promise<TransferAnswer> {
    // A sync round after the first covers again what earlier rounds moved: it says nothing new about progress;
    // nor does a copy's description.
    const reverse = names.type === 'manifest';
    const counts = !reverse && (sync === undefined || sync.send.round === 1);
    const { gateway, registry, clock } = this.options;
    const { request } = migration;
    const [senderId, receiverId] = reverse
      ? [request.targetWorkerId, request.sourceWorkerId]
      : [request.sourceWorkerId, request.targetWorkerId];
    const receiverWorker = registry.require(receiverId);
    const transferId = newId('t');
    const granted = { type: names.type, name: names.target, ...(names.tags ? { tags: names.tags } : {}) };
    const grant = signGrant(
      {
        migrationId: migration.id,
        transferId,
        sourceWorkerId: senderId,
        targetWorkerId: receiverId,
        resource: granted,
        expiresAt: clock.now().getTime() + GRANT_TTL_MS,
      },
      this.options.caKeyPem,
    );
    // Either side failing stops the other; so does a transfer that makes no progress for the stall timeout (a
    // cut link leaves both sockets open and silent).
    const local = new AbortController();
    const stall = { hit: false };
    const stallMs = this.options.transferStallTimeoutMs ?? 60_000;
    let stallTimer = setTimeout(onStall, stallMs);
    function onStall(): void {
      stall.hit = true;
      local.abort();
    }
    const stop = (): void => {
      local.abort();
    };
    signal.addEventListener('abort', stop, { once: true });
    const started = clock.monotonicMs();
    // The first report is always saved: a monotonic clock may read less than PROGRESS_EVERY_MS early on.
    let lastSaved = Number.NEGATIVE_INFINITY;
    let lastBytes = 0;
    let lastAt = started;
    let rate = migration.rateBytesPerSecond;
    const onProgress = (report: { bytes: number }): void => {
      const now = clock.monotonicMs();
      if (report.bytes > lastBytes) {
        clearTimeout(stallTimer);
        stallTimer = setTimeout(onStall, stallMs);
      }
      // A copy's description reports the bytes it read to describe the volume: that is no transfer rate.
      if (!reverse && now - lastAt > 0) {
        const instant = ((report.bytes - lastBytes) * 1000) / (now - lastAt);
        rate = rate === 0 ? instant : rate * 0.7 + instant * 0.3;
      }
      lastBytes = report.bytes;
      lastAt = now;
      if (!counts) return;
      resource.bytes = report.bytes;
      if (now - lastSaved < PROGRESS_EVERY_MS) return;
      lastSaved = now;
      this.record
        .save(migration, {
          ...planTotals(migration.plan),
          rateBytesPerSecond: Math.round(rate),
          plan: migration.plan,
        })
        .catch(() => undefined);
    };
    try {
      const receiving = gateway.run(
        receiverId,
        'transfer.receive',
        {
          transferId,
          grant,
          resource: granted,
          route,
          ...this.relayArgs(route),
          ...(sync
            ? {
                update: {
                  fsync: sync.fsync,
                  ...(sync.describe ? { describe: sync.describe } : {}),
                  ...(sync.identity === undefined ? {} : { identity: sync.identity }),
                },
              }
            : {}),
          ...(reverse ? { into: { session: migration.id, volume: names.source } } : {}),
        },
        {
          signal: local.signal,
          timeoutMs: TRANSFER_TIMEOUT_MS,
          // The receiver reports only once every byte is in, while it describes its copy: that is no stall.
          onProgress: () => {
            clearTimeout(stallTimer);
            stallTimer = setTimeout(onStall, stallMs);
          },
        },
      );
      const sending = gateway.run(
        senderId,
        'transfer.send',
        {
          transferId,
          grant,
          resource: reverse
            ? granted
            : { type: names.type, name: names.source, ...(names.tags ? { tags: names.tags } : {}) },
          ...(reverse && names.replacing?.length ? { replacing: names.replacing } : {}),
          route,
          targetAddress: receiverWorker.advertiseAddress,
          targetWorkerId: receiverWorker.id,
          ...this.relayArgs(route),
          ...(skipLayers === undefined ? {} : { skipLayers }),
          ...(request.compression === 'zstd' ? { compression: request.compression } : {}),
          ...(sync ? { sync: sync.send } : {}),
        },
        { signal: local.signal, timeoutMs: TRANSFER_TIMEOUT_MS, onProgress },
      );
      receiving.catch(stop);
      sending.catch(stop);
      const [received, sent] = await Promise.all([receiving, sending]);
      if (received.xxh128 !== sent.xxh128 || received.bytes !== sent.bytes)
        throw new AppError(
          'internal',
          `${names.type} ${names.source}: the target received ${plural(received.bytes, 'byte')} (XXH3-128 ${received.xxh128}), the source sent ${sent.bytes} (${sent.xxh128})`,
        );
      this.options.metrics?.transferBytes.inc(sent.bytes);
      this.options.metrics?.transferDuration.observe((clock.monotonicMs() - started) / 1000);
      if (counts) resource.bytes = sent.coveredBytes ?? sent.bytes;
      if (!reverse)
        await this.record.save(migration, {
          ...planTotals(migration.plan),
          plan: migration.plan,
          rateBytesPerSecond: Math.round(rate),
        });
      return {
        ...sent,
        ...(received.applied ? { applied: received.applied } : {}),
        ...(received.merged ? { merged: received.merged } : {}),
      };
    } catch (error) {
      local.abort();
      if (stall.hit && !signal.aborted)
        throw new AppError(
          'unavailable',
          `${names.type} ${names.source}: the transfer made no progress for ${Math.round(stallMs / 1000)} s (the workers may no longer reach each other)`,
          { cause: error },
        );
      // The first failure tells why; the other side then only says it was cancelled.
      throw error;
    } finally {
      clearTimeout(stallTimer);
      signal.removeEventListener('abort', stop);
    }
  }
}

/**
 * Whether a direct transfer failed because the sender could not open the data channel to the receiving worker, so
 * the relay may work: said by the error's reason; a worker that predates reasons says it only in its message.
 */
export function receiverUnreachable(error: unknown): boolean {
  const appError = AppError.from(error);
  switch (appError.reason) {
    case 'peer_unreachable':
      return true;
    case 'not_leader':
    case 'fenced':
      return false;
    case undefined:
      return appError.message.includes('cannot reach the receiving worker');
  }
}
