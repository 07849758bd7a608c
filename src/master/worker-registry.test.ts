// The master's live view of its workers, over a real in-memory SQLite store and a manual clock.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AppError } from '../core/errors.js';
import type { VolumeSummary } from '../core/docker-resources.js';
import { sampleVolume, sampleWorker } from '../core/testing/sample-resources.js';
import type { Inventory, WorkerRecord } from '../core/workers.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';
import {
  WorkerRegistry,
  type HelloInfo,
  type MasterEvent,
  type RevocationList,
  type WorkerSession,
} from './worker-registry.js';

const TIMEOUT_MS = 30_000;
const START = Date.parse('2025-03-01T12:00:00Z');

/** A session that remembers why the registry closed it. */
class RecordingSession implements WorkerSession {
  readonly closedWith: AppError[] = [];
  readonly commands: Array<{ id: string; kind: string; argsJson: string }> = [];
  readonly cancelled: string[] = [];
  close(reason: AppError): void {
    this.closedWith.push(reason);
  }
  sendCommand(command: { id: string; kind: string; argsJson: string }): void {
    this.commands.push(command);
  }
  cancelCommand(id: string): void {
    this.cancelled.push(id);
  }
  readonly revocations: Array<{ list: RevocationList; complete: boolean }> = [];
  sendRevocations(list: RevocationList, complete: boolean): void {
    this.revocations.push({ list, complete });
  }
}

function certificate(serial: string, workerId: string, daysLeft: number) {
  return {
    serial,
    workerId,
    notBefore: new Date(START - 86_400_000).toISOString(),
    notAfter: new Date(START + daysLeft * 86_400_000).toISOString(),
    revokedAt: null,
  };
}

/** A worker enrolled a day ago whose details all differ from HELLO's, so that attaching visibly updates them. */
function workerRecord(id: string, name: string): WorkerRecord {
  return sampleWorker({
    id,
    name,
    hostname: `${name}.local`,
    labels: {},
    version: '0.0.9',
    advertiseAddress: '',
    dockerVersion: '',
    enrolledAt: new Date(START - 86_400_000).toISOString(),
  });
}

const HELLO: HelloInfo = {
  name: 'alpha',
  hostname: 'alpha.example',
  labels: { zone: 'a' },
  version: '0.1.0',
  advertiseAddress: '10.0.0.5:9090',
  dockerVersion: '27.3.1',
};

function volume(name: string): VolumeSummary {
  return sampleVolume({ name });
}

function inventoryWith(volumes: string[]): Inventory {
  return { containers: [], images: [], volumes: volumes.map(volume), networks: [] };
}

let store: SqlMasterStore;
let now: number;
let registry: WorkerRegistry;
let events: MasterEvent[];
let errors: unknown[];

async function loadRegistry(): Promise<WorkerRegistry> {
  const loaded = await WorkerRegistry.load({
    store,
    workerTimeoutMs: TIMEOUT_MS,
    now: () => now,
    onError: (error) => errors.push(error),
  });
  loaded.subscribe((event) => events.push(event));
  return loaded;
}

beforeEach(async () => {
  now = START;
  events = [];
  errors = [];
  store = await openSqliteMasterStore({ path: ':memory:' });
  await store.insertWorker(workerRecord('w-aaaaaaaaaaaa', 'alpha'));
  await store.insertWorker(workerRecord('w-bbbbbbbbbbbb', 'beta'));
  registry = await loadRegistry();
});

afterEach(async () => {
  expect(errors).toEqual([]);
  await store.close();
});

describe('WorkerRegistry', () => {
  it('restores the stored workers and their inventories, all offline', async () => {
    await store.saveInventory({
      workerId: 'w-aaaaaaaaaaaa',
      sequence: 7,
      inventory: inventoryWith(['data', 'logs']),
      updatedAt: new Date(START).toISOString(),
    });
    const restored = await loadRegistry();

    expect(restored.list().map((w) => [w.name, w.status, w.online])).toEqual([
      ['alpha', 'offline', false],
      ['beta', 'offline', false],
    ]);
    expect(restored.require('w-aaaaaaaaaaaa').counts.volumes).toBe(2);
    expect(restored.inventory('w-aaaaaaaaaaaa').volumes.map((v) => v.name)).toEqual(['data', 'logs']);
    expect(restored.onlineCount()).toBe(0);
  });

  it('brings a worker online on attach, updating and persisting its record', async () => {
    const view = await registry.attach('w-aaaaaaaaaaaa', HELLO, new RecordingSession());

    expect(view).toMatchObject({
      status: 'online',
      online: true,
      hostname: 'alpha.example',
      advertiseAddress: '10.0.0.5:9090',
      dockerVersion: '27.3.1',
      lastSeenAt: new Date(START).toISOString(),
    });
    expect(events).toEqual([{ type: 'worker.online', worker: view }]);
    expect(await store.getWorker('w-aaaaaaaaaaaa')).toMatchObject({
      hostname: 'alpha.example',
      labels: { zone: 'a' },
      version: '0.1.0',
      advertiseAddress: '10.0.0.5:9090',
      dockerVersion: '27.3.1',
      lastSeenAt: new Date(START).toISOString(),
    });
    expect(registry.onlineCount()).toBe(1);
  });

  it('keeps the enrolled name when the hello carries none', async () => {
    const view = await registry.attach('w-aaaaaaaaaaaa', { ...HELLO, name: '' }, new RecordingSession());
    expect(view.name).toBe('alpha');
  });

  it("keeps the enrolled name when a hello names another worker, so it cannot take that worker's migrations", async () => {
    const view = await registry.attach('w-bbbbbbbbbbbb', { ...HELLO, name: 'alpha' }, new RecordingSession());

    expect(view.name).toBe('beta');
    expect(registry.findByName('alpha')?.id).toBe('w-aaaaaaaaaaaa');
    expect(registry.findByName('beta')?.id).toBe('w-bbbbbbbbbbbb');
    expect((await store.getWorker('w-bbbbbbbbbbbb'))?.name).toBe('beta');
  });

  it('keeps the enrolled name when a hello names a new one', async () => {
    const view = await registry.attach('w-bbbbbbbbbbbb', { ...HELLO, name: 'gamma' }, new RecordingSession());

    expect(view.name).toBe('beta');
    expect(registry.findByName('gamma')).toBeUndefined();
    expect((await store.getWorker('w-bbbbbbbbbbbb'))?.name).toBe('beta');
  });

  it('refuses to attach a worker it does not know', async () => {
    await expect(registry.attach('w-unknown00000', HELLO, new RecordingSession())).rejects.toMatchObject({
      code: 'permission_denied',
    });
  });

  it('closes the older session when the same worker connects again, and stays online', async () => {
    const first = new RecordingSession();
    const second = new RecordingSession();
    await registry.attach('w-aaaaaaaaaaaa', HELLO, first);
    await registry.attach('w-aaaaaaaaaaaa', HELLO, second);

    expect(first.closedWith).toHaveLength(1);
    expect(first.closedWith[0]).toBeInstanceOf(AppError);
    expect(second.closedWith).toEqual([]);
    expect(events.filter((e) => e.type === 'worker.online')).toHaveLength(1);

    // The old stream ends after it was replaced: that must not take the worker offline.
    registry.detach('w-aaaaaaaaaaaa', first, 'stream closed');
    expect(registry.isOnline('w-aaaaaaaaaaaa')).toBe(true);
    expect(events.some((e) => e.type === 'worker.offline')).toBe(false);
  });

  it('takes the worker offline when its current session ends', async () => {
    const session = new RecordingSession();
    await registry.attach('w-aaaaaaaaaaaa', HELLO, session);
    registry.detach('w-aaaaaaaaaaaa', session, 'stream ended');

    expect(registry.require('w-aaaaaaaaaaaa').status).toBe('offline');
    expect(events.at(-1)).toMatchObject({
      type: 'worker.offline',
      reason: 'stream ended',
      worker: { id: 'w-aaaaaaaaaaaa', online: false },
    });
  });

  it('records heartbeats: last seen time and system figures', async () => {
    await registry.attach('w-aaaaaaaaaaaa', HELLO, new RecordingSession());
    now += 10_000;
    const system = {
      cpuPercent: 12.5,
      cpus: 4,
      memoryTotalBytes: 8e9,
      memoryUsedBytes: 2e9,
      dockerRootFreeBytes: 5e10,
    };
    registry.heartbeat('w-aaaaaaaaaaaa', { activeTasks: 2, system });

    const seen = new Date(START + 10_000).toISOString();
    expect(registry.require('w-aaaaaaaaaaaa')).toMatchObject({ lastSeenAt: seen, activeTasks: 2, system });
    await vi.waitFor(async () => {
      expect(await store.getWorker('w-aaaaaaaaaaaa')).toMatchObject({
        lastSeenAt: seen,
        activeTasks: 2,
        system,
      });
    });
  });

  it('ignores heartbeats of a worker without a session', () => {
    registry.heartbeat('w-aaaaaaaaaaaa', { activeTasks: 1, system: null });
    expect(registry.require('w-aaaaaaaaaaaa').lastSeenAt).toBeNull();
    expect(events).toEqual([]);
  });

  it('keeps a worker online while heartbeats arrive within the timeout', async () => {
    const session = new RecordingSession();
    await registry.attach('w-aaaaaaaaaaaa', HELLO, session);
    for (let i = 0; i < 5; i++) {
      now += TIMEOUT_MS - 1_000;
      registry.heartbeat('w-aaaaaaaaaaaa', { activeTasks: 0, system: null });
      registry.sweep();
    }
    expect(registry.isOnline('w-aaaaaaaaaaaa')).toBe(true);
    expect(session.closedWith).toEqual([]);
  });

  it('marks a worker offline and closes its session when heartbeats stop', async () => {
    const session = new RecordingSession();
    await registry.attach('w-aaaaaaaaaaaa', HELLO, session);
    now += TIMEOUT_MS;
    registry.sweep();
    expect(registry.isOnline('w-aaaaaaaaaaaa')).toBe(true);

    now += 1;
    registry.sweep();
    expect(registry.isOnline('w-aaaaaaaaaaaa')).toBe(false);
    expect(registry.onlineCount()).toBe(0);
    expect(session.closedWith.map((e) => e.code)).toEqual(['deadline_exceeded']);
    expect(events.at(-1)).toMatchObject({
      type: 'worker.offline',
      reason: 'heartbeat timeout',
      worker: { id: 'w-aaaaaaaaaaaa', status: 'offline' },
    });
  });

  it('replaces the inventory with a snapshot and announces the counts', () => {
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data', 'logs']));

    expect(registry.inventory('w-aaaaaaaaaaaa').volumes.map((v) => v.name)).toEqual(['data', 'logs']);
    expect(registry.require('w-aaaaaaaaaaaa').counts).toEqual({
      containers: 0,
      runningContainers: 0,
      images: 0,
      volumes: 2,
      networks: 0,
    });
    expect(events).toEqual([
      {
        type: 'inventory.changed',
        workerId: 'w-aaaaaaaaaaaa',
        counts: { containers: 0, runningContainers: 0, images: 0, volumes: 2, networks: 0 },
        changes: [
          { kind: 'volume', key: 'data', item: volume('data') },
          { kind: 'volume', key: 'logs', item: volume('logs') },
        ],
      },
    ]);
  });

  it('persists snapshots and deltas in the store', async () => {
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data']));
    registry.delta('w-aaaaaaaaaaaa', 101, [{ kind: 'volume', key: 'cache', item: volume('cache') }]);
    await vi.waitFor(async () => {
      const stored = await store.getInventory('w-aaaaaaaaaaaa');
      expect(stored?.sequence).toBe(101);
      expect(stored?.inventory.volumes.map((v) => v.name)).toEqual(['data', 'cache']);
    });
  });

  it('applies a delta on top of the snapshot and announces it', () => {
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data', 'logs']));
    events = [];
    registry.delta('w-aaaaaaaaaaaa', 101, [
      { kind: 'volume', key: 'logs' },
      { kind: 'volume', key: 'cache', item: volume('cache') },
    ]);

    expect(registry.inventory('w-aaaaaaaaaaaa').volumes.map((v) => v.name)).toEqual(['data', 'cache']);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'inventory.changed',
      workerId: 'w-aaaaaaaaaaaa',
      counts: { volumes: 2 },
    });
  });

  it('ignores snapshots and deltas older than what it holds', () => {
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data']));
    events = [];
    registry.snapshot('w-aaaaaaaaaaaa', 99, inventoryWith(['stale']));
    registry.delta('w-aaaaaaaaaaaa', 100, [{ kind: 'volume', key: 'data' }]);
    registry.delta('w-aaaaaaaaaaaa', 50, [{ kind: 'volume', key: 'old', item: volume('old') }]);

    expect(registry.inventory('w-aaaaaaaaaaaa').volumes.map((v) => v.name)).toEqual(['data']);
    expect(events).toEqual([]);
  });

  it('stays quiet when a periodic snapshot changes nothing', () => {
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data']));
    events = [];
    registry.snapshot('w-aaaaaaaaaaaa', 101, inventoryWith(['data']));
    expect(events).toEqual([]);
  });

  it('revokes a removed worker, ends its session and forgets it', async () => {
    const session = new RecordingSession();
    await registry.attach('w-aaaaaaaaaaaa', HELLO, session);
    registry.snapshot('w-aaaaaaaaaaaa', 100, inventoryWith(['data']));
    now += 5_000;
    await registry.remove('w-aaaaaaaaaaaa');

    expect((await store.listWorkers()).map((w) => w.id)).toEqual(['w-bbbbbbbbbbbb']);
    expect((await store.getWorker('w-aaaaaaaaaaaa'))?.revokedAt).toBe(new Date(START + 5_000).toISOString());
    expect(session.closedWith).toHaveLength(1);
    expect(session.closedWith[0]).toBeInstanceOf(AppError);
    expect(session.closedWith[0]?.code).toBe('permission_denied');
    expect(events.at(-1)).toEqual({ type: 'worker.removed', workerId: 'w-aaaaaaaaaaaa' });
    expect(registry.get('w-aaaaaaaaaaaa')).toBeUndefined();
    expect(registry.list().map((w) => w.id)).toEqual(['w-bbbbbbbbbbbb']);
    expect(registry.inventory('w-aaaaaaaaaaaa').volumes).toEqual([]);
    expect(registry.onlineCount()).toBe(0);

    // A reloaded registry (master restart) does not bring it back.
    expect((await loadRegistry()).get('w-aaaaaaaaaaaa')).toBeUndefined();
  });

  it('tells connected workers the certificates of a removed worker, and lists them for later sessions', async () => {
    await store.insertCertificate(certificate('0a01', 'w-aaaaaaaaaaaa', 30));
    await store.insertCertificate(certificate('0a02', 'w-aaaaaaaaaaaa', -1));
    const other = new RecordingSession();
    await registry.attach('w-bbbbbbbbbbbb', HELLO, other);

    await registry.remove('w-aaaaaaaaaaaa');

    // The expired certificate is refused by any TLS peer already: it is not listed.
    expect(other.revocations).toEqual([
      { list: { certificateSerials: ['0a01'], workerIds: ['w-aaaaaaaaaaaa'] }, complete: false },
    ]);
    expect(registry.revocations()).toEqual({ certificateSerials: ['0a01'], workerIds: ['w-aaaaaaaaaaaa'] });
    expect((await loadRegistry()).revocations()).toEqual({
      certificateSerials: ['0a01'],
      workerIds: ['w-aaaaaaaaaaaa'],
    });
  });

  it('announces a certificate revoked after its worker was removed (a renewal that lost the race)', async () => {
    const other = new RecordingSession();
    await registry.attach('w-bbbbbbbbbbbb', HELLO, other);
    await registry.remove('w-aaaaaaaaaaaa');

    registry.certificateRevoked('w-aaaaaaaaaaaa', '0a03', new Date(START + 86_400_000).toISOString());

    expect(other.revocations.at(-1)).toEqual({
      list: { certificateSerials: ['0a03'], workerIds: ['w-aaaaaaaaaaaa'] },
      complete: false,
    });
    expect(registry.revocations().certificateSerials).toEqual(['0a03']);
  });

  it('answers not_found for a worker it does not know', async () => {
    let caught: unknown;
    try {
      registry.require('w-nope00000000');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect(caught).toMatchObject({ code: 'not_found', message: 'worker "w-nope00000000" not found' });
    await expect(registry.remove('w-nope00000000')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('counts the workers that are online', async () => {
    expect(registry.onlineCount()).toBe(0);
    await registry.attach('w-aaaaaaaaaaaa', HELLO, new RecordingSession());
    await registry.attach('w-bbbbbbbbbbbb', { ...HELLO, name: 'beta' }, new RecordingSession());
    expect(registry.onlineCount()).toBe(2);
    now += 20_000;
    registry.heartbeat('w-bbbbbbbbbbbb', { activeTasks: 0, system: null });
    now += 20_000;
    expect(registry.onlineCount()).toBe(1);
  });

  it('announces a newly enrolled worker', async () => {
    const record = workerRecord('w-cccccccccccc', 'gamma');
    await store.insertWorker(record);
    registry.enrolled(record);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'worker.enrolled',
      worker: { id: 'w-cccccccccccc', status: 'offline' },
    });
    expect(registry.list().map((w) => w.name)).toEqual(['alpha', 'beta', 'gamma']);
  });

  it('keeps other listeners informed when one listener throws', async () => {
    const failure = new Error('listener broke');
    registry.subscribe(() => {
      throw failure;
    });
    await registry.attach('w-aaaaaaaaaaaa', HELLO, new RecordingSession());
    expect(events.map((e) => e.type)).toEqual(['worker.online']);
    expect(errors).toEqual([failure]);
    errors = [];
  });
});
