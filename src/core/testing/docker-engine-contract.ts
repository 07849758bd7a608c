// The behaviour every DockerEngine must show; run against the fake (unit) and real engines (integration).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerEvent } from '../docker-resources.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { DockerEngine } from '../ports.js';
import { bytesOf, entriesOf, firstDifference, streamOf, tarOf } from './tar-bytes.js';

export interface ContractHarness {
  engine: DockerEngine;
  /** An image present on the engine whose default command can run `sleep`. */
  baseImage: string;
  /** Label every object the suite creates carries, so that cleanup finds them. */
  runLabel: string;
}

/** What `inspectContainer(...).raw` holds in the Engine's inspect document, as far as these tests read it. */
interface RawInspect {
  Config: { Env: string[] | null; Cmd: string[] | null };
  HostConfig: { RestartPolicy?: unknown };
  NetworkSettings: {
    Networks: Record<string, { Aliases: string[] | null; IPAMConfig: { IPv4Address?: string } | null }>;
  };
}

async function failureOf(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => new Error('expected a failure, got success'),
    (e: unknown) => e,
  );
  if (error instanceof AppError) return error;
  throw error;
}

async function codeOf(promise: Promise<unknown>): Promise<ErrorCode | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

/**
 * Removes every container, image, network and volume carrying the run label (containers first: they hold the
 * rest). Images get the label through `LABEL` changes on import; tags a test adds to other images it removes itself.
 */
export async function removeLabelled(engine: DockerEngine, runLabel: string): Promise<void> {
  const labels = { [runLabel]: true } as const;
  for (const c of await engine.listContainers({ all: true, labels })) {
    await engine.removeContainer(c.id, { force: true }).catch(() => undefined);
  }
  for (const image of await engine.listImages({ labels })) {
    await engine.removeImage(image.id, { force: true }).catch(() => undefined);
  }
  for (const n of await engine.listNetworks({ labels })) {
    await engine.removeNetwork(n.id).catch(() => undefined);
  }
  for (const v of await engine.listVolumes({ labels })) {
    await engine.removeVolume(v.name, { force: true }).catch(() => undefined);
  }
}

/** Waits for the first event matching `match`, or fails after `timeoutMs`. */
async function nextEvent(
  engine: DockerEngine,
  match: (event: DockerEvent) => boolean,
  trigger: () => Promise<unknown>,
  timeoutMs = 10_000,
): Promise<DockerEvent> {
  const controller = new AbortController();
  const timer = setTimeout(() => {
    controller.abort();
  }, timeoutMs);
  const events = engine.events({ signal: controller.signal })[Symbol.asyncIterator]();
  try {
    // The first next() opens the stream; the trigger runs only once the subscription exists.
    const first = events.next();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await trigger();
    let result = await first;
    while (!result.done) {
      if (match(result.value)) return result.value;
      result = await events.next();
    }
    throw new Error(`no matching event within ${timeoutMs} ms`);
  } finally {
    clearTimeout(timer);
    controller.abort();
    await events.return?.();
  }
}

export function describeDockerEngineContract(name: string, setup: () => Promise<ContractHarness>): void {
  describe(`DockerEngine contract: ${name}`, () => {
    let h: ContractHarness;
    let cleanup: (() => Promise<void>) | undefined;
    let prefix: string;
    const labels = (): Record<string, string> => ({ [h.runLabel]: '1' });

    beforeAll(async () => {
      h = await setup();
      const { engine, runLabel } = h;
      cleanup = () => removeLabelled(engine, runLabel);
      prefix = `dmtest-${Math.random().toString(36).slice(2, 8)}`;
    });

    afterAll(async () => {
      await cleanup?.();
    });

    it('answers ping and reports its API version', async () => {
      await h.engine.ping();
      const version = await h.engine.version();
      expect(version.apiVersion).toMatch(/^1\.\d+$/);
      expect(version.version).not.toBe('');
      const info = await h.engine.info();
      expect(info.cpus).toBeGreaterThan(0);
    });

    it('creates, lists, inspects and removes a volume with its labels', async () => {
      const name = `${prefix}-vol`;
      const created = await h.engine.createVolume({ name, labels: { ...labels(), role: 'data' } });
      expect(created.name).toBe(name);
      expect(created.driver).toBe('local');
      const listed = await h.engine.listVolumes({ labels: { [h.runLabel]: true } });
      expect(listed.map((v) => v.name)).toContain(name);
      expect(listed.find((v) => v.name === name)?.size).toBeUndefined();
      const inspected = await h.engine.inspectVolume(name);
      expect(inspected.labels).toMatchObject({ role: 'data' });
      expect(await codeOf(h.engine.createVolume({ name, labels: labels() }))).toBe('conflict');
      await h.engine.removeVolume(name);
      expect(await codeOf(h.engine.inspectVolume(name))).toBe('not_found');
      expect(await codeOf(h.engine.removeVolume(name))).toBe('not_found');
    });

    it('reports volume sizes and reference counts only when asked', async () => {
      const name = `${prefix}-sized`;
      await h.engine.createVolume({ name, labels: labels() });
      const [volume] = await h.engine
        .listVolumes({ labels: { [h.runLabel]: true }, sizes: true })
        .then((all) => all.filter((v) => v.name === name));
      expect(volume).toBeDefined();
      expect(volume?.size === null || (typeof volume?.size === 'number' && volume.size >= 0)).toBe(true);
      expect(volume?.refCount === null || volume?.refCount === 0).toBe(true);
    });

    it('filters lists by label', async () => {
      const name = `${prefix}-filtered`;
      await h.engine.createVolume({ name, labels: { ...labels(), tier: 'gold' } });
      const gold = await h.engine.listVolumes({ labels: { tier: 'gold', [h.runLabel]: true } });
      const silver = await h.engine.listVolumes({ labels: { tier: 'silver' } });
      expect(gold.map((v) => v.name)).toEqual([name]);
      expect(silver.map((v) => v.name)).not.toContain(name);
    });

    it('creates a user-defined network with IPAM and labels and tells built-in networks apart', async () => {
      const name = `${prefix}-net`;
      const id = await h.engine.createNetwork({
        name,
        labels: { ...labels(), app: 'web' },
        attachable: true,
        ipam: { config: [{ subnet: '10.247.13.0/24', gateway: '10.247.13.1' }] },
      });
      const network = await h.engine.inspectNetwork(name);
      expect(network.id).toBe(id);
      expect(network.driver).toBe('bridge');
      expect(network.attachable).toBe(true);
      expect(network.builtIn).toBe(false);
      expect(network.labels).toMatchObject({ app: 'web' });
      expect(network.ipam.config).toEqual([{ subnet: '10.247.13.0/24', gateway: '10.247.13.1' }]);
      const all = await h.engine.listNetworks();
      expect(all.find((n) => n.name === 'bridge')?.builtIn).toBe(true);
      expect(all.find((n) => n.name === name)?.builtIn).toBe(false);
      expect(await codeOf(h.engine.createNetwork({ name, labels: labels() }))).toBe('conflict');
      await h.engine.removeNetwork(id);
      expect(await codeOf(h.engine.inspectNetwork(name))).toBe('not_found');
    });

    it('runs a container through its life: created, running, exited, removed', async () => {
      const name = `${prefix}-app`;
      const volume = `${prefix}-appdata`;
      const network = `${prefix}-appnet`;
      await h.engine.createVolume({ name: volume, labels: labels() });
      await h.engine.createNetwork({ name: network, labels: labels() });
      const id = await h.engine.createContainer({
        name,
        image: h.baseImage,
        cmd: ['sleep', '300'],
        env: ['MODE=test'],
        labels: { ...labels(), app: 'contract' },
        volumes: { [volume]: '/data' },
        network,
      });
      expect(id).toMatch(/^[0-9a-f]{64}$/);

      const running = () => h.engine.listContainers({ labels: { [h.runLabel]: true } });
      const all = () => h.engine.listContainers({ all: true, labels: { [h.runLabel]: true } });
      expect((await running()).map((c) => c.name)).not.toContain(name);
      const created = (await all()).find((c) => c.name === name);
      expect(created).toMatchObject({
        id,
        state: 'created',
        image: h.baseImage,
        labels: { app: 'contract' },
      });

      await h.engine.startContainer(name);
      await h.engine.startContainer(name);
      const started = (await running()).find((c) => c.name === name);
      expect(started?.state).toBe('running');
      expect(started?.volumeNames).toEqual([volume]);
      expect(started?.networkNames).toEqual([network]);

      const details = await h.engine.inspectContainer(id);
      expect(details.name).toBe(name);
      expect(details.mounts).toEqual([
        expect.objectContaining({ type: 'volume', name: volume, destination: '/data', readOnly: false }),
      ]);
      expect(Object.keys((await h.engine.inspectNetwork(network)).containers)).toEqual([id]);

      expect(await codeOf(h.engine.createContainer({ name, image: h.baseImage, labels: labels() }))).toBe(
        'conflict',
      );
      expect(await codeOf(h.engine.removeContainer(name))).toBe('conflict');
      expect(await codeOf(h.engine.removeVolume(volume))).toBe('conflict');

      await h.engine.stopContainer(name, { timeoutSeconds: 1 });
      await h.engine.stopContainer(name, { timeoutSeconds: 1 });
      expect((await h.engine.inspectContainer(name)).state).toBe('exited');
      await h.engine.removeContainer(name);
      expect(await codeOf(h.engine.inspectContainer(name))).toBe('not_found');
      await h.engine.removeNetwork(network);
      await h.engine.removeVolume(volume);
    });

    it('renames a container: the old name is free, a name in use is a conflict', async () => {
      const name = `${prefix}-ren`;
      const id = await h.engine.createContainer({
        name,
        image: h.baseImage,
        cmd: ['sleep', '300'],
        labels: labels(),
      });
      await h.engine.createContainer({ name: `${name}-other`, image: h.baseImage, labels: labels() });
      await h.engine.renameContainer(name, `${name}-aside`);
      expect((await h.engine.inspectContainer(`${name}-aside`)).id).toBe(id);
      expect(await codeOf(h.engine.inspectContainer(name))).toBe('not_found');
      expect(await codeOf(h.engine.renameContainer(`${name}-aside`, `${name}-other`))).toBe('conflict');
      expect(await codeOf(h.engine.renameContainer(name, `${name}-again`))).toBe('not_found');
      await h.engine.removeContainer(`${name}-aside`);
      await h.engine.removeContainer(`${name}-other`);
    });

    it("lists the changes of a container's writable layer, with the folders of its mount points", async () => {
      const name = `${prefix}-diff`;
      const volume = `${prefix}-diffdata`;
      await h.engine.createVolume({ name: volume, labels: labels() });
      await h.engine.createContainer({
        name,
        image: h.baseImage,
        cmd: ['sleep', '300'],
        labels: labels(),
        volumes: { [volume]: '/data' },
      });
      await h.engine.putArchive(
        name,
        '/tmp',
        streamOf(
          tarOf([
            ['made', null],
            ['made/note.txt', 'x\n'],
          ]),
        ),
      );
      const changes = await h.engine.containerChanges(name);
      expect(changes).toEqual(
        expect.arrayContaining([
          { path: '/tmp', kind: 'modified' },
          { path: '/tmp/made', kind: 'added' },
          { path: '/tmp/made/note.txt', kind: 'added' },
        ]),
      );
      expect(await codeOf(h.engine.containerChanges(`${prefix}-nobody`))).toBe('not_found');
      await h.engine.removeContainer(name);
      await h.engine.removeVolume(volume);
    });

    it('removes an image only when nothing references it; a tag among several is only untagged', async () => {
      const repo = `${prefix}-rmi`;
      const id = await h.engine.importImage(streamOf(tarOf({ 'f.txt': `${repo}\n` })), `${repo}:v1`, {
        changes: [`LABEL ${h.runLabel}=1`],
      });
      await h.engine.tagImage(id, repo, 'v2');
      expect(await codeOf(h.engine.removeImage(id))).toBe('conflict');
      await h.engine.removeImage(`${repo}:v2`);
      expect((await h.engine.inspectImage(id)).tags).toEqual([`${repo}:v1`]);
      const user = await h.engine.createContainer({
        name: `${repo}-user`,
        image: `${repo}:v1`,
        cmd: ['/f.txt'],
        labels: labels(),
      });
      expect(await codeOf(h.engine.removeImage(`${repo}:v1`))).toBe('conflict');
      expect(await codeOf(h.engine.removeImage(id))).toBe('conflict');
      expect((await h.engine.inspectImage(id)).tags).toEqual([`${repo}:v1`]);
      await h.engine.removeContainer(user);
      await h.engine.removeImage(id, { noPrune: true });
      expect(await codeOf(h.engine.inspectImage(id))).toBe('not_found');
    });

    it('refuses to remove a volume a stopped container uses, even forced', async () => {
      const volume = `${prefix}-held`;
      await h.engine.createVolume({ name: volume, labels: labels() });
      const user = await h.engine.createContainer({
        name: `${volume}-user`,
        image: h.baseImage,
        labels: labels(),
        volumes: { [volume]: '/data' },
      });
      expect(await codeOf(h.engine.removeVolume(volume))).toBe('conflict');
      expect(await codeOf(h.engine.removeVolume(volume, { force: true }))).toBe('conflict');
      await h.engine.removeContainer(user);
      await h.engine.removeVolume(volume);
    });

    it('lists and inspects images with their tags and layers, and tags them', async () => {
      const images = await h.engine.listImages();
      const base = images.find((image) => image.tags.includes(h.baseImage));
      expect(base?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(base?.size).toBeGreaterThan(0);
      const details = await h.engine.inspectImage(h.baseImage);
      expect(details.id).toBe(base?.id);
      expect(details.layers.length).toBeGreaterThan(0);
      expect(details.architecture).not.toBe('');

      const repo = `${prefix}-tagged`;
      await h.engine.tagImage(h.baseImage, repo, 'v1');
      expect((await h.engine.inspectImage(`${repo}:v1`)).id).toBe(details.id);
      await h.engine.removeImage(`${repo}:v1`);
      expect(await codeOf(h.engine.inspectImage(`${repo}:v1`))).toBe('not_found');
      expect((await h.engine.inspectImage(h.baseImage)).id).toBe(details.id);
      expect(await codeOf(h.engine.inspectImage(`${prefix}-missing:latest`))).toBe('not_found');
    });

    it('creates a container from an Engine create body, keeping its env, labels, mounts and restart policy', async () => {
      const name = `${prefix}-cfg`;
      const volume = `${prefix}-cfgdata`;
      await h.engine.createVolume({ name: volume, labels: labels() });
      const id = await h.engine.createContainerFromConfig(name, {
        Image: h.baseImage,
        Cmd: ['sleep', '300'],
        Env: ['MODE=contract', 'EMPTY='],
        Labels: { ...labels(), app: 'from-config' },
        HostConfig: {
          RestartPolicy: { Name: 'on-failure', MaximumRetryCount: 3 },
          Mounts: [{ Type: 'volume', Source: volume, Target: '/data' }],
        },
      });
      expect(id).toMatch(/^[0-9a-f]{64}$/);

      const details = await h.engine.inspectContainer(name);
      expect(details).toMatchObject({
        id,
        name,
        state: 'created',
        image: h.baseImage,
        labels: { app: 'from-config' },
      });
      expect(details.volumeNames).toEqual([volume]);
      expect(details.mounts).toEqual([
        expect.objectContaining({ type: 'volume', name: volume, destination: '/data' }),
      ]);
      const raw = details.raw as unknown as RawInspect;
      expect(raw.Config.Env).toEqual(expect.arrayContaining(['MODE=contract', 'EMPTY=']));
      expect(raw.Config.Cmd).toEqual(['sleep', '300']);
      expect(raw.HostConfig.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
      const listed = await h.engine.listContainers({ all: true, labels: { [h.runLabel]: true } });
      expect(listed.find((c) => c.id === id)).toMatchObject({
        name,
        state: 'created',
        labels: { app: 'from-config' },
      });

      expect(
        await codeOf(h.engine.createContainerFromConfig(name, { Image: h.baseImage, Labels: labels() })),
      ).toBe('conflict');
      const missing = await failureOf(
        h.engine.createContainerFromConfig(`${name}-2`, {
          Image: `${prefix}-missing:latest`,
          Labels: labels(),
        }),
      );
      expect(missing.code).toBe('not_found');
      expect(missing.message).toContain(`${prefix}-missing:latest`);
      const noNetwork = await failureOf(
        h.engine.createContainerFromConfig(`${name}-3`, {
          Image: h.baseImage,
          Labels: labels(),
          HostConfig: { NetworkMode: `${prefix}-nonet` },
        }),
      );
      expect(noNetwork.code).toBe('not_found');
      expect(noNetwork.message).toContain(`${prefix}-nonet`);
      await h.engine.removeContainer(name);
      await h.engine.removeVolume(volume);
    });

    it('connects a container to a network under an alias and a fixed address', async () => {
      const network = `${prefix}-conn`;
      const name = `${prefix}-conn-app`;
      await h.engine.createNetwork({
        name: network,
        labels: labels(),
        ipam: { config: [{ subnet: '10.247.14.0/24', gateway: '10.247.14.1' }] },
      });
      const id = await h.engine.createContainer({
        name,
        image: h.baseImage,
        cmd: ['sleep', '300'],
        labels: labels(),
      });
      await h.engine.connectNetwork(network, name, { aliases: ['db'], ipv4Address: '10.247.14.9' });

      const details = await h.engine.inspectContainer(name);
      expect(details.networkNames).toContain(network);
      const endpoint = (details.raw as unknown as RawInspect).NetworkSettings.Networks[network];
      expect(endpoint?.Aliases).toContain('db');
      expect(endpoint?.IPAMConfig?.IPv4Address).toBe('10.247.14.9');
      expect(await codeOf(h.engine.connectNetwork(network, name, { aliases: ['db'] }))).toBe('conflict');
      expect(await codeOf(h.engine.connectNetwork(`${prefix}-nonet`, name))).toBe('not_found');
      expect(await codeOf(h.engine.connectNetwork(network, `${prefix}-nobody`))).toBe('not_found');

      await h.engine.startContainer(name);
      expect((await h.engine.inspectNetwork(network)).containers[id]?.ipv4Address).toBe('10.247.14.9/24');
      await h.engine.removeContainer(name, { force: true });
      await h.engine.removeNetwork(network);
    });

    it('puts files into a created container and reads them back byte for byte', async () => {
      const name = `${prefix}-files`;
      await h.engine.createContainer({ name, image: h.baseImage, cmd: ['sleep', '300'], labels: labels() });
      // More than one chunk of every stream on the way, and not a multiple of the tar block size.
      const blob = new Uint8Array(70_001).map((_, i) => (i * 31 + 7) % 251);
      const tar = tarOf([
        ['restored', null],
        ['restored/blob.bin', blob],
        ['restored/note.txt', 'hello\n'],
      ]);
      await h.engine.putArchive(name, '/tmp', streamOf(tar));

      const file = entriesOf(await bytesOf(await h.engine.getArchive(name, '/tmp/restored/blob.bin')));
      expect(file.map((entry) => entry.name)).toEqual(['blob.bin']);
      expect(firstDifference(file[0]?.data ?? new Uint8Array(), blob)).toBeUndefined();
      const folder = entriesOf(await bytesOf(await h.engine.getArchive(name, '/tmp/restored')));
      expect(
        folder
          .filter((entry) => entry.type === 'file')
          .map((entry) => entry.name)
          .sort(),
      ).toEqual(['restored/blob.bin', 'restored/note.txt']);
      const note = folder.find((entry) => entry.name === 'restored/note.txt');
      expect(new TextDecoder().decode(note?.data)).toBe('hello\n');
      expect((await h.engine.inspectContainer(name)).state).toBe('created');

      const missing = await failureOf(h.engine.getArchive(name, '/tmp/nope'));
      expect(missing.code).toBe('not_found');
      expect(missing.message).toContain('/tmp/nope');
      expect(await codeOf(h.engine.getArchive(`${prefix}-nobody`, '/tmp'))).toBe('not_found');
      expect(await codeOf(h.engine.putArchive(name, '/nope/dir', streamOf(tarOf({ x: 'y' }))))).toBe(
        'not_found',
      );
      expect(
        await codeOf(h.engine.putArchive(name, '/tmp/restored/note.txt', streamOf(tarOf({ x: 'y' })))),
      ).toBe('invalid_argument');
      await h.engine.removeContainer(name);
    });

    it('saves tagged images into one tar and loads them back with the same id and tags', async () => {
      const base = await h.engine.inspectImage(h.baseImage);
      const repo = `${prefix}-saved`;
      await h.engine.tagImage(h.baseImage, repo, 'v1');
      await h.engine.tagImage(h.baseImage, repo, 'v2');
      try {
        const tar = await bytesOf(await h.engine.saveImages([`${repo}:v1`, `${repo}:v2`]));
        const manifestEntry = entriesOf(tar).find((entry) => entry.name === 'manifest.json');
        const manifest = JSON.parse(new TextDecoder().decode(manifestEntry?.data)) as {
          RepoTags: string[] | null;
        }[];
        expect(manifest.flatMap((image) => image.RepoTags ?? []).sort()).toEqual([
          `${repo}:v1`,
          `${repo}:v2`,
        ]);

        await h.engine.removeImage(`${repo}:v1`);
        await h.engine.removeImage(`${repo}:v2`);
        expect(await codeOf(h.engine.inspectImage(`${repo}:v1`))).toBe('not_found');
        await h.engine.loadImages(streamOf(tar, 64 * 1024));
        expect((await h.engine.inspectImage(`${repo}:v1`)).id).toBe(base.id);
        expect((await h.engine.inspectImage(`${repo}:v2`)).tags).toEqual(
          expect.arrayContaining([h.baseImage, `${repo}:v1`, `${repo}:v2`]),
        );
      } finally {
        await h.engine.removeImage(`${repo}:v1`).catch(() => undefined);
        await h.engine.removeImage(`${repo}:v2`).catch(() => undefined);
      }
      const missing = await failureOf(h.engine.saveImages([h.baseImage, `${prefix}-missing:v1`]));
      expect(missing.code).toBe('not_found');
      expect(missing.message).toContain(`${prefix}-missing:v1`);
    });

    it('imports a root filesystem tar as a tagged image with the changes asked for', async () => {
      const reference = `${prefix}-imported:v1`;
      const rootfs = tarOf({ etc: null, 'etc/motd': `imported by ${prefix}\n` });
      const id = await h.engine.importImage(streamOf(rootfs), reference, {
        changes: [`LABEL ${h.runLabel}=1 origin=contract`, 'CMD ["sh"]'],
      });
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      const image = await h.engine.inspectImage(reference);
      expect(image).toMatchObject({
        id,
        tags: [reference],
        labels: { [h.runLabel]: '1', origin: 'contract' },
      });
      expect(image.layers).toHaveLength(1);

      const badChange = h.engine.importImage(streamOf(rootfs), `${prefix}-imported:v2`, {
        changes: ['FOO bar'],
      });
      expect(await codeOf(badChange)).toBe('invalid_argument');
      expect(await codeOf(h.engine.importImage(streamOf('not a tar at all'), `${prefix}-imported:v3`))).toBe(
        'invalid_argument',
      );
      await h.engine.removeImage(reference);
    });

    it('rejects a load of bytes that are not an image archive with a readable error', async () => {
      const error = await failureOf(h.engine.loadImages(streamOf('this is not an image archive\n')));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(/^Docker engine at \S+ could not load the images: ./);
    });

    it('streams events: a new volume is announced', async () => {
      const name = `${prefix}-evt`;
      const event = await nextEvent(
        h.engine,
        (e) => e.type === 'volume' && e.action === 'create' && e.id === name,
        () => h.engine.createVolume({ name, labels: labels() }),
      );
      expect(event).toMatchObject({ type: 'volume', action: 'create', id: name });
      expect(event.timeNano).toMatch(/^\d+$/);
    });

    it('ends the event stream when its signal aborts', async () => {
      const controller = new AbortController();
      const seen: DockerEvent[] = [];
      const consumer = (async () => {
        for await (const event of h.engine.events({ signal: controller.signal })) seen.push(event);
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      controller.abort();
      await expect(consumer).resolves.toBeUndefined();
    });
  });
}

export interface TransferHarness {
  source: DockerEngine;
  target: DockerEngine;
  /** Label every object the suite creates carries, on both engines. */
  runLabel: string;
}

/** What moving images between two engines must keep; run between two fakes (unit) and two real engines. */
export function describeImageTransferContract(name: string, setup: () => Promise<TransferHarness>): void {
  describe(`DockerEngine image transfer: ${name}`, () => {
    let h: TransferHarness;
    let cleanup: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      h = await setup();
      const { source, target, runLabel } = h;
      cleanup = async () => {
        await removeLabelled(source, runLabel);
        await removeLabelled(target, runLabel);
      };
    });

    afterAll(async () => {
      await cleanup?.();
    });

    it('moves tagged images from one engine to another, streaming, keeping the id and every tag', async () => {
      const { source, target, runLabel } = h;
      const repo = `dmtest-${Math.random().toString(36).slice(2, 8)}-moved`;
      const id = await source.importImage(
        streamOf(tarOf({ 'payload.txt': `payload of ${repo}\n` })),
        `${repo}:v1`,
        {
          changes: [`LABEL ${runLabel}=1`],
        },
      );
      await source.tagImage(id, repo, 'v2');
      expect(await codeOf(target.inspectImage(`${repo}:v1`))).toBe('not_found');

      await target.loadImages(await source.saveImages([`${repo}:v1`, `${repo}:v2`]));

      const moved = await target.inspectImage(`${repo}:v1`);
      expect(moved.id).toBe(id);
      expect([...moved.tags].sort()).toEqual([`${repo}:v1`, `${repo}:v2`]);
      expect(moved.labels).toMatchObject({ [runLabel]: '1' });
      expect(moved.layers).toEqual((await source.inspectImage(id)).layers);
    });
  });
}
