// What a sending worker remembers between the copy rounds of one volume (a warm migration's pre-copy rounds and
// its final round): the manifest of what the receiver holds after the last round it confirmed, and when the first
// round started. Kept on disk under `<data dir>/sync-sessions/<session>/`, so that a worker restarted between two
// rounds goes on from where it was rather than sending everything again.
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { AppError } from '../core/errors.js';
import { loadManifest, saveManifest } from '../transfer/volume-manifest.js';
import type { Manifest } from '../transfer/volume-manifest.js';

const FOLDER = 'sync-sessions';
/** Sessions are ids the master makes (its migration ids): letters, digits and dashes. */
const SESSION_ID = /^[a-zA-Z0-9][a-zA-Z0-9-]{0,63}$/;

interface VolumeState {
  /** When the session's first round of this volume started (ns since the epoch, as a decimal string). */
  firstRoundStartNs: string;
  /** Rounds the receiver confirmed. */
  rounds: number;
}

export interface SyncBase {
  manifest: Manifest;
  firstRoundStartNs: bigint;
  rounds: number;
}

function volumeKey(volume: string): string {
  return createHash('sha256').update(volume).digest('hex').slice(0, 32);
}

export class SyncSessions {
  private readonly folder: string;

  constructor(dataDir: string) {
    this.folder = join(dataDir, FOLDER);
  }

  private sessionFolder(session: string): string {
    if (!SESSION_ID.test(session))
      throw new AppError('invalid_argument', `invalid sync session id "${session}"`);
    return join(this.folder, session);
  }

  /** What the receiver holds of `volume` after the last confirmed round of `session`; undefined before round 1. */
  async base(session: string, volume: string): Promise<SyncBase | undefined> {
    const prefix = join(this.sessionFolder(session), volumeKey(volume));
    const state = await this.state(prefix, volume);
    if (state === undefined) return undefined;
    return {
      manifest: await loadManifest(`${prefix}.manifest`),
      firstRoundStartNs: BigInt(state.firstRoundStartNs),
      rounds: state.rounds,
    };
  }

  /**
   * Keeps `manifest` as what the receiver holds once it confirmed a round. The manifest is written before the state
   * that points at the round, so that a crash in between leaves the previous round's base, which is safe (see
   * volume-sync-pack.ts: what a later round sends from an older base is a superset).
   */
  async confirm(session: string, volume: string, manifest: Manifest, roundStartNs: bigint): Promise<void> {
    const prefix = await this.volumePrefix(session, volume);
    // The state alone: the previous manifest (megabytes for a large volume) is not needed to count rounds.
    const previous = await this.state(prefix, volume);
    await this.save(prefix, manifest, {
      // A seeded session (rounds 0) starts its first round now.
      firstRoundStartNs:
        previous !== undefined && previous.rounds > 0 ? previous.firstRoundStartNs : String(roundStartNs),
      rounds: (previous?.rounds ?? 0) + 1,
    });
  }

  /**
   * Starts `session` for `volume` from `manifest` (an incremental sync: what the target already holds), as if a
   * round 0 had been confirmed; round 1 then sends only what differs from it, and is the session's first round.
   */
  async seed(session: string, volume: string, manifest: Manifest): Promise<void> {
    await this.save(await this.volumePrefix(session, volume), manifest, {
      firstRoundStartNs: '0',
      rounds: 0,
    });
  }

  /** Where `volume`'s files of `session` go (the session's folder made if needed), without their extension. */
  private async volumePrefix(session: string, volume: string): Promise<string> {
    const folder = this.sessionFolder(session);
    await mkdir(folder, { recursive: true, mode: 0o700 });
    return join(folder, volumeKey(volume));
  }

  /** The manifest, then the state that points at it (see confirm: a crash between them leaves the older base). */
  private async save(prefix: string, manifest: Manifest, state: VolumeState): Promise<void> {
    await saveManifest(`${prefix}.manifest`, manifest);
    await writeFile(`${prefix}.json.tmp`, JSON.stringify(state), { mode: 0o600 });
    await rename(`${prefix}.json.tmp`, `${prefix}.json`);
  }

  private async state(prefix: string, volume: string): Promise<VolumeState | undefined> {
    try {
      return JSON.parse(await readFile(`${prefix}.json`, 'utf8')) as VolumeState;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new AppError('internal', `cannot read the sync state of volume "${volume}": ${String(error)}`);
    }
  }

  /** Drops everything kept for `session` (the migration ended); true when there was something. */
  async forget(session: string): Promise<boolean> {
    const folder = this.sessionFolder(session);
    const existed = await stat(folder).then(
      () => true,
      () => false,
    );
    await rm(folder, { recursive: true, force: true });
    return existed;
  }

  /** Removes sessions untouched for `maxAgeMs` (a migration whose master never said it ended); on worker start. */
  async clean(maxAgeMs: number, now = Date.now()): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch {
      return;
    }
    for (const name of names) {
      const folder = join(this.folder, name);
      const info = await stat(folder).catch(() => undefined);
      if (info && now - info.mtimeMs > maxAgeMs) await rm(folder, { recursive: true, force: true });
    }
  }
}
