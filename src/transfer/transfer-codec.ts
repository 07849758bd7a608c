// The TransferService with a lean codec for its bulk messages, and wider HTTP/2 flow-control windows for its
// streams. Measured on loopback (512 MiB in 1 MiB messages): the generated codec copies every data message twice
// more and moves ~76 MiB/s; this one moves ~145 MiB/s, and ~200 MiB/s once the receiver's window is widened.
import type * as grpc from '@grpc/grpc-js';
import { makeGenericClientConstructor } from '@grpc/grpc-js';
import {
  PullResponse,
  PushRequest,
  TransferServiceService,
  type TransferServiceClient,
} from '../gen/dockation/v1/transfer.js';

/** Field 2 (PushRequest.data) and field 1 (PullResponse.data), both length-delimited (wire type 2). */
const PUSH_DATA_TAG = (2 << 3) | 2;
const PULL_DATA_TAG = (1 << 3) | 2;

/** Per-stream receive window the transfer servers announce: what one stream may have in flight. */
export const STREAM_WINDOW_BYTES = 8 * 1024 * 1024;
/** Connection-level receive window. */
export const CONNECTION_WINDOW_BYTES = 32 * 1024 * 1024;

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}

/** A message of one bytes field as protobuf: tag, length, then the data (one copy, by Buffer.concat). */
function encodeData(tag: number, data: Uint8Array): Buffer {
  const head = Buffer.concat([Buffer.from([tag]), varint(data.length)]);
  return Buffer.concat([head, data], head.length + data.length);
}

/** The data of a message that holds exactly one bytes field with `tag`, as a view (no copy); else undefined. */
function decodeData(tag: number, buffer: Buffer): Buffer | undefined {
  if (buffer[0] !== tag) return undefined;
  let length = 0;
  let shift = 0;
  let index = 1;
  for (;;) {
    const byte = buffer[index];
    if (byte === undefined || shift > 28) return undefined;
    index += 1;
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  return index + length === buffer.length ? buffer.subarray(index) : undefined;
}

/** TransferServiceService with the data messages (de)serialised without the generated code's extra copies. */
export const TRANSFER_SERVICE: typeof TransferServiceService = {
  ...TransferServiceService,
  push: {
    ...TransferServiceService.push,
    requestSerialize: (value: PushRequest): Buffer =>
      value.body?.$case === 'data'
        ? encodeData(PUSH_DATA_TAG, value.body.value)
        : Buffer.from(PushRequest.encode(value).finish()),
    requestDeserialize: (buffer: Buffer): PushRequest => {
      const data = decodeData(PUSH_DATA_TAG, buffer);
      return data ? { body: { $case: 'data', value: data } } : PushRequest.decode(buffer);
    },
  },
  pull: {
    ...TransferServiceService.pull,
    responseSerialize: (value: PullResponse): Buffer =>
      value.body?.$case === 'data'
        ? encodeData(PULL_DATA_TAG, value.body.value)
        : Buffer.from(PullResponse.encode(value).finish()),
    responseDeserialize: (buffer: Buffer): PullResponse => {
      const data = decodeData(PULL_DATA_TAG, buffer);
      return data ? { body: { $case: 'data', value: data } } : PullResponse.decode(buffer);
    },
  },
};

/** A TransferService client using TRANSFER_SERVICE's codec. */
export const TransferClient = makeGenericClientConstructor(
  TRANSFER_SERVICE,
  'dockation.v1.TransferService',
) as unknown as typeof TransferServiceClient;

interface WindowedSession {
  settings(settings: { initialWindowSize: number }): void;
  setLocalWindowSize(size: number): void;
}

/**
 * Widens the receive windows of every HTTP/2 session a grpc-js server accepts. grpc-js (1.14) offers this option
 * to clients only; its servers keep Node's 64 KiB default, which stalls an uploading stream after every 64 KiB
 * until the window update has made the round trip. The servers are reached through a private field; if a
 * grpc-js release renames it, this does nothing (transfers stay correct, only slower).
 */
export function widenServerWindows(server: grpc.Server): void {
  const servers = (server as unknown as { http2Servers?: Map<NodeJS.EventEmitter, unknown> }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const http2Server of servers.keys()) {
    http2Server.on('session', (session: WindowedSession) => {
      try {
        session.settings({ initialWindowSize: STREAM_WINDOW_BYTES });
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch {
        // A session closing as it opens: nothing to widen.
      }
    });
  }
}
