// Human-readable sizes, ages and ids for the CLI's tables.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units like the docker CLI: 1.5 GB, 312 MB, 4 kB, 12 B. */
export function humanBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || bytes < 0 || !Number.isFinite(bytes)) return '-';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits).replace(/\.0+$|(\.\d*[1-9])0+$/, '$1')} ${UNITS[unit] ?? 'B'}`;
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
