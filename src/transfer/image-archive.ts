// Ships a Docker image to another engine sending only the layers that engine lacks: a `docker save` stream is
// re-emitted with the layers the target already holds blanked, and `docker load` there rebuilds the same image.
import { createHash, type Hash } from 'node:crypto';
import { posix } from 'node:path';

import tar from 'tar-stream';
import type { Extract, Header, Pack } from 'tar-stream';

import { AppError } from '../core/errors.js';
import type { DockerEngine } from '../core/ports.js';
import { plural } from '../core/plural.js';

/** One layer of a saved image: the archive path of its tar and the diff id the image config names for it. */
export interface SavedLayer {
  path: string;
  diffId: string;
}

/** What a single-image `docker save` archive holds, read from its manifest.json and image config. */
export interface SaveLayout {
  /** Base layer first, in the order of the config's rootfs.diff_ids. */
  layers: SavedLayer[];
  /** "repo:tag" references `docker load` will set; empty when the image was saved by id. */
  repoTags: string[];
  configPath: string;
  /** "sha256:…" of the config, which is the image id on every engine. */
  imageId: string;
}

export interface FilterStats {
  /** Content bytes of the layer files sent. */
  layerBytesSent: number;
  /** Content bytes of the layer files replaced by empty files. */
  layerBytesSkipped: number;
  /** Tar bytes emitted (headers, padding and metadata included): what goes over the wire. */
  totalBytes: number;
}

export interface FilteredImage {
  stream: AsyncIterable<Uint8Array>;
  /** Figures so far; final once the stream has ended. */
  stats(): FilterStats;
}

/** How to ship one image to one target: the layers it already has need not travel. */
export interface ImageTransferPlan {
  layout: SaveLayout;
  /** Layers, counted from the base, whose chain the target already holds. */
  sharedLayers: number;
  /** Archive paths of layer files to blank. */
  skip: Set<string>;
}

export interface ImageShipment {
  imageId: string;
  repoTags: string[];
  layers: number;
  sharedLayers: number;
  stats: FilterStats;
  /** True when the target lost a layer we counted on during the transfer and the image was sent again in full. */
  resentInFull: boolean;
}

type Entry = Extract extends AsyncIterable<infer T> ? T : never;
type Sink = ReturnType<Pack['entry']>;
/** tar-stream sets `pax` on extracted headers and reads it on packed ones. */
type EntryHeader = Omit<Header, 'pax'> & { pax?: Record<string, string> | null };

/** manifest.json, the image config and the per-layer `json` files are small; anything larger is not metadata. */
const METADATA_MAX = 8 * 1024 * 1024;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;

/**
 * The number of base layers of `imageDiffIds` that some target image has in the same order. `docker load` looks a
 * layer up by the chain id of the prefix that ends with it, so only a shared prefix (not a shared layer somewhere
 * in the middle) lets a layer stay behind.
 */
export function sharedLayerPrefix(imageDiffIds: string[], targetImages: string[][]): number {
  let best = 0;
  for (const target of targetImages) {
    let shared = 0;
    const limit = Math.min(imageDiffIds.length, target.length);
    while (shared < limit && imageDiffIds[shared] === target[shared]) shared += 1;
    best = Math.max(best, shared);
  }
  return best;
}

/**
 * The layer files that can be blanked when the target holds the first `sharedLayers` layers. A file that also
 * serves a later layer stays: Docker 20.10 saves a repeated diff id once (the later `layer.tar` is a symlink to
 * it) and newer engines name layer blobs by digest, so blanking it would starve a layer the target must load.
 */
export function layersToSkip(layout: SaveLayout, sharedLayers: number): Set<string> {
  const stillNeeded = new Set(layout.layers.slice(sharedLayers).map((layer) => layer.diffId));
  const skip = new Set<string>();
  for (const layer of layout.layers.slice(0, sharedLayers)) {
    if (!stillNeeded.has(layer.diffId)) skip.add(layer.path);
  }
  return skip;
}

function notASave(reason: string, cause?: unknown): AppError {
  return new AppError('invalid_argument', `not a docker save archive: ${reason}`, {
    hint: 'the image stream must come from `docker save` (GET /images/get) of one image',
    ...(cause === undefined ? {} : { cause }),
  });
}

function normalizePath(name: string): string {
  return name.replace(/^(\.\/)+/, '');
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Waits until a streamx writable wants more data, or is gone. */
function writable(stream: Sink | Extract): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * Feeds `source` through a tar parser and hands every entry to `handle`, in order. What `handle` leaves unread is
 * drained. A failure of the source (the engine went away) is `unavailable`; an archive tar cannot parse is
 * `invalid_argument`; AppErrors from `handle` pass through.
 */
async function forEachEntry(
  source: AsyncIterable<Uint8Array>,
  handle: (entry: Entry) => Promise<void>,
): Promise<void> {
  const extract = tar.extract();
  let sourceFailure: AppError | undefined;

  const feeding = (async (): Promise<void> => {
    try {
      for await (const chunk of source) {
        if (extract.destroyed) return;
        if (!extract.write(asBuffer(chunk))) await writable(extract);
      }
      extract.end(undefined);
    } catch (error) {
      sourceFailure =
        error instanceof AppError
          ? error
          : new AppError('unavailable', `the image stream failed: ${(error as Error).message}`, {
              cause: error,
            });
      extract.destroy(sourceFailure);
    }
  })();

  let failure: unknown;
  try {
    for await (const entry of extract) {
      await handle(entry);
      entry.resume();
    }
  } catch (error) {
    failure = error;
    extract.destroy();
  }
  await feeding;
  if (sourceFailure) throw sourceFailure;
  if (failure === undefined) return;
  if (failure instanceof AppError) throw failure;
  throw notASave((failure as Error).message, failure);
}

/** Reads an entry to its end, keeping nothing. */
async function drain(entry: Entry): Promise<void> {
  const chunks = entry[Symbol.asyncIterator]();
  while (!(await chunks.next()).done) {
    // discarded
  }
}

/** Reads a whole entry that must be metadata. */
async function readSmall(entry: Entry): Promise<Buffer> {
  if (entry.header.size > METADATA_MAX) {
    throw notASave(`${entry.header.name} is ${entry.header.size} bytes, more than metadata can be`);
  }
  const chunks: Buffer[] = [];
  for await (const chunk of entry) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

interface ManifestItem {
  config: string;
  repoTags: string[];
  layers: string[];
}

/** The single image of a save's manifest.json. */
function parseManifest(bytes: Buffer): ManifestItem {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw notASave('manifest.json is not JSON', error);
  }
  if (!Array.isArray(parsed)) throw notASave('manifest.json is not a list');
  if (parsed.length !== 1) {
    throw new AppError(
      'invalid_argument',
      `the image archive holds ${parsed.length} images; ship one image (all its tags) at a time`,
    );
  }
  const item = parsed[0] as Record<string, unknown>;
  const config = item.Config;
  const layers = item.Layers;
  const repoTags = item.RepoTags ?? [];
  if (
    typeof config !== 'string' ||
    !Array.isArray(layers) ||
    !layers.every((layer) => typeof layer === 'string') ||
    !Array.isArray(repoTags) ||
    !repoTags.every((tag) => typeof tag === 'string')
  ) {
    throw notASave('manifest.json lacks Config, Layers or RepoTags');
  }
  return {
    config: normalizePath(config),
    layers: layers.map(normalizePath),
    repoTags: repoTags,
  };
}

/** The diff ids of an image config (rootfs.diff_ids). */
function diffIdsOf(config: Buffer, path: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(config.toString('utf8'));
  } catch (error) {
    throw notASave(`the image config ${path} is not JSON`, error);
  }
  const rootfs = (parsed as { rootfs?: { diff_ids?: unknown } } | null)?.rootfs;
  const diffIds = rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || !diffIds.every((id) => typeof id === 'string')) {
    throw notASave(`the image config ${path} has no rootfs.diff_ids list`);
  }
  return diffIds;
}

/**
 * Learns which archive path holds which layer. save writes manifest.json after the layer folders, so this reads a
 * whole save stream once, keeping only small JSON entries (manifest, config) and discarding layer bytes as they
 * pass; the caller saves again for the real transfer. Consumes `saveStream`.
 */
export async function readSaveLayout(saveStream: AsyncIterable<Uint8Array>): Promise<SaveLayout> {
  const metadata = new Map<string, Buffer>();
  let entries = 0;
  await forEachEntry(saveStream, async (entry) => {
    entries += 1;
    const { header } = entry;
    if (header.type !== 'file' || header.size > METADATA_MAX) {
      await drain(entry);
      return;
    }
    // Only JSON is metadata (manifest.json, the config, Docker ≥ 25's blobs); layer tars are dropped chunk by chunk.
    const chunks: Buffer[] = [];
    let keep = true;
    for await (const item of entry) {
      const chunk = item as Buffer;
      if (chunks.length === 0 && keep && chunk.length > 0) {
        keep = chunk[0] === OPEN_BRACE || chunk[0] === OPEN_BRACKET;
      }
      if (keep) chunks.push(chunk);
    }
    if (keep) metadata.set(normalizePath(header.name), Buffer.concat(chunks));
  });

  const manifestBytes = metadata.get('manifest.json');
  if (!manifestBytes)
    throw notASave(entries === 0 ? 'the stream holds no tar entries' : 'it has no manifest.json');
  const manifest = parseManifest(manifestBytes);
  const config = metadata.get(manifest.config);
  if (!config) throw notASave(`the image config ${manifest.config} named by manifest.json is missing`);
  const diffIds = diffIdsOf(config, manifest.config);
  if (diffIds.length !== manifest.layers.length) {
    throw notASave(
      `manifest.json lists ${plural(manifest.layers.length, 'layer')} but the config has ${plural(diffIds.length, 'diff id')}`,
    );
  }
  return {
    layers: manifest.layers.map((path, index) => ({ path, diffId: diffIds[index] ?? '' })),
    repoTags: manifest.repoTags,
    configPath: manifest.config,
    imageId: `sha256:${createHash('sha256').update(config).digest('hex')}`,
  };
}

/** Appends one entry to the archive being written: its header, then `body` (a buffer, or streamed). */
type AddEntry = (
  header: Partial<EntryHeader> & Pick<EntryHeader, 'name'>,
  body: AsyncIterable<unknown> | Buffer | undefined,
) => Promise<void>;

/**
 * Re-emits a tar stream entry by entry: `onEntry` sees each entry of `source` in order and appends what should go
 * out (the entry, a changed one, or nothing); `atEnd` may append more once the source has ended, before the
 * end-of-archive marker. A failure of either ends the output with that failure and without the marker, so a reader
 * never takes a partial archive for a whole one. Streams with backpressure: one chunk at a time is in memory.
 */
async function* rewriteArchive(
  source: AsyncIterable<Uint8Array>,
  onEntry: (entry: Entry, add: AddEntry) => Promise<void>,
  atEnd: (add: AddEntry) => Promise<void>,
  onBytes: (bytes: number) => void,
): AsyncGenerator<Buffer> {
  const pack = tar.pack();
  let failure: AppError | undefined;

  const add: AddEntry = async (header, body) => {
    await new Promise<void>((resolve, reject) => {
      const sink = pack.entry(header, (error) => {
        if (error) reject(error);
        else resolve();
      });
      if (header.type !== 'file' && header.type !== 'contiguous-file') return; // void entries end themselves
      void (async (): Promise<void> => {
        if (Buffer.isBuffer(body)) {
          if (!sink.write(body)) await writable(sink);
        } else if (body) {
          for await (const chunk of body) {
            if (sink.destroyed) return;
            if (!sink.write(chunk)) await writable(sink);
          }
        }
        sink.end(undefined);
      })().catch((error: unknown) => {
        sink.destroy(error instanceof Error ? error : new Error(String(error)));
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  };

  const copying = forEachEntry(source, (entry) => onEntry(entry, add)).then(async () => {
    await atEnd(add);
    pack.finalize();
  });
  copying.catch((error: unknown) => {
    failure = AppError.from(error);
    pack.destroy(failure);
  });

  let finished = false;
  try {
    for await (const chunk of pack) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
    finished = true;
  } catch (error) {
    throw failure ?? AppError.from(error);
  } finally {
    if (!finished) pack.destroy(new AppError('canceled', 'the image stream was closed before the end'));
    await copying.catch(() => undefined);
  }
  if (failure) throw failure;
}

function blankedHeader(header: EntryHeader): EntryHeader {
  const pax = header.pax ? { ...header.pax } : null;
  if (pax) delete pax.size; // Go writes the size of files ≥ 8 GiB as a PAX record
  return { ...header, size: 0, pax: pax && Object.keys(pax).length > 0 ? pax : null };
}

/** Which layer files of a save stream go out blank, and what manifest.json must say before it goes out. */
interface BlankRule {
  /** Whether the file entry at `path` is blanked. */
  blank(path: string): boolean;
  /** Sees manifest.json before it is sent, with the paths blanked so far; throws to fail the stream there. */
  checkManifest(manifest: ManifestItem, blanked: ReadonlySet<string>): void;
  /** Runs once the source has ended, before the end-of-archive marker; throws to fail the stream. */
  atEnd(seen: ReadonlySet<string>): void;
}

/**
 * Re-emits a save stream with the file entries `rule` picks replaced by empty files; every other entry keeps its
 * content. Figures count the layer files manifest.json names.
 */
function blankSavedLayers(saveStream: AsyncIterable<Uint8Array>, rule: BlankRule): FilteredImage {
  const sizes = new Map<string, number>();
  const blanked = new Set<string>();
  const seen = new Set<string>();
  let manifestLayers: string[] | undefined;
  let totalBytes = 0;

  function stats(): FilterStats {
    const layers = new Set(manifestLayers ?? [...sizes.keys()].filter((name) => name.endsWith('/layer.tar')));
    let layerBytesSent = 0;
    let layerBytesSkipped = 0;
    for (const path of layers) {
      const size = sizes.get(path) ?? 0;
      if (blanked.has(path)) layerBytesSkipped += size;
      else layerBytesSent += size;
    }
    return { layerBytesSent, layerBytesSkipped, totalBytes };
  }

  const stream = rewriteArchive(
    saveStream,
    async (entry, add) => {
      const header = entry.header as EntryHeader;
      const path = normalizePath(header.name);
      seen.add(path);
      const isFile = header.type === 'file' || header.type === 'contiguous-file';
      sizes.set(path, isFile ? header.size : 0);
      if (path === 'manifest.json') {
        const bytes = await readSmall(entry);
        const manifest = parseManifest(bytes);
        rule.checkManifest(manifest, blanked);
        manifestLayers = manifest.layers;
        await add(header, bytes);
      } else if (isFile && rule.blank(path)) {
        blanked.add(path);
        await drain(entry);
        await add(blankedHeader(header), Buffer.alloc(0));
      } else {
        await add(header, entry);
      }
    },
    () => {
      if (!manifestLayers) throw notASave('it has no manifest.json');
      rule.atEnd(seen);
      return Promise.resolve();
    },
    (bytes) => {
      totalBytes += bytes;
    },
  );

  return { stream, stats };
}

/**
 * Re-emits a save stream with the layer files in `skip` replaced by empty files; every other entry keeps its
 * content. `docker load` reads a layer file only when the target lacks that layer, so a blanked file for a layer
 * it has is never read (an omitted file is accepted too, but a blank one keeps the archive complete and makes a
 * wrong guess fail with "invalid diffID" instead of a missing path). Streams with backpressure: one layer chunk at
 * a time is in memory.
 *
 * With `expected` (the layout read by a first pass), the stream fails before manifest.json goes out when the
 * archive is not that image any more (a tag moved between the two saves), so the target loads nothing wrong.
 */
export function filterSavedImage(
  saveStream: AsyncIterable<Uint8Array>,
  skip: Set<string>,
  options: { expected?: SaveLayout } = {},
): FilteredImage {
  const { expected } = options;
  return blankSavedLayers(saveStream, {
    blank: (path) => skip.has(path),
    checkManifest(manifest) {
      const listed = new Set(manifest.layers);
      const unknown = [...skip].filter((path) => !listed.has(path));
      if (unknown.length > 0) {
        throw new AppError(
          'failed_precondition',
          `the image archive has no layer ${unknown[0]} to leave out; the image changed since it was planned`,
          { hint: 'plan the transfer again' },
        );
      }
      if (!expected) return;
      const same =
        manifest.config === expected.configPath &&
        manifest.layers.length === expected.layers.length &&
        manifest.layers.every((path, index) => path === expected.layers[index]?.path);
      if (!same) {
        throw new AppError(
          'failed_precondition',
          `the saved image is not ${expected.imageId} any more (a tag moved while the transfer was prepared)`,
          { hint: 'plan the transfer again' },
        );
      }
    },
    atEnd(seen) {
      const missing = [...skip].filter((path) => !seen.has(path));
      if (missing.length > 0) {
        throw new AppError('failed_precondition', `the image archive has no entry ${missing[0]}`);
      }
    },
  });
}

// ---- sending an image with one save ----

/** An image on its way to a receiver that has some of its layers: the save stream, with those layers blank. */
export interface ImageForSend {
  stream: AsyncIterable<Uint8Array>;
  /** Content bytes of the layer files left out; final once the stream has ended. */
  skippedBytes(): number;
  stats(): FilterStats;
}

/** How an engine names layer files in `docker save`, which decides whether they can be known before the save. */
type SaveNaming = 'oci' | 'legacy' | 'unknown';

/** Layouts learnt per image id, and the naming guessed per engine, kept this long and for this many images. */
const NAMING_TTL_MS = 5 * 60_000;
const LAYOUTS_KEPT = 64;

interface EngineSaveMemory {
  layouts: Map<string, SaveLayout>;
  naming?: { value: SaveNaming; at: number };
}

const saveMemory = new WeakMap<object, EngineSaveMemory>();

function memoryOf(engine: object): EngineSaveMemory {
  let memory = saveMemory.get(engine);
  if (!memory) {
    memory = { layouts: new Map() };
    saveMemory.set(engine, memory);
  }
  return memory;
}

function rememberLayout(memory: EngineSaveMemory, imageId: string, layout: SaveLayout): void {
  memory.layouts.delete(imageId);
  memory.layouts.set(imageId, layout);
  for (const oldest of memory.layouts.keys()) {
    if (memory.layouts.size <= LAYOUTS_KEPT) break;
    memory.layouts.delete(oldest);
  }
}

type SavingEngine = Pick<DockerEngine, 'inspectImage' | 'saveImages' | 'version' | 'info'>;

/** "1.44" ≥ "1.41"… as numbers, part by part. */
function apiAtLeast(version: string, wanted: string): boolean {
  const have = version.split('.').map(Number);
  const need = wanted.split('.').map(Number);
  for (let i = 0; i < need.length; i += 1) {
    const a = have[i] ?? 0;
    const b = need[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * How this engine names saved layers. Docker ≥ 25 (API 1.44) with its own image store saves an OCI layout whose
 * uncompressed layers are `blobs/sha256/<diff id>`; older engines write `<v1 id>/layer.tar`, a v1 id being a hash
 * of the layer chain; the containerd image store keeps the registry's compressed blobs, named by digests the image
 * inspect does not give.
 */
async function saveNaming(engine: SavingEngine, memory: EngineSaveMemory): Promise<SaveNaming> {
  const now = Date.now();
  if (memory.naming && now - memory.naming.at < NAMING_TTL_MS) return memory.naming.value;
  const [version, info] = await Promise.all([engine.version(), engine.info()]);
  const value: SaveNaming =
    info.imageStore === 'containerd' ? 'unknown' : apiAtLeast(version.apiVersion, '1.44') ? 'oci' : 'legacy';
  memory.naming = { value, at: now };
  return value;
}

/** The chain id of each prefix of a layer list, as the Engine computes it (layer/layer.go CreateChainID). */
function chainIds(diffIds: string[]): string[] {
  const chains: string[] = [];
  for (const diffId of diffIds) {
    const parent = chains.at(-1);
    chains.push(
      parent === undefined
        ? diffId
        : `sha256:${createHash('sha256').update(`${parent} ${diffId}`).digest('hex')}`,
    );
  }
  return chains;
}

/**
 * An empty container config as Docker ≤ 24 marshals it into the v1 json of every layer but the top one (its
 * image/tarexport save.go makes those from an empty V1Image created at the Unix epoch).
 */
const LEGACY_EMPTY_CONFIG =
  '{"Hostname":"","Domainname":"","User":"","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,' +
  '"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":null,"Cmd":null,"Image":"","Volumes":null,' +
  '"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null}';

/**
 * The `<v1 id>/layer.tar` paths Docker ≤ 24 gives the layers of an image, for every layer but the top one, whose v1
 * id hashes the image's own config as Go marshals it (image/v1 CreateID: the sorted keys of the empty V1Image, the
 * layer's chain id and the parent's v1 id).
 */
export function legacyLayerPaths(diffIds: string[]): string[] {
  const paths: string[] = [];
  let parent = '';
  for (const chain of chainIds(diffIds).slice(0, -1)) {
    const v1 =
      `{"container_config":${LEGACY_EMPTY_CONFIG},"created":"1970-01-01T00:00:00Z","layer_id":"${chain}"` +
      `${parent === '' ? '' : `,"parent":"${parent}"`}}`;
    const id = createHash('sha256').update(v1).digest('hex');
    paths.push(`${id}/layer.tar`);
    parent = `sha256:${id}`;
  }
  return paths;
}

/**
 * The archive paths the shared layers will have, where the engine's naming tells them from the diff ids alone.
 * Undefined when some shared layer's path cannot be known in advance.
 */
function predictedPaths(naming: SaveNaming, diffIds: string[], sharedLayers: number): string[] | undefined {
  if (naming === 'oci')
    return diffIds.slice(0, sharedLayers).map((id) => `blobs/sha256/${id.replace(/^sha256:/, '')}`);
  if (naming === 'legacy') {
    const paths = legacyLayerPaths(diffIds);
    return sharedLayers <= paths.length ? paths.slice(0, sharedLayers) : undefined;
  }
  return undefined;
}

/**
 * The paths of the shared layers that can go out blank: a file that also serves a layer the receiver lacks stays
 * (a repeated diff id is saved once).
 */
function blankable(paths: string[], diffIds: string[], sharedLayers: number): Set<string> {
  const stillNeeded = new Set(diffIds.slice(sharedLayers));
  return new Set(paths.filter((_, index) => !stillNeeded.has(diffIds[index] ?? '')));
}

/**
 * Saves an image once to send it to a receiver that holds its first `skipLayers` layers, with those layers blank.
 * The layer files are named before the save starts: from the diff ids the inspect gives (OCI blobs, v1 ids) or from
 * a layout learnt by an earlier send of the image. Only where neither tells (the containerd image store the first
 * time) does a first pass read the save to learn its layout, as filterSavedImage always did; the layout is then
 * kept, so the next send of that image reads it once. A predicted name can only match its own layer (both are
 * hashes of the layer chain), and manifest.json is checked before it goes out: never is a layer the receiver
 * lacks left out.
 */
export async function saveImageForSend(
  engine: SavingEngine,
  imageId: string,
  skipLayers: number,
): Promise<ImageForSend> {
  // Saved by id: exactly this image, whatever its tags; the receiver applies the granted tags.
  const image = await engine.inspectImage(imageId);
  const refs = [image.id];
  const shared = Math.min(Math.max(0, skipLayers), image.layers.length);
  const done = (filtered: FilteredImage): ImageForSend => ({
    stream: filtered.stream,
    skippedBytes: () => filtered.stats().layerBytesSkipped,
    stats: () => filtered.stats(),
  });
  if (shared === 0) return done(filterSavedImage(await engine.saveImages(refs), new Set()));

  const memory = memoryOf(engine);
  const learnt = memory.layouts.get(image.id);
  if (learnt) {
    return done(
      filterSavedImage(await engine.saveImages(refs), layersToSkip(learnt, shared), { expected: learnt }),
    );
  }
  const predicted = predictedPaths(await saveNaming(engine, memory), image.layers, shared);
  if (!predicted) {
    const layout = await readSaveLayout(await engine.saveImages(refs));
    rememberLayout(memory, image.id, layout);
    return done(
      filterSavedImage(await engine.saveImages(refs), layersToSkip(layout, shared), { expected: layout }),
    );
  }
  const blank = blankable(predicted, image.layers, shared);
  return done(
    blankSavedLayers(await engine.saveImages(refs), {
      blank: (path) => blank.has(path),
      checkManifest(manifest, blanked) {
        if (manifest.layers.length !== image.layers.length)
          throw notASave(
            `manifest.json lists ${plural(manifest.layers.length, 'layer')}, the image ${String(image.layers.length)}`,
          );
        const starved = manifest.layers.findIndex((path, index) => index >= shared && blanked.has(path));
        if (starved >= 0)
          throw new AppError(
            'internal',
            `layer ${starved + 1} of ${image.id} would have been left out, but the receiver lacks it`,
          );
        const layout: SaveLayout = {
          layers: manifest.layers.map((path, index) => ({ path, diffId: image.layers[index] ?? '' })),
          repoTags: manifest.repoTags,
          configPath: manifest.config,
          imageId: image.id,
        };
        rememberLayout(memory, image.id, layout);
        // The engine names its layers otherwise than guessed: the next image is read for its layout first.
        if (manifest.layers.slice(0, shared).some((path) => !blank.has(path)))
          memory.naming = { value: 'unknown', at: Date.now() };
      },
      atEnd: () => undefined,
    }),
  );
}

/** The diff-id lists of every image on `engine`: what it can skip loading. */
export async function targetLayerLists(
  engine: Pick<DockerEngine, 'listImages' | 'inspectImage'>,
): Promise<string[][]> {
  const lists: string[][] = [];
  for (const image of await engine.listImages()) {
    try {
      lists.push((await engine.inspectImage(image.id)).layers);
    } catch (error) {
      if (error instanceof AppError && error.code === 'not_found') continue; // removed since the listing
      throw error;
    }
  }
  return lists;
}

/**
 * First pass of a transfer: saves `refs` on the source once to learn its layout and decides which layer files
 * the target (described by its images' diff-id lists) does not need.
 */
export async function imagePlanForTarget(
  source: Pick<DockerEngine, 'saveImages'>,
  refs: string[],
  targetImages: string[][],
): Promise<ImageTransferPlan> {
  const layout = await readSaveLayout(await source.saveImages(refs));
  const sharedLayers = sharedLayerPrefix(
    layout.layers.map((layer) => layer.diffId),
    targetImages,
  );
  return { layout, sharedLayers, skip: layersToSkip(layout, sharedLayers) };
}

/** The Engine's answer when a layer `docker load` had to read was blanked (daemon image/tarexport/load.go). */
function lostSharedLayer(error: unknown): boolean {
  return error instanceof Error && /invalid diffID/i.test(error.message);
}

/**
 * Moves the image `refs` name (one image; every tag given is kept) from `source` to `target`, sending only the
 * layers the target lacks, and checks that the target then has the same image id. If the target drops a layer
 * we counted on while the bytes travel, the image is sent once more in full.
 */
export async function shipImage(
  source: Pick<DockerEngine, 'saveImages'>,
  target: Pick<DockerEngine, 'listImages' | 'inspectImage' | 'loadImages'>,
  refs: string[],
): Promise<ImageShipment> {
  const plan = await imagePlanForTarget(source, refs, await targetLayerLists(target));

  async function send(skip: Set<string>): Promise<FilterStats> {
    const filtered = filterSavedImage(await source.saveImages(refs), skip, { expected: plan.layout });
    await target.loadImages(filtered.stream);
    return filtered.stats();
  }

  let stats: FilterStats;
  let resentInFull = false;
  try {
    stats = await send(plan.skip);
  } catch (error) {
    if (plan.skip.size === 0 || !lostSharedLayer(error)) throw error;
    stats = await send(new Set());
    resentInFull = true;
  }
  const loaded = await target.inspectImage(plan.layout.imageId);
  if (loaded.id !== plan.layout.imageId) {
    throw new AppError('internal', `the target loaded ${loaded.id} instead of ${plan.layout.imageId}`);
  }
  return {
    imageId: plan.layout.imageId,
    repoTags: plan.layout.repoTags,
    layers: plan.layout.layers.length,
    sharedLayers: plan.sharedLayers,
    stats,
    resentInFull,
  };
}

/** The image a receiving worker may load: its id and exactly the "repo:tag" references it may carry there. */
export interface GrantedImage {
  /** "sha256:…" */
  imageId: string;
  tags: string[];
}

function refused(message: string): AppError {
  return new AppError('permission_denied', `transfer refused: ${message}`);
}

/** An archive path as the Engine resolves it inside its extraction folder; refuses one that could leave it. */
function archivePath(name: string): string {
  const normalized = posix.normalize(normalizePath(name)).replace(/\/+$/, '');
  if (name.startsWith('/') || normalized === '..' || normalized.startsWith('../') || normalized === '.') {
    throw notASave(`the entry '${name}' lies outside the archive`);
  }
  return normalized;
}

/** Every folder `path` lies in, outermost first ("a/b/c" → "a", "a/b"). */
function foldersOf(path: string): string[] {
  const parts = path.split('/');
  return parts.slice(0, -1).map((_, index) => parts.slice(0, index + 1).join('/'));
}

/** Passes an entry's chunks on while hashing them. */
async function* hashing(entry: Entry, hash: Hash): AsyncGenerator<Buffer> {
  for await (const chunk of entry) {
    hash.update(chunk as Buffer);
    yield chunk as Buffer;
  }
}

/**
 * Checks an incoming image archive against what a grant allows while it streams on to `docker load`, and fails it
 * before its end when it holds anything else. The Engine (20.10's daemon/images tarexport Load) untars the whole
 * upload into a temporary folder before it reads manifest.json, so withholding manifest.json until the end and
 * failing the stream instead of sending it leaves nothing loaded. Checked: the entries stay inside the archive (no
 * absolute or `..` paths, no entry under a symlink or file, no duplicate, symlinks pointing inside), manifest.json
 * names exactly one image whose config blob hashes to the granted image id. What goes out: every entry but
 * manifest.json and `repositories` as it came, then a manifest.json of that image (config and layers) whose
 * RepoTags are the granted tags and nothing else: the archive's own tags are never applied. The layers themselves
 * are the Engine's to check: it verifies each against the diff ids of that config.
 */
export function guardGrantedImage(
  source: AsyncIterable<Uint8Array>,
  granted: GrantedImage,
): AsyncIterable<Buffer> {
  const types = new Map<string, string>();
  const folders = new Set<string>();
  const digests = new Map<string, Hash>();
  let manifest: ManifestItem | undefined;

  async function onEntry(entry: Entry, add: AddEntry): Promise<void> {
    const header = entry.header as EntryHeader;
    // Typed loosely on purpose: tar-stream gives null for a type flag it does not know.
    const type = (header.type as string | null | undefined) ?? 'unknown entry';
    const path = archivePath(header.name);
    if (types.has(path)) throw notASave(`it holds ${path} twice`);
    for (const folder of foldersOf(path)) {
      const above = types.get(folder);
      if (above !== undefined && above !== 'directory')
        throw notASave(`${path} lies under the ${above} ${folder}`);
      folders.add(folder);
    }
    if (type !== 'directory' && folders.has(path)) {
      throw notASave(`the ${type} ${path} would replace a folder of the archive`);
    }
    types.set(path, type);
    switch (type) {
      case 'directory':
        await add(header, undefined);
        return;
      case 'symlink': {
        const target = (header.linkname as string | null | undefined) ?? '';
        const resolved = posix.normalize(posix.join(posix.dirname(path), target));
        if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
          throw notASave(`the symlink ${path} points outside the archive (${target})`);
        }
        await add(header, undefined);
        return;
      }
      case 'file':
      case 'contiguous-file':
        if (path === 'manifest.json') {
          manifest = parseManifest(await readSmall(entry));
        } else if (path === 'repositories') {
          await drain(entry); // the legacy tag list: tags come from the grant only
        } else if (header.size <= METADATA_MAX) {
          // One of these is the config; which one, manifest.json says at the end.
          const hash = createHash('sha256');
          digests.set(path, hash);
          await add(header, hashing(entry, hash));
        } else {
          await add(header, entry);
        }
        return;
      default:
        throw notASave(`${path} is a ${type}, which docker save never writes`);
    }
  }

  async function atEnd(add: AddEntry): Promise<void> {
    if (!manifest) throw notASave('it has no manifest.json');
    const configPath = archivePath(manifest.config);
    const hash = types.get(configPath) === 'file' ? digests.get(configPath) : undefined;
    if (!hash) throw notASave(`the image config ${manifest.config} is not a file of the archive`);
    const imageId = `sha256:${hash.digest('hex')}`;
    if (imageId !== granted.imageId) {
      throw refused(`the sender streamed image ${imageId}, the grant names ${granted.imageId}`);
    }
    const rewritten = Buffer.from(
      JSON.stringify([{ Config: configPath, RepoTags: granted.tags, Layers: manifest.layers }]),
    );
    await add(
      { name: 'manifest.json', type: 'file', mode: 0o644, size: rewritten.length, mtime: new Date(0) },
      rewritten,
    );
  }

  return rewriteArchive(source, onEntry, atEnd, () => undefined);
}

type LoadingEngine = Pick<
  DockerEngine,
  'loadImages' | 'listImages' | 'inspectImage' | 'tagImage' | 'removeImage'
>;

/** What a load may change on the target: whether the image was there, and which image every tag named. */
interface BeforeLoad {
  /** The image's tags when it was there already, else undefined. */
  imageTags: string[] | undefined;
  /** Image id of every tag on the engine. */
  tagTargets: Map<string, string>;
}

/** `repo:tag` → repo and tag, as `docker tag` splits it (a colon before the last slash is a registry port). */
function splitTag(reference: string): [string, string] {
  const colon = reference.lastIndexOf(':');
  const slash = reference.lastIndexOf('/');
  return colon > slash ? [reference.slice(0, colon), reference.slice(colon + 1)] : [reference, 'latest'];
}

/** The image `ref` names on `engine`, or undefined when there is none. */
async function imageOf(
  engine: Pick<DockerEngine, 'inspectImage'>,
  ref: string,
): Promise<{ id: string; tags: string[] } | undefined> {
  try {
    return await engine.inspectImage(ref);
  } catch (error) {
    if (error instanceof AppError && error.code === 'not_found') return undefined;
    throw error;
  }
}

async function beforeLoad(engine: LoadingEngine, granted: GrantedImage): Promise<BeforeLoad> {
  const tagTargets = new Map<string, string>();
  for (const image of await engine.listImages()) for (const tag of image.tags) tagTargets.set(tag, image.id);
  return { imageTags: (await imageOf(engine, granted.imageId))?.tags, tagTargets };
}

/** What is wrong with the target after a load, or undefined when it holds the granted image under its tags. */
async function loadedWrongly(
  engine: LoadingEngine,
  granted: GrantedImage,
  before: BeforeLoad,
): Promise<string | undefined> {
  const loaded = await imageOf(engine, granted.imageId);
  if (loaded?.id !== granted.imageId) return `the engine holds no image ${granted.imageId} after the load`;
  const allowed = new Set([...(before.imageTags ?? []), ...granted.tags]);
  const extra = loaded.tags.filter((tag) => !allowed.has(tag));
  if (extra.length > 0) return `the loaded image carries tags the grant does not name: ${extra.join(', ')}`;
  for (const tag of granted.tags) {
    const target = await imageOf(engine, tag);
    if (target?.id !== granted.imageId) return `${tag} does not name the loaded image`;
  }
  return undefined;
}

/**
 * Puts back what a failed load changed, and only that: a tag of the loaded image that named another image before
 * names it again, one that did not exist is removed, and the image goes when it was not there before. Removing the
 * last tag of an image deletes it (the Engine has no plain untag), so a tag that is now the only name of an image
 * that was there untagged before stays, and is reported.
 */
async function undoLoad(engine: LoadingEngine, granted: GrantedImage, before: BeforeLoad): Promise<string[]> {
  const left: string[] = [];
  const loaded = await imageOf(engine, granted.imageId);
  for (const tag of loaded?.tags ?? []) {
    const was = before.tagTargets.get(tag);
    if (was === granted.imageId) continue;
    if (was !== undefined) {
      const [repo, version] = splitTag(tag);
      await engine.tagImage(was, repo, version);
      continue;
    }
    const now = await imageOf(engine, granted.imageId);
    if (before.imageTags?.length === 0 && now?.tags.length === 1) left.push(tag);
    else await engine.removeImage(tag);
  }
  if (before.imageTags === undefined) {
    try {
      await engine.removeImage(granted.imageId);
    } catch (error) {
      // Gone with its last tag already; or in use by a container, which we do not touch.
      if (!(error instanceof AppError && (error.code === 'not_found' || error.code === 'conflict')))
        throw error;
    }
  }
  return left;
}

/**
 * Loads an incoming image archive on `engine` as `granted` allows: checked on its way in (guardGrantedImage), then
 * on the engine (the image id is there and carries the granted tags, and no other tag it did not have). When the
 * load fails or the result is not what was granted, what this load changed is undone — a tag that named another
 * image before names it again; nothing that was there before is removed.
 */
export async function loadGrantedImage(
  engine: LoadingEngine,
  source: AsyncIterable<Uint8Array>,
  granted: GrantedImage,
): Promise<void> {
  const before = await beforeLoad(engine, granted);
  let refusal: unknown;
  const guarded = guardGrantedImage(source, granted);
  const watched = (async function* (): AsyncGenerator<Buffer> {
    try {
      yield* guarded;
    } catch (error) {
      refusal = error;
      throw error;
    }
  })();
  let failure: AppError | undefined;
  try {
    await engine.loadImages(watched);
    const wrong = await loadedWrongly(engine, granted, before);
    if (wrong) failure = new AppError('internal', `the loaded image is not what was granted: ${wrong}`);
  } catch (error) {
    failure = AppError.from(refusal ?? error);
  }
  if (!failure) return;
  let left: string[];
  try {
    left = await undoLoad(engine, granted, before);
  } catch (error) {
    throw new AppError(
      failure.code,
      `${failure.message}; undoing the load failed too: ${AppError.from(error).message}`,
      {
        cause: failure,
      },
    );
  }
  if (left.length === 0) throw failure;
  throw new AppError(
    failure.code,
    `${failure.message}; left in place (removing would delete an image that was there): ${left.join(', ')}`,
    {
      cause: failure,
    },
  );
}
