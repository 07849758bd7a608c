// Human-readable sizes, ages and ids for the CLI's tables.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/**
 * Binary units, as the web UI and preflight's messages write them, so that a size reads the same everywhere:
 * 1536 → "1.5 KiB", one decimal below 10 of a unit, none above; the unit is chosen after rounding (1 048 575 bytes
 * is "1.0 MiB", not "1024 KiB"). "-" for unknown.
 */
export function humanBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || bytes < 0 || !Number.isFinite(bytes)) return '-';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (unit < UNITS.length - 1 && Math.round(value) >= 1024) {
    value /= 1024;
    unit += 1;
  }
  const digits = Number(value.toFixed(1)) < 10 ? 1 : 0;
  return `${value.toFixed(digits)} ${UNITS[unit] ?? 'B'}`;
}

const SPANS: [number, string][] = [
  [365 * 24 * 3600, 'year'],
  [30 * 24 * 3600, 'month'],
  [7 * 24 * 3600, 'week'],
  [24 * 3600, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
];

/** "3 hours ago", "2 weeks ago", "less than a minute ago"; `nowSeconds` for tests. */
export function humanAge(unixSeconds: number, nowSeconds = Date.now() / 1000): string {
  if (!unixSeconds) return '-';
  const elapsed = Math.max(0, nowSeconds - unixSeconds);
  for (const [span, name] of SPANS) {
    const count = Math.floor(elapsed / span);
    if (count >= 1) return `${count} ${name}${count === 1 ? '' : 's'} ago`;
  }
  return 'less than a minute ago';
}

/** The 12-digit short form Docker shows, without the "sha256:" prefix. */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
