// Small pieces the worker pages share: link styles, a link shaped like a button, tables that scroll on a phone,
// label chips and a ticking "12 s ago".
import type { ComponentProps, ReactNode } from 'react';
import { Link } from 'react-router';

import { formatDateTime, formatRelative } from '../lib/format';
import { useNow } from '../lib/use-now';
import { Badge, Card, EmptyState } from './ui';

export type Tone = NonNullable<ComponentProps<typeof Badge>['tone']>;

export const LINK_CLASS =
  'text-sky-700 underline underline-offset-2 hover:text-sky-900 dark:text-sky-400 dark:hover:text-sky-300';

const LINK_BUTTON_CLASSES = {
  primary: 'bg-sky-600 text-white hover:bg-sky-700',
  secondary:
    'border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100 dark:hover:bg-slate-800',
};

/** A link that looks like a Button: it navigates, so it stays a link for the keyboard and screen readers. */
export function LinkButton({
  to,
  variant = 'secondary',
  label,
  children,
}: {
  to: string;
  variant?: keyof typeof LINK_BUTTON_CLASSES;
  /** A fuller name for screen readers when the visible text alone is ambiguous; it starts with that text. */
  label?: string;
  children: ReactNode;
}) {
  return (
    <Link
      to={to}
      aria-label={label}
      className={`inline-flex items-center justify-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium ${LINK_BUTTON_CLASSES[variant]}`}
    >
      {children}
    </Link>
  );
}

/** A table that scrolls sideways inside its card instead of widening the page on a phone. */
export function Table({
  caption,
  columns,
  wide = false,
  children,
}: {
  caption: string;
  columns: readonly string[];
  /** Many columns: keep them readable and scroll sooner on a narrow screen. */
  wide?: boolean;
  children: ReactNode;
}) {
  return (
    <div className="-mx-4 overflow-x-auto px-4">
      <table
        className={`w-full ${wide ? 'min-w-[56rem]' : 'min-w-[36rem]'} border-collapse text-left text-sm`}
      >
        <caption className="sr-only">{caption}</caption>
        <thead>
          <tr className="border-b border-slate-200 text-xs text-slate-500 uppercase dark:border-slate-800">
            {columns.map((column) => (
              <th key={column} scope="col" className="px-2 py-2 font-medium first:pl-0">
                {column}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">{children}</tbody>
      </table>
    </div>
  );
}

export function Cell({ children, className = '' }: { children: ReactNode; className?: string }) {
  return <td className={`px-2 py-2 align-top first:pl-0 ${className}`}>{children}</td>;
}

/** Docker labels as "key=value" chips; nothing when there are none. */
export function LabelList({ labels }: { labels: Record<string, string> }) {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  return (
    <ul aria-label="Labels" className="flex flex-wrap gap-1">
      {entries.map(([key, value]) => (
        <li key={key}>
          <Badge>{value === '' ? key : `${key}=${value}`}</Badge>
        </li>
      ))}
    </ul>
  );
}

/** Container names using something, or a dash when none does. */
export function NameList({ names }: { names: readonly string[] | undefined }) {
  if (names === undefined || names.length === 0) return <span className="text-slate-500">—</span>;
  return <span className="break-words">{names.join(', ')}</span>;
}

/** A past moment as "12 s ago", re-rendered every few seconds; the exact time on hover. */
export function Ago({ at }: { at: string | null }) {
  const now = useNow();
  return (
    <time dateTime={at ?? undefined} title={formatDateTime(at)}>
      {formatRelative(at, now)}
    </time>
  );
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
