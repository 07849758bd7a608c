// "Did you mean": the names nearest to one that was not found — a typo, a case slip, a missing prefix or suffix —
// and the other workers that hold exactly that name.
import { AppError } from './errors.js';
import { COMPOSE_PROJECT_LABEL, normaliseImageRef } from './migration-plan.js';
import type { Inventory } from './workers.js';

/** Edit distance (insertions, deletions, substitutions, and swaps of two neighbours) between two strings. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++)
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      let best = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * Up to `limit` of `names` close to `wanted`, nearest first: the same but for case, one containing the other (a
 * project prefix left out), or a few edits away (one per four characters, at least one, at most three) — and none
 * more than one edit further than the nearest.
 */
export function nearNames(wanted: string, names: Iterable<string>, limit = 3): string[] {
  const lower = wanted.toLowerCase();
  const allowed = Math.min(3, Math.max(1, Math.floor(wanted.length / 4)));
  const scored: Array<{ name: string; score: number }> = [];
  for (const name of new Set(names)) {
    if (name === wanted || name === '') continue;
    const other = name.toLowerCase();
    let score: number;
    if (other === lower) score = 0;
    else if (lower.length >= 3 && (other.includes(lower) || lower.includes(other)))
      score = 0.5 + Math.abs(other.length - lower.length) / 100;
    else {
      const distance = editDistance(lower, other);
      if (distance > allowed) continue;
      score = distance;
    }
    scored.push({ name, score });
  }
  scored.sort((x, y) => x.score - y.score || x.name.localeCompare(y.name));
  // Far behind the nearest is noise: "cmsrc" is no guess for "cmdts" when "cmdst" is there.
  const best = scored[0]?.score ?? 0;
  return scored
    .filter((s) => s.score <= best + 1)
    .slice(0, limit)
    .map((s) => s.name);
}

/** What a not-found object may be: the kinds a migration request names. */
export type NamedKind = 'container' | 'image' | 'volume' | 'network' | 'compose_project';

/** Each kind with its article, as a sentence names one. */
const KIND_WORDS: Record<NamedKind, string> = {
  container: 'a container',
  image: 'an image',
  volume: 'a volume',
  network: 'a network',
  compose_project: 'a compose project',
};

/** The names a worker's inventory offers for one kind of object. */
export function namesOf(kind: NamedKind, inventory: Inventory): string[] {
  switch (kind) {
    case 'container':
      return inventory.containers.map((c) => c.name);
    case 'image':
      return inventory.images.flatMap((i) => i.tags);
    case 'volume':
      return inventory.volumes.map((v) => v.name);
    case 'network':
      return inventory.networks.map((n) => n.name);
    case 'compose_project':
      return [
        ...inventory.containers.map((c) => c.labels),
        ...inventory.volumes.map((v) => v.labels),
        ...inventory.networks.map((n) => n.labels),
      ].flatMap((labels) => labels[COMPOSE_PROJECT_LABEL] ?? []);
  }
}

/**
 * A request's "not found on the source" said helpfully, in one line: the near names the source has, and the other
 * workers that hold exactly that name (the user picked the wrong source). The details carry both; an error of
 * another kind is returned as it is.
 */
export function withNameSuggestions(
  error: AppError,
  source: { name: string; inventory: Inventory },
  others: ReadonlyArray<{ id: string; name: string; inventory: Inventory }>,
): AppError {
  const details = error.details ?? {};
  const kind = details.type as NamedKind | undefined;
  const ref = details.ref;
  if (error.code !== 'not_found' || typeof ref !== 'string' || kind === undefined || !(kind in KIND_WORDS))
    return error;
  const wanted = kind === 'image' ? normaliseImageRef(ref) : ref;
  const holders = others.filter((w) =>
    namesOf(kind, w.inventory).some((n) => (kind === 'image' ? normaliseImageRef(n) : n) === wanted),
  );
  const near = nearNames(ref, namesOf(kind, source.inventory));
  if (holders.length === 0 && near.length === 0) return error;
  const parts = [error.message];
  if (near.length > 0) parts.push(`did you mean ${near.map((n) => `"${n}"`).join(' or ')}?`);
  if (holders.length > 0)
    parts.push(
      `${KIND_WORDS[kind]} "${ref}" is on worker ${holders.map((w) => w.name).join(', ')} — migrate from ${holders.length === 1 ? 'that worker' : 'one of those'} instead`,
    );
  return new AppError(error.code, parts.join('; '), {
    cause: error,
    ...(error.hint === undefined ? {} : { hint: error.hint }),
    details: {
      ...details,
      suggestions: near,
      found_on: holders.map((w) => ({ worker_id: w.id, worker_name: w.name })),
    },
  });
}
