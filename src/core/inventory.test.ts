// Inventory deltas: what a worker sends when its engine changes, and how the master folds it into its view.
import { describe, expect, it } from 'vitest';
import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from './docker-resources.js';
import { applyInventoryChanges, diffInventories, type InventoryChange } from './inventory.js';
import type { Inventory } from './workers.js';

function container(id: string, overrides: Partial<ContainerSummary> = {}): ContainerSummary {
  return {
    id,
    name: `c-${id}`,
    image: 'base:latest',
    imageId: 'sha256:base',
    command: 'sleep infinity',
    state: 'running',
    status: 'Up 1 minute',
    created: 1_700_000_000,
    labels: {},
    ports: [],
    volumeNames: [],
    networkNames: ['bridge'],
    ...overrides,
  };
}

function image(id: string, overrides: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id,
    tags: [`${id}:latest`],
    digests: [],
    size: 1000,
    created: 1_700_000_000,
    labels: {},
    containers: 0,
    ...overrides,
  };
}

function volume(name: string, overrides: Partial<VolumeSummary> = {}): VolumeSummary {
  return {
    name,
    driver: 'local',
    mountpoint: `/var/lib/docker/volumes/${name}/_data`,
    labels: {},
    options: {},
    scope: 'local',
    ...overrides,
  };
}

function network(id: string, overrides: Partial<NetworkSummary> = {}): NetworkSummary {
  return {
    id,
    name: `n-${id}`,
    driver: 'bridge',
    scope: 'local',
    internal: false,
    attachable: false,
    ipv6: false,
    labels: {},
    options: {},
    ipam: { driver: 'default', config: [], options: {} },
    builtIn: false,
    ...overrides,
  };
}

function inventory(parts: Partial<Inventory> = {}): Inventory {
  return { containers: [], images: [], volumes: [], networks: [], ...parts };
}

const before = inventory({
  containers: [container('c1'), container('c2')],
  images: [image('i1'), image('i2')],
  volumes: [volume('data'), volume('logs')],
  networks: [network('n1'), network('n2')],
});

const after = inventory({
  containers: [container('c1', { state: 'exited', status: 'Exited (0)' }), container('c3')],
  images: [image('i1'), image('i3')],
  volumes: [volume('data', { labels: { app: 'web' } }), volume('cache')],
  networks: [network('n2'), network('n3')],
});

describe('diffInventories', () => {
  it('reports nothing for equal inventories', () => {
    expect(diffInventories(before, structuredClone(before))).toEqual([]);
  });

  it('reports added, changed and removed items of every kind', () => {
    const changes = diffInventories(before, after);
    const byKind = (kind: InventoryChange['kind']): InventoryChange[] =>
      changes.filter((change) => change.kind === kind);

    expect(byKind('container')).toEqual([
      { kind: 'container', key: 'c1', item: after.containers[0] },
      { kind: 'container', key: 'c3', item: after.containers[1] },
      { kind: 'container', key: 'c2' },
    ]);
    expect(byKind('image')).toEqual([
      { kind: 'image', key: 'i3', item: after.images[1] },
      { kind: 'image', key: 'i2' },
    ]);
    expect(byKind('network')).toEqual([
      { kind: 'network', key: 'n3', item: after.networks[1] },
      { kind: 'network', key: 'n1' },
    ]);
    expect(changes).toHaveLength(10);
  });

  it('keys volumes by name', () => {
    const changes = diffInventories(before, after).filter((change) => change.kind === 'volume');
    expect(changes).toEqual([
      { kind: 'volume', key: 'data', item: volume('data', { labels: { app: 'web' } }) },
      { kind: 'volume', key: 'cache', item: volume('cache') },
      { kind: 'volume', key: 'logs' },
    ]);
  });

  it('treats a removed item as a change without an item', () => {
    const changes = diffInventories(inventory({ volumes: [volume('data')] }), inventory());
    expect(changes).toEqual([{ kind: 'volume', key: 'data' }]);
    expect(changes[0]).not.toHaveProperty('item');
  });
});

describe('applyInventoryChanges', () => {
  it('leaves the inventory it was given untouched', () => {
    const original = structuredClone(before);
    const next = applyInventoryChanges(before, diffInventories(before, after));
    expect(before).toEqual(original);
    expect(next).not.toEqual(before);
    expect(next.volumes).not.toBe(before.volumes);
  });

  it('adds new items, replaces known ones and removes deleted ones', () => {
    const next = applyInventoryChanges(before, [
      { kind: 'volume', key: 'cache', item: volume('cache') },
      { kind: 'volume', key: 'data', item: volume('data', { driver: 'nfs' }) },
      { kind: 'volume', key: 'logs' },
      { kind: 'container', key: 'c2' },
    ]);
    expect(next.volumes).toEqual([volume('data', { driver: 'nfs' }), volume('cache')]);
    expect(next.containers.map((c) => c.id)).toEqual(['c1']);
    expect(next.images).toEqual(before.images);
    expect(next.networks).toEqual(before.networks);
  });

  it('ignores the removal of an item it does not hold', () => {
    const next = applyInventoryChanges(before, [{ kind: 'image', key: 'unknown' }]);
    expect(next).toEqual(before);
  });

  it('turns an inventory into the other when given their difference', () => {
    expect(applyInventoryChanges(before, diffInventories(before, after))).toEqual(after);
    expect(applyInventoryChanges(inventory(), diffInventories(inventory(), after))).toEqual(after);
  });
});
