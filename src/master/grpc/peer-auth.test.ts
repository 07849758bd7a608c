// Who may call the master with a certificate: over a real in-memory SQLite store and certificates from a real CA.
import { X509Certificate } from 'node:crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sampleWorker } from '../../core/testing/sample-resources.js';
import {
  createCertificateAuthority,
  createKeyAndCsr,
  signCsr,
  type CertificateAuthority,
} from '../../platform/pki.js';
import { openSqliteMasterStore, type SqlMasterStore } from '../store/sql-master-store.js';
import { authenticatePeer } from './peer-auth.js';

let ca: CertificateAuthority;
let store: SqlMasterStore;

/** A certificate the CA issued to `workerId`, recorded (or not) in the store as unrevoked. */
async function certificateOf(workerId: string, record = true): Promise<{ raw: Buffer; serial: string }> {
  const { csrPem } = await createKeyAndCsr({ commonName: workerId });
  const issued = await signCsr(ca, csrPem, { commonName: workerId, validityDays: 1, usage: 'client-server' });
  if (record)
    await store.insertCertificate({
      serial: issued.serial,
      workerId,
      notBefore: issued.notBefore.toISOString(),
      notAfter: issued.notAfter.toISOString(),
      revokedAt: null,
    });
  return { raw: new X509Certificate(issued.certPem).raw, serial: issued.serial };
}

function callWith(raw: Buffer) {
  return { getAuthContext: () => ({ sslPeerCertificate: { raw } as never }) };
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: 'fleet CA' });
});

beforeEach(async () => {
  store = await openSqliteMasterStore({ path: ':memory:' });
  await store.insertWorker(sampleWorker({ id: 'w-aaaaaaaaaaaa', name: 'alpha', revokedAt: null }));
});

afterEach(async () => {
  await store.close();
});

describe('authenticatePeer', () => {
  it('names the worker of a current, recorded certificate', async () => {
    const cert = await certificateOf('w-aaaaaaaaaaaa');
    await expect(
      authenticatePeer(callWith(cert.raw), new X509Certificate(ca.certPem), store),
    ).resolves.toEqual({ workerId: 'w-aaaaaaaaaaaa', serial: cert.serial });
  });

  it('refuses a revoked certificate', async () => {
    const cert = await certificateOf('w-aaaaaaaaaaaa');
    await store.revokeWorker('w-aaaaaaaaaaaa', new Date().toISOString());
    await expect(
      authenticatePeer(callWith(cert.raw), new X509Certificate(ca.certPem), store),
    ).rejects.toMatchObject({ code: 'permission_denied' });
  });

  it('refuses an unrevoked certificate of a revoked worker (one recorded after the revocation)', async () => {
    await store.revokeWorker('w-aaaaaaaaaaaa', new Date().toISOString());
    const late = await certificateOf('w-aaaaaaaaaaaa');
    expect((await store.getCertificate(late.serial))?.revokedAt).toBeNull();

    const refused = authenticatePeer(callWith(late.raw), new X509Certificate(ca.certPem), store);
    await expect(refused).rejects.toMatchObject({ code: 'permission_denied' });
    await expect(refused).rejects.toThrow(/removed/);
  });

  it('refuses a certificate the master never recorded', async () => {
    const cert = await certificateOf('w-aaaaaaaaaaaa', false);
    await expect(
      authenticatePeer(callWith(cert.raw), new X509Certificate(ca.certPem), store),
    ).rejects.toMatchObject({ code: 'unauthenticated' });
  });
});
