// Prometheus metric names as the tests read them: from a /metrics page or the master's registry, and the rule that
// no name repeats a prefix (docker_migrate_docker_migrate_…, docker_migrate_process_process_…).

/** The namespaces a metric name may start with; each may appear once, and only at the start. */
export const NAMESPACES = ['docker_migrate', 'process', 'nodejs'] as const;

/** Suffixes Prometheus adds to a histogram's (or summary's) name for its series. */
const SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

export interface MetricFamily {
  name: string;
  type: string;
}

/** The families a Prometheus text page declares (`# TYPE name type`), in page order. */
export function familiesOfPage(text: string): MetricFamily[] {
  return [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => ({ name: match[1]!, type: match[2]! }));
}

/** Every series name a query may use for these families: the name itself, and `_bucket`/`_sum`/`_count`. */
export function seriesNames(families: readonly MetricFamily[]): Set<string> {
  const names = new Set<string>();
  for (const { name, type } of families) {
    names.add(name);
    if (type === 'histogram' || type === 'summary') {
      for (const suffix of SERIES_SUFFIXES) names.add(`${name}${suffix}`);
    }
  }
  return names;
}

/**
 * Why a name repeats a prefix, or null when it does not: a namespace after the start (`docker_migrate_process_…`),
 * or a run of segments said twice in a row (`…_process_process_…`, `docker_migrate_docker_migrate_…`).
 */
export function repeatedPrefix(name: string): string | null {
  const segments = name.split('_');
  for (const namespace of NAMESPACES) {
    const parts = namespace.split('_');
    for (let at = 1; at + parts.length <= segments.length; at += 1) {
      if (parts.every((part, i) => segments[at + i] === part)) {
        return `${name}: the namespace "${namespace}" appears after the start`;
      }
    }
  }
  for (let length = 1; length * 2 <= segments.length; length += 1) {
    for (let at = 0; at + length * 2 <= segments.length; at += 1) {
      const run = segments.slice(at, at + length);
      if (run.every((part, i) => segments[at + length + i] === part)) {
        return `${name}: "${run.join('_')}" is said twice in a row`;
      }
    }
  }
  return null;
}
