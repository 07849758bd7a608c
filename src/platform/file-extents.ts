// Where a file's data lies: lseek(2) with SEEK_DATA/SEEK_HOLE tells the filesystem's holes without reading them.
// Node has no lseek; the native add-on that sets nanosecond times provides it. Without it the whole file is data.
import { callNative, nativeAddon } from './native-addon.js';

/** A run of a file that may hold data; everything outside the runs is a hole (reads as zeros). */
export interface DataRegion {
  offset: number;
  length: number;
}

/** Whether holes are found without reading here (the native add-on loaded). */
export const seeksHoles: boolean = nativeAddon.addon !== undefined;

function wholeFile(size: number): DataRegion[] {
  return size > 0 ? [{ offset: 0, length: size }] : [];
}

/**
 * The data regions of the open file `fd` of `size` bytes, in order; the whole file when holes cannot be sought.
 * Regions follow the filesystem's blocks, so they may include zeros around the data. The descriptor's file position
 * is left where it was.
 */
export function dataRegions(fd: number, size: number): DataRegion[] {
  const { addon } = nativeAddon;
  if (!addon || size <= 0) return wholeFile(size);
  const flat = callNative(() => addon.dataRegions(fd, size));
  const regions: DataRegion[] = [];
  for (let index = 0; index + 1 < flat.length; index += 2) {
    regions.push({ offset: flat[index] ?? 0, length: flat[index + 1] ?? 0 });
  }
  return regions;
}
