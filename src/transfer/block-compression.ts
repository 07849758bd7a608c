// Per-block zstd for the bulk channel (`compression: zstd`): the sender compresses each data frame's payload on its
// own and sends it as a data_zstd frame when that is smaller; the receiver decodes it into at most MAX_DATA_BYTES.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppError } from '../core/errors.js';
import type { TransferCompression } from '../core/migration.js';
import { bundledAsset, isBundled } from '../platform/build-info.js';
import { type DataFrameType, FRAME, MAX_DATA_BYTES } from './bulk-frames.js';

/** zstd-napi's add-on as it ships beside bin/docker-migrate (scripts/build.mjs copies it there). */
export const ZSTD_ADDON_FILE = 'zstd_napi.node';

/**
 * Level 1, the fastest of the normal levels: the point is a slow link, and on these machines it already costs
 * about 4 CPU-seconds per GiB (≈250 MiB/s), more than a LAN saves.
 */
export const ZSTD_LEVEL = 1;

/** The part of zstd-napi's binding (its `binding.node`, see zstd-napi/binding.d.ts) used here. */
interface ZstdBinding {
  CCtx: new () => { compress(dst: Uint8Array, src: Uint8Array, level: number): number };
  DCtx: new () => { decompress(dst: Uint8Array, src: Uint8Array): number };
  compressBound(size: number): number;
  getFrameContentSize(frame: Uint8Array): number | null;
}

function isZstdBinding(value: unknown): value is ZstdBinding {
  const candidate = value as Partial<Record<keyof ZstdBinding, unknown>>;
  return (
    typeof candidate.CCtx === 'function' &&
    typeof candidate.DCtx === 'function' &&
    typeof candidate.compressBound === 'function' &&
    typeof candidate.getFrameContentSize === 'function'
  );
}

/**
 * Compresses and decodes single blocks. Calls are synchronous and share the process's contexts, so concurrent
 * transfers simply take turns, block by block.
 */
export interface BlockCodec {
  /** `block` compressed, or undefined when that would not make it smaller (media, archives, encrypted data). */
  compress(block: Uint8Array): Buffer | undefined;
  /**
   * A data_zstd payload decoded. Refuses, before allocating, one whose header states no length or more than
   * `maxBytes`, and one that does not decode to exactly the stated length: a peer cannot make this end allocate
   * more than a data frame.
   */
  decompress(payload: Uint8Array, maxBytes?: number): Buffer;
}

function protocolError(message: string): AppError {
  return new AppError('invalid_argument', `the peer broke the transfer protocol: ${message}`);
}

function createCodec(binding: ZstdBinding): BlockCodec {
  const compressor = new binding.CCtx();
  const decompressor = new binding.DCtx();
  // Blocks compress into this buffer and leave as a copy of their compressed length: the socket keeps what it was
  // given until it is flushed, and a copy of the smaller result is cheaper than a fresh buffer per block.
  let scratch = Buffer.alloc(0);
  return {
    compress(block) {
      const bound = binding.compressBound(block.length);
      if (scratch.length < bound) scratch = Buffer.allocUnsafe(bound);
      const length = compressor.compress(scratch, block, ZSTD_LEVEL);
      return length < block.length ? Buffer.from(scratch.subarray(0, length)) : undefined;
    },
    decompress(payload, maxBytes = MAX_DATA_BYTES) {
      let stated: number | null;
      try {
        stated = binding.getFrameContentSize(payload);
      } catch (error) {
        throw protocolError(`a data_zstd frame is not zstd (${(error as Error).message})`);
      }
      if (stated === null) throw protocolError('a data_zstd frame does not state its decoded length');
      if (stated > maxBytes)
        throw protocolError(
          `a data_zstd frame claims ${String(stated)} decoded bytes, more than the ${String(maxBytes)} allowed`,
        );
      const block = Buffer.allocUnsafe(stated);
      let length: number;
      try {
        length = decompressor.decompress(block, payload);
      } catch (error) {
        throw protocolError(`a data_zstd frame does not decode (${(error as Error).message})`);
      }
      if (length !== stated)
        throw protocolError(
          `a data_zstd frame decoded to ${String(length)} bytes, not the ${String(stated)} it states`,
        );
      return block;
    },
  };
}

/** Where the add-on is: beside the binary in a build, in zstd-napi's build folder in the source tree. */
export function zstdAddonPath(): string {
  if (isBundled()) {
    return bundledAsset(ZSTD_ADDON_FILE) ?? fileURLToPath(new URL(ZSTD_ADDON_FILE, import.meta.url));
  }
  try {
    const root = dirname(createRequire(import.meta.url).resolve('zstd-napi/package.json'));
    return join(root, 'build', 'Release', 'binding.node');
  } catch {
    return 'node_modules/zstd-napi/build/Release/binding.node';
  }
}

/** What brings the add-on back, for the error a compressed transfer fails with without it. */
function fix(): string {
  return isBundled()
    ? `copy ${ZSTD_ADDON_FILE} beside the docker-migrate binary (node scripts/build.mjs puts it in bin/ when zstd-napi built)`
    : 'run npm ci (zstd-napi builds its add-on with node-gyp: it needs Python, make and a C++ compiler)';
}

/**
 * Loads the add-on at `path` into a codec. Throws `failed_precondition` naming the fix when it is missing or does
 * not load, so that a compressed transfer to or from such a worker fails in words while everything else runs.
 */
export function openBlockCodec(path: string): BlockCodec {
  const unavailable = (problem: string, cause?: unknown): AppError =>
    new AppError(
      'failed_precondition',
      `zstd-napi’s add-on is missing or broken: ${problem}; ${fix()}, or migrate with compression "none"`,
      cause === undefined ? {} : { cause },
    );
  if (!existsSync(path)) throw unavailable(`${path} does not exist`);
  const module: { exports: unknown } = { exports: {} };
  try {
    // process.dlopen rather than import('zstd-napi'): its loader requires the add-on by a computed path that
    // esbuild cannot follow, while here the path is known exactly, in the source tree and beside the binary.
    process.dlopen(module, path, constants.dlopen.RTLD_NOW);
  } catch (error) {
    throw unavailable(`${path} cannot be loaded (${(error as Error).message})`, error);
  }
  if (!isZstdBinding(module.exports)) throw unavailable(`${path} is not zstd-napi's add-on`);
  return createCodec(module.exports);
}

let loaded: { codec: BlockCodec } | { error: AppError } | undefined;

/**
 * The process's codec, loaded on first use only: a worker whose add-on did not build runs every uncompressed
 * transfer as before. The outcome is kept, so a missing add-on is looked for once. `role` says in the error which
 * end lacks it, since the receiver's error reaches the master through the sender too.
 */
export function blockCodec(role: 'sending' | 'receiving'): BlockCodec {
  if (loaded === undefined) {
    try {
      loaded = { codec: openBlockCodec(zstdAddonPath()) };
    } catch (error) {
      loaded = { error: AppError.from(error) };
    }
  }
  if ('codec' in loaded) return loaded.codec;
  const { error } = loaded;
  throw new AppError(error.code, `the ${role} worker cannot use zstd: ${error.message}`, { cause: error });
}

/** The codec a sender needs for `compression`, or undefined when blocks go as they are. */
export function senderCodec(compression: TransferCompression | undefined): BlockCodec | undefined {
  return compression === 'zstd' ? blockCodec('sending') : undefined;
}

/** The frame that carries `block`: data_zstd when the codec makes it smaller, data (the block as it is) otherwise. */
export function dataFrame(
  block: Buffer,
  codec: BlockCodec | undefined,
): { type: DataFrameType; payload: Buffer } {
  const compressed = codec?.compress(block);
  return compressed ? { type: FRAME.data_zstd, payload: compressed } : { type: FRAME.data, payload: block };
}
