// Trust between workers and their master over real mutual TLS: what a worker's transfer service presents after
// renewal, whom it refuses after a revocation, and what the master lets a worker call itself.
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createKeyAndCsr,
  certificateInfo,
  signCsr,
  type CertificateAuthority,
} from '../../src/platform/pki.js';
import { cleanUp, startMaster, startWorker, tempDir } from '../support/control-plane-fixture.js';

afterEach(cleanUp);

async function issue(
  ca: CertificateAuthority,
  workerId: string,
): Promise<{ certPem: string; keyPem: string }> {
  const { keyPem, csrPem } = await createKeyAndCsr({ commonName: workerId });
  const issued = await signCsr(ca, csrPem, { commonName: workerId, validityDays: 1, usage: 'client-server' });
  return { certPem: issued.certPem, keyPem };
}

/** Serial (lower-case hex) of the certificate a worker's transfer service presents to a peer of the fleet. */
function presentedSerial(
  address: string,
  peer: { certPem: string; keyPem: string },
  caPem: string,
): Promise<string> {
  const [host, port] = [address.replace(/:\d+$/, ''), Number(/:(\d+)$/.exec(address)?.[1])];
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host,
      port,
      ca: caPem,
      cert: peer.certPem,
      key: peer.keyPem,
      ALPNProtocols: ['h2'],
      // Peers are checked by the worker id in the certificate, not by a host name.
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber.toLowerCase();
      socket.end();
      resolve(serial);
    });
    socket.once('error', reject);
  });
}

describe('worker transfer service and certificate renewal', () => {
  it('presents the renewed certificate to peers, not the one it started with', async () => {
    // ≈2 min of lifetime: less than a third is left from the first moment, so the worker renews on connect.
    const master = await startMaster({ certificateValidityDays: 0.0015 });
    const worker = startWorker(master, { dataDir: tempDir('dm-worker-') });
    const { identity } = await worker.connected;
    const enrolledSerial = certificateInfo(identity.certPem).serial;
    const renewedSerial = await vi.waitFor(
      async () => {
        const serials = (await master.store.listCertificates(identity.workerId)).map((c) => c.serial);
        const renewed = serials.find((serial) => serial !== enrolledSerial);
        if (!renewed) throw new Error('not renewed yet');
        return renewed;
      },
      { timeout: 10_000 },
    );

    const peer = await issue(master.tls.ca, 'w-peer');
    const address = master.registry.require(identity.workerId).advertiseAddress;
    await vi.waitFor(
      async () => {
        expect(await presentedSerial(address, peer, master.tls.ca.certPem)).toBe(renewedSerial);
      },
      { timeout: 5_000 },
    );
    expect(await presentedSerial(address, peer, master.tls.ca.certPem)).not.toBe(enrolledSerial);
  });
});
