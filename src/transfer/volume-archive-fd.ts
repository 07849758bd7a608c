// Raw file descriptors for the archive's hot paths. Each FileHandle call costs an object, a promise chain and a
// thread-pool round trip; with thousands of small files per second those costs are most of the work. Calls that
// can wait for a disk (open, read, write) stay asynchronous; the callers make the in-memory ones on an open
// descriptor (fstat, fchown, fchmod, futimes, ftruncate, close) synchronous, a few µs each on a local filesystem.
import { open, read, write, writev } from 'node:fs';

export function openFile(path: string, flags: number, mode?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, flags, mode, (error, fd) => {
      if (error) reject(error);
      else resolve(fd);
    });
  });
}

/** One read(2) at `position`; resolves with the bytes read (0 at the end of the file). */
export function readAt(
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buffer, offset, length, position, (error, bytesRead) => {
      if (error) reject(error);
      else resolve(bytesRead);
    });
  });
}

/** Reads until `length` bytes at `position` are in `buffer` from `offset`, or the file ends; resolves with the bytes read. */
export async function readFully(
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let got = 0;
  while (got < length) {
    const read = await readAt(fd, buffer, offset + got, length - got, position + got);
    if (read === 0) break;
    got += read;
  }
  return got;
}

/** One pwrite(2), or pwritev(2) for several buffers; resolves with the bytes written. */
export function writeAt(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (error: NodeJS.ErrnoException | null, bytesWritten: number): void => {
      if (error) reject(error);
      else resolve(bytesWritten);
    };
    const [only] = buffers;
    if (buffers.length === 1 && only !== undefined) write(fd, only, 0, only.length, position, done);
    else writev(fd, buffers, position, done);
  });
}
