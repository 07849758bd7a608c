// Data frames with and without zstd, through the bulk channel's decoder: what goes in comes out, compressed only when
// that saves bytes, and a hostile peer cannot make the receiver allocate more than a data frame.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { blockCodec, dataFrame, openBlockCodec } from './block-compression.js';
import {
  FRAME,
  FrameDecoder,
  FrameError,
  type FramePiece,
  frameHeader,
  MAX_DATA_BYTES,
} from './bulk-frames.js';

const codec = blockCodec('receiving');

/** A tar-like block: text lines, runs of zeros, repeated headers. */
function compressible(size: number): Buffer {
  const line = Buffer.from('2024-05-01T12:00:00Z INFO request served path=/api/items status=200 ms=3\n');
  const block = Buffer.alloc(size);
  for (let at = 0; at < size; at += line.length * 4) line.copy(block, at);
  return block;
}

/** The frame as it goes on the wire. */
function wire(frame: ReturnType<typeof dataFrame>): Buffer {
  return Buffer.concat([frameHeader(frame.type, frame.payload.length), frame.payload]);
}

/** Feeds `bytes` to a decoder in uneven chunks, as a socket delivers them. */
function decode(bytes: Buffer, chunk = 7_919): FramePiece[] {
  const decoder = new FrameDecoder();
  const pieces: FramePiece[] = [];
  for (let at = 0; at < bytes.length; at += chunk)
    pieces.push(...decoder.push(bytes.subarray(at, at + chunk)).pieces);
  expect(decoder.atBoundary).toBe(true);
  return pieces;
}

/** What the receiver hands on: data as it is, zstd blocks decoded. */
function received(pieces: FramePiece[]): Buffer {
  return Buffer.concat(
    pieces.map((piece) => {
      if (piece.kind === 'control') throw new Error('unexpected control frame');
      return piece.kind === 'zstd' ? codec.decompress(piece.bytes) : piece.bytes;
    }),
  );
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('data frames with zstd', () => {
  it('sends a compressible block as one smaller data_zstd frame that decodes to the same bytes', () => {
    const block = compressible(1024 * 1024);
    const frame = dataFrame(block, codec);
    expect(frame.type).toBe(FRAME.data_zstd);
    expect(frame.payload.length).toBeLessThan(block.length / 10);
    const pieces = decode(wire(frame));
    expect(pieces.map((piece) => piece.kind)).toEqual(['zstd']);
    expect(received(pieces).equals(block)).toBe(true);
  });

  it('sends an incompressible block as it is, in a plain data frame', () => {
    const block = randomBytes(1024 * 1024);
    const frame = dataFrame(block, codec);
    expect(frame.type).toBe(FRAME.data);
    expect(frame.payload).toBe(block);
    const pieces = decode(wire(frame));
    expect(pieces.every((piece) => piece.kind === 'data')).toBe(true);
    expect(received(pieces).equals(block)).toBe(true);
  });

  it('sends every block as it is without a codec', () => {
    const block = compressible(64 * 1024);
    expect(dataFrame(block, undefined)).toEqual({ type: FRAME.data, payload: block });
  });

  it('keeps the order of mixed raw and compressed frames', () => {
    const blocks = [compressible(300_000), randomBytes(200_000), compressible(5), compressible(1024 * 1024)];
    const frames = blocks.map((block) => dataFrame(block, codec));
    expect(frames.map((frame) => frame.type)).toEqual([
      FRAME.data_zstd,
      FRAME.data,
      FRAME.data,
      FRAME.data_zstd,
    ]);
    expect(received(decode(Buffer.concat(frames.map(wire)), 65_536)).equals(Buffer.concat(blocks))).toBe(
      true,
    );
  });

  it('refuses a data_zstd frame whose zstd header claims more than a data frame may hold, before allocating it', () => {
    // 17 MiB of zeros compress to a few hundred bytes whose header states the 17 MiB.
    const bomb = dataFrame(Buffer.alloc(MAX_DATA_BYTES + 1024 * 1024), codec);
    expect(bomb.type).toBe(FRAME.data_zstd);
    expect(bomb.payload.length).toBeLessThan(4096);
    const pieces = decode(wire(bomb));
    expect(pieces.map((piece) => piece.kind)).toEqual(['zstd']);
    const error = thrown(() => received(pieces));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
    expect((error as AppError).message).toMatch(
      /claims 17825792 decoded bytes, more than the 16777216 allowed/,
    );
  });

  it('refuses a data_zstd frame that decodes to more than its header states', () => {
    const frame = dataFrame(compressible(100_000), codec);
    // Two zstd frames back to back: the first one's stated length leaves no room for the second.
    const doubled = Buffer.concat([frame.payload, frame.payload]);
    expect(() => codec.decompress(doubled)).toThrow(/does not decode/);
  });

  it('refuses a data_zstd frame that is not zstd', () => {
    expect(() => codec.decompress(Buffer.from('not compressed at all'))).toThrow(
      /the peer broke the transfer protocol: a data_zstd frame is not zstd/,
    );
  });

  it('refuses a data_zstd frame longer than a data frame before reading its payload', () => {
    const header = frameHeader(FRAME.data_zstd, MAX_DATA_BYTES + 1);
    expect(() => new FrameDecoder().push(header)).toThrow(FrameError);
    expect(() => new FrameDecoder().push(header)).toThrow(/a data_zstd frame of 16777217 bytes is too long/);
  });

  it('still refuses an unknown frame type', () => {
    const header = Buffer.from([8, 0, 0, 0, 1, 0]);
    expect(() => new FrameDecoder().push(header)).toThrow(/unknown frame type 8/);
  });
});

describe('the zstd add-on', () => {
  it('fails in words, naming the fix, when the add-on is missing', () => {
    const error = thrown(() => openBlockCodec('/nonexistent/zstd_napi.node'));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('failed_precondition');
    expect((error as AppError).message).toMatch(/\/nonexistent\/zstd_napi\.node does not exist/);
    expect((error as AppError).message).toMatch(/npm ci/);
    expect((error as AppError).message).toMatch(/migrate with compression "none"/);
  });
});
