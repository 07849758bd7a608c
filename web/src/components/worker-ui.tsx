// Small pieces the worker pages share: label chips, lists of users, and a resource section with its count and
// empty state.
import type { ReactNode } from 'react';

import { Badge, Card, EmptyState } from './ui';

/** Docker labels as "key=value" chips; nothing when there are none. */
export function LabelList({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  return (
    <ul aria-label="Labels" className="flex flex-wrap gap-1">
      {entries.map(([key, value]) => (
        <li key={key}>
          <Badge wrap>{value === '' ? key : `${key}=${value}`}</Badge>
        </li>
      ))}
    </ul>
  );
}

/** Container names using something, or a dash when none does. */
export function NameList({ names }: { names: readonly string[] | undefined }) {
  if (names === undefined || names.length === 0)
    return <span className="text-slate-600 dark:text-slate-400">—</span>;
  return <span className="break-words">{names.join(', ')}</span>;
}

/** One resource list of a worker: its count, what to do when it is empty, and a note when the filter hid all. */
export function ResourceSection({
  title,
  total,
  shown,
  filter,
  empty,
  children,
}: {
  title: string;
  total: number;
  shown: number;
  filter: string;
  empty: { title: string; hint: ReactNode };
  children: ReactNode;
}) {
  const heading = shown === total ? `${title} (${total})` : `${title} (${shown} of ${total})`;
  let body = children;
  if (total === 0) body = <EmptyState title={empty.title}>{empty.hint}</EmptyState>;
  else if (shown === 0) {
    body = (
      <p className="text-sm text-slate-600 dark:text-slate-400">
        No {title.toLowerCase()} match “{filter.trim()}”.
      </p>
    );
  }
  return <Card title={heading}>{body}</Card>;
}
