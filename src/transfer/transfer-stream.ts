// One resource's bytes over the TransferService: the sender's side (header, data in large messages with
// backpressure, trailer with the SHA-256) and the receiver's (data out, checked against the trailer at the end).
import { createHash } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { AppError } from '../core/errors.js';
import type { TransferResult } from '../core/worker-commands.js';
import type {
  PullResponse,
  PushRequest,
  PushResponse,
  TransferHeader,
  TransferServiceClient,
  TransferTrailer,
} from '../gen/dockation/v1/transfer.js';
import { fromGrpcError } from '../platform/grpc-support.js';

/** Data travels in messages of about this size: large enough that per-message costs vanish, small in memory. */
export const MESSAGE_BYTES = 1024 * 1024;

/** Channel and server options for bulk streams: room for a message plus framing. */
export const TRANSFER_GRPC_OPTIONS = {
  'grpc.max_receive_message_length': 8 * 1024 * 1024,
  'grpc.max_send_message_length': 8 * 1024 * 1024,
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 20_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  // The receive window a client announces (downloads through the relay); servers: widenServerWindows.
  'grpc-node.flow_control_window': 32 * 1024 * 1024,
} as const;

/** Joins small chunks (tar headers, small files) into messages of about MESSAGE_BYTES; large ones pass whole. */
export async function* coalesce(
  source: AsyncIterable<Uint8Array>,
  size = MESSAGE_BYTES,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buffer.length === 0) continue;
    if (length === 0 && buffer.length >= size) {
      // Large chunks pass without copying, cut to the message size (the channel refuses bigger messages).
      for (let offset = 0; offset < buffer.length; offset += size)
        yield buffer.subarray(offset, Math.min(buffer.length, offset + size));
      continue;
    }
    parts.push(buffer);
    length += buffer.length;
    if (length >= size) {
      yield Buffer.concat(parts, length);
      parts = [];
      length = 0;
    }
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

function canceled(): AppError {
  return new AppError('canceled', 'the transfer was cancelled');
}

/** Waits until the stream can take more, or fails if it broke meanwhile. */
function drained(stream: EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      stream.removeListener('error', onError);
      resolve();
    };
    const onError = (error: Error): void => {
      stream.removeListener('drain', onDrain);
      reject(error);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

export interface PushOptions {
  client: TransferServiceClient;
  header: TransferHeader;
  data: AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** Called with the bytes sent so far, after each message. */
  onBytes?: (bytes: number) => void;
  /** For error messages: who receives. */
  peer: string;
}

/**
 * Sends one resource and returns what was sent once the receiving end confirms the same SHA-256 and length.
 * A cancel or a failure of the data source cancels the call, so the receiver sees the stream break.
 */
export async function pushTransfer(options: PushOptions): Promise<TransferResult> {
  const { signal } = options;
  if (signal?.aborted) throw canceled();
  const hash = createHash('sha256');
  let bytes = 0;
  let callError: AppError | undefined;
  let call: grpc.ClientWritableStream<PushRequest> | undefined;
  const receipt = new Promise<PushResponse>((resolve, reject) => {
    call = options.client.push((error, response) => {
      if (error) {
        callError = fromGrpcError(error, `the transfer to ${options.peer} failed`);
        reject(callError);
      } else resolve(response);
    });
  });
  // Observed by the caller below; without this a rejection before then would be reported as unhandled.
  receipt.catch(() => undefined);
  // A call that ended (refused, cancelled, answered) never emits 'drain': waiting for more room stops then too.
  let settled = false;
  const ended = receipt.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  const aborted = new Promise<void>((resolve) => {
    if (signal?.aborted) resolve();
    signal?.addEventListener(
      'abort',
      () => {
        resolve();
      },
      { once: true },
    );
  });
  const stopReason = (): AppError | undefined => {
    if (signal?.aborted) return canceled();
    if (callError) return callError;
    return settled ? new AppError('unavailable', `${options.peer} ended the transfer early`) : undefined;
  };
  const stream = call as unknown as grpc.ClientWritableStream<PushRequest>;
  const onAbort = (): void => {
    stream.cancel();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    stream.write({ body: { $case: 'header', value: options.header } });
    for await (const chunk of coalesce(options.data)) {
      if (signal?.aborted) throw canceled();
      if (callError) throw callError;
      hash.update(chunk);
      bytes += chunk.length;
      if (!stream.write({ body: { $case: 'data', value: chunk } })) {
        await Promise.race([drained(stream), ended, aborted]);
        // Read afresh: the wait may have ended because the call did.
        const failure = stopReason();
        if (failure) throw failure;
      }
      options.onBytes?.(bytes);
    }
    const sha256 = hash.digest('hex');
    stream.write({ body: { $case: 'trailer', value: { sha256, bytes } } });
    stream.end();
    const answer = await receipt;
    if (answer.sha256 !== sha256 || answer.bytes !== bytes) {
      throw new AppError(
        'internal',
        `${options.peer} received ${answer.bytes} bytes with SHA-256 ${answer.sha256}, but ${bytes} bytes with ${sha256} were sent`,
      );
    }
    return { sha256, bytes };
  } catch (error) {
    stream.cancel();
    if (signal?.aborted) throw canceled();
    // The receiver's reason (e.g. grant refused, disk full) says more than "stream cancelled".
    throw callError ?? AppError.from(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

type DataMessage = PushRequest | PullResponse;

/**
 * The data of a transfer from its messages (after the header), hashed as it passes. Ends normally only when a
 * trailer arrived whose SHA-256 and length equal what passed; otherwise it throws, so whatever consumes it fails
 * rather than keeping a truncated or corrupted copy. `result()` tells what passed once it ended.
 */
export function verifiedData(messages: AsyncIterable<DataMessage>): {
  data: AsyncGenerator<Buffer>;
  result(): TransferResult;
} {
  const hash = createHash('sha256');
  let bytes = 0;
  let finished: TransferResult | undefined;
  async function* read(): AsyncGenerator<Buffer> {
    let trailer: TransferTrailer | undefined;
    for await (const message of messages) {
      const body = message.body;
      if (!body) continue;
      if (body.$case === 'data') {
        if (trailer) throw new AppError('invalid_argument', 'the transfer sent data after its trailer');
        hash.update(body.value);
        bytes += body.value.length;
        yield body.value;
      } else if (body.$case === 'trailer') {
        trailer = body.value;
      } else {
        throw new AppError('invalid_argument', 'the transfer sent a second header');
      }
    }
    if (!trailer) throw new AppError('unavailable', `the transfer broke off after ${bytes} bytes`);
    const sha256 = hash.digest('hex');
    if (trailer.sha256 !== sha256 || trailer.bytes !== bytes) {
      throw new AppError(
        'internal',
        `checksum mismatch: received ${bytes} bytes with SHA-256 ${sha256}, the sender sent ${trailer.bytes} bytes with ${trailer.sha256}`,
      );
    }
    finished = { sha256, bytes };
  }
  return {
    data: read(),
    result() {
      if (!finished) throw new AppError('internal', 'the transfer has not finished');
      return finished;
    },
  };
}
