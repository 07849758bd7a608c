// Unit tests of image archives on hand-made `docker save` tars (Docker 20.10 layout): which layers are shared,
// how the layout is read, what the filter blanks and keeps, the errors a broken stream gets, and flat memory.
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

import tar from 'tar-stream';
import type { Header } from 'tar-stream';
import { describe, expect, it } from 'vitest';

import type { ImageDetails, ImageSummary } from '../core/docker-resources.js';
import { AppError } from '../core/errors.js';
import {
  filterSavedImage,
  guardGrantedImage,
  imagePlanForTarget,
  legacyLayerPaths,
  loadGrantedImage,
  layersToSkip,
  readSaveLayout,
  saveImageForSend,
  sharedLayerPrefix,
  shipImage,
} from './image-archive.js';
import type { SaveLayout } from './image-archive.js';

const MiB = 1024 * 1024;
const MTIME = new Date('2024-05-06T07:08:09Z');

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A layer of a hand-made save: its bytes, a generated size, or a link to an earlier layer with the same diff id. */
interface LayerSpec {
  v1id: string;
  body?: Buffer;
  /** Streamed as this many pseudo-random bytes, never held whole (for memory tests); diff id made up. */
  generated?: number;
  /** Docker 20.10 saves a repeated diff id once: this layer's layer.tar is a symlink to that v1 id's. */
  sameAs?: string;
}

interface SaveSpec {
  layers: LayerSpec[];
  repoTags?: string[] | null;
  /** Extra images in manifest.json (a multi-image save). */
  extraImages?: number;
  /** Leave manifest.json out. */
  noManifest?: boolean;
  /** Diff ids in the config, when they should disagree with the layers. */
  diffIds?: string[];
  /** Docker ≥ 25's OCI layout: layers as blobs/sha256/<diff id>, the config as blobs/sha256/<image id>. */
  oci?: boolean;
}

function layerPath(layer: LayerSpec, spec: SaveSpec): string {
  if (!spec.oci) return `${layer.v1id}/layer.tar`;
  return `blobs/sha256/${diffIdOf(layer, spec.layers).replace(/^sha256:/, '')}`;
}

function configPath(spec: SaveSpec): string {
  const hex = createHash('sha256').update(configOf(spec)).digest('hex');
  return spec.oci ? `blobs/sha256/${hex}` : `${hex}.json`;
}

function diffIdOf(layer: LayerSpec, all: LayerSpec[]): string {
  if (layer.sameAs !== undefined) {
    const original = all.find((other) => other.v1id === layer.sameAs);
    if (!original) throw new Error(`no layer ${layer.sameAs}`);
    return diffIdOf(original, all);
  }
  if (layer.body) return sha256(layer.body);
  return sha256(`generated:${layer.v1id}:${String(layer.generated)}`);
}

function configOf(spec: SaveSpec): Buffer {
  const diffIds = spec.diffIds ?? spec.layers.map((layer) => diffIdOf(layer, spec.layers));
  return Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
    }),
  );
}

function expectedLayout(spec: SaveSpec): SaveLayout {
  const config = configOf(spec);
  return {
    layers: spec.layers.map((layer) => ({
      path: layerPath(layer, spec),
      diffId: diffIdOf(layer, spec.layers),
    })),
    repoTags: spec.repoTags ?? [],
    configPath: configPath(spec),
    imageId: sha256(config),
  };
}

/** A save stream as Docker 20.10 writes it: entries in lexical order, so manifest.json comes after the layers. */
async function* saveStream(spec: SaveSpec): AsyncGenerator<Uint8Array> {
  const pack = tar.pack();
  const config = configOf(spec);
  const configName = configPath(spec);
  type Item = { name: string; write: () => Promise<void> };
  const items: Item[] = [];
  const add = (header: Partial<Header> & { name: string }, body?: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      const done = (error?: Error | null): void => {
        if (error) reject(error);
        else resolve();
      };
      const full = { mtime: MTIME, mode: 0o644, ...header };
      if (body) pack.entry(full, body, done);
      else pack.entry(full, done);
    });

  const written = new Set<string>();
  for (const layer of spec.layers) {
    if (spec.oci) {
      const name = layerPath(layer, spec);
      if (written.has(name)) continue; // a repeated diff id is one blob
      written.add(name);
      items.push({ name, write: () => add({ name }, layer.body ?? Buffer.alloc(0)) });
      continue;
    }
    items.push({
      name: `${layer.v1id}/`,
      write: () => add({ name: `${layer.v1id}/`, type: 'directory', mode: 0o755 }),
    });
    items.push({
      name: `${layer.v1id}/VERSION`,
      write: () => add({ name: `${layer.v1id}/VERSION` }, Buffer.from('1.0')),
    });
    items.push({
      name: `${layer.v1id}/json`,
      write: () => add({ name: `${layer.v1id}/json` }, Buffer.from(JSON.stringify({ id: layer.v1id }))),
    });
    items.push({
      name: `${layer.v1id}/layer.tar`,
      write: async () => {
        const name = `${layer.v1id}/layer.tar`;
        if (layer.sameAs !== undefined) {
          await add({ name, type: 'symlink', linkname: `../${layer.sameAs}/layer.tar` });
        } else if (layer.body) {
          await add({ name }, layer.body);
        } else {
          const size = layer.generated ?? 0;
          await new Promise<void>((resolve, reject) => {
            const sink = pack.entry({ name, size, mtime: MTIME, mode: 0o644 }, (error) => {
              if (error) reject(error);
              else resolve();
            });
            const block = randomBytes(MiB);
            let sent = 0;
            const more = (): void => {
              while (sent < size) {
                const chunk = block.subarray(0, Math.min(MiB, size - sent));
                sent += chunk.length;
                if (!sink.write(chunk)) {
                  sink.once('drain', more);
                  return;
                }
              }
              sink.end(undefined);
            };
            more();
          });
        }
      },
    });
  }
  items.push({ name: configName, write: () => add({ name: configName }, config) });
  if (!spec.noManifest) {
    const image = {
      Config: configName,
      RepoTags: spec.repoTags === undefined ? [] : spec.repoTags,
      Layers: spec.layers.map((layer) => layerPath(layer, spec)),
    };
    const manifest = Array.from({ length: 1 + (spec.extraImages ?? 0) }, () => image);
    items.push({
      name: 'manifest.json',
      write: () => add({ name: 'manifest.json', mtime: new Date(0) }, Buffer.from(JSON.stringify(manifest))),
    });
  }
  items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  const writing = (async (): Promise<void> => {
    for (const item of items) await item.write();
    pack.finalize();
  })();
  writing.catch((error: unknown) => {
    pack.destroy(error as Error);
  });
  for await (const chunk of pack) yield chunk as Buffer;
  await writing;
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

interface ParsedEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  linkname: string | null | undefined;
  content: Buffer;
}

async function entriesOf(bytes: Buffer): Promise<ParsedEntry[]> {
  const extract = tar.extract();
  const entries: ParsedEntry[] = [];
  const reading = (async (): Promise<void> => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const { name, type, mode, size, linkname } = entry.header;
      entries.push({
        name,
        type,
        mode,
        size,
        linkname,
        content: Buffer.concat(chunks),
      });
    }
  })();
  extract.end(bytes);
  await reading;
  return entries;
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  const error: unknown = await promise.then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

const L1 = Buffer.from('base layer bytes '.repeat(100));
const L2 = randomBytes(40_000);
const L3 = randomBytes(5_000);
const THREE_LAYERS: SaveSpec = {
  layers: [
    { v1id: 'aaaa'.repeat(16), body: L1 },
    { v1id: 'cccc'.repeat(16), body: L2 },
    { v1id: '1111'.repeat(16), body: L3 },
  ],
  repoTags: ['dm/app:1', 'dm/app:latest'],
};

describe('sharedLayerPrefix', () => {
  const image = ['sha256:a', 'sha256:b', 'sha256:c'];

  it('is 0 when the target has no images or none starts with our base layer', () => {
    expect(sharedLayerPrefix(image, [])).toBe(0);
    expect(sharedLayerPrefix(image, [['sha256:x', 'sha256:a', 'sha256:b']])).toBe(0);
  });

  it('counts only the common start, not a shared layer further up', () => {
    expect(sharedLayerPrefix(image, [['sha256:a', 'sha256:x', 'sha256:c']])).toBe(1);
  });

  it('takes the longest prefix any target image shares', () => {
    const target = [['sha256:a'], ['sha256:a', 'sha256:b', 'sha256:z'], ['sha256:q']];
    expect(sharedLayerPrefix(image, target)).toBe(2);
  });

  it('is the whole image when the target has it or an image built on it', () => {
    expect(sharedLayerPrefix(image, [[...image]])).toBe(3);
    expect(sharedLayerPrefix(image, [[...image, 'sha256:d']])).toBe(3);
  });
});

describe('layersToSkip', () => {
  it('keeps a shared layer file that a layer the target lacks still reads', () => {
    const layout: SaveLayout = {
      layers: [
        { path: 'p0/layer.tar', diffId: 'sha256:empty' },
        { path: 'p1/layer.tar', diffId: 'sha256:a' },
        { path: 'p2/layer.tar', diffId: 'sha256:empty' },
      ],
      repoTags: [],
      configPath: 'c.json',
      imageId: 'sha256:c',
    };
    expect([...layersToSkip(layout, 2)]).toEqual(['p1/layer.tar']);
    expect([...layersToSkip(layout, 3)].sort()).toEqual(['p0/layer.tar', 'p1/layer.tar', 'p2/layer.tar']);
    expect(layersToSkip(layout, 0).size).toBe(0);
  });
});

describe('readSaveLayout', () => {
  it('maps each layer file to its diff id and reads tags, config and image id', async () => {
    const layout = await readSaveLayout(saveStream(THREE_LAYERS));
    expect(layout).toEqual(expectedLayout(THREE_LAYERS));
    expect(layout.layers.map((layer) => layer.diffId)).toEqual([sha256(L1), sha256(L2), sha256(L3)]);
    expect(layout.repoTags).toEqual(['dm/app:1', 'dm/app:latest']);
  });

  it('gives no tags for an image saved by id (RepoTags null)', async () => {
    const layout = await readSaveLayout(saveStream({ ...THREE_LAYERS, repoTags: null }));
    expect(layout.repoTags).toEqual([]);
  });

  it('accepts a Node Readable such as dockerode returns', async () => {
    const bytes = await collect(saveStream(THREE_LAYERS));
    const layout = await readSaveLayout(Readable.from([bytes.subarray(0, 700), bytes.subarray(700)]));
    expect(layout.imageId).toBe(expectedLayout(THREE_LAYERS).imageId);
  });

  it('refuses bytes that are not a tar as invalid_argument', async () => {
    const error = await failureOf(readSaveLayout(Readable.from([randomBytes(4096)])));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/not a docker save archive/);
  });

  it('refuses an empty stream and a tar without manifest.json', async () => {
    expect((await failureOf(readSaveLayout(Readable.from([])))).code).toBe('invalid_argument');
    const error = await failureOf(readSaveLayout(saveStream({ ...THREE_LAYERS, noManifest: true })));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/no manifest\.json/);
  });

  it('refuses a save of several images: one image is shipped at a time', async () => {
    const error = await failureOf(readSaveLayout(saveStream({ ...THREE_LAYERS, extraImages: 1 })));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/2 images/);
  });

  it('refuses a manifest whose layers disagree with the config', async () => {
    const error = await failureOf(readSaveLayout(saveStream({ ...THREE_LAYERS, diffIds: [sha256(L1)] })));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/3 layers but the config has 1/);
  });

  it('refuses a truncated save', async () => {
    const bytes = await collect(saveStream(THREE_LAYERS));
    const error = await failureOf(readSaveLayout(Readable.from([bytes.subarray(0, 20_000)])));
    expect(error.code).toBe('invalid_argument');
  });

  it('reports a source that fails as unavailable and keeps its AppError as it is', async () => {
    async function* broken(error: Error): AsyncGenerator<Uint8Array> {
      yield (await collect(saveStream(THREE_LAYERS))).subarray(0, 5000);
      throw error;
    }
    const reset = await failureOf(readSaveLayout(broken(new Error('socket hang up'))));
    expect(reset.code).toBe('unavailable');
    expect(reset.message).toMatch(/socket hang up/);
    const own = await failureOf(readSaveLayout(broken(new AppError('not_found', 'no such image: dm/app:1'))));
    expect(own.code).toBe('not_found');
  });
});

describe('filterSavedImage', () => {
  const layout = expectedLayout(THREE_LAYERS);
  const [base, middle] = layout.layers.map((layer) => layer.path) as [string, string, string];

  it('blanks the skipped layer files and keeps every other entry, in order, with the same content', async () => {
    const original = await entriesOf(await collect(saveStream(THREE_LAYERS)));
    const filtered = filterSavedImage(saveStream(THREE_LAYERS), new Set([base, middle]), {
      expected: layout,
    });
    const bytes = await collect(filtered.stream);
    const entries = await entriesOf(bytes);

    expect(entries.map((entry) => entry.name)).toEqual(original.map((entry) => entry.name));
    expect(entries.map((entry) => entry.name).at(-1)).toBe('manifest.json');
    for (const [index, entry] of entries.entries()) {
      const before = original[index];
      if (!before) throw new Error('entry missing');
      expect(entry.type).toBe(before.type);
      expect(entry.mode).toBe(before.mode);
      if (entry.name === base || entry.name === middle) {
        expect(entry.size).toBe(0);
      } else {
        expect(entry.content.equals(before.content)).toBe(true);
      }
    }

    expect(filtered.stats()).toEqual({
      layerBytesSent: L3.length,
      layerBytesSkipped: L1.length + L2.length,
      totalBytes: bytes.length,
    });
    expect(await readSaveLayout(Readable.from([bytes]))).toEqual(layout);
  });

  it('passes everything when nothing is skipped', async () => {
    const original = await entriesOf(await collect(saveStream(THREE_LAYERS)));
    const filtered = filterSavedImage(saveStream(THREE_LAYERS), new Set());
    const entries = await entriesOf(await collect(filtered.stream));
    expect(entries.map((entry) => [entry.name, entry.content.toString('hex')])).toEqual(
      original.map((entry) => [entry.name, entry.content.toString('hex')]),
    );
    expect(filtered.stats().layerBytesSkipped).toBe(0);
    expect(filtered.stats().layerBytesSent).toBe(L1.length + L2.length + L3.length);
  });

  it('leaves a symlinked layer file as the link it is', async () => {
    const spec: SaveSpec = {
      layers: [
        { v1id: 'aaaa'.repeat(16), body: L1 },
        { v1id: 'bbbb'.repeat(16), sameAs: 'aaaa'.repeat(16) },
      ],
    };
    const paths = expectedLayout(spec).layers.map((layer) => layer.path);
    const entries = await entriesOf(await collect(filterSavedImage(saveStream(spec), new Set(paths)).stream));
    const link = entries.find((entry) => entry.name === paths[1]);
    expect(link?.type).toBe('symlink');
    expect(link?.linkname).toBe(`../${'aaaa'.repeat(16)}/layer.tar`);
    expect(entries.find((entry) => entry.name === paths[0])?.size).toBe(0);
  });

  it('fails before manifest.json goes out when a layer to leave out is not in the archive', async () => {
    const filtered = filterSavedImage(saveStream(THREE_LAYERS), new Set(['ffff/layer.tar']));
    const chunks: Buffer[] = [];
    const error = await failureOf(
      (async (): Promise<void> => {
        for await (const chunk of filtered.stream) chunks.push(Buffer.from(chunk));
      })(),
    );
    expect(error.code).toBe('failed_precondition');
    expect(Buffer.concat(chunks).includes('manifest.json')).toBe(false);
  });

  it('fails when the archive is another image than the one planned (a tag moved)', async () => {
    const other: SaveSpec = { ...THREE_LAYERS, layers: THREE_LAYERS.layers.slice(0, 2) };
    const filtered = filterSavedImage(saveStream(other), new Set([base]), { expected: layout });
    const error = await failureOf(collect(filtered.stream));
    expect(error.code).toBe('failed_precondition');
    expect(error.message).toContain(layout.imageId);
  });

  it('refuses a stream that is not a save archive as invalid_argument', async () => {
    const notTar = await failureOf(
      collect(filterSavedImage(Readable.from([randomBytes(2048)]), new Set()).stream),
    );
    expect(notTar.code).toBe('invalid_argument');
    const noManifest = await failureOf(
      collect(filterSavedImage(saveStream({ ...THREE_LAYERS, noManifest: true }), new Set()).stream),
    );
    expect(noManifest.code).toBe('invalid_argument');
  });

  it('closes the source when the consumer stops reading', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        yield* saveStream({ layers: [{ v1id: 'aaaa'.repeat(16), generated: 64 * MiB }] });
      } finally {
        closed = true;
      }
    }
    const filtered = filterSavedImage(source(), new Set());
    let read = 0;
    for await (const chunk of filtered.stream) {
      read += chunk.length;
      if (read > 4 * MiB) break;
    }
    expect(closed).toBe(true);
  });
});

describe('planning and shipping against fake engines', () => {
  const layout = expectedLayout(THREE_LAYERS);
  const diffIds = layout.layers.map((layer) => layer.diffId);

  function fakeSource(): {
    saveImages: (refs: string[]) => Promise<AsyncIterable<Uint8Array>>;
    saves: string[][];
  } {
    const saves: string[][] = [];
    return {
      saves,
      saveImages: (refs: string[]) => {
        saves.push(refs);
        return Promise.resolve(saveStream(THREE_LAYERS));
      },
    };
  }

  /** A target that, like the Engine's load, reads a layer file only when it lacks that layer's chain. */
  function fakeTarget(images: string[][], options: { loseLayersOnFirstLoad?: boolean } = {}) {
    const stored = images.map((layers, index) => ({ id: `sha256:old${String(index)}`, layers }));
    const loads: number[] = [];
    let loadsSoFar = 0;
    return {
      loads,
      listImages: (): Promise<ImageSummary[]> =>
        Promise.resolve(
          stored.map((image) => ({
            id: image.id,
            tags: [],
            digests: [],
            size: 0,
            created: 0,
            labels: {},
            containers: -1,
          })),
        ),
      inspectImage: (id: string): Promise<ImageDetails> => {
        const image = stored.find((candidate) => candidate.id === id);
        if (!image) return Promise.reject(new AppError('not_found', `no such image: ${id}`));
        return Promise.resolve({
          id: image.id,
          tags: [],
          digests: [],
          size: 0,
          created: 0,
          labels: {},
          containers: -1,
          architecture: 'amd64',
          os: 'linux',
          layers: image.layers,
        });
      },
      loadImages: async (stream: AsyncIterable<Uint8Array>): Promise<void> => {
        const bytes = await collect(stream);
        loads.push(bytes.length);
        loadsSoFar += 1;
        const entries = await entriesOf(bytes);
        const loaded = await readSaveLayout(Readable.from([bytes]));
        const known =
          options.loseLayersOnFirstLoad && loadsSoFar === 1 ? [] : stored.map((image) => image.layers);
        const have = sharedLayerPrefix(
          loaded.layers.map((layer) => layer.diffId),
          known,
        );
        for (const [index, layer] of loaded.layers.entries()) {
          if (index < have) continue;
          const file = entries.find((entry) => entry.name === layer.path);
          if (!file || sha256(file.content) !== layer.diffId) {
            throw new AppError(
              'internal',
              `invalid diffID for layer ${String(index)}: expected "${layer.diffId}"`,
            );
          }
        }
        stored.push({ id: loaded.imageId, layers: loaded.layers.map((layer) => layer.diffId) });
      },
    };
  }

  it('plans to leave out the layers of the longest prefix the target has', async () => {
    const plan = await imagePlanForTarget(
      fakeSource(),
      ['dm/app:1'],
      [[diffIds[0] ?? '', 'sha256:other'], diffIds.slice(0, 2)],
    );
    expect(plan.sharedLayers).toBe(2);
    expect([...plan.skip]).toEqual(layout.layers.slice(0, 2).map((layer) => layer.path));
    expect(plan.layout).toEqual(layout);
  });

  it('ships only the top layer to a target that has the layers below it', async () => {
    const source = fakeSource();
    const target = fakeTarget([diffIds.slice(0, 2)]);
    const shipment = await shipImage(source, target, ['dm/app:1', 'dm/app:latest']);
    expect(shipment).toMatchObject({
      imageId: layout.imageId,
      repoTags: ['dm/app:1', 'dm/app:latest'],
      layers: 3,
      sharedLayers: 2,
      resentInFull: false,
    });
    expect(shipment.stats.layerBytesSent).toBe(L3.length);
    expect(shipment.stats.layerBytesSkipped).toBe(L1.length + L2.length);
    expect(source.saves).toEqual([
      ['dm/app:1', 'dm/app:latest'],
      ['dm/app:1', 'dm/app:latest'],
    ]);
  });

  it('sends everything to a target that has none of the layers', async () => {
    const shipment = await shipImage(fakeSource(), fakeTarget([]), ['dm/app:1']);
    expect(shipment.sharedLayers).toBe(0);
    expect(shipment.stats.layerBytesSent).toBe(L1.length + L2.length + L3.length);
  });

  it('sends the whole image again when the target lost a layer it was counted on for', async () => {
    const target = fakeTarget([diffIds.slice(0, 2)], { loseLayersOnFirstLoad: true });
    const shipment = await shipImage(fakeSource(), target, ['dm/app:1']);
    expect(shipment.resentInFull).toBe(true);
    expect(shipment.stats.layerBytesSkipped).toBe(0);
    expect(target.loads).toHaveLength(2);
  });
});

describe('legacyLayerPaths', () => {
  it('names the layers below the top as Docker 20.10 saves them', () => {
    // Figures from a real Docker 20.10.24 `docker save` of a three-layer image.
    const diffIds = [
      'sha256:cb287dd19a93a2dcaa2ed543c20ea24f53ebdc43616b2ebc2c06c1d17dbe7f53',
      'sha256:2a25c97cfee43d7cfa47438ab068212a78cf120826eeda83dc3844b937f8ade4',
      'sha256:f869318336702a308f9cd723642c04fa852433781dc2e7281845c2181a22574c',
    ];
    expect(legacyLayerPaths(diffIds)).toEqual([
      'afef2a222221abd03b2a3c8df94a29f7a7abf68a33ad831ab236fc862f58e263/layer.tar',
      '5523621ac66ad30e51d966b7798353ef9714f91f7486349f48e550674ad3eda9/layer.tar',
    ]);
  });
});

describe('saveImageForSend', () => {
  /** An engine whose saves are `spec`, counting them; its API version and image store decide the naming. */
  function savingEngine(spec: SaveSpec, options: { apiVersion?: string; containerd?: boolean } = {}) {
    const layout = expectedLayout(spec);
    const saves: string[][] = [];
    return {
      saves,
      layout,
      inspectImage: (ref: string): Promise<ImageDetails> => {
        if (ref !== layout.imageId) return Promise.reject(new AppError('not_found', `no such image: ${ref}`));
        return Promise.resolve({
          id: layout.imageId,
          tags: [],
          digests: [],
          size: 0,
          created: 0,
          labels: {},
          containers: -1,
          architecture: 'amd64',
          os: 'linux',
          layers: layout.layers.map((layer) => layer.diffId),
        });
      },
      saveImages: (refs: string[]): Promise<AsyncIterable<Uint8Array>> => {
        saves.push(refs);
        return Promise.resolve(saveStream(spec));
      },
      version: () =>
        Promise.resolve({
          version: 'x',
          apiVersion: options.apiVersion ?? '1.41',
          os: 'linux',
          arch: 'amd64',
        }),
      info: () =>
        Promise.resolve({
          id: 'e',
          name: 'e',
          dockerRootDir: '/var/lib/docker',
          storageDriver: 'overlay2',
          ...(options.containerd ? { imageStore: 'containerd' as const } : {}),
          containers: 0,
          images: 1,
          cpus: 1,
          memoryBytes: 1,
          architecture: 'x86_64',
          os: 'linux',
          serverVersion: 'x',
        }),
    };
  }

  /** The sent archive's entries by path: blank ones have no content. */
  async function sent(stream: AsyncIterable<Uint8Array>): Promise<Map<string, Buffer>> {
    const entries = await entriesOf(await collect(stream));
    return new Map(entries.filter((e) => e.type === 'file').map((e) => [e.name, e.content]));
  }

  const LEGACY: SaveSpec = {
    layers: (() => {
      const bodies = [L1, L2, L3];
      const paths = legacyLayerPaths(bodies.map((body) => sha256(body)));
      return bodies.map((body, index) => ({
        v1id: paths[index]?.split('/')[0] ?? 'ffff'.repeat(16),
        body,
      }));
    })(),
  };
  const OCI: SaveSpec = { layers: THREE_LAYERS.layers, oci: true };

  it('reads an OCI save once and leaves out the layers the receiver has', async () => {
    const engine = savingEngine(OCI, { apiVersion: '1.47' });
    const forSend = await saveImageForSend(engine, engine.layout.imageId, 2);
    const files = await sent(forSend.stream);
    expect(engine.saves).toEqual([[engine.layout.imageId]]);
    const [first, second, top] = engine.layout.layers.map((layer) => files.get(layer.path));
    expect([first?.length, second?.length]).toEqual([0, 0]);
    expect(top?.equals(L3)).toBe(true);
    expect(forSend.skippedBytes()).toBe(L1.length + L2.length);
  });

  it('reads a Docker 20.10 save once, naming its lower layers from their chain', async () => {
    const engine = savingEngine(LEGACY);
    const forSend = await saveImageForSend(engine, engine.layout.imageId, 2);
    const files = await sent(forSend.stream);
    expect(engine.saves).toHaveLength(1);
    expect(files.get(engine.layout.layers[0]?.path ?? '')?.length).toBe(0);
    expect(files.get(engine.layout.layers[1]?.path ?? '')?.length).toBe(0);
    expect(files.get(engine.layout.layers[2]?.path ?? '')?.equals(L3)).toBe(true);
    expect(forSend.skippedBytes()).toBe(L1.length + L2.length);
    // The receiver's manifest check still finds the image it was granted.
    const guarded = await collect(
      guardGrantedImage(
        Readable.from([await collect((await saveImageForSend(engine, engine.layout.imageId, 2)).stream)]),
        {
          imageId: engine.layout.imageId,
          tags: ['dm/app:1'],
        },
      ),
    );
    expect((await readSaveLayout(Readable.from([guarded]))).repoTags).toEqual(['dm/app:1']);
  });

  it('reads the layout first where it cannot be known, then remembers it: the next send is one read', async () => {
    const engine = savingEngine(THREE_LAYERS, { apiVersion: '1.47', containerd: true });
    const first = await saveImageForSend(engine, engine.layout.imageId, 2);
    await sent(first.stream);
    expect(engine.saves).toHaveLength(2);
    expect(first.skippedBytes()).toBe(L1.length + L2.length);
    const second = await saveImageForSend(engine, engine.layout.imageId, 1);
    const files = await sent(second.stream);
    expect(engine.saves).toHaveLength(3);
    expect(second.skippedBytes()).toBe(L1.length);
    expect(files.get(engine.layout.layers[1]?.path ?? '')?.equals(L2)).toBe(true);
  });

  it('sends a layer whole when its name was guessed wrong, and leaves it out the next time', async () => {
    // The engine says API 1.47 but writes v1 ids: the OCI guess names none of its layers.
    const engine = savingEngine(THREE_LAYERS, { apiVersion: '1.47' });
    const first = await saveImageForSend(engine, engine.layout.imageId, 2);
    const files = await sent(first.stream);
    expect(engine.saves).toHaveLength(1);
    expect(first.skippedBytes()).toBe(0);
    expect(files.get(engine.layout.layers[0]?.path ?? '')?.equals(L1)).toBe(true);
    const second = await saveImageForSend(engine, engine.layout.imageId, 2);
    await sent(second.stream);
    expect(engine.saves).toHaveLength(2);
    expect(second.skippedBytes()).toBe(L1.length + L2.length);
  });

  it('keeps a shared layer file that a layer the receiver lacks also reads', async () => {
    const repeated: SaveSpec = {
      oci: true,
      layers: [
        { v1id: 'aaaa'.repeat(16), body: L1 },
        { v1id: 'cccc'.repeat(16), body: L2 },
        { v1id: '1111'.repeat(16), sameAs: 'aaaa'.repeat(16) },
      ],
    };
    const engine = savingEngine(repeated, { apiVersion: '1.47' });
    const forSend = await saveImageForSend(engine, engine.layout.imageId, 2);
    const files = await sent(forSend.stream);
    expect(files.get(engine.layout.layers[0]?.path ?? '')?.equals(L1)).toBe(true);
    expect(files.get(engine.layout.layers[1]?.path ?? '')?.length).toBe(0);
  });

  it('sends everything, read once, when the receiver has no layer', async () => {
    const engine = savingEngine(LEGACY);
    const forSend = await saveImageForSend(engine, engine.layout.imageId, 0);
    await sent(forSend.stream);
    expect(engine.saves).toHaveLength(1);
    expect(forSend.skippedBytes()).toBe(0);
    expect(forSend.stats().layerBytesSent).toBe(L1.length + L2.length + L3.length);
  });
});

describe('memory while filtering a large layer', () => {
  it('stays flat while a 256 MiB layer is read for its layout and then filtered', async () => {
    const spec: SaveSpec = {
      layers: [
        { v1id: 'aaaa'.repeat(16), body: L1 },
        { v1id: 'bbbb'.repeat(16), generated: 256 * MiB },
      ],
    };
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    try {
      const layout = await readSaveLayout(saveStream(spec));
      const filtered = filterSavedImage(saveStream(spec), new Set([layout.layers[0]?.path ?? '']), {
        expected: layout,
      });
      let bytes = 0;
      for await (const chunk of filtered.stream) bytes += chunk.length;
      expect(filtered.stats().layerBytesSent).toBe(256 * MiB);
      expect(bytes).toBe(filtered.stats().totalBytes);
      expect(bytes).toBeGreaterThan(256 * MiB);
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `image-archive: 256 MiB layer read + filtered in ${seconds.toFixed(2)} s, rss growth ${((peak - baseline) / MiB).toFixed(1)} MiB`,
    );
    expect(peak - baseline).toBeLessThan(64 * MiB);
  }, 120_000);
});

describe('guardGrantedImage', () => {
  const layout = expectedLayout(THREE_LAYERS);
  const GRANTED = { imageId: layout.imageId, tags: ['dm/app:1-migrated'] };

  /** A save's entries, changed by `edit`, packed again: what a hostile sender can stream. */
  async function edited(
    edit: (entries: ParsedEntry[]) => ParsedEntry[],
    spec: SaveSpec = THREE_LAYERS,
  ): Promise<Buffer> {
    const entries = edit(await entriesOf(await collect(saveStream(spec))));
    const pack = tar.pack();
    for (const entry of entries) {
      const header = { name: entry.name, type: entry.type as Header['type'], mode: entry.mode, mtime: MTIME };
      if (entry.type === 'symlink' || entry.type === 'link')
        pack.entry({ ...header, linkname: entry.linkname ?? '' });
      else if (entry.type === 'directory') pack.entry(header);
      else pack.entry(header, entry.content);
    }
    pack.finalize();
    return collect(pack as AsyncIterable<Uint8Array>);
  }

  function configEntry(entries: ParsedEntry[]): ParsedEntry {
    const found = entries.find((entry) => entry.name === layout.configPath);
    if (!found) throw new Error('no config');
    return found;
  }

  it('passes the granted image with manifest.json last, naming exactly the granted tags', async () => {
    const original = await entriesOf(await collect(saveStream(THREE_LAYERS)));
    const out = await entriesOf(await collect(guardGrantedImage(saveStream(THREE_LAYERS), GRANTED)));
    expect(out.map((entry) => entry.name)).toEqual([
      ...original.map((entry) => entry.name).filter((name) => name !== 'manifest.json'),
      'manifest.json',
    ]);
    for (const entry of out.slice(0, -1)) {
      expect(entry.content).toEqual(original.find((other) => other.name === entry.name)?.content);
    }
    expect(JSON.parse(out.at(-1)?.content.toString() ?? '')).toEqual([
      {
        Config: layout.configPath,
        RepoTags: ['dm/app:1-migrated'],
        Layers: layout.layers.map((layer) => layer.path),
      },
    ]);
  });

  it('gives the image no tags when the grant names none, and drops the legacy repositories file', async () => {
    const bytes = await edited((entries) => [
      ...entries,
      {
        name: 'repositories',
        type: 'file',
        mode: 0o644,
        size: 0,
        linkname: null,
        content: Buffer.from('{"dm/app":{"1":"x"}}'),
      },
    ]);
    const out = await entriesOf(
      await collect(guardGrantedImage(Readable.from([bytes]), { ...GRANTED, tags: [] })),
    );
    expect(out.map((entry) => entry.name)).not.toContain('repositories');
    expect(JSON.parse(out.at(-1)?.content.toString() ?? '')).toMatchObject([{ RepoTags: [] }]);
  });

  it('refuses another image than granted, and never lets manifest.json or the end of the archive through', async () => {
    const other: SaveSpec = { ...THREE_LAYERS, layers: THREE_LAYERS.layers.slice(0, 2) };
    const chunks: Buffer[] = [];
    const error = await failureOf(
      (async () => {
        for await (const chunk of guardGrantedImage(saveStream(other), GRANTED)) chunks.push(chunk);
      })(),
    );
    expect(error.code).toBe('permission_denied');
    expect(error.message).toBe(
      `transfer refused: the sender streamed image ${expectedLayout(other).imageId}, the grant names ${GRANTED.imageId}`,
    );
    const sent = Buffer.concat(chunks);
    expect(sent.includes(Buffer.from('manifest.json'))).toBe(false);
    expect(sent.subarray(-1024).equals(Buffer.alloc(1024))).toBe(false);
  });

  it('refuses a save of several images', async () => {
    const error = await failureOf(
      collect(guardGrantedImage(saveStream({ ...THREE_LAYERS, extraImages: 1 }), GRANTED)),
    );
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('holds 2 images');
  });

  const file = (name: string, content: string | Buffer): ParsedEntry => ({
    name,
    type: 'file',
    mode: 0o644,
    size: 0,
    linkname: null,
    content: Buffer.from(content),
  });
  const symlink = (name: string, linkname: string): ParsedEntry => ({
    name,
    type: 'symlink',
    mode: 0o777,
    size: 0,
    linkname,
    content: Buffer.alloc(0),
  });

  it.each<[string, (entries: ParsedEntry[]) => ParsedEntry[], RegExp]>([
    [
      'the granted config followed by another under the same name',
      (entries) => [...entries, file(layout.configPath, '{"rootfs":{}}')],
      /holds .*\.json twice/,
    ],
    [
      'the same entry under another spelling',
      (entries) => [...entries, file(`./x/../${layout.configPath}`, '{}')],
      /twice/,
    ],
    ['a path above the archive', (entries) => [file('../evil', 'x'), ...entries], /outside the archive/],
    ['an absolute path', (entries) => [file('/etc/evil', 'x'), ...entries], /outside the archive/],
    [
      'a symlink pointing outside',
      (entries) => [...entries, symlink('x/layer.tar', '../../etc/shadow')],
      /points outside the archive/,
    ],
    [
      'a symlink pointing at an absolute path',
      (entries) => [...entries, symlink('x/layer.tar', '/etc/shadow')],
      /points outside the archive/,
    ],
    [
      'an entry written through a symlink',
      (entries) => [symlink('d', '.'), ...entries, file('d/other.json', '{}')],
      /lies under the symlink d/,
    ],
    [
      'a symlink over a folder of the archive',
      (entries) => [...entries, file('implied/a.json', '{}'), symlink('implied', '.')],
      /would replace a folder/,
    ],
    [
      'a hard link',
      (entries) => [...entries, { ...symlink('copy.json', layout.configPath), type: 'link' }],
      /is a link, which docker save never writes/,
    ],
    [
      'a config that is a symlink to the granted config',
      (entries) => {
        const config = configEntry(entries);
        return [
          ...entries.filter((entry) => entry !== config && entry.name !== 'manifest.json'),
          file('real.json', config.content),
          symlink(config.name, 'real.json'),
          ...entries.filter((entry) => entry.name === 'manifest.json'),
        ];
      },
      /is not a file of the archive/,
    ],
  ])('refuses %s', async (_what, edit, reason) => {
    const bytes = await edited(edit);
    const error = await failureOf(collect(guardGrantedImage(Readable.from([bytes]), GRANTED)));
    expect(error.message).toMatch(reason);
  });
});

describe('loadGrantedImage against a fake engine', () => {
  const layout = expectedLayout(THREE_LAYERS);

  /** Images by id with their tags, loaded as the Engine does: RepoTags of manifest.json move tags to the image. */
  function fakeEngine(options: { alsoTag?: string } = {}) {
    const tags = new Map<string, string>([['dm/app:1', 'sha256:other']]);
    const images = new Set<string>(['sha256:other']);
    const details = (id: string): ImageDetails => ({
      id,
      tags: [...tags].filter(([, target]) => target === id).map(([tag]) => tag),
      digests: [],
      size: 0,
      created: 0,
      labels: {},
      containers: -1,
      architecture: 'amd64',
      os: 'linux',
      layers: [],
    });
    return {
      tags,
      images,
      listImages: (): Promise<ImageSummary[]> => Promise.resolve([...images].map(details)),
      inspectImage: (ref: string): Promise<ImageDetails> => {
        const id = images.has(ref) ? ref : tags.get(ref);
        return id === undefined
          ? Promise.reject(new AppError('not_found', `no such image: ${ref}`))
          : Promise.resolve(details(id));
      },
      tagImage: (id: string, repo: string, tag: string): Promise<void> => {
        tags.set(`${repo}:${tag}`, id);
        return Promise.resolve();
      },
      removeImage: (ref: string): Promise<void> => {
        if (tags.delete(ref)) {
          const id = layout.imageId;
          if (![...tags.values()].includes(id) && ref !== id) images.delete(id);
          return Promise.resolve();
        }
        if (!images.delete(ref)) return Promise.reject(new AppError('not_found', `no such image: ${ref}`));
        for (const [tag, target] of tags) if (target === ref) tags.delete(tag);
        return Promise.resolve();
      },
      loadImages: async (stream: AsyncIterable<Uint8Array>): Promise<void> => {
        const entries = await entriesOf(await collect(stream));
        const manifest = entries.find((entry) => entry.name === 'manifest.json');
        if (!manifest) throw new AppError('invalid_argument', 'no manifest');
        const [image] = JSON.parse(manifest.content.toString()) as { Config: string; RepoTags: string[] }[];
        const config = entries.find((entry) => entry.name === image?.Config);
        if (!image || !config) throw new AppError('invalid_argument', 'no config');
        const id = sha256(config.content);
        images.add(id);
        for (const tag of image.RepoTags) tags.set(tag, id);
        if (options.alsoTag) tags.set(options.alsoTag, id);
      },
    };
  }

  it('loads the image under the granted tags only, leaving the tag the source used where it was', async () => {
    const engine = fakeEngine();
    await loadGrantedImage(engine, saveStream(THREE_LAYERS), {
      imageId: layout.imageId,
      tags: ['dm/app:1-migrated'],
    });
    expect(engine.tags.get('dm/app:1-migrated')).toBe(layout.imageId);
    expect(engine.tags.get('dm/app:1')).toBe('sha256:other');
    expect(engine.tags.has('dm/app:latest')).toBe(false);
  });

  it('undoes a load that left the image with a tag the grant does not name, and only that load', async () => {
    const engine = fakeEngine({ alsoTag: 'dm/app:1' });
    const error = await failureOf(
      loadGrantedImage(engine, saveStream(THREE_LAYERS), { imageId: layout.imageId, tags: ['dm/app:2'] }),
    );
    expect(error.message).toContain('tags the grant does not name: dm/app:1');
    // dm/app:1 names the image it named before; the load's own tag and image are gone.
    expect(engine.tags.get('dm/app:1')).toBe('sha256:other');
    expect(engine.tags.has('dm/app:2')).toBe(false);
    expect(engine.images.has(layout.imageId)).toBe(false);
    expect(engine.images.has('sha256:other')).toBe(true);
  });

  it('moves a granted tag that named another image back when the load fails', async () => {
    const engine = fakeEngine({ alsoTag: 'dm/stray:1' });
    await failureOf(
      loadGrantedImage(engine, saveStream(THREE_LAYERS), { imageId: layout.imageId, tags: ['dm/app:1'] }),
    );
    expect(engine.tags.get('dm/app:1')).toBe('sha256:other');
    expect(engine.tags.has('dm/stray:1')).toBe(false);
    expect(engine.images.has(layout.imageId)).toBe(false);
  });
});
