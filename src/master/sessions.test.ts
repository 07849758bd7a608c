// Web UI sessions over an in-memory SQLite store and a manual clock: expiry, sign-out, admin token change.
import { afterEach, describe, expect, it } from 'vitest';

import { createLogger } from '../platform/logger.js';
import { hashToken } from '../platform/secrets.js';
import { createSessionManager, type SessionManager } from './sessions.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';

let store: SqlMasterStore | undefined;
let sessions: SessionManager | undefined;

afterEach(async () => {
  sessions?.close();
  await store?.close();
});

async function setup() {
  store = await openSqliteMasterStore({ path: ':memory:' });
  let now = new Date('2026-11-29T10:00:00Z');
  let adminHash = hashToken('first-admin-token');
  sessions = createSessionManager({
    store,
    logger: createLogger({ level: 'silent', format: 'json' }),
    ttlMs: 3600_000,
    adminTokenHash: () => Promise.resolve(adminHash),
    now: () => now,
  });
  return {
    store,
    sessions,
    advance: (ms: number) => {
      now = new Date(now.getTime() + ms);
    },
    rotateAdminToken: () => {
      adminHash = hashToken('second-admin-token');
    },
  };
}

describe('sessions', () => {
  it('keeps only the hash of the secret and lasts exactly its lifetime', async () => {
    const { store, sessions, advance } = await setup();
    const { secret, expiresAt } = await sessions.create();
    expect(expiresAt.toISOString()).toBe('2026-11-29T11:00:00.000Z');
    expect(await store.getSession(secret)).toBeUndefined();
    expect(await store.getSession(hashToken(secret))).toMatchObject({
      expiresAt: '2026-11-29T11:00:00.000Z',
    });
    advance(3599_000);
    expect(await sessions.check(secret)).toEqual({ expiresAt });
    advance(1000);
    expect(await sessions.check(secret)).toBeUndefined();
  });

  it('ends at sign-out and when the admin token changes', async () => {
    const { sessions, rotateAdminToken } = await setup();
    const first = await sessions.create();
    const second = await sessions.create();
    await sessions.end(first.secret);
    expect(await sessions.check(first.secret)).toBeUndefined();
    expect(await sessions.check(second.secret)).toBeDefined();
    rotateAdminToken();
    expect(await sessions.check(second.secret)).toBeUndefined();
  });

  it('sweeps expired sessions from the store', async () => {
    const { store, sessions, advance } = await setup();
    const old = await sessions.create();
    advance(1800_000);
    const fresh = await sessions.create();
    advance(1800_000);
    expect(await store.deleteExpiredSessions('2026-11-29T11:00:00.001Z')).toBe(1);
    expect(await store.getSession(hashToken(old.secret))).toBeUndefined();
    expect(await sessions.check(fresh.secret)).toBeDefined();
  });
});
