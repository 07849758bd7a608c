// Setting a file's access and modification times to the nanosecond. Node's utimes family takes seconds as a double,
// which near today's dates resolves only to ~240 ns; the native add-on calls futimens/utimensat with whole timespecs.
// Without the add-on (a platform it was not built for) times are set through Node, to the nearest ~µs.
import { futimesSync, lutimesSync } from 'node:fs';

import { callNative, nativeAddon } from './native-addon.js';

/** Nanoseconds since the epoch, as `fs.statSync(path, { bigint: true }).mtimeNs` gives them. */
export type Nanoseconds = bigint;

const NS_PER_SECOND = 1_000_000_000n;

function seconds(time: Nanoseconds): number {
  const whole = time / NS_PER_SECOND;
  const rest = time % NS_PER_SECOND;
  return Number(whole) + Number(rest) / 1e9;
}

/** Whether times are set to the nanosecond here (the native add-on loaded). */
export const nanosecondTimes: boolean = nativeAddon.addon !== undefined;

/** Sets the times of an open file. */
export function setTimesByFd(fd: number, atime: Nanoseconds, mtime: Nanoseconds): void {
  const { addon } = nativeAddon;
  if (addon) {
    callNative(() => {
      addon.setTimesFd(fd, atime, mtime);
    });
    return;
  }
  futimesSync(fd, seconds(atime), seconds(mtime));
}

/** Sets the times of `path` itself: a symlink's own times, never its target's. */
export function setTimesByPath(path: string, atime: Nanoseconds, mtime: Nanoseconds): void {
  const { addon } = nativeAddon;
  if (addon) {
    callNative(() => {
      addon.setTimesPath(path, atime, mtime);
    }, path);
    return;
  }
  lutimesSync(path, seconds(atime), seconds(mtime));
}
