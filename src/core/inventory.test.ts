// Inventory deltas: what a worker sends when its engine changes, and how the master folds it into its view.
import { describe, expect, it } from 'vitest';
import { applyInventoryChanges, diffInventories, type InventoryChange } from './inventory.js';
import { sampleContainer, sampleImage, sampleNetwork, sampleVolume } from './testing/sample-resources.js';
import type { Inventory } from './workers.js';

function inventory(parts: Partial<Inventory> = {}): Inventory {
  return { containers: [], images: [], volumes: [], networks: [], ...parts };
}

const before = inventory({
  containers: [sampleContainer({ id: 'c1' }), sampleContainer({ id: 'c2' })],
  images: [sampleImage({ id: 'i1' }), sampleImage({ id: 'i2' })],
  volumes: [sampleVolume({ name: 'data' }), sampleVolume({ name: 'logs' })],
  networks: [sampleNetwork({ id: 'n1' }), sampleNetwork({ id: 'n2' })],
});

const after = inventory({
  containers: [
    sampleContainer({ id: 'c1', state: 'exited', status: 'Exited (0)' }),
    sampleContainer({ id: 'c3' }),
  ],
  images: [sampleImage({ id: 'i1' }), sampleImage({ id: 'i3' })],
  volumes: [sampleVolume({ name: 'data', labels: { app: 'web' } }), sampleVolume({ name: 'cache' })],
  networks: [sampleNetwork({ id: 'n2' }), sampleNetwork({ id: 'n3' })],
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
      { kind: 'volume', key: 'data', item: sampleVolume({ name: 'data', labels: { app: 'web' } }) },
      { kind: 'volume', key: 'cache', item: sampleVolume({ name: 'cache' }) },
      { kind: 'volume', key: 'logs' },
    ]);
  });

  it('treats a removed item as a change without an item', () => {
    const changes = diffInventories(inventory({ volumes: [sampleVolume({ name: 'data' })] }), inventory());
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
      { kind: 'volume', key: 'cache', item: sampleVolume({ name: 'cache' }) },
      { kind: 'volume', key: 'data', item: sampleVolume({ name: 'data', driver: 'nfs' }) },
      { kind: 'volume', key: 'logs' },
      { kind: 'container', key: 'c2' },
    ]);
    expect(next.volumes).toEqual([
      sampleVolume({ name: 'data', driver: 'nfs' }),
      sampleVolume({ name: 'cache' }),
    ]);
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
