// Runs the master's commands against this worker's engine: inspect, stop/start, create/remove objects, and the
// transfers of volumes and images to and from other workers. Each command changing state is safe to repeat.
import { statfs } from 'node:fs/promises';
import { abortableSleep } from '../core/deadline.js';
import { AppError } from '../core/errors.js';
import { normaliseImageRef } from '../core/migration-plan.js';
import type { DockerEngine } from '../core/ports.js';
import type {
  CommandArgs,
  CommandProgressReport,
  CommandResultOf,
  TransferResult,
  VolumeBaseDescribed,
  VolumeSyncSent,
  WorkerCommandKind,
} from '../core/worker-commands.js';
import type { Logger } from '../platform/logger.js';
import { MASTER_COMMON_NAME } from '../platform/trust-names.js';
import {
  connectBulk,
  FrameReader,
  hostPort,
  type IncomingTransfer,
  receiveTransfer,
  sendTransfer,
} from '../transfer/bulk-channel.js';
import { senderCodec } from '../transfer/block-compression.js';
import { encodeControl, FRAME } from '../transfer/bulk-frames.js';
import { describeResource, sameResource, verifyGrant, type TransferGrant } from '../transfer/grant.js';
import { loadGrantedImage, saveImageForSend } from '../transfer/image-archive.js';
import type { Manifest } from '../transfer/volume-manifest.js';
import type { SyncSessions } from './sync-sessions.js';
import type { VolumeCopies } from './volume-copies.js';
import type { TransferInbox } from './transfer-inbox.js';
import type { VolumeAccess } from './volume-access.js';
import { VolumeAside } from './volume-aside.js';
import { measureVolume } from './volume-measure.js';
import type { WorkerIdentity } from './worker-identity.js';
import { mountDestinations, ownChanges } from './writable-layer.js';

export interface CommandContext {
  signal: AbortSignal;
  progress: (report: CommandProgressReport) => void;
}

type Handlers = {
  [K in WorkerCommandKind]: (args: CommandArgs<K>, context: CommandContext) => Promise<CommandResultOf<K>>;
};

/** How long a receiver waits for its sender to connect. */
const SENDER_WAIT_MS = 120_000;
/** How often progress goes up the control stream during a transfer. */
const PROGRESS_EVERY_MS = 500;

function isNotFound(error: unknown): boolean {
  return AppError.from(error).code === 'not_found';
}

/** Calls `report` at most every PROGRESS_EVERY_MS, and always with the last figure at the end. */
function throttled(report: (bytes: number) => void): { update: (bytes: number) => void; flush: () => void } {
  let last = 0;
  let latest = 0;
  return {
    update(bytes) {
      latest = bytes;
      const now = Date.now();
      if (now - last >= PROGRESS_EVERY_MS) {
        last = now;
        report(bytes);
      }
    },
    flush() {
      report(latest);
    },
  };
}

/**
 * Removes one tag, never the image: when nothing else references the image (another tag, or a digest of another
 * repository; the Engine drops the tag's own repository digests with it) the tag stays.
 */
async function untag(engine: DockerEngine, tag: string): Promise<{ removed: boolean; lastTag: boolean }> {
  if (tag.startsWith('sha256:') || tag.includes('@'))
    throw new AppError('invalid_argument', `"${tag}" is not a tag ("repo:tag")`);
  const wanted = normaliseImageRef(tag);
  let image;
  try {
    image = await engine.inspectImage(wanted);
  } catch (error) {
    if (isNotFound(error)) return { removed: false, lastTag: false };
    throw error;
  }
  const tags = image.tags.map(normaliseImageRef);
  if (!tags.includes(wanted)) return { removed: false, lastTag: false };
  const repo = repositoryOf(wanted);
  const others = [
    ...tags.filter((other) => other !== wanted),
    ...image.digests.map(normaliseImageRef).filter((digest) => repositoryOf(digest) !== repo),
  ];
  if (others.length === 0) return { removed: false, lastTag: true };
  // A tag of an image with other references is only untagged by the Engine, even unforced.
  await engine.removeImage(wanted, { noPrune: true });
  return { removed: true, lastTag: false };
}

/** "repo:tag" or "repo@sha256:…" → "repo". */
function repositoryOf(ref: string): string {
  const at = ref.indexOf('@');
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const colon = name.lastIndexOf(':');
  return colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
}

/** A received description of a volume copy larger than this is refused (millions of files, terabytes of blocks). */
const MAX_DESCRIPTION_BYTES = 512 * 1024 * 1024;

/** All of a stream, up to `max` bytes. */
async function readAll(data: AsyncIterable<Uint8Array>, max: number, volume: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of data) {
    size += chunk.length;
    if (size > max)
      throw new AppError(
        'failed_precondition',
        `the description of volume "${volume}" is larger than ${String(max / 1024 / 1024)} MiB`,
      );
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

/**
 * What a source keeps of a final round as sent: files modified within HOT_WINDOW_NS of the round's start are marked
 * dirty, so that a later incremental sync reads them again whatever their stat says (a process writing through a
 * memory map — the source may keep running — can change a file before its mtime moves).
 */
function keptAsSent(manifest: Manifest, roundStartNs: bigint): Manifest {
  const kept: Manifest = new Map();
  for (const [path, entry] of manifest)
    kept.set(
      path,
      entry.type === 'file' && entry.mtimeNs >= roundStartNs - HOT_WINDOW_NS
        ? { ...entry, dirty: true }
        : entry,
    );
  return kept;
}

/** How long before the source stops a file must not have been modified for the final round to trust its stat. */
const HOT_WINDOW_NS = 35_000_000_000n;

/**
 * The regular files a final round compares by content even when their stat did not change: those re-read by a
 * round after the first (they change while the source runs), and those modified within HOT_WINDOW_NS of `nowNs` (a
 * write through a memory map can change a file well before its mtime says so).
 */
function hotPaths(manifest: Manifest, firstRoundStartNs: bigint, nowNs: bigint): Set<string> {
  const hot = new Set<string>();
  for (const [path, entry] of manifest) {
    if (entry.type !== 'file') continue;
    if (entry.readStartNs > firstRoundStartNs || entry.mtimeNs >= nowNs - HOT_WINDOW_NS) hot.add(path);
  }
  return hot;
}

export class CommandExecutor {
  private readonly handlers: Handlers;
  private readonly aside: VolumeAside;

  constructor(
    private readonly options: {
      engine: DockerEngine;
      volumes: VolumeAccess;
      inbox: TransferInbox;
      identity: () => WorkerIdentity;
      /** The master this worker is connected to now (host:port), whose relay carries relayed transfers; by default
       * the first master of the identity. */
      connectedMaster?: () => string;
      logger: Logger;
      /** What a sender keeps between the rounds of a sync (warm mode). */
      syncSessions: SyncSessions;
      /** What this worker keeps of the copies it made and received (incremental strategy). */
      copies: VolumeCopies;
    },
  ) {
    const { engine } = options;
    this.aside = new VolumeAside(engine, options.volumes);
    this.handlers = {
      'engine.describe': async () => {
        const [info, version] = await Promise.all([engine.info(), engine.version()]);
        let freeBytes: number | null = null;
        try {
          const stats = await statfs(info.dockerRootDir);
          freeBytes = stats.bavail * stats.bsize;
        } catch {
          // A remote engine's root is not on this host: preflight says it cannot tell.
        }
        // The version's os/arch are the platform names images use ("linux", "amd64").
        return {
          architecture: version.arch,
          os: version.os,
          dockerRootDir: info.dockerRootDir,
          freeBytes,
        };
      },
      'container.inspect': ({ ref }) => engine.inspectContainer(ref),
      'container.stop': async ({ ref, timeoutSeconds }) => {
        const details = await engine.inspectContainer(ref);
        const wasRunning = details.state === 'running' || details.state === 'restarting';
        if (wasRunning || details.state === 'paused')
          await engine.stopContainer(ref, timeoutSeconds === undefined ? {} : { timeoutSeconds });
        return { wasRunning };
      },
      'container.start': async ({ ref }) => {
        const details = await engine.inspectContainer(ref);
        if (details.state !== 'running') await engine.startContainer(ref);
        return {};
      },
      'container.create': async ({ name, body, networks }) => {
        const id = await engine.createContainerFromConfig(name, body);
        try {
          // The first network is in the create body; the others are connected now (API 1.41 takes one).
          for (const network of networks.slice(1)) {
            await engine.connectNetwork(network.name, id, {
              aliases: network.aliases,
              ...(network.ipv4Address ? { ipv4Address: network.ipv4Address } : {}),
              ...(network.ipv6Address ? { ipv6Address: network.ipv6Address } : {}),
            });
          }
        } catch (error) {
          await engine.removeContainer(id, { force: true }).catch(() => undefined);
          throw error;
        }
        return { id };
      },
      'container.await_ready': async ({ ref, timeoutMs }, context) => {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const details = await engine.inspectContainer(ref);
          if (details.state === 'running' && (details.health === undefined || details.health === 'healthy'))
            return { state: details.state, ...(details.health ? { health: details.health } : {}) };
          if (details.state === 'exited' || details.state === 'dead')
            throw new AppError(
              'failed_precondition',
              `container "${details.name}" stopped right after starting (exit code ${details.exitCode ?? '?'})`,
            );
          if (details.health === 'unhealthy')
            throw new AppError('failed_precondition', `container "${details.name}" is unhealthy`);
          if (Date.now() > until)
            throw new AppError(
              'deadline_exceeded',
              `container "${details.name}" is ${details.state}${details.health ? ` (${details.health})` : ''} after ${Math.round(timeoutMs / 1000)} s`,
            );
          await abortableSleep(500, context.signal);
        }
      },
      'container.remove': async ({ ref }) => {
        try {
          await engine.removeContainer(ref, { force: true });
          return { removed: true };
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
      },
      'image.inspect': ({ ref }) => engine.inspectImage(ref),
      'image.layer_chains': async () => {
        const chains: string[][] = [];
        for (const image of await engine.listImages()) {
          try {
            chains.push((await engine.inspectImage(image.id)).layers);
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
        }
        return { chains };
      },
      'image.tag': async ({ id, tags }) => {
        for (const tag of tags) {
          const colon = tag.lastIndexOf(':');
          const slash = tag.lastIndexOf('/');
          const [repo, version] =
            colon > slash ? [tag.slice(0, colon), tag.slice(colon + 1)] : [tag, 'latest'];
          await engine.tagImage(id, repo, version);
        }
        return {};
      },
      'image.remove': async ({ ref }) => {
        let image;
        try {
          image = await engine.inspectImage(ref);
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
        const users = (await engine.listContainers({ all: true })).filter((c) => c.imageId === image.id);
        if (users.length > 0)
          throw new AppError(
            'conflict',
            `image ${ref} is used by container ${users.map((c) => `"${c.name}"`).join(', ')}; it is kept`,
            { details: { containers: users.map((c) => c.name) } },
          );
        // Never forced: the Engine then refuses an image some container or another repository still references,
        // and keeps untagged parent layers other images may share.
        try {
          await engine.removeImage(ref, { noPrune: true });
          return { removed: true };
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
      },
      'container.rename': async ({ ref, name }) => {
        try {
          const details = await engine.inspectContainer(ref);
          if (details.name === name) return { renamed: false };
          await engine.renameContainer(ref, name);
          return { renamed: true };
        } catch (error) {
          if (!isNotFound(error)) throw error;
          // Done already when `ref` is gone and a container has the new name.
          await engine.inspectContainer(name).catch(() => {
            throw error;
          });
          return { renamed: false };
        }
      },
      'container.changes': async ({ ref, limit }) => {
        const details = await engine.inspectContainer(ref);
        const changes = ownChanges(await engine.containerChanges(details.id), mountDestinations(details));
        return { count: changes.length, paths: changes.slice(0, limit ?? 20).map((change) => change.path) };
      },
      'image.untag': async ({ tag }) => untag(engine, tag),
      'volume.inspect': ({ name }) => engine.inspectVolume(name),
      'volume.measure': (args, context) => measureVolume(engine, args, context.signal),
      'volume.sync_forget': async ({ session }) => ({
        forgotten: await options.syncSessions.forget(session),
      }),
      // What a description of the volume says is no longer so once its content moves.
      'volume.set_aside': async ({ name, asideName }) => {
        await options.copies.withdraw(name);
        return this.aside.setAside(name, asideName);
      },
      'volume.restore_aside': async ({ name, asideName }) => {
        await options.copies.withdraw(name);
        return this.aside.restore(name, asideName);
      },
      'volume.create': async ({ spec }) => {
        try {
          await engine.inspectVolume(spec.name);
          throw new AppError('conflict', `volume "${spec.name}" already exists on this worker`);
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
        await engine.createVolume(spec);
        return { created: true };
      },
      'volume.remove': async ({ name }) => {
        try {
          await engine.inspectVolume(name);
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
        const users = (await engine.listContainers({ all: true })).filter((c) =>
          c.volumeNames.includes(name),
        );
        if (users.length > 0)
          throw new AppError(
            'conflict',
            `volume "${name}" is used by container ${users.map((c) => `"${c.name}"`).join(', ')}; it is kept`,
            { details: { containers: users.map((c) => c.name) } },
          );
        // Not forced: forcing makes the Engine forget a volume whose driver fails to remove it, data left behind.
        try {
          await engine.removeVolume(name);
          return { removed: true };
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
      },
      'network.create': async ({ spec }) => {
        const id = await engine.createNetwork(spec);
        return { id, created: true };
      },
      'network.remove': async ({ ref }) => {
        try {
          await engine.removeNetwork(ref);
          return { removed: true };
        } catch (error) {
          if (isNotFound(error)) return { removed: false };
          throw error;
        }
      },
      'transfer.receive': (args, context) => this.receive(args, context),
      'transfer.send': (args, context) => this.send(args, context),
    };
  }

  run<K extends WorkerCommandKind>(
    kind: K,
    args: CommandArgs<K>,
    context: CommandContext,
  ): Promise<CommandResultOf<K>> {
    const handler = this.handlers[kind] as (
      args: CommandArgs<K>,
      context: CommandContext,
    ) => Promise<CommandResultOf<K>>;
    return handler(args, context);
  }

  /** Writes an incoming transfer into the resource the grant names; the transfer checks its digest at the end. */
  private async consume(
    args: CommandArgs<'transfer.receive'>,
    grant: TransferGrant,
    incoming: IncomingTransfer,
    context: CommandContext,
  ): Promise<CommandResultOf<'transfer.receive'>> {
    const { signal } = context;
    const { resource, update } = args;
    const { copies } = this.options;
    if (resource.type === 'manifest') {
      if (args.into === undefined)
        throw new AppError('invalid_argument', 'a volume description must name the sync session it is for');
      const description = await readAll(incoming.data, MAX_DESCRIPTION_BYTES, resource.name);
      // Checked against the sender's digest before it is used.
      const finished = await incoming.finish();
      const merged = await copies.adoptBase(description, args.into, {
        workerId: grant.sourceWorkerId,
        volume: resource.name,
      });
      return { ...finished, merged };
    }
    if (resource.type === 'volume' && update) {
      // Withdrawn before the first change; described again (and kept) once the final round is on disk.
      const previous = await copies.beforeUpdate(resource.name, update.identity);
      const { applied, verified } = await this.options.volumes.update(resource.name, incoming.data, {
        fsync: update.fsync,
        describe: update.describe !== undefined,
        ...(previous ? { described: previous } : {}),
        signal,
      });
      const finished = await incoming.finish();
      // Described again without reading file contents: the files this round wrote or patched by the digests taken
      // as they were written or checked, the others from the earlier description where their stat has not moved.
      if (update.describe)
        await copies.afterUpdate(
          resource.name,
          {
            migrationId: update.describe.migrationId,
            sourceWorkerId: grant.sourceWorkerId,
            sourceVolume: update.describe.sourceVolume,
          },
          { previous, verified },
          signal,
          (bytes) => {
            context.progress({ bytes, totalBytes: 0 });
          },
        );
      return { ...finished, applied };
    }
    if (resource.type === 'volume') {
      await copies.withdraw(resource.name);
      await this.options.volumes.write(resource.name, incoming.data, signal);
    } else
      await loadGrantedImage(this.options.engine, incoming.data, {
        imageId: resource.name,
        tags: resource.tags ?? [],
      });
    return incoming.finish();
  }

  /**
   * The receive command must agree with the grant it carries (signed by the master's CA, for this worker): the
   * resource, and for an image its exact target tags, which decide what the load may name here.
   */
  private checkReceiveGrant(args: CommandArgs<'transfer.receive'>): TransferGrant {
    const identity = this.options.identity();
    const grant = verifyGrant(args.grant, {
      ca: identity.caPem,
      transferId: args.transferId,
      expect: { targetWorkerId: identity.workerId },
    });
    if (args.resource.type === 'image' && args.resource.tags === undefined)
      throw new AppError('invalid_argument', 'an image transfer must name the tags the image carries here');
    if (!sameResource(grant.resource, args.resource))
      throw new AppError(
        'permission_denied',
        `transfer refused: the grant is for ${describeResource(grant.resource)}, the command names ${describeResource(args.resource)}`,
      );
    return grant;
  }

  private async receive(
    args: CommandArgs<'transfer.receive'>,
    context: CommandContext,
  ): Promise<TransferResult> {
    const grant = this.checkReceiveGrant(args);
    if (args.update && args.resource.type !== 'volume')
      throw new AppError('invalid_argument', 'only a volume can be updated by a sync round');
    const consume = (incoming: IncomingTransfer): Promise<CommandResultOf<'transfer.receive'>> =>
      this.consume(args, grant, incoming, context);
    if (args.route === 'direct') {
      return this.options.inbox.expect(args.transferId, consume, {
        timeoutMs: SENDER_WAIT_MS,
        signal: context.signal,
        resource: args.resource,
      });
    }
    // Relayed: this worker dials the master's relay and takes the bytes from there.
    const socket = await connectBulk({
      address: this.relayAddress(args.relayPort),
      identity: this.options.identity(),
      commonName: MASTER_COMMON_NAME,
      peer: 'the master’s relay',
      signal: context.signal,
    });
    try {
      const reader = new FrameReader(socket);
      socket.write(
        encodeControl(FRAME.hello, { v: 1, transferId: args.transferId, grant: args.grant, role: 'receive' }),
      );
      const answer = await reader.control('the relay accepted the transfer', context.signal);
      if (answer.type !== FRAME.accept)
        throw new AppError('invalid_argument', 'the relay answered something else than accept');
      return await receiveTransfer({ socket, reader, accept: false, consume, signal: context.signal });
    } catch (error) {
      socket.destroy();
      if (context.signal.aborted) throw new AppError('canceled', 'the transfer was cancelled');
      throw AppError.from(error);
    }
  }

  /** The master's relay: the host this worker reaches the (leading) master at, on the relay's port. */
  private relayAddress(relayPort: number | undefined): string {
    if (relayPort === undefined)
      throw new AppError('failed_precondition', 'the master named no relay port for a relayed transfer');
    const master = this.options.connectedMaster?.() ?? this.options.identity().masterUrls[0] ?? '';
    const { host } = hostPort(master);
    return `${host.includes(':') ? `[${host}]` : host}:${String(relayPort)}`;
  }

  private async send(
    args: CommandArgs<'transfer.send'>,
    context: CommandContext,
  ): Promise<CommandResultOf<'transfer.send'>> {
    const identity = this.options.identity();
    // Before anything is read: a worker without the zstd add-on refuses a compressed transfer in words.
    const codec = senderCodec(args.compression);
    let data: AsyncIterable<Uint8Array>;
    let skipped: (() => number) | undefined;
    /** Progress in volume bytes (holes included) where the reader counts them, else in bytes sent. */
    let covered: (() => number) | undefined;
    /** A sync round: what to keep once the receiver confirmed it, and what to answer. */
    let round: { confirm: () => Promise<VolumeSyncSent> } | undefined;
    let described: VolumeBaseDescribed | undefined;
    if (args.resource.type === 'manifest') {
      // Described once the receiver is connected: a volume with no kept description is read whole first, which may
      // take longer than a receiver waits for its sender; the bytes described so far are the progress meanwhile.
      const { copies } = this.options;
      const volume = args.resource.name;
      let describing = 0;
      covered = () => describing;
      data = (async function* describeCopy() {
        const description = await copies.describe(
          volume,
          context.signal,
          (bytes) => {
            describing = bytes;
            context.progress({ bytes, totalBytes: 0 });
          },
          args.replacing,
        );
        described = description.described;
        yield description.manifest;
      })();
    } else if (args.resource.type === 'volume' && args.sync) {
      const sync = args.sync;
      const volume = args.resource.name;
      const sessions = this.options.syncSessions;
      const base = await sessions.base(sync.session, volume);
      const roundStartNs = BigInt(Date.now()) * 1_000_000n;
      // A session seeded with the target's description (incremental) has had no round yet: this is its first.
      const firstRoundStartNs = base !== undefined && base.rounds > 0 ? base.firstRoundStartNs : roundStartNs;
      const packed = await this.options.volumes.readChanges(volume, {
        roundStartNs,
        ...(base ? { base: base.manifest } : {}),
        ...(sync.final && base ? { hot: hotPaths(base.manifest, firstRoundStartNs, roundStartNs) } : {}),
        ...(sync.resend?.length ? { resend: new Set(sync.resend) } : {}),
        signal: context.signal,
      });
      data = packed.stream;
      covered = () => packed.covered();
      round = {
        confirm: async () => {
          const { manifest, stats } = await packed.done;
          await sessions.confirm(sync.session, volume, manifest, roundStartNs);
          if (sync.final && sync.keep)
            await this.options.copies.keepSent(
              volume,
              { workerId: args.targetWorkerId, volume: sync.keep.targetVolume },
              { migrationId: sync.session, sourceWorkerId: identity.workerId, sourceVolume: volume },
              keptAsSent(manifest, roundStartNs),
            );
          const nowNs = BigInt(Date.now()) * 1_000_000n;
          let hotBytes = 0;
          for (const path of hotPaths(manifest, firstRoundStartNs, nowNs))
            hotBytes += manifest.get(path)?.size ?? 0;
          return {
            walked: stats.walked,
            filesRead: stats.reread,
            bytesRead: stats.bytesRead,
            hotBytes,
            wholeFiles: stats.whole,
            patchedFiles: stats.patched,
            deletions: stats.deletions,
            dirty: stats.dirty,
          };
        },
      };
    } else if (args.resource.type === 'volume') {
      const read = await this.options.volumes.readCounted(args.resource.name, context.signal);
      data = read.stream;
      covered = read.covered;
    } else {
      // Saved once, by id: exactly the granted image, whatever its tags here; the receiver applies the granted tags.
      const forSend = await saveImageForSend(this.options.engine, args.resource.name, args.skipLayers ?? 0);
      data = forSend.stream;
      skipped = () => forSend.skippedBytes();
    }
    const progress = throttled((bytes) => {
      context.progress({ bytes: covered ? covered() : bytes, totalBytes: 0 });
    });
    const direct = args.route === 'direct';
    const peer = direct ? `the receiving worker at ${args.targetAddress}` : 'the master’s relay';
    const socket = await connectBulk({
      address: direct ? args.targetAddress : this.relayAddress(args.relayPort),
      identity,
      commonName: direct ? args.targetWorkerId : MASTER_COMMON_NAME,
      peer,
      signal: context.signal,
    });
    const result = await sendTransfer({
      socket,
      hello: { v: 1, transferId: args.transferId, grant: args.grant, role: 'send' },
      data,
      signal: context.signal,
      onBytes: progress.update,
      codec,
      peer: direct ? `worker ${args.targetWorkerId} at ${args.targetAddress}` : 'the master’s relay',
    });
    progress.flush();
    return {
      ...result,
      ...(skipped ? { skippedBytes: skipped() } : {}),
      ...(covered ? { coveredBytes: covered() } : {}),
      ...(round ? { sync: await round.confirm() } : {}),
      ...(described ? { described } : {}),
    };
  }
}
