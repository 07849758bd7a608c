// One master per SQLite file: a lock file beside the database names the process that holds it. SQLite's own locks
// cannot serve here (WAL mode lets a second process open and write the file), and two masters on one file would
// each run migrations the other does not know of.
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';

import { AppError } from '../core/errors.js';

export interface InstanceLock {
  release(): void;
}

/** Locks held by this process: a second master in the same process is refused too. */
const held = new Set<string>();

/** Whether `pid` is a live docker-migrate process other than this one (a stale lock names a dead or foreign one). */
function anotherMaster(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A recycled pid belongs to another program: on Linux its command line tells.
  const cmdline = `/proc/${pid}/cmdline`;
  if (!existsSync(cmdline)) return true;
  try {
    return readFileSync(cmdline, 'utf8').includes('docker-migrate');
  } catch {
    return true;
  }
}

/** Takes the lock at `path` for this process, or refuses naming the process that holds it. */
export function lockInstance(path: string, what: string): InstanceLock {
  const refuse = (pid: number | undefined): never => {
    throw new AppError(
      'failed_precondition',
      `another docker-migrate master${pid === undefined ? '' : ` (pid ${pid})`} is using ${what}`,
      {
        hint: 'stop it first, or give this master another --data-dir; several masters share state only through PostgreSQL (--store-url)',
        details: { lock: path, ...(pid === undefined ? {} : { pid }) },
      },
    );
  };
  if (held.has(path)) refuse(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(path);
      return {
        release() {
          if (!held.delete(path)) return;
          rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
      if (anotherMaster(pid)) refuse(pid);
      // Left by a master that died: take it over.
      rmSync(path, { force: true });
    }
  }
  return refuse(undefined);
}
