// The worker's inventory: a full snapshot, then deltas driven by the engine's events, over the fake engine.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DockerEvent } from '../core/docker-resources.js';
import type { InventoryChange } from '../core/inventory.js';
import { FakeDockerEngine } from '../core/testing/fake-docker-engine.js';
import type { Inventory } from '../core/workers.js';
import { createLogger } from '../platform/logger.js';
import { InventoryTracker, type InventorySink } from './inventory-tracker.js';

const DEBOUNCE_MS = 20;
/** Comfortably longer than the debounce plus the listing, for checks that nothing (more) arrives. */
const QUIET_MS = 120;
const CLOCK_MS = 1_740_000_000_000;

type Sent =
  | { type: 'snapshot'; sequence: number; inventory: Inventory }
  | { type: 'delta'; sequence: number; changes: InventoryChange[] };

/** A sink that records what the tracker would send to the master. */
class RecordingSink implements InventorySink {
  readonly sent: Sent[] = [];
  snapshot(sequence: number, inventory: Inventory): void {
    this.sent.push({ type: 'snapshot', sequence, inventory });
  }
  delta(sequence: number, changes: InventoryChange[]): void {
    this.sent.push({ type: 'delta', sequence, changes });
  }
  deltas(): Extract<Sent, { type: 'delta' }>[] {
    return this.sent.filter((message) => message.type === 'delta');
  }
}

function event(type: DockerEvent['type'], action: string, id: string): DockerEvent {
  return { type, action, id, attributes: {}, timeNano: String(CLOCK_MS * 1e6) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const logger = createLogger({ level: 'silent', format: 'json' });
let engine: FakeDockerEngine;
let sink: RecordingSink;
let tracker: InventoryTracker;
let following: AbortController;

beforeEach(() => {
  engine = new FakeDockerEngine({ images: [{ tags: ['base:latest'] }] });
  sink = new RecordingSink();
  tracker = new InventoryTracker({ engine, logger, debounceMs: DEBOUNCE_MS, now: () => CLOCK_MS });
  following = new AbortController();
});

afterEach(() => {
  following.abort();
  tracker.stop();
});

/** Feeds the engine's event stream to the tracker, as a control session does. */
function followEvents(): void {
  void (async () => {
    for await (const engineEvent of engine.events({ signal: following.signal })) {
      tracker.noteEvent(engineEvent, sink);
    }
  })();
}

describe('InventoryTracker', () => {
  it('sends everything the engine holds in a snapshot', async () => {
    await engine.createVolume({ name: 'data' });
    await tracker.snapshot(sink);

    expect(sink.sent).toHaveLength(1);
    const [message] = sink.sent;
    expect(message?.type).toBe('snapshot');
    if (message?.type !== 'snapshot') return;
    expect(message.inventory.images.map((image) => image.tags)).toEqual([['base:latest']]);
    expect(message.inventory.volumes.map((volume) => volume.name)).toEqual(['data']);
    expect(message.inventory.networks.map((network) => network.name).sort()).toEqual([
      'bridge',
      'host',
      'none',
    ]);
    expect(message.inventory.containers).toEqual([]);
  });

  it('numbers messages from the clock and keeps increasing', async () => {
    await tracker.snapshot(sink);
    await tracker.snapshot(sink);
    await engine.createVolume({ name: 'data' });
    tracker.noteEvent(event('volume', 'create', 'data'), sink);
    await vi.waitFor(() => {
      expect(sink.deltas()).toHaveLength(1);
    });
    await tracker.snapshot(sink);

    const sequences = sink.sent.map((message) => message.sequence);
    expect(sequences[0]).toBeGreaterThan(CLOCK_MS * 1000);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(4);
  });

  it('starts above the sequences of an earlier run (a worker restart)', async () => {
    for (let i = 0; i < 50; i++) await tracker.snapshot(sink);
    const last = sink.sent.at(-1)?.sequence ?? 0;

    const restarted = new InventoryTracker({ engine, logger, now: () => CLOCK_MS + 1 });
    const after = new RecordingSink();
    await restarted.snapshot(after);
    expect(after.sent[0]?.sequence).toBeGreaterThan(last);
  });

  it('sends a delta with just the new volume after the debounce', async () => {
    followEvents();
    await tracker.snapshot(sink);
    await engine.createVolume({ name: 'fresh', labels: { app: 'web' } });

    await vi.waitFor(() => {
      expect(sink.deltas()).toHaveLength(1);
    });
    const [delta] = sink.deltas();
    expect(delta?.changes).toHaveLength(1);
    expect(delta?.changes[0]).toMatchObject({
      kind: 'volume',
      key: 'fresh',
      item: { name: 'fresh', labels: { app: 'web' } },
    });
    expect(delta?.sequence).toBeGreaterThan(sink.sent[0]?.sequence ?? Infinity);
  });

  it('sends a removal when a volume goes away', async () => {
    await engine.createVolume({ name: 'old' });
    await tracker.snapshot(sink);
    await engine.removeVolume('old');
    tracker.noteEvent(event('volume', 'destroy', 'old'), sink);

    await vi.waitFor(() => {
      expect(sink.deltas()).toHaveLength(1);
    });
    expect(sink.deltas()[0]?.changes).toEqual([{ kind: 'volume', key: 'old' }]);
  });

  it('turns a burst of events into one delta', async () => {
    followEvents();
    await tracker.snapshot(sink);
    await engine.createVolume({ name: 'one' });
    await engine.createVolume({ name: 'two' });
    await engine.createNetwork({ name: 'backend' });
    await engine.createVolume({ name: 'three' });

    await vi.waitFor(() => {
      expect(sink.deltas()).toHaveLength(1);
    });
    await sleep(QUIET_MS);
    expect(sink.deltas()).toHaveLength(1);
    expect(
      sink.deltas()[0]?.changes.map((change) => `${change.kind}:${change.item ? 'new' : 'gone'}`),
    ).toEqual(['volume:new', 'volume:new', 'volume:new', 'network:new']);
    expect(
      sink
        .deltas()[0]
        ?.changes.filter((change) => change.kind === 'volume')
        .map((change) => change.key),
    ).toEqual(['one', 'two', 'three']);
  });

  it('ignores exec, top and mount events', async () => {
    await tracker.snapshot(sink);
    // Things did change, so a refresh would find them: only the events decide whether they are looked for.
    await engine.createContainer({ name: 'unnoticed', image: 'base:latest' });
    await engine.createVolume({ name: 'unnoticed' });
    tracker.noteEvent(event('container', 'exec_create: sh', 'abc'), sink);
    tracker.noteEvent(event('container', 'exec_start: sh', 'abc'), sink);
    tracker.noteEvent(event('container', 'top', 'abc'), sink);
    tracker.noteEvent(event('volume', 'mount', 'unnoticed'), sink);
    tracker.noteEvent(event('daemon', 'reload', 'x'), sink);

    await sleep(QUIET_MS);
    expect(sink.deltas()).toEqual([]);
  });

  it('sends nothing when an event changed nothing it lists', async () => {
    await tracker.snapshot(sink);
    tracker.noteEvent(event('image', 'pull', 'base:latest'), sink);
    await sleep(QUIET_MS);
    expect(sink.deltas()).toEqual([]);
  });

  it('sends nothing after it was stopped', async () => {
    await tracker.snapshot(sink);
    await engine.createVolume({ name: 'late' });
    tracker.noteEvent(event('volume', 'create', 'late'), sink);
    tracker.stop();
    await sleep(QUIET_MS);
    expect(sink.deltas()).toEqual([]);
  });

  it('tries again with the next event when the engine could not be listed', async () => {
    await tracker.snapshot(sink);
    await engine.createVolume({ name: 'data' });
    engine.down = true;
    tracker.noteEvent(event('volume', 'create', 'data'), sink);
    await sleep(QUIET_MS);
    expect(sink.deltas()).toEqual([]);

    engine.down = false;
    tracker.noteEvent(event('container', 'start', 'abc'), sink);
    await vi.waitFor(() => {
      expect(sink.deltas()).toHaveLength(1);
    });
    expect(sink.deltas()[0]?.changes.map((change) => change.key)).toEqual(['data']);
  });
});
