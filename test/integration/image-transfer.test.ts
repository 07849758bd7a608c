// Image transfer between two real engines: an image built on h1 reaches h2 with its id and tags, sending only the
// layers h2 lacks (docker load skips reading a layer file whose chain it has), and runs there with the same data;
// a receiving worker loads only the image its grant names, under exactly the tags the grant names.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';

import Dockerode from 'dockerode';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AppError } from '../../src/core/errors.js';
import { removeLabelled } from '../../src/core/testing/docker-engine-contract.js';
import type { DockerEngine } from '../../src/core/ports.js';
import type { TransferResource, TransferResult } from '../../src/core/worker-commands.js';
import { createLogger } from '../../src/platform/logger.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/platform/pki.js';
import { signGrant } from '../../src/transfer/grant.js';
import {
  filterSavedImage,
  loadGrantedImage,
  readSaveLayout,
  saveImageForSend,
  sharedLayerPrefix,
  shipImage,
} from '../../src/transfer/image-archive.js';
import { CommandExecutor } from '../../src/worker/command-executor.js';
import type { VolumeCopies } from '../../src/worker/volume-copies.js';
import { SyncSessions } from '../../src/worker/sync-sessions.js';
import { TransferInbox, type TransferConsumer } from '../../src/worker/transfer-inbox.js';
import type { VolumeAccess } from '../../src/worker/volume-access.js';
import {
  engineOverSocket,
  newRunLabel,
  testDockerHost,
  type TestDockerHost,
} from '../support/docker-hosts.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const h1 = testDockerHost(0);
const h2 = testDockerHost(1);
const engine1 = engineOverSocket(h1);
const engine2 = engineOverSocket(h2);
const runLabel = newRunLabel();
const repo = `dm-it-${runLabel.slice(-8)}`;
const IMAGE_A = `${repo}/a:1`;
const IMAGE_B = [`${repo}/b:one`, `${repo}/b:two`];
const IMAGE_C = `${repo}/c:1`;
const IMAGE_D = `${repo}/d:1`;
/** The image a grant names, another image a sender might stream instead, and a tag h2 already has. */
const GRANTED = `${repo}/granted:1`;
const OTHER = `${repo}/other:1`;
const APP = `${repo}/app:1`;
const APP_MIGRATED = `${repo}/app:1-migrated`;
const ALL_REFS = [IMAGE_A, ...IMAGE_B, IMAGE_C, IMAGE_D, GRANTED, OTHER, APP, APP_MIGRATED];

function dockerode(host: TestDockerHost): Dockerode {
  const address = new URL(host.socket);
  return address.protocol === 'unix:'
    ? new Dockerode({ socketPath: address.pathname })
    : new Dockerode({ host: address.hostname, port: Number(address.port) });
}

const docker1 = dockerode(h1);
const docker2 = dockerode(h2);

/** Reads an Engine progress stream (build, load, import) to its end; an `error` line in it is a failure. */
async function progress(
  docker: Dockerode,
  stream: NodeJS.ReadableStream,
): Promise<Record<string, unknown>[]> {
  const output = await new Promise<Record<string, unknown>[]>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, lines: Record<string, unknown>[]) => {
      if (error) reject(error);
      else resolve(lines);
    });
  });
  const failed = output.find((line) => line.error !== undefined);
  if (failed) throw new Error(String(failed.error));
  return output;
}

/** The image operations the transfer needs from each engine: listing through our adapter, save/load through the API. */
function imageEngine(
  engine: ReturnType<typeof engineOverSocket>,
  docker: Dockerode,
): Pick<DockerEngine, 'saveImages' | 'loadImages' | 'listImages' | 'inspectImage'> {
  return {
    listImages: (options) => engine.listImages(options),
    inspectImage: (idOrRef) => engine.inspectImage(idOrRef),
    saveImages: async (refs) => {
      // GET /images/get?names=…: dockerode has it, its type definitions do not.
      const withGetImages = docker as unknown as {
        getImages(options: { names: string[] }): Promise<NodeJS.ReadableStream>;
      };
      return (await withGetImages.getImages({ names: refs })) as unknown as AsyncIterable<Uint8Array>;
    },
    loadImages: async (stream) => {
      await progress(docker, await docker.loadImage(Readable.from(stream)));
    },
  };
}

const source = imageEngine(engine1, docker1);
const target = imageEngine(engine2, docker2);

async function build(tag: string, dockerfile: string): Promise<void> {
  const context = tar.pack();
  context.entry({ name: 'Dockerfile' }, dockerfile);
  context.finalize();
  const stream = await docker1.buildImage(Readable.from(context), {
    t: tag,
    labels: { [runLabel]: '1' },
    rm: true,
    forcerm: true,
  });
  await progress(docker1, stream);
}

/** Runs `script` in a throw-away container of `image`, as a user would check it. */
async function inContainer(host: TestDockerHost, image: string, script: string): Promise<string> {
  const { stdout } = await run('docker', [
    '-H',
    host.socket,
    'run',
    '--rm',
    '--label',
    `${runLabel}=1`,
    image,
    'sh',
    '-c',
    script,
  ]);
  return stdout;
}

/** Removes this run's images, children before parents, then anything it tagged. */
async function removeImages(docker: Dockerode): Promise<void> {
  const mine = await docker.listImages({ filters: { label: [runLabel] } });
  mine.sort((a, b) => b.Created - a.Created);
  for (const image of mine)
    await docker
      .getImage(image.Id)
      .remove({ force: true })
      .catch(() => undefined);
  for (const ref of ALL_REFS) {
    await docker
      .getImage(ref)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

beforeAll(async () => {
  await build(IMAGE_A, `FROM ${h1.baseImage}\nRUN head -c ${String(20 * MiB)} /dev/urandom > /a.bin\n`);
  const [firstTag, secondTag] = IMAGE_B as [string, string];
  await build(firstTag, `FROM ${IMAGE_A}\nRUN head -c ${String(5 * MiB)} /dev/urandom > /b.bin\n`);
  const [name, tag] = secondTag.split(':') as [string, string];
  await engine1.tagImage(firstTag, name, tag);
});

afterAll(async () => {
  await removeLabelled(engine1, runLabel);
  await removeLabelled(engine2, runLabel);
  await removeImages(docker1);
  await removeImages(docker2);
});

describe('image transfer between two real engines', () => {
  it('sends A without the base layer h2 already has', async () => {
    const shipment = await shipImage(source, target, [IMAGE_A]);
    const a1 = await engine1.inspectImage(IMAGE_A);
    expect(shipment.imageId).toBe(a1.id);
    expect(shipment.sharedLayers).toBe(1); // the base image's layer has the same diff id on both engines
    expect(shipment.stats.layerBytesSent).toBeGreaterThanOrEqual(20 * MiB);
    expect(shipment.stats.layerBytesSent).toBeLessThan(20 * MiB * 1.01 + 64 * 1024);
    expect((await engine2.inspectImage(IMAGE_A)).id).toBe(a1.id);
    console.log(
      `image-transfer: A sent ${String(shipment.stats.totalBytes)} B on the wire, layers sent ${String(shipment.stats.layerBytesSent)} B, skipped ${String(shipment.stats.layerBytesSkipped)} B`,
    );
  });

  it('sends only the top layer of B and ends with the same image id, both tags and the same data', async () => {
    const b1 = await engine1.inspectImage(IMAGE_B[0] ?? '');
    const a1 = await engine1.inspectImage(IMAGE_A);
    // What B adds to A on disk: the 5 MiB file (the layer tar adds headers and padding).
    const topLayer = b1.size - a1.size;
    // A reaches h2 first (the previous test); shipping it again when it is there sends only metadata.
    await shipImage(source, target, [IMAGE_A]);

    const shipment = await shipImage(source, target, IMAGE_B);
    console.log(
      `image-transfer: B sent ${String(shipment.stats.totalBytes)} B on the wire for a ${String(topLayer)} B top layer; layers sent ${String(shipment.stats.layerBytesSent)} B, skipped ${String(shipment.stats.layerBytesSkipped)} B`,
    );
    expect(shipment.sharedLayers).toBe(b1.layers.length - 1);
    expect(shipment.resentInFull).toBe(false);
    expect(shipment.stats.layerBytesSkipped).toBeGreaterThanOrEqual(20 * MiB);
    expect(shipment.stats.totalBytes).toBeGreaterThanOrEqual(5 * MiB);
    expect(shipment.stats.totalBytes).toBeLessThanOrEqual(topLayer * 1.01 + 64 * 1024);

    const b2 = await engine2.inspectImage(b1.id);
    expect(b2.id).toBe(b1.id);
    expect([...b2.tags].sort()).toEqual([...IMAGE_B].sort());
    expect(b2.layers).toEqual(b1.layers);
    const check = 'sha256sum /a.bin /b.bin';
    const [before, after] = await Promise.all([
      inContainer(h1, IMAGE_B[1] ?? '', check),
      inContainer(h2, IMAGE_B[1] ?? '', check),
    ]);
    expect(after).toBe(before);
    expect(after).toMatch(/^[0-9a-f]{64} {2}\/b\.bin$/m);
  });

  it('sends every layer to a target that has none of them', async () => {
    // An imported root filesystem makes a layer no other image has, so h2 shares nothing with it.
    const maker = await docker1.createContainer({
      Image: h1.baseImage,
      Cmd: ['sh', '-c', `head -c ${String(MiB)} /dev/urandom > /c.bin`],
      Labels: { [runLabel]: '1' },
    });
    await maker.start();
    await maker.wait();
    const [name, tag] = IMAGE_C.split(':') as [string, string];
    await progress(
      docker1,
      await docker1.importImage(Readable.from(await maker.export()), {
        repo: name,
        tag,
        changes: ['ENV PATH=/bin', `LABEL ${runLabel}=1`],
      }),
    );
    const c1 = await engine1.inspectImage(IMAGE_C);
    const h2Layers = await Promise.all(
      (await engine2.listImages()).map((image) => engine2.inspectImage(image.id)),
    );
    expect(h2Layers.flatMap((image) => image.layers)).not.toContain(c1.layers[0]);

    const layout = await readSaveLayout(await source.saveImages([IMAGE_C]));
    // Blanking a layer the target lacks is refused by the Engine with the message shipImage retries on.
    const wrongGuess = filterSavedImage(
      await source.saveImages([IMAGE_C]),
      new Set(layout.layers.map((layer) => layer.path)),
      { expected: layout },
    );
    await expect(target.loadImages(wrongGuess.stream)).rejects.toThrow(/invalid diffID for layer 0/);
    await expect(engine2.inspectImage(IMAGE_C)).rejects.toMatchObject({ code: 'not_found' });

    const shipment = await shipImage(source, target, [IMAGE_C]);
    expect(shipment.sharedLayers).toBe(0);
    expect(shipment.stats.layerBytesSkipped).toBe(0);
    expect(shipment.stats.layerBytesSent).toBeGreaterThan(MiB);
    expect(layout.imageId).toBe(c1.id);
    console.log(
      `image-transfer: C sent ${String(shipment.stats.totalBytes)} B on the wire, layers sent ${String(shipment.stats.layerBytesSent)} B, skipped ${String(shipment.stats.layerBytesSkipped)} B`,
    );

    expect((await engine2.inspectImage(IMAGE_C)).id).toBe(c1.id);
    const [before, after] = await Promise.all([
      inContainer(h1, IMAGE_C, 'sha256sum /c.bin'),
      inContainer(h2, IMAGE_C, 'sha256sum /c.bin'),
    ]);
    expect(after).toBe(before);
  });
});

describe('saving an image for a send', () => {
  it('reads the image once from the engine, leaving out the layers the target has', async () => {
    await build(IMAGE_D, `FROM ${IMAGE_A}\nRUN head -c ${String(3 * MiB)} /dev/urandom > /d.bin\n`);
    await shipImage(source, target, [IMAGE_A]);
    const d1 = await engine1.inspectImage(IMAGE_D);
    const h2Chains = await Promise.all(
      (await engine2.listImages()).map(async (image) => (await engine2.inspectImage(image.id)).layers),
    );
    const shared = sharedLayerPrefix(d1.layers, h2Chains);
    expect(shared).toBe(d1.layers.length - 1);

    // Every `docker save` the sender makes, and every byte it reads from the engine.
    const saves: string[][] = [];
    let bytesRead = 0;
    const counting: Parameters<typeof saveImageForSend>[0] = {
      inspectImage: (ref) => engine1.inspectImage(ref),
      version: () => engine1.version(),
      info: () => engine1.info(),
      saveImages: async (refs) => {
        saves.push(refs);
        const stream = await engine1.saveImages(refs);
        return (async function* (): AsyncGenerator<Uint8Array> {
          for await (const chunk of stream) {
            bytesRead += chunk.length;
            yield chunk;
          }
        })();
      },
    };
    let fullSave = 0;
    for await (const chunk of await engine1.saveImages([d1.id])) fullSave += chunk.length;

    const forSend = await saveImageForSend(counting, d1.id, shared);
    await loadGrantedImage(engine2, forSend.stream, { imageId: d1.id, tags: [IMAGE_D] });
    const stats = forSend.stats();
    console.log(
      `image-transfer: D read once: ${String(saves.length)} save, ${String(bytesRead)} B read of a ${String(fullSave)} B save; ${String(stats.totalBytes)} B sent, ${String(forSend.skippedBytes())} B of layers left out`,
    );
    expect(saves).toEqual([[d1.id]]);
    expect(bytesRead).toBe(fullSave);
    expect(forSend.skippedBytes()).toBeGreaterThanOrEqual(20 * MiB);
    expect(stats.totalBytes).toBeLessThan(3 * MiB * 1.01 + 64 * 1024);

    const d2 = await engine2.inspectImage(IMAGE_D);
    expect(d2.id).toBe(d1.id);
    const [before, after] = await Promise.all([
      inContainer(h1, IMAGE_D, 'sha256sum /a.bin /d.bin'),
      inContainer(h2, IMAGE_D, 'sha256sum /a.bin /d.bin'),
    ]);
    expect(after).toBe(before);
  });
});

describe('a receiving worker on a real engine', () => {
  const TARGET = 'w-target';
  const logger = createLogger({ level: 'silent', format: 'json' });
  const inbox = new TransferInbox();
  let ca: CertificateAuthority;
  let executor: CommandExecutor;
  let sequence = 0;
  let baseOnH2: string;

  beforeAll(async () => {
    ca = await createCertificateAuthority({ commonName: 'image-transfer test CA' });
    executor = new CommandExecutor({
      engine: engine2,
      volumes: undefined as unknown as VolumeAccess, // images only
      inbox,
      identity: () => ({
        workerId: TARGET,
        masterUrls: ['master.invalid:9090'],
        caHash: '',
        enrolledAt: new Date(0).toISOString(),
        keyPem: '',
        certPem: '',
        caPem: ca.certPem,
      }),
      logger,
      syncSessions: new SyncSessions(mkdtempSync(join(tmpdir(), 'dm-image-transfer-'))),
      copies: undefined as unknown as VolumeCopies, // images only
    });
    await build(GRANTED, `FROM ${h1.baseImage}\nRUN echo granted > /granted.txt\n`);
    await build(OTHER, `FROM ${h1.baseImage}\nRUN echo other > /other.txt\n`);
    // Under the `rename` policy the source's tag exists on the target as another image: here h2's base image.
    const [appRepo, appTag] = APP.split(':') as [string, string];
    await engine1.tagImage(GRANTED, appRepo, appTag);
    await engine2.tagImage(h2.baseImage, appRepo, appTag);
    baseOnH2 = (await engine2.inspectImage(h2.baseImage)).id;
  });

  /** A sender as the transfer server hands it over: the bytes of `save`; finishing reads the rest and counts it. */
  function pushOf(save: AsyncIterable<Uint8Array>): (consumer: TransferConsumer) => Promise<TransferResult> {
    const hash = createHash('sha256');
    let bytes = 0;
    async function* read(): AsyncGenerator<Buffer> {
      for await (const chunk of save) {
        const value = Buffer.from(chunk);
        hash.update(value);
        bytes += value.length;
        yield value;
      }
    }
    const generator = read();
    return (consumer) =>
      consumer({
        data: { [Symbol.asyncIterator]: () => ({ next: () => generator.next() }) },
        finish: async () => {
          for (let next = await generator.next(); !next.done; next = await generator.next());
          return { xxh128: hash.digest('hex'), bytes };
        },
      });
  }

  /** Runs transfer.receive on h2's worker for `granted`, with a sender streaming `save` under the same grant. */
  async function receive(
    granted: TransferResource,
    save: AsyncIterable<Uint8Array>,
  ): Promise<{
    received: PromiseSettledResult<TransferResult>;
    delivered: PromiseSettledResult<TransferResult>;
  }> {
    const transferId = `t-image-${String((sequence += 1))}`;
    const grant = signGrant(
      {
        migrationId: 'm-image',
        transferId,
        sourceWorkerId: 'w-source',
        targetWorkerId: TARGET,
        resource: granted,
        expiresAt: Date.now() + 60_000,
      },
      ca.keyPem,
    );
    const controller = new AbortController();
    const receiving = executor.run(
      'transfer.receive',
      { transferId, grant, resource: granted, route: 'direct' },
      { signal: controller.signal, progress: () => undefined },
    );
    const delivering = inbox.deliver(transferId, pushOf(save), 10_000, granted);
    const [received, delivered] = await Promise.allSettled([receiving, delivering]);
    return { received, delivered };
  }

  it('refuses a sender that streams another image than the grant names, and loads nothing of it', async () => {
    const granted = await engine1.inspectImage(GRANTED);
    const other = await engine1.inspectImage(OTHER);
    const imagesBefore = (await engine2.listImages()).map((image) => `${image.id} ${image.tags.join(',')}`);
    const { received, delivered } = await receive(
      { type: 'image', name: granted.id, tags: [GRANTED] },
      await source.saveImages([OTHER]),
    );
    expect(received.status).toBe('rejected');
    expect(delivered.status).toBe('rejected');
    const error = (received as PromiseRejectedResult).reason as unknown;
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('permission_denied');
    expect((error as AppError).message).toContain(granted.id);
    // The Engine untars the whole upload before it reads manifest.json: a stream failed before it has no effect.
    await expect(engine2.inspectImage(other.id)).rejects.toMatchObject({ code: 'not_found' });
    await expect(engine2.inspectImage(OTHER)).rejects.toMatchObject({ code: 'not_found' });
    await expect(engine2.inspectImage(GRANTED)).rejects.toMatchObject({ code: 'not_found' });
    const imagesAfter = (await engine2.listImages()).map((image) => `${image.id} ${image.tags.join(',')}`);
    expect(imagesAfter.sort()).toEqual(imagesBefore.sort());
  });

  it('loads the granted image under exactly the granted tags, leaving a target tag of another image where it was', async () => {
    const granted = await engine1.inspectImage(GRANTED);
    // The source's save names its own tags (app:1 among them); the grant says app:1-migrated.
    expect([...granted.tags].sort()).toEqual([APP, GRANTED].sort());
    const { received, delivered } = await receive(
      { type: 'image', name: granted.id, tags: [APP_MIGRATED] },
      await source.saveImages(granted.tags),
    );
    expect(received.status).toBe('fulfilled');
    expect(delivered.status).toBe('fulfilled');
    const loaded = await engine2.inspectImage(granted.id);
    expect(loaded.id).toBe(granted.id);
    expect(loaded.tags).toEqual([APP_MIGRATED]);
    expect((await engine2.inspectImage(APP)).id).toBe(baseOnH2);
    await expect(engine2.inspectImage(GRANTED)).rejects.toMatchObject({ code: 'not_found' });
    const [before, after] = await Promise.all([
      inContainer(h1, GRANTED, 'cat /granted.txt'),
      inContainer(h2, APP_MIGRATED, 'cat /granted.txt'),
    ]);
    expect(after).toBe(before);
  });

  it('refuses a grant whose tags differ from the command’s before reading anything', async () => {
    const granted = await engine1.inspectImage(GRANTED);
    const transferId = `t-image-${String((sequence += 1))}`;
    const grant = signGrant(
      {
        migrationId: 'm-image',
        transferId,
        sourceWorkerId: 'w-source',
        targetWorkerId: TARGET,
        resource: { type: 'image', name: granted.id, tags: [APP_MIGRATED] },
        expiresAt: Date.now() + 60_000,
      },
      ca.keyPem,
    );
    // No sender comes: the refusal must not wait for one.
    const receiving = executor.run(
      'transfer.receive',
      { transferId, grant, resource: { type: 'image', name: granted.id, tags: [APP] }, route: 'direct' },
      { signal: AbortSignal.timeout(5_000), progress: () => undefined },
    );
    await expect(receiving).rejects.toMatchObject({ code: 'permission_denied' });
    expect((await engine2.inspectImage(APP)).id).toBe(baseOnH2);
  });
});
