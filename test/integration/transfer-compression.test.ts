// zstd on the bulk channel over real mutual TLS: a compressible volume stream crosses the wire in far fewer bytes,
// arrives byte for byte, and both ends report the digest of the uncompressed bytes.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { createXXHash128 } from 'hash-wasm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransferResult } from '../../src/core/worker-commands.js';
import { createLogger } from '../../src/platform/logger.js';
import { createCertificateAuthority, createKeyAndCsr, signCsr } from '../../src/platform/pki.js';
import { blockCodec, type BlockCodec } from '../../src/transfer/block-compression.js';
import { connectBulk, sendTransfer } from '../../src/transfer/bulk-channel.js';
import { signGrant } from '../../src/transfer/grant.js';
import { TransferInbox } from '../../src/worker/transfer-inbox.js';
import { startTransferServer, type TransferServer } from '../../src/worker/transfer-server.js';

const logger = createLogger({ level: 'silent', format: 'json' });
const inbox = new TransferInbox();
let caPem: string;
let caKeyPem: string;
let source: { certPem: string; keyPem: string };
let server: TransferServer;
let sequence = 0;

/** A TCP hop between sender and receiver that counts the bytes the sender puts on the wire (TLS records and all). */
interface CountingProxy {
  port: number;
  /** Bytes from the sender towards the receiver since the last reset. */
  upstream: number;
  close(): Promise<void>;
}

function startCountingProxy(targetPort: number): Promise<CountingProxy> {
  const sockets = new Set<Socket>();
  const proxy: CountingProxy = { port: 0, upstream: 0, close: () => Promise.resolve() };
  const tcp: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.on('data', (chunk: Buffer) => {
      proxy.upstream += chunk.length;
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    tcp.listen(0, '127.0.0.1', () => {
      proxy.port = (tcp.address() as { port: number }).port;
      proxy.close = () =>
        new Promise((done) => {
          for (const socket of sockets) socket.destroy();
          tcp.close(() => {
            done();
          });
        });
      resolve(proxy);
    });
  });
}

let proxy: CountingProxy;

async function xxh128(bytes: Buffer): Promise<string> {
  const hasher = await createXXHash128();
  hasher.init();
  hasher.update(bytes);
  return hasher.digest('hex');
}

/** Sends `payload` as volume "data" through the counting proxy; returns both ends' results and the wire bytes. */
async function transfer(
  payload: Buffer,
  codec: BlockCodec | undefined,
): Promise<{ sent: TransferResult; received: TransferResult; bytes: Buffer; wire: number }> {
  const transferId = `t-zstd-${(sequence += 1)}`;
  const chunks: Buffer[] = [];
  const receiving = inbox.expect(
    transferId,
    async (incoming) => {
      for await (const chunk of incoming.data) chunks.push(Buffer.from(chunk));
      return incoming.finish();
    },
    { timeoutMs: 10_000, resource: { type: 'volume', name: 'data' } },
  );
  receiving.catch(() => undefined);
  const grant = signGrant(
    {
      migrationId: 'm-test',
      transferId,
      sourceWorkerId: 'w-source',
      targetWorkerId: 'w-target',
      resource: { type: 'volume', name: 'data' },
      expiresAt: Date.now() + 60_000,
    },
    caKeyPem,
  );
  proxy.upstream = 0;
  const socket = await connectBulk({
    address: `127.0.0.1:${proxy.port}`,
    identity: { caPem, ...source },
    commonName: 'w-target',
    peer: 'w-target',
  });
  // The source hands the stream on in small pieces, as a tar packer does; the channel joins them into blocks.
  const pieces = Array.from({ length: Math.ceil(payload.length / 65_536) }, (_, index) =>
    payload.subarray(index * 65_536, (index + 1) * 65_536),
  );
  const sent = await sendTransfer({
    socket,
    hello: { v: 1, grant, transferId, role: 'send' },
    data: Readable.from(pieces),
    peer: 'w-target',
    codec,
  });
  const received = await receiving;
  return { sent, received, bytes: Buffer.concat(chunks), wire: proxy.upstream };
}

/** Like a volume of logs and configuration: lines that repeat with small differences. */
function compressiblePayload(size: number): Buffer {
  const lines: string[] = [];
  let length = 0;
  for (let n = 0; length < size; n += 1) {
    const line = `2024-05-01T12:${String(n % 60).padStart(2, '0')}:00Z INFO request ${String(n)} served path=/api/items/${String(n % 977)} status=200\n`;
    lines.push(line);
    length += line.length;
  }
  return Buffer.from(lines.join('')).subarray(0, size);
}

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: 'fleet CA' });
  caPem = ca.certPem;
  caKeyPem = ca.keyPem;
  async function identity(workerId: string): Promise<{ certPem: string; keyPem: string }> {
    const { keyPem, csrPem } = await createKeyAndCsr({ commonName: workerId });
    const issued = await signCsr(ca, csrPem, {
      commonName: workerId,
      validityDays: 1,
      usage: 'client-server',
    });
    return { certPem: issued.certPem, keyPem };
  }
  source = await identity('w-source');
  const target = await identity('w-target');
  server = await startTransferServer({
    address: '127.0.0.1:0',
    workerId: 'w-target',
    caPem,
    certPem: target.certPem,
    keyPem: target.keyPem,
    inbox,
    logger,
  });
  proxy = await startCountingProxy(server.port);
});

afterAll(async () => {
  await proxy.close();
  await server.close();
});

describe('zstd on the bulk channel', () => {
  it('sends a compressible stream in far fewer wire bytes, identical on arrival, with the same digest at both ends', async () => {
    const payload = compressiblePayload(8 * 1024 * 1024 + 123);
    const plain = await transfer(payload, undefined);
    const zstd = await transfer(payload, blockCodec('sending'));

    expect(zstd.bytes.equals(payload)).toBe(true);
    const digest = { bytes: payload.length, xxh128: await xxh128(payload) };
    expect(zstd.sent).toEqual(digest);
    expect(zstd.received).toEqual(digest);
    // The digest covers the uncompressed bytes, so it is the same as without compression.
    expect(plain.received).toEqual(digest);

    expect(plain.wire).toBeGreaterThan(payload.length);
    expect(zstd.wire).toBeLessThan(payload.length / 5);
  });

  it('sends an incompressible stream as it is, costing no more than a few bytes per block', async () => {
    const payload = randomBytes(3 * 1024 * 1024 + 5);
    const plain = await transfer(payload, undefined);
    const zstd = await transfer(payload, blockCodec('sending'));

    expect(zstd.bytes.equals(payload)).toBe(true);
    expect(zstd.received).toEqual({ bytes: payload.length, xxh128: await xxh128(payload) });
    expect(zstd.sent).toEqual(zstd.received);
    // Same frames either way: only the TLS records' padding and timing may differ a little.
    expect(Math.abs(zstd.wire - plain.wire)).toBeLessThan(4096);
  });
});
