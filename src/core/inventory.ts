// Inventory changes: how a worker's view of its engine is diffed into deltas and how the master applies them.
import type { ContainerSummary, ImageSummary, NetworkSummary, VolumeSummary } from './docker-resources.js';
import type { Inventory } from './workers.js';

export type ResourceKind = 'container' | 'image' | 'volume' | 'network';

export interface InventoryChange {
  kind: ResourceKind;
  /** Container, image or network id; volume name. */
  key: string;
  /** The new item; undefined when it was removed. */
  item?: ContainerSummary | ImageSummary | VolumeSummary | NetworkSummary;
}

export function inventoryKey(kind: ResourceKind, item: InventoryChange['item']): string {
  if (!item) return '';
  return kind === 'volume' ? (item as VolumeSummary).name : (item as { id: string }).id;
}

const LISTS: Record<ResourceKind, keyof Inventory> = {
  container: 'containers',
  image: 'images',
  volume: 'volumes',
  network: 'networks',
};

/** Applies changes to an inventory, returning a new one (the old is left untouched for readers). */
export function applyInventoryChanges(inventory: Inventory, changes: InventoryChange[]): Inventory {
  const next: Inventory = {
    containers: [...inventory.containers],
    images: [...inventory.images],
    volumes: [...inventory.volumes],
    networks: [...inventory.networks],
  };
  for (const change of changes) {
    const list = next[LISTS[change.kind]] as InventoryChange['item'][];
    const index = list.findIndex((item) => inventoryKey(change.kind, item) === change.key);
    if (change.item === undefined) {
      if (index >= 0) list.splice(index, 1);
    } else if (index >= 0) {
      list[index] = change.item;
    } else {
      list.push(change.item);
    }
  }
  return next;
}

/** The changes that turn `before` into `after`, by key and JSON equality. */
export function diffInventories(before: Inventory, after: Inventory): InventoryChange[] {
  const changes: InventoryChange[] = [];
  for (const kind of Object.keys(LISTS) as ResourceKind[]) {
    const list = LISTS[kind];
    const old = new Map(
      (before[list] as InventoryChange['item'][]).map((item) => [inventoryKey(kind, item), item]),
    );
    const seen = new Set<string>();
    for (const item of after[list] as InventoryChange['item'][]) {
      const key = inventoryKey(kind, item);
      seen.add(key);
      const previous = old.get(key);
      if (!previous || JSON.stringify(previous) !== JSON.stringify(item)) changes.push({ kind, key, item });
    }
    for (const key of old.keys()) if (!seen.has(key)) changes.push({ kind, key });
  }
  return changes;
}
