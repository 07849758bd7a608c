// Where a file's data lies: lseek(2) with SEEK_DATA/SEEK_HOLE tells the filesystem's holes without reading them.
// Node has no lseek; the native add-on that sets nanosecond times provides it. Without it the whole file is data.

/** A run of a file that may hold data; everything outside the runs is a hole (reads as zeros). */
export interface DataRegion {
  offset: number;
  length: number;
}

/** Whether holes are found without reading here (the native add-on loaded). */
export const seeksHoles = false;

/** The data regions of the open file `fd` of `size` bytes, in order; the whole file when holes cannot be sought. */
export function dataRegions(_fd: number, size: number): DataRegion[] {
  return size > 0 ? [{ offset: 0, length: size }] : [];
}
