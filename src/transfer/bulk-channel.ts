// The bulk channel: one mutual-TLS socket per transfer, opened with the master's grant in its first frame. The
// sender hashes what it sends and the receiver what it consumes, once per byte each (XXH3-128); the receiver's
// answer proves both ends saw the same bytes (uncompressed, when blocks travel as zstd). grpc-js stays for commands:
// its HTTP/2 framing costs 2–3× the CPU.
import type { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { createXXHash128, type IHasher } from 'hash-wasm';
import { AppError, isErrorCode } from '../core/errors.js';
import type { TransferResult } from '../core/worker-commands.js';
import { type BlockCodec, blockCodec, dataFrame } from './block-compression.js';
import {
  type Digest,
  encodeControl,
  FRAME,
  FrameDecoder,
  FrameError,
  type FramePiece,
  frameHeader,
  frameName,
  type Hello,
  isDigest,
  MAX_DATA_BYTES,
} from './bulk-frames.js';

/** Socket buffers: enough for a few data frames in flight, small against a worker's memory. */
export const SOCKET_HIGH_WATER = 2 * 1024 * 1024;
/** Small chunks (headers, small files) are joined into frames of about this size; large ones pass whole. */
export const FRAME_BYTES = 1024 * 1024;
/** How long a connection may take to say who it is and what it wants. */
export const HELLO_TIMEOUT_MS = 30_000;

/** The digest both ends compute: XXH3-128, hex. */
export function createDigest(): Promise<IHasher> {
  return createXXHash128();
}

function canceled(): AppError {
  return new AppError('canceled', 'the transfer was cancelled');
}

function errorFrom(body: unknown, fallback: string): AppError {
  const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' && message !== '' ? message : fallback;
  return new AppError(typeof code === 'string' && isErrorCode(code) ? code : 'internal', text);
}

/** Writes an error frame and closes the sending side; the peer reads the reason before the socket ends. */
export function sendError(socket: Duplex, error: unknown): void {
  if (socket.destroyed || socket.writableEnded) return;
  const failure = AppError.from(error);
  socket.end(encodeControl(FRAME.error, { code: failure.code, message: failure.message }));
}

/** Reads a socket in paused mode, frame by frame, at the pace of whoever consumes the frames. */
export class FrameReader {
  private readonly decoder = new FrameDecoder();
  private queue: FramePiece[] = [];
  private failure: Error | undefined;

  constructor(private readonly socket: Duplex) {
    socket.on('error', (error) => {
      this.failure ??= error;
    });
  }

  /** The next raw chunk, or undefined once the socket ended or broke. */
  private async chunk(signal?: AbortSignal): Promise<Buffer | undefined> {
    for (;;) {
      if (signal?.aborted) throw signal.reason instanceof AppError ? signal.reason : canceled();
      const chunk = this.socket.read() as Buffer | null;
      if (chunk !== null) return chunk;
      if (this.socket.readableEnded || this.socket.destroyed) return undefined;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('readable', done);
          this.socket.off('end', done);
          this.socket.off('close', done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.socket.on('readable', done);
        this.socket.on('end', done);
        this.socket.on('close', done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** The next piece, or undefined when the socket ended between frames. */
  async next(signal?: AbortSignal): Promise<FramePiece | undefined> {
    for (;;) {
      const queued = this.queue.shift();
      if (queued) return queued;
      const chunk = await this.chunk(signal);
      if (chunk === undefined) {
        if (!this.decoder.atBoundary) throw new AppError('unavailable', 'the connection broke mid-frame');
        return undefined;
      }
      try {
        this.queue = this.decoder.push(chunk).pieces;
      } catch (error) {
        throw new AppError(
          'invalid_argument',
          `the peer broke the transfer protocol: ${(error as Error).message}`,
        );
      }
    }
  }

  /**
   * The next control frame, read without reading beyond it: what follows stays in the socket (put back), so the
   * socket can be spliced to another as it is.
   */
  async controlOnly(signal?: AbortSignal): Promise<{ type: number; body: unknown }> {
    for (;;) {
      const chunk = await this.chunk(signal);
      if (chunk === undefined) throw this.closedError();
      let pushed;
      try {
        pushed = this.decoder.push(chunk, true);
      } catch (error) {
        throw new AppError(
          'invalid_argument',
          `the peer broke the transfer protocol: ${(error as Error).message}`,
        );
      }
      if (pushed.rest) this.socket.unshift(pushed.rest);
      const [piece, ...others] = pushed.pieces;
      if (piece === undefined) continue;
      if (piece.kind !== 'control' || others.length > 0)
        throw new AppError('invalid_argument', 'the peer sent data before it was accepted');
      return { type: piece.type, body: piece.body };
    }
  }

  /** The next frame, which must be a control frame (an error frame is thrown as the error it names). */
  async control(what: string, signal?: AbortSignal): Promise<{ type: number; body: unknown }> {
    const piece = await this.next(signal);
    if (piece === undefined) throw this.closedError(what);
    if (piece.kind !== 'control')
      throw new AppError('invalid_argument', `the peer sent data where ${what} belongs`);
    if (piece.type === FRAME.error) throw errorFrom(piece.body, 'the peer refused the transfer');
    return { type: piece.type, body: piece.body };
  }

  closedError(what?: string): AppError {
    const reason = this.failure ? `: ${this.failure.message}` : '';
    return new AppError(
      'unavailable',
      `the transfer broke off: the connection closed${what ? ` before ${what}` : ''}${reason}`,
    );
  }
}

/** Splits "host:port" / "[v6]:port". */
export function hostPort(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!host || !Number.isInteger(port) || port < 1 || port > 65_535)
    throw new AppError('invalid_argument', `"${address}" is not a host:port address`);
  return { host, port };
}

export interface TlsIdentity {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A mutual-TLS connection to `address` whose certificate must name `commonName` (a worker id, or the master's
 * name): the CA is private and pinned, and peers are often dialled by IP, so the name we issued is what counts.
 */
export function connectBulk(options: {
  address: string;
  identity: TlsIdentity;
  commonName: string;
  /** For messages: "worker w-1 at 10.0.0.2:9443". */
  peer: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}): Promise<TLSSocket> {
  const { host, port } = hostPort(options.address);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(canceled());
      return;
    }
    // tls.connect passes highWaterMark on to the socket; @types/node does not list it.
    const connectOptions: ConnectionOptions & { highWaterMark: number } = {
      host,
      port,
      ca: options.identity.caPem,
      cert: options.identity.certPem,
      key: options.identity.keyPem,
      minVersion: 'TLSv1.3',
      highWaterMark: SOCKET_HIGH_WATER,
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
      checkServerIdentity: (_host, cert) =>
        cert.subject.CN === options.commonName
          ? undefined
          : new Error(
              `the peer is not ${options.commonName} (its certificate names "${String(cert.subject.CN)}")`,
            ),
    };
    const socket = connect(connectOptions);
    const timer = setTimeout(() => {
      fail(
        new AppError(
          'unavailable',
          `cannot reach ${options.peer}: no TLS connection within ${String((options.timeoutMs ?? 10_000) / 1000)} s`,
          { reason: 'peer_unreachable' },
        ),
      );
    }, options.timeoutMs ?? 10_000);
    const onAbort = (): void => {
      fail(canceled());
    };
    function cleanUp(): void {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.off('error', onError);
    }
    function fail(error: AppError): void {
      cleanUp();
      socket.destroy();
      reject(error);
    }
    function onError(error: Error): void {
      fail(
        new AppError('unavailable', `cannot reach ${options.peer}: ${error.message}`, {
          reason: 'peer_unreachable',
          cause: error,
        }),
      );
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', onError);
    socket.once('secureConnect', () => {
      cleanUp();
      socket.setNoDelay(true);
      // Errors from here on reach whoever reads or writes the socket.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** The worker id (common name) and serial of a verified client certificate; TLS already checked the chain. */
export function peerCertificate(
  socket: TLSSocket,
  ca: X509Certificate,
): X509Certificate & { commonName: string } {
  const cert = socket.getPeerX509Certificate();
  if (!cert) throw new AppError('unauthenticated', 'a worker certificate is required');
  // Checked again with Node's own X509, so that no change of TLS settings can silently let a foreign one in.
  if (cert.ca || !cert.checkIssued(ca) || !cert.verify(ca.publicKey))
    throw new AppError('unauthenticated', 'the certificate is not from this fleet');
  const commonName = /^CN=(.+)$/m.exec(cert.subject)?.[1];
  if (!commonName) throw new AppError('unauthenticated', 'the certificate names no worker');
  return Object.assign(cert, { commonName });
}

/** Joins small chunks into frames of about `size` bytes; large chunks pass without copying, cut to the limit. */
export async function* coalesce(
  source: AsyncIterable<Uint8Array>,
  size = FRAME_BYTES,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of source) {
    const buffer = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (buffer.length === 0) continue;
    if (length === 0 && buffer.length >= size) {
      for (let offset = 0; offset < buffer.length; offset += MAX_DATA_BYTES)
        yield buffer.subarray(offset, Math.min(buffer.length, offset + MAX_DATA_BYTES));
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

/** Waits until the socket takes more, or closes. */
function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}

export interface SendOptions {
  socket: TLSSocket;
  hello: Hello;
  data: AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
  /** Called with the data bytes sent so far (uncompressed). */
  onBytes?: (bytes: number) => void;
  /** Compresses each block that shrinks (see block-compression.ts); absent: every block goes as it is. */
  codec?: BlockCodec | undefined;
  /** For messages: who receives. */
  peer: string;
}

/**
 * Sends one resource over an open bulk connection and returns what was sent once the receiver confirmed the same
 * bytes and digest. A cancel, a failing source or the receiver's refusal closes the connection; the receiver then
 * sees the transfer break and keeps nothing of it.
 */
export async function sendTransfer(options: SendOptions): Promise<TransferResult> {
  const { socket, signal } = options;
  const reader = new FrameReader(socket);
  const onAbort = (): void => {
    socket.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    socket.write(encodeControl(FRAME.hello, options.hello));
    const answer = await reader.control('the receiver accepted the transfer', signal);
    if (answer.type !== FRAME.accept)
      throw new AppError(
        'invalid_argument',
        `the receiver answered ${frameName(answer.type)} instead of accept`,
      );
    // The receiver's answer (a refusal at any point, or its result) is read while the data goes out.
    let reply: { type: number; body: unknown } | undefined;
    let replyError: unknown;
    const replied = reader.control(`the result from ${options.peer}`, signal).then(
      (value) => {
        reply = value;
      },
      (error: unknown) => {
        replyError = error;
      },
    );
    const stopped = (): AppError | undefined => {
      if (signal?.aborted) return canceled();
      if (replyError !== undefined) return AppError.from(replyError);
      if (reply) return new AppError('unavailable', `${options.peer} answered before the transfer ended`);
      if (socket.destroyed) return reader.closedError('the transfer ended');
      return undefined;
    };
    const hasher = await createDigest();
    hasher.init();
    let bytes = 0;
    for await (const chunk of coalesce(options.data)) {
      const failure = stopped();
      if (failure) throw failure;
      hasher.update(chunk);
      bytes += chunk.length;
      const frame = dataFrame(chunk, options.codec);
      socket.cork();
      socket.write(frameHeader(frame.type, frame.payload.length));
      const more = socket.write(frame.payload);
      socket.uncork();
      if (!more) await Promise.race([drained(socket), replied]);
      options.onBytes?.(bytes);
    }
    const failure = stopped();
    if (failure) throw failure;
    const sent: Digest = { bytes, xxh128: hasher.digest('hex') };
    socket.write(encodeControl(FRAME.end, sent));
    await replied;
    if (replyError !== undefined) throw AppError.from(replyError);
    if (!reply || reply.type !== FRAME.result || !isDigest(reply.body))
      throw new AppError('invalid_argument', `${options.peer} did not answer with its result`);
    const received = reply.body;
    if (received.xxh128 !== sent.xxh128 || received.bytes !== sent.bytes)
      throw new AppError(
        'internal',
        `${options.peer} received ${String(received.bytes)} bytes with XXH3-128 ${received.xxh128}, but ${String(bytes)} bytes with ${sent.xxh128} were sent`,
      );
    socket.end();
    return sent;
  } catch (error) {
    socket.destroy();
    if (signal?.aborted) throw canceled();
    throw AppError.from(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * An incoming transfer's data, counted and hashed as it passes. Stopping early does not close it (a tar reader
 * stops at the archive's end blocks): `finish()` reads what is left, checks the sender's digest and returns what
 * arrived; it throws if the stream broke off or the digests differ, so no truncated or corrupted copy is kept.
 */
export interface IncomingTransfer {
  data: AsyncIterable<Buffer>;
  finish(): Promise<TransferResult>;
}

/**
 * Takes one resource from a connection whose hello was checked: `consume` writes it where it belongs. The result
 * (or the reason it failed) goes back to the sender. `accept` first when this end is the server. Compressed blocks
 * are decoded here, with the codec loaded when the first one arrives.
 */
export async function receiveTransfer(options: {
  socket: Duplex;
  reader: FrameReader;
  accept: boolean;
  consume: (incoming: IncomingTransfer) => Promise<TransferResult>;
  signal?: AbortSignal;
}): Promise<TransferResult> {
  const { socket, reader, signal } = options;
  const hasher = await createDigest();
  hasher.init();
  let bytes = 0;
  let end: Digest | undefined;
  async function* read(): AsyncGenerator<Buffer> {
    for (;;) {
      const piece = await reader.next(signal);
      if (piece === undefined)
        throw new AppError('unavailable', `the transfer broke off after ${String(bytes)} bytes`);
      if (piece.kind !== 'control') {
        const block = piece.kind === 'zstd' ? blockCodec('receiving').decompress(piece.bytes) : piece.bytes;
        hasher.update(block);
        bytes += block.length;
        yield block;
        continue;
      }
      if (piece.type === FRAME.error) throw errorFrom(piece.body, 'the sender gave up');
      if (piece.type !== FRAME.end || !isDigest(piece.body))
        throw new AppError('invalid_argument', `the sender sent ${frameName(piece.type)} inside the data`);
      end = piece.body;
      return;
    }
  }
  const generator = read();
  const incoming: IncomingTransfer = {
    // Without a `return` method an early stop of the consumer cannot end the generator.
    data: { [Symbol.asyncIterator]: () => ({ next: () => generator.next() }) },
    async finish() {
      for (let next = await generator.next(); !next.done; next = await generator.next()) {
        // Only the digest of the rest matters.
      }
      if (!end) throw new AppError('unavailable', `the transfer broke off after ${String(bytes)} bytes`);
      const xxh128 = hasher.digest('hex');
      if (end.xxh128 !== xxh128 || end.bytes !== bytes)
        throw new AppError(
          'internal',
          `checksum mismatch: received ${String(bytes)} bytes with XXH3-128 ${xxh128}, the sender sent ${String(end.bytes)} bytes with ${end.xxh128}`,
        );
      return { bytes, xxh128 };
    },
  };
  const onAbort = (): void => {
    sendError(socket, canceled());
    socket.destroy();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (options.accept) socket.write(encodeControl(FRAME.accept, {}));
    const result = await options.consume(incoming);
    socket.end(encodeControl(FRAME.result, { bytes: result.bytes, xxh128: result.xxh128 } satisfies Digest));
    return result;
  } catch (error) {
    sendError(socket, error);
    if (signal?.aborted) throw canceled();
    throw AppError.from(error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

export { FrameError };
