// Pairing codes in the store: readable codes, single use through any master of the database, gone when expired.
import { afterEach, describe, expect, it } from 'vitest';

import { hashToken } from '../platform/secrets.js';
import { PairingCodes } from './pairing-codes.js';
import { openSqliteMasterStore, type SqlMasterStore } from './store/sql-master-store.js';

const TTL_MS = 10 * 60_000;
let store: SqlMasterStore | undefined;

afterEach(async () => {
  await store?.close();
  store = undefined;
});

async function openStore(): Promise<SqlMasterStore> {
  store = await openSqliteMasterStore({ path: ':memory:' });
  return store;
}

describe('PairingCodes', () => {
  it('makes codes like K7M2-Q9XD and keeps only their hash', async () => {
    const shared = await openStore();
    const created = await new PairingCodes(shared, () => 1_000).create(TTL_MS);
    expect(created.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(created.expiresAt).toEqual(new Date(1_000 + TTL_MS));
    expect(await shared.consumePairingCode(hashToken(created.code), new Date(1_000).toISOString())).toBe(
      true,
    );
  });

  it('lets a code made on one master enroll once through another, forgiving case and blanks', async () => {
    const shared = await openStore();
    const here = new PairingCodes(shared);
    const there = new PairingCodes(shared);
    const { code } = await here.create(TTL_MS);
    const typed = ` ${code.replace('-', ' ').toLowerCase()} `;
    expect(await there.consume(typed)).toBe(true);
    expect(await there.consume(code)).toBe(false);
    expect(await here.consume(code)).toBe(false);
  });

  it('refuses an expired code and anything that is not a code', async () => {
    const shared = await openStore();
    let now = 0;
    const codes = new PairingCodes(shared, () => now);
    const { code } = await codes.create(TTL_MS);
    now = TTL_MS;
    expect(await codes.consume(code)).toBe(false);
    for (const candidate of ['', 'K7M2', 'K7M2-Q9XD-ZZ', 'dm-enroll-abc']) {
      expect(await codes.consume(candidate)).toBe(false);
    }
  });
});
