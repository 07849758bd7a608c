// Keeps the worker's view of its engine: full snapshots, and deltas driven by the Engine's event stream.
import type { DockerEvent } from '../core/docker-resources.js';
import { diffInventories, type InventoryChange, type ResourceKind } from '../core/inventory.js';
import type { DockerEngine } from '../core/ports.js';
import type { Inventory } from '../core/workers.js';
import type { Logger } from '../platform/logger.js';

/** Which kinds of resources an Engine event may have changed. */
function kindsTouchedBy(event: DockerEvent): ResourceKind[] {
  switch (event.type) {
    case 'container':
      // exec_* and top are noise; everything else can change state, status, health or names.
      return event.action.startsWith('exec_') || event.action === 'top' ? [] : ['container'];
    case 'image':
      return ['image'];
    case 'volume':
      return event.action === 'mount' || event.action === 'unmount' ? [] : ['volume'];
    case 'network':
      return ['network', 'container'];
    case 'daemon':
    case 'plugin':
    case 'other':
      return [];
  }
}

async function listKind(engine: DockerEngine, kind: ResourceKind): Promise<Inventory[keyof Inventory]> {
  switch (kind) {
    case 'container':
      return engine.listContainers({ all: true });
    case 'image':
      return engine.listImages();
    case 'volume':
      return engine.listVolumes();
    case 'network':
      return engine.listNetworks();
  }
}

const LIST_OF: Record<ResourceKind, keyof Inventory> = {
  container: 'containers',
  image: 'images',
  volume: 'volumes',
  network: 'networks',
};

export interface InventorySink {
  snapshot(sequence: number, inventory: Inventory): void;
  delta(sequence: number, changes: InventoryChange[]): void;
}

export interface InventoryTrackerOptions {
  engine: DockerEngine;
  logger: Logger;
  /** Wait this long after an event for more before listing (bursts of events become one delta). */
  debounceMs?: number;
  now?: () => number;
}

/**
 * Tracks one engine for one control session. Sequence numbers start from the wall clock (µs), so that they keep
 * increasing across worker restarts and the master can drop late messages.
 */
export class InventoryTracker {
  private current: Inventory | undefined;
  private sequence: number;
  private readonly dirty = new Set<ResourceKind>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<void> = Promise.resolve();

  constructor(private readonly options: InventoryTrackerOptions) {
    this.sequence = (options.now ?? Date.now)() * 1000;
  }

  /** Lists everything; the result is the new baseline for deltas. */
  async snapshot(sink: InventorySink): Promise<void> {
    const { engine } = this.options;
    const [containers, images, volumes, networks] = await Promise.all([
      engine.listContainers({ all: true }),
      engine.listImages(),
      engine.listVolumes(),
      engine.listNetworks(),
    ]);
    this.current = { containers, images, volumes, networks };
    this.sequence += 1;
    sink.snapshot(this.sequence, this.current);
  }

  /** Notes an Engine event; the touched kinds are re-listed after the debounce and sent as a delta. */
  noteEvent(event: DockerEvent, sink: InventorySink): void {
    const kinds = kindsTouchedBy(event);
    if (kinds.length === 0) return;
    for (const kind of kinds) this.dirty.add(kind);
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshing = this.refreshing.then(() => this.refreshDirty(sink));
    }, this.options.debounceMs ?? 250);
  }

  private async refreshDirty(sink: InventorySink): Promise<void> {
    if (!this.current) return;
    const kinds = [...this.dirty];
    this.dirty.clear();
    try {
      const next: Inventory = { ...this.current };
      for (const kind of kinds) {
        (next as unknown as Record<string, unknown>)[LIST_OF[kind]] = await listKind(
          this.options.engine,
          kind,
        );
      }
      const changes = diffInventories(this.current, next);
      this.current = next;
      if (changes.length === 0) return;
      this.sequence += 1;
      sink.delta(this.sequence, changes);
    } catch (error) {
      // The next event or the periodic snapshot repairs the view.
      for (const kind of kinds) this.dirty.add(kind);
      this.options.logger.warn({ err: error }, 'cannot refresh the inventory after an engine event');
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
