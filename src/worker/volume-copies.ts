// What a worker keeps of the volume copies it made or received, for the incremental strategy: as a target, a
// description of each copy it holds (a sidecar manifest, outside the volume); as a source, what it last sent to each
// target's copy. A later migration of the same volume then moves only what differs (see volume-sync-base.ts).
import { AppError } from '../core/errors.js';
import { VOLUME_COPY_LABEL, VOLUME_SOURCE_LABEL } from '../core/migration.js';
import type { DockerEngine } from '../core/ports.js';
import type { VolumeBaseDescribed, VolumeBaseMerged } from '../core/worker-commands.js';
import { parseManifest, serializeManifest } from '../transfer/volume-manifest.js';
import type { Manifest, ManifestEntry } from '../transfer/volume-manifest.js';
import type { KnownContent } from '../transfer/volume-sync-apply.js';
import { holdsWhatWasSent, mergeBase } from '../transfer/volume-sync-base.js';
import type { SyncSessions } from './sync-sessions.js';
import type { VolumeAccess } from './volume-access.js';
import { VolumeManifests, type ManifestOrigin } from './volume-manifests.js';

/** The name what was sent is kept under: one per source volume, target worker and target volume. */
function sentKey(sourceVolume: string, targetWorkerId: string, targetVolume: string): string {
  return `${sourceVolume} to ${targetWorkerId}/${targetVolume}`;
}

/** A kept manifest, or none when it cannot be read (damaged, or from another version): as if nothing was kept. */
async function parseKept(data: Buffer): Promise<Manifest | undefined> {
  try {
    return await parseManifest(data);
  } catch {
    return undefined;
  }
}

/** Entries added, changed or removed between two descriptions of the same copy. */
function differences(before: Manifest, now: Manifest): number {
  let count = 0;
  for (const [path, entry] of now) {
    const earlier: ManifestEntry | undefined = before.get(path);
    if (earlier === undefined || !holdsWhatWasSent(earlier, entry)) count += 1;
  }
  for (const path of before.keys()) if (!now.has(path)) count += 1;
  return count;
}

/** Container states in which nothing runs that could write to a volume. */
const STOPPED: ReadonlySet<string> = new Set(['created', 'exited', 'dead']);

export class VolumeCopies {
  private readonly received: VolumeManifests;
  private readonly sent: VolumeManifests;

  constructor(
    private readonly engine: DockerEngine,
    private readonly volumes: VolumeAccess,
    private readonly sessions: SyncSessions,
    dataDir: string,
  ) {
    this.received = new VolumeManifests(dataDir);
    this.sent = new VolumeManifests(dataDir, 'sent-manifests');
  }

  /** Removes what a crash left half-written; called when the worker starts. */
  async clean(): Promise<void> {
    await this.received.clean();
    await this.sent.clean();
  }

  private identity(volume: string): Promise<string> {
    return this.volumes.identity(volume);
  }

  /**
   * The target's side: a description of the copy `volume` holds (its files' stats and digests), reusing the kept
   * one for files whose stat has not moved since, and how much changed since a migration made or updated it; its
   * folder's identity, for the sync to check it still writes into the copy described. Refused while a container
   * uses the volume: its content would change under it — unless that container is stopped and among `replacing`,
   * the containers the migration replaces. `report` hears the bytes described so far, every second.
   */
  async describe(
    volume: string,
    signal: AbortSignal,
    report?: (bytes: number) => void,
    replacing: readonly string[] = [],
  ): Promise<{ manifest: Buffer; described: VolumeBaseDescribed }> {
    const users = (await this.engine.listContainers({ all: true })).filter(
      (c) => c.volumeNames.includes(volume) && !(STOPPED.has(c.state) && replacing.includes(c.name)),
    );
    if (users.length > 0)
      throw new AppError(
        'conflict',
        `volume "${volume}" is used by container ${users.map((c) => `"${c.name}"`).join(', ')} here: an incremental sync does not change a volume under a container`,
        { details: { containers: users.map((c) => c.name) } },
      );
    const identity = await this.identity(volume);
    const kept = await this.received.read({ name: volume, identity });
    const before = kept ? await parseKept(kept.manifest) : undefined;
    // Without a description to trust, the last one withdrawn still spares reading the files unchanged since.
    const reuse = before ?? (await this.withdrawnOf(volume, identity));
    const packed = await this.volumes.readChanges(volume, { ...(reuse ? { base: reuse } : {}), signal });
    const ticker = report
      ? setInterval(() => {
          report(packed.covered());
        }, 1000)
      : undefined;
    let result: Awaited<typeof packed.done>;
    try {
      packed.stream.resume();
      result = await packed.done;
    } finally {
      clearInterval(ticker);
    }
    const { manifest, stats } = result;
    const changedSinceCopy = before ? differences(before, manifest) : null;
    const serialized = await serializeManifest(manifest);
    // Kept as the copy's description from now on: the files re-read are then known by their stat again, a patch of
    // a file unchanged since is checked by reading only what it writes, and what changes here from now on is seen.
    // A copy that changed since its description keeps the old one, so that it is refused again until someone
    // decides.
    if (changedSinceCopy === null || changedSinceCopy === 0)
      await this.received.write(
        { name: volume, identity },
        kept?.origin ?? (await this.originOf(volume)),
        serialized,
      );
    return {
      manifest: serialized,
      described: {
        entries: manifest.size,
        filesRead: stats.reread,
        bytesRead: stats.bytesRead,
        changedSinceCopy,
        identity,
        ...(kept ? { madeBy: kept.origin.migrationId } : {}),
      },
    };
  }

  /** The last withdrawn description of `volume`, when it was for this very volume and can be read. */
  private async withdrawnOf(volume: string, identity: string): Promise<Manifest | undefined> {
    const withdrawn = await this.received.readWithdrawn({ name: volume, identity });
    return withdrawn ? parseKept(withdrawn.manifest) : undefined;
  }

  /** Where a copy came from, as the labels a migration gave it say (a copy described for the first time). */
  private async originOf(volume: string): Promise<ManifestOrigin> {
    const { labels } = await this.engine.inspectVolume(volume);
    const source = labels[VOLUME_SOURCE_LABEL] ?? '';
    const slash = source.indexOf('/');
    return {
      migrationId: labels[VOLUME_COPY_LABEL] ?? '',
      sourceWorkerId: slash > 0 ? source.slice(0, slash) : '',
      sourceVolume: slash > 0 ? source.slice(slash + 1) : '',
    };
  }

  /**
   * The source's side: the target's description of its copy (received and checked), merged with what this worker
   * last sent to that copy, becomes the base of the session's first round for `volume`.
   */
  async adoptBase(
    data: Buffer,
    into: { session: string; volume: string },
    target: { workerId: string; volume: string },
  ): Promise<VolumeBaseMerged> {
    const described = await parseManifest(data);
    const kept = await this.sent.read({
      name: sentKey(into.volume, target.workerId, target.volume),
      identity: await this.identity(into.volume),
    });
    const { base, trusted, compared } = mergeBase(
      described,
      kept ? await parseKept(kept.manifest) : undefined,
    );
    await this.sessions.seed(into.session, into.volume, base);
    return { trusted, compared };
  }

  /** The source's side, after a final round: keeps what it sent as what `targetVolume` on that worker holds. */
  async keepSent(
    volume: string,
    target: { workerId: string; volume: string },
    origin: ManifestOrigin,
    manifest: Manifest,
  ): Promise<void> {
    await this.sent.write(
      { name: sentKey(volume, target.workerId, target.volume), identity: await this.identity(volume) },
      origin,
      await serializeManifest(manifest),
    );
  }

  /**
   * The target's side, before a sync round changes `volume`: checks it is still the copy described at the start
   * (`identity`) and that no running container uses it; withdraws its description (a copy stopped half-way is then
   * described by nothing); answers the latest description, withdrawn or not, for the round to check patches by and
   * for the description made after the final round to reuse — both only where a file's stat has not moved.
   */
  async beforeUpdate(volume: string, identity?: string): Promise<Manifest | undefined> {
    const current = await this.identity(volume);
    if (identity !== undefined && identity !== current)
      throw new AppError(
        'conflict',
        `volume "${volume}" here is not the copy described at the start of this migration (it was removed and made again since); nothing was changed in it`,
      );
    const running = (await this.engine.listContainers({ all: true })).filter(
      (c) => c.state === 'running' && c.volumeNames.includes(volume),
    );
    if (running.length > 0)
      throw new AppError(
        'conflict',
        `volume "${volume}" is used by running container ${running.map((c) => `"${c.name}"`).join(', ')} here: it is not changed under it`,
      );
    const kept = await this.received.read({ name: volume, identity: current });
    await this.received.withdraw(volume);
    return kept ? parseKept(kept.manifest) : this.withdrawnOf(volume, current);
  }

  /** Withdraws the description of `volume`: its content is about to be replaced (a full copy, set aside, restored). */
  async withdraw(volume: string): Promise<void> {
    await this.received.withdraw(volume);
  }

  /**
   * The target's side, after the final round applied: describes the copy `volume` now holds and keeps that
   * description for the next incremental sync. Read again are only the files whose stat moved since `previous` and
   * whose content the round did not verify (`verified`: the patched files, digested as they were checked).
   */
  async afterUpdate(
    volume: string,
    origin: ManifestOrigin,
    known: { previous: Manifest | undefined; verified: Map<string, KnownContent> | undefined },
    signal: AbortSignal,
    report?: (bytes: number) => void,
  ): Promise<void> {
    const packed = await this.volumes.readChanges(volume, {
      ...(known.previous ? { base: known.previous } : {}),
      ...(known.verified ? { known: known.verified } : {}),
      signal,
    });
    const ticker = report
      ? setInterval(() => {
          report(packed.covered());
        }, 1000)
      : undefined;
    let manifest: Manifest;
    try {
      packed.stream.resume();
      manifest = (await packed.done).manifest;
    } finally {
      clearInterval(ticker);
    }
    await this.received.write(
      { name: volume, identity: await this.identity(volume) },
      origin,
      await serializeManifest(manifest),
    );
  }
}
