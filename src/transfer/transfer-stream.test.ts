// One resource's bytes over the TransferService: messages of about 1 MiB, a trailer that the receiving side
// checks, and a push against a real gRPC server on loopback that answers what it counted.
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import {
  TransferServiceClient,
  TransferServiceService,
  type PullResponse,
  type PushRequest,
  type PushResponse,
} from '../gen/dockation/v1/transfer.js';
import { toGrpcError } from '../platform/grpc-support.js';
import {
  MESSAGE_BYTES,
  TRANSFER_GRPC_OPTIONS,
  coalesce,
  pushTransfer,
  verifiedData,
} from './transfer-stream.js';

async function* chunksOf(...chunks: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    await Promise.resolve();
    yield chunk;
  }
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

/** Bytes whose every position differs from its neighbours, so that reordering or loss shows. */
function pattern(length: number, seed = 0): Buffer {
  const buffer = Buffer.alloc(length);
  for (let index = 0; index < length; index += 1) buffer[index] = (index * 31 + seed * 7) & 0xff;
  return buffer;
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function dataMessage(data: Buffer): PullResponse {
  return { body: { $case: 'data', value: data } };
}

function trailerMessage(sha: string, bytes: number): PullResponse {
  return { body: { $case: 'trailer', value: { sha256: sha, bytes } } };
}

async function* messagesOf(...messages: PushRequest[]): AsyncGenerator<PushRequest> {
  for (const message of messages) {
    await Promise.resolve();
    yield message;
  }
}

async function failureOf(work: Promise<unknown>): Promise<AppError> {
  try {
    await work;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a failure');
}

describe('coalesce', () => {
  it('joins small chunks into messages of about 1 MiB, keeping every byte in order', async () => {
    const chunks = Array.from({ length: 300 }, (_, index) => pattern(10 * 1024, index));
    const messages = await collect(coalesce(chunksOf(...chunks)));

    expect(Buffer.concat(messages).equals(Buffer.concat(chunks))).toBe(true);
    expect(messages).toHaveLength(3);
    for (const message of messages.slice(0, -1)) {
      expect(message.length).toBeGreaterThanOrEqual(MESSAGE_BYTES);
      expect(message.length).toBeLessThan(MESSAGE_BYTES + 10 * 1024);
    }
    expect(messages.at(-1)!.length).toBeLessThanOrEqual(MESSAGE_BYTES);
  });

  it('cuts a chunk larger than a message into message-size views of it, without copying', async () => {
    const large = pattern(3 * MESSAGE_BYTES + 5);
    const messages = await collect(coalesce(chunksOf(large)));
    expect(messages.map((m) => m.length)).toEqual([MESSAGE_BYTES, MESSAGE_BYTES, MESSAGE_BYTES, 5]);
    expect(messages.every((m) => m.buffer === large.buffer)).toBe(true);
    expect(Buffer.concat(messages).equals(large)).toBe(true);
  });

  it('keeps the order when a large chunk follows small ones still waiting', async () => {
    const small = pattern(10, 1);
    const large = pattern(40, 2);
    const after = pattern(5, 3);
    const messages = await collect(coalesce(chunksOf(small, large, after), 32));

    expect(Buffer.concat(messages).equals(Buffer.concat([small, large, after]))).toBe(true);
    expect(messages.map((m) => m.length)).toEqual([50, 5]);
  });

  it('drops empty chunks and yields nothing for an empty source', async () => {
    const messages = await collect(coalesce(chunksOf(Buffer.alloc(0), Buffer.from('ab'), new Uint8Array(0))));
    expect(messages.map((m) => m.toString())).toEqual(['ab']);
    expect(await collect(coalesce(chunksOf()))).toEqual([]);
    expect(await collect(coalesce(chunksOf(Buffer.alloc(0))))).toEqual([]);
  });

  it('reads a Uint8Array view at its offset and length', async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const view = new Uint8Array(backing.buffer, 2, 3);
    const messages = await collect(coalesce(chunksOf(view, Buffer.from([4]))));
    expect(messages.map((m) => [...m])).toEqual([[1, 2, 3, 4]]);
  });
});

describe('verifiedData', () => {
  it('passes the data on and tells its SHA-256 and length once a matching trailer came', async () => {
    const parts = [pattern(1000, 1), pattern(24, 2)];
    const whole = Buffer.concat(parts);
    const verified = verifiedData(
      messagesOf(dataMessage(parts[0]!), {}, dataMessage(parts[1]!), trailerMessage(sha256(whole), 1024)),
    );

    const received = await collect(verified.data);
    expect(Buffer.concat(received).equals(whole)).toBe(true);
    expect(verified.result()).toEqual({ sha256: sha256(whole), bytes: 1024 });
  });

  it('has no result before the data has been read to its end', () => {
    const verified = verifiedData(messagesOf(trailerMessage(sha256(Buffer.alloc(0)), 0)));
    expect(() => verified.result()).toThrow(expect.objectContaining({ code: 'internal' }) as Error);
  });

  it('accepts an empty transfer with its trailer', async () => {
    const verified = verifiedData(messagesOf(trailerMessage(sha256(Buffer.alloc(0)), 0)));
    expect(await collect(verified.data)).toEqual([]);
    expect(verified.result()).toEqual({ sha256: sha256(Buffer.alloc(0)), bytes: 0 });
  });

  it('fails as unavailable when the stream ends without a trailer', async () => {
    const verified = verifiedData(messagesOf(dataMessage(pattern(10))));
    const error = await failureOf(collect(verified.data));
    expect(error.code).toBe('unavailable');
    expect(error.message).toContain('after 10 bytes');
  });

  it('fails as internal, naming the checksum, when the trailer disagrees with the data', async () => {
    const data = pattern(64);
    const wrongSha = verifiedData(messagesOf(dataMessage(data), trailerMessage(sha256(pattern(64, 5)), 64)));
    const error = await failureOf(collect(wrongSha.data));
    expect(error.code).toBe('internal');
    expect(error.message).toContain('checksum');
    expect(() => wrongSha.result()).toThrow(AppError);

    const wrongLength = verifiedData(messagesOf(dataMessage(data), trailerMessage(sha256(data), 65)));
    expect((await failureOf(collect(wrongLength.data))).code).toBe('internal');
  });

  it('refuses data after the trailer', async () => {
    const data = pattern(8);
    const verified = verifiedData(
      messagesOf(dataMessage(data), trailerMessage(sha256(data), 8), dataMessage(pattern(1))),
    );
    const error = await failureOf(collect(verified.data));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain('after its trailer');
  });

  it('refuses a second header', async () => {
    const verified = verifiedData(
      messagesOf({ body: { $case: 'header', value: { grant: 'g', transferId: 't' } } }),
    );
    expect((await failureOf(collect(verified.data))).code).toBe('invalid_argument');
  });
});

describe('pushTransfer over a real gRPC connection', () => {
  type Answer = 'echo' | 'wrong_sha' | 'refuse' | 'stall';
  let server: grpc.Server;
  let client: TransferServiceClient;
  let answer: Answer;
  let received: PushRequest[];
  let serverSawCancel: boolean;

  beforeAll(async () => {
    server = new grpc.Server(TRANSFER_GRPC_OPTIONS);
    server.addService(TransferServiceService, {
      push(
        call: grpc.ServerReadableStream<PushRequest, PushResponse>,
        callback: grpc.sendUnaryData<PushResponse>,
      ) {
        const hash = createHash('sha256');
        let bytes = 0;
        if (answer === 'stall') {
          call.pause();
          return;
        }
        call.on('cancelled', () => {
          serverSawCancel = true;
        });
        call.on('data', (message: PushRequest) => {
          received.push(message);
          if (message.body?.$case === 'header' && answer === 'refuse')
            callback(toGrpcError(new AppError('permission_denied', 'the grant is not for this worker')));
          if (message.body?.$case === 'data') {
            hash.update(message.body.value);
            bytes += message.body.value.length;
          }
        });
        call.on('end', () => {
          if (answer === 'refuse') return;
          const sha = hash.digest('hex');
          callback(null, { sha256: answer === 'echo' ? sha : sha256(Buffer.from('other')), bytes });
        });
      },
      pull(call: grpc.ServerWritableStream<unknown, unknown>) {
        call.end();
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    client = new TransferServiceClient(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
      TRANSFER_GRPC_OPTIONS,
    );
  });

  afterAll(() => {
    client.close();
    server.forceShutdown();
  });

  beforeEach(() => {
    answer = 'echo';
    received = [];
    serverSawCancel = false;
  });

  const header = { grant: 'signed-grant', transferId: 't-1' };

  it('sends header, data and trailer, and returns what the receiver confirmed', async () => {
    const chunks = Array.from({ length: 40 }, (_, index) => pattern(64 * 1024, index));
    const whole = Buffer.concat(chunks);
    const progress: number[] = [];

    const result = await pushTransfer({
      client,
      header,
      data: chunksOf(...chunks),
      peer: 'worker beta',
      onBytes: (bytes) => progress.push(bytes),
    });

    expect(result).toEqual({ sha256: sha256(whole), bytes: whole.length });
    expect(received[0]).toEqual({ body: { $case: 'header', value: header } });
    expect(received.at(-1)).toEqual({
      body: { $case: 'trailer', value: { sha256: sha256(whole), bytes: whole.length } },
    });
    const data = received
      .slice(1, -1)
      .map((m) => (m.body?.$case === 'data' ? m.body.value : Buffer.alloc(0)));
    expect(Buffer.concat(data).equals(whole)).toBe(true);
    expect(data.length).toBe(3);
    expect(progress.at(-1)).toBe(whole.length);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  it('fails as internal when the receiver answers another SHA-256', async () => {
    answer = 'wrong_sha';
    const error = await failureOf(
      pushTransfer({ client, header, data: chunksOf(pattern(1000)), peer: 'worker beta' }),
    );
    expect(error.code).toBe('internal');
    expect(error.message).toContain('worker beta received 1000 bytes');
  });

  it("reports the receiver's reason when it refuses the transfer", async () => {
    answer = 'refuse';
    const error = await failureOf(
      pushTransfer({ client, header, data: chunksOf(pattern(1000)), peer: 'worker beta' }),
    );
    expect(error.code).toBe('permission_denied');
    expect(error.message).toBe('the transfer to worker beta failed: the grant is not for this worker');
  });

  it('does not start when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failureOf(
      pushTransfer({ client, header, data: chunksOf(pattern(10)), peer: 'beta', signal: controller.signal }),
    );
    expect(error.code).toBe('canceled');
    expect(received).toEqual([]);
  });

  it('cancels the call when aborted between two chunks of the data source', async () => {
    const controller = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield pattern(MESSAGE_BYTES);
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 10));
      yield pattern(MESSAGE_BYTES);
    }
    const error = await failureOf(
      pushTransfer({ client, header, data: slow(), peer: 'beta', signal: controller.signal }),
    );
    expect(error.code).toBe('canceled');
    await expect.poll(() => serverSawCancel).toBe(true);
    expect(received.some((m) => m.body?.$case === 'trailer')).toBe(false);
  });

  it('returns canceled when aborted while the receiver holds the sender back', async () => {
    answer = 'stall';
    const controller = new AbortController();
    let chunks = 0;
    async function* plenty(): AsyncGenerator<Uint8Array> {
      for (; chunks < 200; chunks += 1) {
        await Promise.resolve();
        yield Buffer.alloc(MESSAGE_BYTES, chunks);
      }
    }
    const pushing = pushTransfer({ client, header, data: plenty(), peer: 'beta', signal: controller.signal });
    await expect.poll(() => chunks, { timeout: 2000 }).toBeGreaterThan(2);
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    expect((await failureOf(pushing)).code).toBe('canceled');
  }, 5000);

  it("reports the receiver's refusal when the sender is ahead of it", async () => {
    answer = 'refuse';
    async function* plenty(): AsyncGenerator<Uint8Array> {
      for (let index = 0; index < 200; index += 1) {
        await Promise.resolve();
        yield Buffer.alloc(MESSAGE_BYTES, index);
      }
    }
    const error = await failureOf(pushTransfer({ client, header, data: plenty(), peer: 'beta' }));
    expect(error.code).toBe('permission_denied');
  }, 5000);

  it('cancels the call and reports why when the data source fails', async () => {
    async function* breaks(): AsyncGenerator<Uint8Array> {
      yield pattern(MESSAGE_BYTES);
      await Promise.resolve();
      throw new AppError('not_found', 'volume data vanished');
    }
    const error = await failureOf(pushTransfer({ client, header, data: breaks(), peer: 'beta' }));
    expect(error.code).toBe('not_found');
    expect(error.message).toBe('volume data vanished');
    await expect.poll(() => serverSawCancel).toBe(true);
    expect(received.some((m) => m.body?.$case === 'trailer')).toBe(false);
  });
});
