// Human words for every page: sizes in binary units, rates, short durations, "3 min ago", counts with plurals.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * 1536 → "1.5 KiB"; one decimal below 10 of a unit, none above; "—" for unknown. The unit is chosen after rounding,
 * so 1 048 575 bytes reads "1.0 MiB", not "1024 KiB", and 10 235 bytes "10 KiB", not "10.0 KiB".
 */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (unit < UNITS.length - 1 && Math.round(value) >= 1024) {
    value /= 1024;
    unit += 1;
  }
  const digits = Number(value.toFixed(1)) < 10 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/**
 * "X of Y" for bytes moved against a total that is never below them: a volume that grew while it was copied raises
 * the total rather than read "212 MiB of 1.9 MiB".
 */
export function formatMovedOf(moved: number, total: number, separator = ' of '): string {
  return `${formatBytes(moved)}${separator}${formatBytes(Math.max(moved, total))}`;
}

/** Bytes per second → "12 MiB/s"; "—" when nothing is moving. */
export function formatRate(bytesPerSecond: number | null | undefined): string {
  if (bytesPerSecond === null || bytesPerSecond === undefined || !(bytesPerSecond > 0)) return '—';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** Milliseconds → "850 ms", "4.2 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  // Each threshold is where the rounded figure would reach the next unit: 999.6 ms is "1.0 s", 59.7 s is "1 min".
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 9.95) return `${seconds.toFixed(1)} s`;
  if (seconds < 59.5) return `${Math.round(seconds)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) {
    const rest = totalSeconds % 60;
    return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
  }
  const hours = Math.floor(minutes / 60);
  if (hours < 24) {
    const rest = minutes % 60;
    return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  }
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  return rest === 0 ? `${days} d` : `${days} d ${rest} h`;
}

/** Time left at the current rate, or "—" when it cannot be known. */
export function formatEta(remainingBytes: number, bytesPerSecond: number | null | undefined): string {
  if (
    !(remainingBytes > 0) ||
    bytesPerSecond === null ||
    bytesPerSecond === undefined ||
    !(bytesPerSecond > 0)
  ) {
    return '—';
  }
  return formatDuration((remainingBytes / bytesPerSecond) * 1000);
}

/** An ISO time relative to now: "just now", "42 s ago", "5 min ago", "3 h ago", then the date. */
export function formatRelative(iso: string | null | undefined, now: number = Date.now()): string {
  if (iso === null || iso === undefined) return 'never';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return '—';
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 0) return 'just now';
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return formatDateTime(iso);
}

/** An ISO time as local date and time, e.g. "2026-11-29 14:03:12". */
export function formatDateTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '—';
  const pad = (value: number): string => String(value).padStart(2, '0');
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

/** 0..1 → "42 %". */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—';
  return `${wholePercent(fraction)} %`;
}

/**
 * 0..1 → a whole percentage, clamped. Something not quite done never reads 100 (0.996 is 99), and something
 * started never reads 0 unless nothing moved: rounding alone said "100 %" while the last bytes were still copied.
 */
export function wholePercent(fraction: number): number {
  if (!(fraction > 0)) return 0;
  if (fraction >= 1) return 100;
  return Math.min(99, Math.max(1, Math.round(fraction * 100)));
}

/** Docker ids shown short, like the docker CLI does: "sha256:abcdef…" → "abcdef012345". */
export function shortId(id: string): string {
  const bare = id.startsWith('sha256:') ? id.slice('sha256:'.length) : id;
  return bare.slice(0, 12);
}

/** "1 volume", "3 volumes", "2 dependencies": the count with its noun, singular only for exactly one. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
