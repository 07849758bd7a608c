// Reading and writing a volume's content as a tar stream: straight from its mountpoint when this process can reach
// it (fast path: sparse files stay sparse), else through the Engine's archive API on a helper container made from
// an image the worker imports itself (there is no registry to pull one from).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { AppError } from '../core/errors.js';
import type { DockerEngine } from '../core/ports.js';
import type { VolumeSyncApplied } from '../core/worker-commands.js';
import { packDirectory, unpackToDirectory } from '../transfer/volume-archive.js';
import { packChanges } from '../transfer/volume-sync-pack.js';
import type { Manifest } from '../transfer/volume-manifest.js';
import type { SyncPackOptions, SyncPackResult } from '../transfer/volume-sync-pack.js';
import { TarReader } from '../transfer/volume-archive-reader.js';
import type { ArchiveEntry } from '../transfer/volume-archive-reader.js';
import type { KnownContent } from '../transfer/volume-sync-apply.js';
import { END_OF_ARCHIVE, encodeHeader } from '../transfer/volume-archive-tar.js';

/**
 * `auto`: the mountpoint when readable and writable here and the volume has no driver options, else the Engine; the
 * others force one path.
 */
export type VolumeAccessMode = 'auto' | 'mountpoint' | 'engine';

export const HELPER_IMAGE = 'docker-migrate/volume-helper:1';
export const HELPER_LABEL = 'docker-migrate.helper';
const HELPER_MOUNT = '/data';

async function reachable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK | constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function describeOptions(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([key, value]) => `${key}=${value}`)
    .join(', ');
}

/** A root filesystem with one empty folder: enough for a container that is created but never started. */
async function helperRootfs(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'data/', type: 'directory', mode: 0o755 });
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * Enough of an archive's start for its first entry: the root folder's PAX records (nanosecond times, extended
 * attributes such as a default ACL: a few KiB at most) and its header.
 */
const HEAD_BYTES = 256 * 1024;

/** Keeps the first bytes of a tar stream as it passes, to read its root folder's header afterwards. */
class ArchiveHead {
  private head = Buffer.alloc(0);

  async *tap(stream: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of stream) {
      if (this.head.length < HEAD_BYTES)
        this.head = Buffer.concat([this.head, Buffer.from(chunk).subarray(0, HEAD_BYTES - this.head.length)]);
      yield chunk;
    }
  }

  /** The first entry when it is the root folder ("./" or "."), with its PAX records applied. */
  async rootFolder(): Promise<ArchiveEntry | undefined> {
    const reader = new TarReader([this.head]);
    try {
      const first = await reader.next();
      return first?.type === 'directory' && (first.name === './' || first.name === '.') ? first : undefined;
    } catch {
      return undefined; // not a whole header in the head: the archive has no root entry we could use
    } finally {
      reader.stop();
    }
  }
}

/** A tar of one folder entry for the helper's mount point, seen from "/": the volume root's own metadata. */
function rootEntryTar(root: ArchiveEntry): Buffer {
  const header = encodeHeader({
    name: `${HELPER_MOUNT.slice(1)}/`,
    type: 'directory',
    mode: root.mode,
    uid: root.uid,
    gid: root.gid,
    mtime: root.mtime,
    ...(root.atime === undefined ? {} : { atime: root.atime }),
    xattrs: root.xattrs,
  });
  return Buffer.concat([header, END_OF_ARCHIVE]);
}

export class VolumeAccess {
  private helperImage: Promise<void> | undefined;

  constructor(
    private readonly engine: DockerEngine,
    private readonly mode: VolumeAccessMode,
  ) {}

  /**
   * Which path a volume's content takes here. A local volume with driver options (a bound host folder, an NFS or
   * CIFS share, tmpfs) is mounted onto its mountpoint only while a container uses it: the folder is empty otherwise,
   * so its content is reached through a helper container, which the Engine mounts it for.
   */
  async route(volume: string): Promise<{ via: 'mountpoint'; mountpoint: string } | { via: 'engine' }> {
    const info = await this.engine.inspectVolume(volume);
    if (this.mode === 'engine') return { via: 'engine' };
    const mounted = Object.keys(info.options).length > 0;
    if (info.driver === 'local' && !mounted && info.mountpoint && (await reachable(info.mountpoint)))
      return { via: 'mountpoint', mountpoint: info.mountpoint };
    if (this.mode === 'mountpoint' && mounted)
      throw new AppError(
        'failed_precondition',
        `volume "${volume}" has driver options (${describeOptions(info.options)}): its content is mounted only ` +
          'while a container uses it, so its mountpoint cannot be read from this worker',
        { hint: 'use --volume-access auto or engine' },
      );
    if (this.mode === 'mountpoint')
      throw new AppError(
        'failed_precondition',
        `cannot reach the mountpoint of volume "${volume}" (${info.mountpoint || 'none'}) from this worker`,
        { hint: 'run the worker on the Docker host as root, or use --volume-access auto' },
      );
    return { via: 'engine' };
  }

  private ensureHelperImage(): Promise<void> {
    this.helperImage ??= (async () => {
      try {
        await this.engine.inspectImage(HELPER_IMAGE);
      } catch (error) {
        if (AppError.from(error).code !== 'not_found') throw error;
        const rootfs = await helperRootfs();
        await this.engine.importImage(Readable.from([rootfs]), HELPER_IMAGE, {
          changes: [`LABEL ${HELPER_LABEL}=true`],
        });
      }
    })().catch((error: unknown) => {
      this.helperImage = undefined;
      throw error;
    });
    return this.helperImage;
  }

  private createHelper(volume: string, readOnly: boolean): Promise<string> {
    return this.engine.createContainerFromConfig(`docker-migrate-helper-${randomBytes(6).toString('hex')}`, {
      Image: HELPER_IMAGE,
      Cmd: ['/none'],
      Labels: { [HELPER_LABEL]: 'true' },
      HostConfig: { Binds: [`${volume}:${HELPER_MOUNT}${readOnly ? ':ro' : ''}`] },
    });
  }

  /** Runs `work` with a created (never started) helper container that mounts the volume, then removes it. */
  private async withHelper<T>(
    volume: string,
    readOnly: boolean,
    work: (container: string) => Promise<T>,
  ): Promise<T> {
    await this.ensureHelperImage();
    const id = await this.createHelper(volume, readOnly);
    try {
      return await work(id);
    } finally {
      await this.engine.removeContainer(id, { force: true }).catch(() => undefined);
    }
  }

  /**
   * The volume's content as a tar stream (entries "./path", as packDirectory writes them). The helper container,
   * if one is used, is removed when the stream ends or fails.
   *
   * What the Engine path cannot carry (Docker 20.10's GetArchive, pkg/archive): mtimes only to the whole second
   * (it truncates them, and sends no atimes), and of the extended attributes only security.capability — no user.*,
   * trusted.*, other security.* or POSIX ACLs. Holes are sent as zeros (the receiving end makes holes of them
   * again). Owners, modes, links and content arrive as they are. The mountpoint path carries all of it.
   */
  async read(volume: string, signal?: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
    return (await this.readCounted(volume, signal)).stream;
  }

  /**
   * read(), and how much of the volume the stream has covered so far (file sizes, holes included) where that is
   * known: from the mountpoint; through the Engine the archive's own bytes are the only measure.
   */
  async readCounted(
    volume: string,
    signal?: AbortSignal,
  ): Promise<{ stream: AsyncIterable<Uint8Array>; covered?: () => number }> {
    const route = await this.route(volume);
    if (route.via === 'mountpoint') {
      const packed = packDirectory(route.mountpoint, { signal });
      // A packing failure also destroys the stream, which is where the consumer sees it.
      packed.done.catch(() => undefined);
      return { stream: packed.stream, covered: () => packed.covered() };
    }
    return { stream: this.readViaEngine(volume, signal) };
  }

  // A generator keeps the helper container until the consumer has read everything (or stopped).
  private async *readViaEngine(volume: string, signal?: AbortSignal): AsyncGenerator<Uint8Array> {
    await this.ensureHelperImage();
    const container = await this.createHelper(volume, true);
    try {
      for await (const chunk of await this.engine.getArchive(container, `${HELPER_MOUNT}/.`)) {
        if (signal?.aborted) throw new AppError('canceled', 'the transfer was cancelled');
        yield chunk;
      }
    } finally {
      await this.engine.removeContainer(container, { force: true }).catch(() => undefined);
    }
  }

  /**
   * The folder of a volume that a sync round reads or updates in place: a round compares files with what the
   * receiver holds and patches them there, which the Engine's archive API (whole files only) cannot do.
   */
  private async syncFolder(volume: string, what: string): Promise<string> {
    const route = await this.route(volume);
    if (route.via === 'mountpoint') return route.mountpoint;
    throw new AppError(
      'failed_precondition',
      `volume "${volume}" can only be ${what} through the Engine on this worker, and a warm migration or an incremental sync needs its folder: ` +
        'run the worker on the Docker host, as root, with the volume in a local folder',
    );
  }

  /**
   * What tells this volume from an earlier one of the same name: its folder's device, inode and birth time (the
   * Engine's CreatedAt of a local volume moves whenever a container mounts it).
   */
  async identity(volume: string): Promise<string> {
    const folder = await this.syncFolder(volume, 'synced');
    const info = await stat(folder, { bigint: true });
    return `${String(info.dev)}:${String(info.ino)}:${String(info.birthtimeNs)}`;
  }

  /** What changed in the volume against `options.base` (everything without one), as a sync round's stream. */
  async readChanges(volume: string, options: SyncPackOptions): Promise<SyncPackResult> {
    const packed = packChanges(await this.syncFolder(volume, 'read'), options);
    packed.done.catch(() => undefined); // a failure also destroys the stream, where the consumer sees it
    return packed;
  }

  /** Applies a sync round's stream to the volume's content; answers what it changed and what it could not verify. */
  async update(
    volume: string,
    stream: AsyncIterable<Uint8Array>,
    options: { fsync: boolean; describe?: boolean; described?: Manifest; signal?: AbortSignal },
  ): Promise<{ applied: VolumeSyncApplied; verified?: Map<string, KnownContent> }> {
    const folder = await this.syncFolder(volume, 'written');
    const { sync } = await unpackToDirectory(folder, stream, {
      update: true,
      fsync: options.fsync,
      ...(options.describe === true ? { describe: true } : {}),
      ...(options.described ? { described: options.described } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const { verified, ...applied } = sync;
    return { applied, ...(verified ? { verified } : {}) };
  }

  /** Writes a tar stream (as read() produces) into the volume, which must exist. */
  async write(volume: string, tarStream: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const route = await this.route(volume);
    if (route.via === 'mountpoint') {
      await unpackToDirectory(route.mountpoint, tarStream, { signal });
      return;
    }
    const head = new ArchiveHead();
    await this.withHelper(volume, false, async (container) => {
      // The Engine applies what the archive holds: owners, modes, nanosecond times (PAX), extended attributes
      // (SCHILY.xattr.*, ACLs and file capabilities too) and GNU sparse files, which Go's archive/tar reads — but
      // Docker 20.10 writes their holes as zeros: the content is equal, the space is not saved.
      await this.engine.putArchive(container, HELPER_MOUNT, head.tap(tarStream));
      // The Engine skips the archive's root entry ("./") when it extracts into a folder, so the volume's own folder
      // would keep the helper's owner and mode: put its metadata on through an entry naming the mount point from "/".
      const root = await head.rootFolder();
      if (root) await this.engine.putArchive(container, '/', Readable.from([rootEntryTar(root)]));
    });
  }
}
