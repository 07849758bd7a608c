// How much a volume holds, found without reading a byte of it: its folder walked with lstat when this worker can
// reach it, else the Engine's /system/df figure. Answers are cached briefly (a dry run and its start ask twice).
import { constants } from 'node:fs';
import { access, lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../core/errors.js';
import type { DockerEngine } from '../core/ports.js';
import { volumeContentOf } from '../core/volume-options.js';
import type { VolumeMeasure } from '../core/worker-commands.js';

/** How long a measurement is reused: long enough for a dry run and the start that follows it. */
export const MEASURE_TTL_MS = 30_000;
/** Folders read at once: lstat calls go to libuv's thread pool, so a few in flight keep it busy. */
const WALK_CONCURRENCY = 8;

type MeasuringEngine = Pick<DockerEngine, 'inspectVolume' | 'listVolumes'>;

/** What a walk of a folder found. */
export interface WalkFigures {
  apparentBytes: number;
  allocatedBytes: number;
  files: number;
}

/** Bytes st_blocks counts in: POSIX fixes the unit at 512 whatever the file system's block size. */
const STAT_BLOCK = 512;

/**
 * Walks `root` with lstat only (symlinks are not followed, nothing is opened but folders): the apparent bytes of its
 * regular files, the bytes its files and folders take on disk, and how many regular files it has. A file with
 * several hard links counts once, as the copy sends it once. Entries that vanish during the walk are skipped.
 */
export async function walkFolder(root: string, signal?: AbortSignal): Promise<WalkFigures> {
  const figures: WalkFigures = { apparentBytes: 0, allocatedBytes: 0, files: 0 };
  const seenLinks = new Set<string>();
  const rootStats = await lstat(root);
  figures.allocatedBytes += rootStats.blocks * STAT_BLOCK;
  const pending: string[] = [root];
  let active = 0;

  async function readFolder(folder: string): Promise<void> {
    let dir;
    try {
      dir = await opendir(folder);
    } catch (error) {
      if (vanished(error)) return;
      throw error;
    }
    for await (const entry of dir) {
      signal?.throwIfAborted();
      const path = join(folder, entry.name);
      let stats;
      try {
        stats = await lstat(path);
      } catch (error) {
        if (vanished(error)) continue;
        throw error;
      }
      if (stats.isFile() && stats.nlink > 1) {
        const key = `${stats.dev}:${stats.ino}`;
        if (seenLinks.has(key)) continue;
        seenLinks.add(key);
      }
      figures.allocatedBytes += stats.blocks * STAT_BLOCK;
      if (stats.isFile()) {
        figures.apparentBytes += stats.size;
        figures.files += 1;
      } else if (stats.isDirectory()) {
        pending.push(path);
      }
    }
  }

  // A small pool of folder readers: each takes the next folder until none is left and none is being read.
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const pump = (): void => {
      if (failed) return;
      while (active < WALK_CONCURRENCY && pending.length > 0) {
        const folder = pending.pop() as string;
        active += 1;
        readFolder(folder).then(
          () => {
            active -= 1;
            pump();
          },
          (error: unknown) => {
            failed = true;
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      }
      if (active === 0 && pending.length === 0) resolve();
    };
    pump();
  });
  return figures;
}

function vanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function readable(path: string): Promise<boolean> {
  try {
    await access(path, constants.R_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface CacheEntry {
  at: number;
  answer: Promise<VolumeMeasure>;
}

/**
 * Measures the volumes of one engine, remembering each answer for `ttlMs`. Callers asking at the same time share
 * one walk. A failed measurement is not remembered.
 */
export class VolumeMeasurer {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly engine: MeasuringEngine,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? MEASURE_TTL_MS;
    this.now = options.now ?? Date.now;
  }

  measure(name: string, signal?: AbortSignal): Promise<VolumeMeasure> {
    const at = this.now();
    const cached = this.cache.get(name);
    if (cached && at - cached.at < this.ttlMs) return cached.answer;
    const answer = this.measureNow(name, at, signal);
    const entry = { at, answer };
    this.cache.set(name, entry);
    answer.catch(() => {
      if (this.cache.get(name) === entry) this.cache.delete(name);
    });
    return answer;
  }

  private async measureNow(name: string, at: number, signal?: AbortSignal): Promise<VolumeMeasure> {
    const volume = await this.engine.inspectVolume(name);
    const measuredAt = new Date(at).toISOString();
    if (volume.driver !== 'local')
      return this.fromEngine(
        name,
        measuredAt,
        `volumes of the "${volume.driver}" driver live with their driver`,
      );
    const content = volumeContentOf(volume.options);
    let folder: string | undefined;
    switch (content.kind) {
      case 'docker_root':
        folder = volume.mountpoint;
        break;
      case 'host_path':
        folder = content.device;
        break;
      case 'network_share':
      case 'tmpfs':
      case 'device':
        // Mounted onto the mountpoint only while a container uses it: the folder (and so /system/df) says nothing.
        return unknown(
          measuredAt,
          `its content is on a ${content.kind.replace('_', ' ')}, not measured from here`,
        );
    }
    if (folder && (await readable(folder))) {
      const figures = await walkFolder(folder, signal);
      return { ...figures, method: 'walk', measuredAt };
    }
    return this.fromEngine(
      name,
      measuredAt,
      `its folder ${folder ?? '(none)'} cannot be read from this worker`,
    );
  }

  /**
   * The Engine's own figure: /system/df walks the folder too (apparent bytes, hard links once), but for every
   * volume at once, so it is only the fallback when this worker cannot reach the folder itself.
   */
  private async fromEngine(name: string, measuredAt: string, why: string): Promise<VolumeMeasure> {
    const listed = await this.engine.listVolumes({ sizes: true });
    const size = listed.find((volume) => volume.name === name)?.size;
    if (size === undefined || size === null)
      return unknown(measuredAt, `${why}, and the Engine does not know`);
    return {
      apparentBytes: size,
      allocatedBytes: null,
      files: null,
      method: 'engine',
      reason: `${why}; the Engine's disk usage figure is used`,
      measuredAt,
    };
  }
}

function unknown(measuredAt: string, reason: string): VolumeMeasure {
  return { apparentBytes: null, allocatedBytes: null, files: null, method: 'unknown', reason, measuredAt };
}

const measurers = new WeakMap<MeasuringEngine, VolumeMeasurer>();

/** The worker's `volume.measure` command: one cache per engine, shared by every command on it. */
export function measureVolume(
  engine: MeasuringEngine,
  args: { name: string },
  signal?: AbortSignal,
): Promise<VolumeMeasure> {
  if (args.name === '') throw new AppError('invalid_argument', 'volume.measure needs a volume name');
  let measurer = measurers.get(engine);
  if (!measurer) {
    measurer = new VolumeMeasurer(engine);
    measurers.set(engine, measurer);
  }
  return measurer.measure(args.name, signal);
}
