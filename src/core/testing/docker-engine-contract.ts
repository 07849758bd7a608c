// The behaviour every DockerEngine must show; run against the fake (unit) and real engines (integration).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DockerEvent } from '../docker-resources.js';
import { AppError, type ErrorCode } from '../errors.js';
import type { DockerEngine } from '../ports.js';

export interface ContractHarness {
  engine: DockerEngine;
  /** An image present on the engine whose default command can run `sleep`. */
  baseImage: string;
  /** Label every object the suite creates carries, so that cleanup finds them. */
  runLabel: string;
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

/** Removes every container, network and volume carrying the run label (containers first: they hold the rest). */
export async function removeLabelled(engine: DockerEngine, runLabel: string): Promise<void> {
  const labels = { [runLabel]: true } as const;
  for (const c of await engine.listContainers({ all: true, labels })) {
    await engine.removeContainer(c.id, { force: true }).catch(() => undefined);
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
