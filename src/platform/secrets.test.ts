// Tokens and ids: enough randomness, a recognisable prefix, and comparisons that answer right.
import { describe, expect, it } from 'vitest';
import { generateToken, hashToken, newId, tokenMatches, tokenMatchesHash } from './secrets.js';

describe('generateToken', () => {
  it('starts with the prefix and carries 256 random bits', () => {
    const token = generateToken('dm-enroll');
    expect(token).toMatch(/^dm-enroll-[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice('dm-enroll-'.length), 'base64url')).toHaveLength(32);
  });

  it('never repeats itself', () => {
    const tokens = new Set(Array.from({ length: 1000 }, () => generateToken('dm-admin')));
    expect(tokens.size).toBe(1000);
  });
});

describe('tokenMatches', () => {
  it('accepts the same token and refuses any other', () => {
    const token = generateToken('dm-enroll');
    expect(tokenMatches(token, token)).toBe(true);
    expect(tokenMatches(`${token}x`, token)).toBe(false);
    expect(tokenMatches(token.slice(0, -1), token)).toBe(false);
    expect(tokenMatches('', token)).toBe(false);
    expect(tokenMatches(generateToken('dm-enroll'), token)).toBe(false);
  });
});

describe('tokenMatchesHash', () => {
  it('accepts the token whose hash is stored and refuses any other', () => {
    const token = generateToken('dm-admin');
    const stored = hashToken(token);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenMatchesHash(token, stored)).toBe(true);
    expect(tokenMatchesHash(generateToken('dm-admin'), stored)).toBe(false);
    expect(tokenMatchesHash(stored, stored)).toBe(false);
  });

  it('refuses, without throwing, when the stored hash is damaged', () => {
    const token = generateToken('dm-admin');
    expect(tokenMatchesHash(token, '')).toBe(false);
    expect(tokenMatchesHash(token, hashToken(token).slice(0, 32))).toBe(false);
    expect(tokenMatchesHash(token, 'not hex at all')).toBe(false);
  });
});

describe('newId', () => {
  it('is the prefix and 12 hex digits, different each time', () => {
    const ids = Array.from({ length: 1000 }, () => newId('w'));
    for (const id of ids) expect(id).toMatch(/^w-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});
