// The bulk channel's framing: each frame is a 5-byte header (type, payload length) and its payload. Control frames
// carry JSON; data frames carry the resource's bytes, which are handed on as views of what the socket read;
// data_zstd frames carry one block compressed on its own, handed on whole.

/** Frame types, in the order a transfer uses them. */
export const FRAME = {
  /** Client → server, first frame: `Hello` (which transfer, the master's grant, which end the client is). */
  hello: 1,
  /** Server → client: go ahead (the receiver is ready, or the relay has both ends). */
  accept: 2,
  /** Sender → receiver: the next bytes of the resource. */
  data: 3,
  /** Sender → receiver, last frame: `Digest` of every data byte sent. */
  end: 4,
  /** Receiver → sender: `Digest` of every data byte received and consumed. */
  result: 5,
  /** Either way: `{code, message}`, then the socket closes. */
  error: 6,
  /**
   * Sender → receiver, instead of `data` when the transfer is compressed and the block shrank: one zstd frame that
   * decodes to the next bytes of the resource (at most MAX_DATA_BYTES of them).
   */
  data_zstd: 7,
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export const HEADER_BYTES = 5;
/** Control frames are small JSON objects; anything longer is a broken or hostile peer. */
export const MAX_CONTROL_BYTES = 64 * 1024;
/** Data frames are at most this long (the sender cuts its chunks to it); so are data_zstd frames, before and after decoding. */
export const MAX_DATA_BYTES = 16 * 1024 * 1024;

const NAMES = new Map<number, string>(Object.entries(FRAME).map(([name, type]) => [type, name]));

export function frameName(type: number): string {
  return NAMES.get(type) ?? `unknown (${String(type)})`;
}

/** The first frame of every connection. */
export interface Hello {
  v: 1;
  transferId: string;
  /** The master's signed grant for this transfer (see grant.ts). */
  grant: string;
  /** `send`: the client will send the bytes; `receive`: the client takes them (from the relay). */
  role: 'send' | 'receive';
}

/** What one end counted: data bytes and their XXH3-128 (hex). */
export interface Digest {
  bytes: number;
  xxh128: string;
}

export function frameHeader(type: FrameType, length: number): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.writeUInt8(type, 0);
  header.writeUInt32BE(length, 1);
  return header;
}

export function encodeControl(type: FrameType, body: object): Buffer {
  const payload = Buffer.from(JSON.stringify(body), 'utf8');
  return Buffer.concat([frameHeader(type, payload.length), payload]);
}

/** The frames that carry the resource's bytes; every other type is a control frame. */
export type DataFrameType = typeof FRAME.data | typeof FRAME.data_zstd;
export type ControlFrameType = Exclude<FrameType, DataFrameType>;

function isDataType(type: number): boolean {
  return type === FRAME.data || type === FRAME.data_zstd;
}

/**
 * A piece the decoder found: part of a data frame's payload, one whole data_zstd payload (still compressed), or
 * one whole control frame.
 */
export type FramePiece =
  | { kind: 'data'; bytes: Buffer }
  | { kind: 'zstd'; bytes: Buffer }
  | { kind: 'control'; type: ControlFrameType; body: unknown };

export class FrameError extends Error {}

/**
 * Cuts a byte stream into frames as it arrives in chunks of any size. Data payloads are returned as views of the
 * chunks (never copied); data_zstd and control frames are collected whole, since they can only be read whole.
 */
export class FrameDecoder {
  private readonly header = Buffer.alloc(HEADER_BYTES);
  private headerFill = 0;
  private type = 0;
  private remaining = -1;
  private whole: Buffer[] = [];

  /** Whether the decoder is between frames (nothing of a frame read yet). */
  get atBoundary(): boolean {
    return this.headerFill === 0 && this.remaining < 0;
  }

  /** The pieces in `chunk`; stops after the first control frame if `stopAfterControl`, returning the rest unread. */
  push(chunk: Buffer, stopAfterControl = false): { pieces: FramePiece[]; rest: Buffer | undefined } {
    const pieces: FramePiece[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining < 0) {
        const take = Math.min(HEADER_BYTES - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < HEADER_BYTES) break;
        this.headerFill = 0;
        this.type = this.header.readUInt8(0);
        this.remaining = this.header.readUInt32BE(1);
        if (!NAMES.has(this.type)) throw new FrameError(`unknown frame type ${String(this.type)}`);
        const limit = isDataType(this.type) ? MAX_DATA_BYTES : MAX_CONTROL_BYTES;
        if (this.remaining > limit)
          throw new FrameError(
            `a ${frameName(this.type)} frame of ${String(this.remaining)} bytes is too long`,
          );
      }
      const take = Math.min(this.remaining, chunk.length - at);
      if (this.type === FRAME.data) {
        if (take > 0) pieces.push({ kind: 'data', bytes: chunk.subarray(at, at + take) });
      } else if (take > 0) {
        this.whole.push(chunk.subarray(at, at + take));
      }
      at += take;
      this.remaining -= take;
      if (this.remaining > 0) break;
      this.remaining = -1;
      if (this.type === FRAME.data) continue;
      const payload = Buffer.concat(this.whole);
      this.whole = [];
      if (this.type === FRAME.data_zstd) {
        pieces.push({ kind: 'zstd', bytes: payload });
        continue;
      }
      let body: unknown;
      try {
        body = JSON.parse(payload.toString('utf8'));
      } catch {
        throw new FrameError(`a ${frameName(this.type)} frame is not JSON`);
      }
      pieces.push({ kind: 'control', type: this.type as ControlFrameType, body });
      if (stopAfterControl) return { pieces, rest: at < chunk.length ? chunk.subarray(at) : undefined };
    }
    return { pieces, rest: undefined };
  }
}

export function isHello(value: unknown): value is Hello {
  if (typeof value !== 'object' || value === null) return false;
  const hello = value as Partial<Hello>;
  return (
    hello.v === 1 &&
    typeof hello.transferId === 'string' &&
    typeof hello.grant === 'string' &&
    (hello.role === 'send' || hello.role === 'receive')
  );
}

export function isDigest(value: unknown): value is Digest {
  if (typeof value !== 'object' || value === null) return false;
  const digest = value as Partial<Digest>;
  return (
    typeof digest.bytes === 'number' &&
    Number.isSafeInteger(digest.bytes) &&
    typeof digest.xxh128 === 'string'
  );
}
