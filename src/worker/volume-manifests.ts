// The sidecar manifests a worker keeps of the volume copies it received, outside the volumes themselves, so that a
// later migration of the same volume (the incremental strategy) sends only what changed since.
//
// One file per volume under `<data dir>/volume-manifests/`: a JSON header line, then the manifest's bytes. A manifest
// is trusted only for the very volume it was written for (same name and same folder: a volume removed and created
// again under its name is another volume), and only when the copy it describes was complete: it is
// withdrawn before a copy starts changing the volume, and written again (atomically) once the copy is whole.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { AppError } from '../core/errors.js';

/** The volume a manifest belongs to. */
export interface ManifestedVolume {
  name: string;
  /**
   * What tells this volume from an earlier one of the same name (removed, then made again): its folder's device,
   * inode and birth time. Not the Engine's CreatedAt, which a local volume's folder changes whenever it is mounted.
   */
  identity: string;
}

/** Where the copy came from; kept with the manifest so that a later migration can tell it is the same lineage. */
export interface ManifestOrigin {
  migrationId: string;
  sourceWorkerId: string;
  sourceVolume: string;
}

export interface StoredManifest {
  origin: ManifestOrigin;
  /** ISO 8601 time the copy was completed. */
  savedAt: string;
  manifest: Buffer;
}

interface Header extends ManifestOrigin {
  version: 1;
  volume: string;
  identity: string;
  savedAt: string;
}

const FOLDER = 'volume-manifests';
const SUFFIX = '.manifest';
/** A withdrawn manifest's name: the manifest's, with this after it. */
const WITHDRAWN = '.withdrawn';

/**
 * A file name for a volume name: readable, and unique however the name is spelled (Docker allows [a-zA-Z0-9_.-],
 * but a file name must not be "." or "..", and case may not matter on some filesystems).
 */
function fileName(volume: string): string {
  const readable = volume.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
  const hash = createHash('sha256').update(volume).digest('hex').slice(0, 16);
  return `${readable}-${hash}${SUFFIX}`;
}

export class VolumeManifests {
  private readonly folder: string;

  /** `folder`: another store under the data dir (a source keeps what it sent in its own). */
  constructor(dataDir: string, folder = FOLDER) {
    this.folder = join(dataDir, folder);
  }

  private path(volume: string): string {
    return join(this.folder, fileName(volume));
  }

  /**
   * The manifest of the copy this worker holds as `volume`, or undefined when there is none it can trust: never
   * written, withdrawn by a copy that did not finish, or written for an earlier volume of the same name.
   */
  async read(volume: ManifestedVolume): Promise<StoredManifest | undefined> {
    return this.readFrom(this.path(volume.name), volume);
  }

  /**
   * The manifest withdrawn last from `volume` (see withdraw): no longer a description of the copy to trust as such,
   * but still one to reuse per file where the file's stat has not moved since.
   */
  async readWithdrawn(volume: ManifestedVolume): Promise<StoredManifest | undefined> {
    return this.readFrom(`${this.path(volume.name)}${WITHDRAWN}`, volume);
  }

  private async readFrom(path: string, volume: ManifestedVolume): Promise<StoredManifest | undefined> {
    let content: Buffer;
    try {
      content = await readFile(path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AppError('internal', `cannot read the manifest of volume "${volume.name}": ${String(error)}`);
    }
    const newline = content.indexOf(0x0a);
    if (newline < 0) return undefined;
    let header: Partial<Header>;
    try {
      header = JSON.parse(content.subarray(0, newline).toString('utf8')) as Partial<Header>;
    } catch {
      return undefined; // not ours, or damaged: as good as none
    }
    const { migrationId, sourceWorkerId, sourceVolume, savedAt } = header;
    if (
      header.version !== 1 ||
      header.volume !== volume.name ||
      header.identity !== volume.identity ||
      migrationId === undefined ||
      sourceWorkerId === undefined ||
      sourceVolume === undefined ||
      savedAt === undefined
    )
      return undefined;
    return {
      origin: { migrationId, sourceWorkerId, sourceVolume },
      savedAt,
      manifest: content.subarray(newline + 1),
    };
  }

  /**
   * Withdraws the manifest of `volume` before its content changes: should the copy then stop half-way, no manifest
   * claims a state the volume is not in. Durable when it returns.
   */
  async withdraw(volume: string): Promise<void> {
    const path = this.path(volume);
    try {
      await rename(path, `${path}${WITHDRAWN}`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return;
    }
    await this.syncFolder();
  }

  /** Keeps `manifest` as the description of the complete copy `volume` now holds: all of it, or nothing, on disk. */
  async write(
    volume: ManifestedVolume,
    origin: ManifestOrigin,
    manifest: Buffer,
    now = new Date(),
  ): Promise<void> {
    await mkdir(this.folder, { recursive: true, mode: 0o700 });
    const header: Header = {
      version: 1,
      volume: volume.name,
      identity: volume.identity,
      savedAt: now.toISOString(),
      ...origin,
    };
    const path = this.path(volume.name);
    const temp = `${path}.tmp-${String(process.pid)}`;
    const file = await open(temp, 'w', 0o600);
    try {
      await file.writeFile(Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), manifest]));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    await rm(`${path}${WITHDRAWN}`, { force: true });
    await this.syncFolder();
  }

  /** Removes what a crash left half-written (temporary files); called when the worker starts. */
  async clean(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch {
      return;
    }
    for (const name of names.filter((n) => n.includes(`${SUFFIX}.tmp-`)))
      await rm(join(this.folder, name), { force: true });
  }

  private async syncFolder(): Promise<void> {
    let folder;
    try {
      folder = await open(this.folder, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}
