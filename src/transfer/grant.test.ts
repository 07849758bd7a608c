import { beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority } from '../platform/pki.js';
import { sameResource, signGrant, verifyGrant, type TransferGrant } from './grant.js';

let ca: CertificateAuthority;
let otherCa: CertificateAuthority;

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'fleet CA' });
  otherCa = await createCertificateAuthority({ commonName: 'other CA' });
});

const GRANT: Omit<TransferGrant, 'v'> = {
  migrationId: 'm-1',
  transferId: 't-1',
  sourceWorkerId: 'w-source',
  targetWorkerId: 'w-target',
  resource: { type: 'volume', name: 'data' },
  expiresAt: Date.now() + 60_000,
};

describe('transfer grants', () => {
  it('verifies a grant the CA signed and returns what it allows', () => {
    const token = signGrant(GRANT, ca.keyPem);
    const grant = verifyGrant(token, {
      ca: ca.certPem,
      transferId: 't-1',
      expect: { targetWorkerId: 'w-target' },
    });
    expect(grant).toMatchObject({
      migrationId: 'm-1',
      sourceWorkerId: 'w-source',
      resource: { name: 'data' },
    });
  });

  it('refuses a grant signed by another CA', () => {
    const token = signGrant(GRANT, otherCa.keyPem);
    expect(() => verifyGrant(token, { ca: ca.certPem, transferId: 't-1', expect: {} })).toThrow(
      /not signed by this fleet/,
    );
  });

  it('refuses a grant whose content was changed after signing', () => {
    const [, signature] = signGrant(GRANT, ca.keyPem).split('.');
    const forged = Buffer.from(JSON.stringify({ v: 1, ...GRANT, targetWorkerId: 'w-evil' })).toString(
      'base64url',
    );
    expect(() =>
      verifyGrant(`${forged}.${String(signature)}`, { ca: ca.certPem, transferId: 't-1', expect: {} }),
    ).toThrow(/not signed/);
  });

  it('refuses an expired grant, another transfer, another receiver or sender, and garbage', () => {
    const expired = signGrant({ ...GRANT, expiresAt: Date.now() - 1 }, ca.keyPem);
    expect(() => verifyGrant(expired, { ca: ca.certPem, transferId: 't-1', expect: {} })).toThrow(/expired/);
    const token = signGrant(GRANT, ca.keyPem);
    expect(() => verifyGrant(token, { ca: ca.certPem, transferId: 't-2', expect: {} })).toThrow(
      /another transfer/,
    );
    expect(() =>
      verifyGrant(token, { ca: ca.certPem, transferId: 't-1', expect: { targetWorkerId: 'w-other' } }),
    ).toThrow(/another receiver/);
    expect(() =>
      verifyGrant(token, { ca: ca.certPem, transferId: 't-1', expect: { sourceWorkerId: 'w-other' } }),
    ).toThrow(/another sender/);
    for (const junk of ['', 'abc', 'a.b.c', `${Buffer.from('{}').toString('base64url')}.AAAA`]) {
      expect(() => verifyGrant(junk, { ca: ca.certPem, transferId: 't-1', expect: {} })).toThrow(
        expect.objectContaining({ code: 'permission_denied' }),
      );
    }
  });

  it('carries an image’s id and exact target tags', () => {
    const resource = { type: 'image' as const, name: 'sha256:ab', tags: ['app:1-migrated', 'app:latest'] };
    const token = signGrant({ ...GRANT, resource }, ca.keyPem);
    const grant = verifyGrant(token, { ca: ca.certPem, transferId: 't-1', expect: {} });
    expect(grant.resource).toEqual(resource);
  });

  it('refuses an image grant that names no target tags, or tags that are not a list of distinct names', () => {
    for (const resource of [
      { type: 'image', name: 'sha256:ab' },
      { type: 'image', name: 'sha256:ab', tags: 'app:1' },
      { type: 'image', name: 'sha256:ab', tags: ['app:1', 'app:1'] },
      { type: 'image', name: 'sha256:ab', tags: [''] },
      { type: 'volume', name: 'data', tags: ['app:1'] },
    ]) {
      const token = signGrant({ ...GRANT, resource: resource as TransferGrant['resource'] }, ca.keyPem);
      expect(() => verifyGrant(token, { ca: ca.certPem, transferId: 't-1', expect: {} })).toThrow(
        expect.objectContaining({ code: 'permission_denied' }),
      );
    }
    const untagged = signGrant({ ...GRANT, resource: { type: 'image', name: 'sha256:ab' } }, ca.keyPem);
    expect(() => verifyGrant(untagged, { ca: ca.certPem, transferId: 't-1', expect: {} })).toThrow(
      /names no target tags/,
    );
  });

  it('compares resources by type, name and the set of tags', () => {
    const image = { type: 'image' as const, name: 'sha256:ab', tags: ['a:1', 'b:2'] };
    expect(sameResource(image, { ...image, tags: ['b:2', 'a:1'] })).toBe(true);
    expect(sameResource(image, { ...image, tags: ['a:1'] })).toBe(false);
    expect(sameResource(image, { ...image, tags: ['a:1', 'b:2', 'c:3'] })).toBe(false);
    expect(sameResource(image, { type: 'image', name: 'sha256:ab' })).toBe(false);
    expect(sameResource(image, { ...image, name: 'sha256:cd' })).toBe(false);
    expect(sameResource({ type: 'volume', name: 'v' }, { type: 'volume', name: 'v' })).toBe(true);
  });
});
