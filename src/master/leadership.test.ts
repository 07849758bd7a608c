import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../core/clock.js';
import type { LeaderLeaseStore, LeaseCandidate, LeaseState } from '../core/ports.js';
import { createLogger } from '../platform/logger.js';
import { Leadership } from './leadership.js';

/** The lease row in memory, on this process's clock; `stall` makes renewals hang like an unreachable database. */
class MemoryLease implements LeaderLeaseStore {
  row: Omit<LeaseState, 'nowMs'> = { holder: '', epoch: 0, expiresAtMs: 0, grpcUrl: '', httpUrl: '' };
  fences = new Map<string, number | undefined>();
  stall = false;

  tryAcquireLease(candidate: LeaseCandidate, ttlMs: number, options: { force?: boolean } = {}) {
    const now = Date.now();
    if (options.force === true || this.row.expiresAtMs < now) {
      this.row = { ...candidate, epoch: this.row.epoch + 1, expiresAtMs: now + ttlMs };
      return Promise.resolve({ acquired: true as const, epoch: this.row.epoch });
    }
    return Promise.resolve({ acquired: false as const, current: { ...this.row, nowMs: now } });
  }

  renewLease(holder: string, epoch: number, ttlMs: number): Promise<boolean> {
    if (this.stall) return new Promise(() => undefined);
    if (this.row.holder !== holder || this.row.epoch !== epoch) return Promise.resolve(false);
    this.row.expiresAtMs = Date.now() + ttlMs;
    return Promise.resolve(true);
  }

  releaseLease(holder: string, epoch: number): Promise<void> {
    if (this.row.holder === holder && this.row.epoch === epoch) this.row.expiresAtMs = 0;
    return Promise.resolve();
  }

  readLease(): Promise<LeaseState | undefined> {
    return Promise.resolve({ ...this.row, nowMs: Date.now() });
  }

  setFence(fence: { holder: string; epoch: number } | undefined): void {
    if (fence) this.fences.set(fence.holder, fence.epoch);
  }
}

const logger = createLogger({ level: 'silent', format: 'json' });
const running: Leadership[] = [];

interface Term {
  elected: number[];
  deposed: { epoch: number; reason: string }[];
}

function candidate(store: MemoryLease, name: string, options: { exclusive?: boolean; ttlMs?: number } = {}) {
  const term: Term = { elected: [], deposed: [] };
  const leadership = new Leadership({
    store,
    candidate: { holder: name, grpcUrl: `${name}:9090`, httpUrl: `http://${name}:8080` },
    exclusive: options.exclusive ?? false,
    clock: systemClock(),
    logger,
    onElected: (epoch) => {
      term.elected.push(epoch);
      return Promise.resolve();
    },
    onDeposed: (epoch, reason) => {
      term.deposed.push({ epoch, reason });
      return Promise.resolve();
    },
    ttlMs: options.ttlMs ?? 2_400,
    renewEveryMs: 100,
    pollEveryMs: 50,
  });
  running.push(leadership);
  return { leadership, term };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((l) => l.close()));
});

describe('Leadership', () => {
  it('fences a master from the start, elects one of two, and hands over when the leader closes', async () => {
    const store = new MemoryLease();
    const a = candidate(store, 'a');
    const b = candidate(store, 'b');
    expect(store.fences.get('a')).toBe(0);
    await a.leadership.start();
    await b.leadership.start();
    expect(a.leadership.leadingEpoch()).toBe(1);
    expect(store.fences.get('a')).toBe(1);
    expect(b.leadership.leadingEpoch()).toBeUndefined();
    expect(b.leadership.lastSeen()).toMatchObject({ holder: 'a', epoch: 1, grpcUrl: 'a:9090' });

    await a.leadership.close();
    expect(a.term.deposed).toEqual([{ epoch: 1, reason: 'the master is shutting down' }]);
    expect(store.fences.get('a')).toBe(0);
    // Released, not left to expire: the standby takes over within a poll or two, not a TTL.
    await until(() => b.leadership.leadingEpoch() === 2, 1_000);
    expect(b.term.elected).toEqual([2]);
  });

  it('steps down when a renewal finds another holder', async () => {
    const store = new MemoryLease();
    const a = candidate(store, 'a');
    await a.leadership.start();
    store.row = { ...store.row, holder: 'z', epoch: 7 };
    await until(() => a.term.deposed.length === 1);
    expect(a.term.deposed[0]).toEqual({ epoch: 1, reason: 'another master took the lease' });
    expect(a.leadership.leadingEpoch()).toBeUndefined();
    expect(store.fences.get('a')).toBe(0);
  });

  it('steps down on its own before its lease could expire when renewals hang', async () => {
    const store = new MemoryLease();
    const a = candidate(store, 'a', { ttlMs: 2_600 });
    await a.leadership.start();
    store.stall = true;
    const leaseExpires = store.row.expiresAtMs;
    await until(() => a.term.deposed.length === 1);
    expect(Date.now()).toBeLessThan(leaseExpires);
    expect(a.term.deposed[0]?.reason).toBe('it could not renew its lease in time');
    expect(store.fences.get('a')).toBe(0);
  });

  it('takes an exclusive store at once, whatever the lease says', async () => {
    const store = new MemoryLease();
    store.row = { holder: 'gone', epoch: 4, expiresAtMs: Date.now() + 60_000, grpcUrl: '', httpUrl: '' };
    const a = candidate(store, 'a', { exclusive: true });
    await a.leadership.start();
    expect(a.term.elected).toEqual([5]);
    expect(store.fences.get('a')).toBe(5);
  });
});
