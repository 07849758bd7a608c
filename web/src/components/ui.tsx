// Small building blocks every page uses, so pages look alike and stay keyboard-accessible.
import {
  useEffect,
  useId,
  useRef,
  useState,
  type ComponentPropsWithRef,
  type ReactNode,
  type RefObject,
} from 'react';
import { Link } from 'react-router';

import { errorMessage } from '../api/client';
import { formatDateTime, formatRelative, wholePercent } from '../lib/format';
import { useNow } from '../lib/use-now';

/** The tab's title (and what a screen reader says when a page opens): "Audit log · Dockation". */
export function useDocumentTitle(title: string | undefined): void {
  useEffect(() => {
    if (title !== undefined) document.title = `${title} · Dockation`;
  }, [title]);
}

/** The page's h1; it names the browser tab too (`documentTitle` when the heading holds more than text). */
export function PageTitle({
  children,
  actions,
  documentTitle,
}: {
  children: ReactNode;
  actions?: ReactNode;
  documentTitle?: string;
}) {
  useDocumentTitle(documentTitle ?? (typeof children === 'string' ? children : undefined));
  return (
    <div className="mb-4 flex flex-wrap items-center justify-between gap-3">
      <h1 className="text-xl font-semibold tracking-tight">{children}</h1>
      {actions !== undefined && <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

export function Card({
  title,
  children,
  actions,
}: {
  title?: ReactNode;
  children: ReactNode;
  actions?: ReactNode;
}) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm dark:border-slate-800 dark:bg-slate-900">
      {(title !== undefined || actions !== undefined) && (
        <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
          {title !== undefined && <h2 className="text-base font-semibold">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

type ButtonVariant = 'primary' | 'secondary' | 'danger';

const BUTTON_BASE =
  'inline-flex items-center justify-center gap-1 rounded-md px-3 py-1.5 text-sm font-medium';

const BUTTON_CLASSES: Record<ButtonVariant, string> = {
  // White on sky-600 is 4.0:1, under the 4.5:1 small text needs; sky-700 is 5.9:1.
  primary: 'bg-sky-700 text-white hover:bg-sky-800 disabled:bg-sky-300 dark:disabled:bg-sky-900',
  secondary:
    'border border-slate-300 bg-white text-slate-800 hover:bg-slate-100 disabled:text-slate-400 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100 dark:hover:bg-slate-800',
  danger: 'bg-rose-600 text-white hover:bg-rose-700 disabled:bg-rose-300 dark:disabled:bg-rose-900',
};

export function Button({
  variant = 'secondary',
  className = '',
  type = 'button',
  ...props
}: ComponentPropsWithRef<'button'> & { variant?: ButtonVariant }) {
  return (
    <button
      type={type}
      className={`${BUTTON_BASE} disabled:cursor-not-allowed disabled:opacity-60 ${BUTTON_CLASSES[variant]} ${className}`}
      {...props}
    />
  );
}

/** An API error in words, announced to screen readers. */
export function ErrorNotice({ error, title }: { error: unknown; title?: string }) {
  if (error === null || error === undefined) return null;
  return (
    <div
      role="alert"
      className="rounded-md border border-rose-300 bg-rose-50 p-3 text-sm break-words text-rose-900 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100"
    >
      {title !== undefined && <p className="font-medium">{title}</p>}
      <p>{errorMessage(error)}</p>
    </div>
  );
}

/** What an empty list means and what to do next. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="rounded-md border border-dashed border-slate-300 p-6 text-center text-sm text-slate-600 dark:border-slate-700 dark:text-slate-400">
      <p className="font-medium text-slate-800 dark:text-slate-200">{title}</p>
      {children !== undefined && <div className="mt-1">{children}</div>}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p role="status" className="text-sm text-slate-600 dark:text-slate-400">
      Loading {what}…
    </p>
  );
}

export type Tone = 'green' | 'red' | 'amber' | 'sky' | 'slate';

const TONE_CLASSES: Record<Tone, string> = {
  green: 'bg-emerald-100 text-emerald-900 dark:bg-emerald-900 dark:text-emerald-100',
  red: 'bg-rose-100 text-rose-900 dark:bg-rose-900 dark:text-rose-100',
  amber: 'bg-amber-100 text-amber-900 dark:bg-amber-900 dark:text-amber-100',
  sky: 'bg-sky-100 text-sky-900 dark:bg-sky-900 dark:text-sky-100',
  slate: 'bg-slate-200 text-slate-800 dark:bg-slate-800 dark:text-slate-200',
};

export function Badge({
  tone = 'slate',
  wrap = false,
  children,
}: {
  tone?: Tone;
  /** Free text (a Docker label) that may be long: it wraps rather than widening its table column. */
  wrap?: boolean;
  children: ReactNode;
}) {
  return (
    <span
      className={`inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium ${wrap ? 'wrap-anywhere' : ''} ${TONE_CLASSES[tone]}`}
    >
      {children}
    </span>
  );
}

/**
 * A modal confirmation on the native <dialog> element: focus is trapped, Escape cancels, and the text says
 * what the action does before anyone confirms it.
 */
export function ConfirmDialog({
  open,
  title,
  children,
  confirmLabel,
  cancelLabel = 'Cancel',
  danger = false,
  busy = false,
  onConfirm,
  onCancel,
}: {
  open: boolean;
  title: string;
  children: ReactNode;
  confirmLabel: string;
  /** The dismiss button's words, when "Cancel" would be ambiguous (cancelling a migration). */
  cancelLabel?: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onCancel={(event) => {
        // Escape: the dialog stays open while its action runs, so the outcome (or its error) is seen where it was
        // asked for, and the action's own callbacks are not dropped half-way.
        event.preventDefault();
        if (!busy) onCancel();
      }}
      className="m-auto max-w-md rounded-lg border border-slate-200 bg-white p-5 text-slate-900 shadow-xl backdrop:bg-slate-900/50 dark:border-slate-700 dark:bg-slate-900 dark:text-slate-100"
    >
      <h2 id={titleId} className="mb-2 text-lg font-semibold">
        {title}
      </h2>
      <div className="mb-4 text-sm">{children}</div>
      <div className="flex justify-end gap-2">
        <Button onClick={onCancel} disabled={busy}>
          {cancelLabel}
        </Button>
        <Button variant={danger ? 'danger' : 'primary'} onClick={onConfirm} disabled={busy}>
          {confirmLabel}
        </Button>
      </div>
    </dialog>
  );
}

/** A determinate progress bar with its value in words for assistive technology. */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = wholePercent(value);
  return (
    <div
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      className="h-2 w-full overflow-hidden rounded bg-slate-200 dark:bg-slate-800"
    >
      <div className="h-full bg-sky-600 transition-[width]" style={{ width: `${percent}%` }} />
    </div>
  );
}

export const LINK_CLASS =
  'text-sky-700 underline underline-offset-2 hover:text-sky-900 dark:text-sky-400 dark:hover:text-sky-300';

/** A link that looks like a Button: it navigates, so it stays a link for the keyboard and screen readers. */
export function LinkButton({
  to,
  variant = 'secondary',
  label,
  children,
}: {
  to: string;
  variant?: 'primary' | 'secondary';
  /** A fuller name for screen readers when the visible text alone is ambiguous; it starts with that text. */
  label?: string;
  children: ReactNode;
}) {
  return (
    <Link to={to} aria-label={label} className={`${BUTTON_BASE} ${BUTTON_CLASSES[variant]}`}>
      {children}
    </Link>
  );
}

/**
 * Whether an element's content is wider than the element, kept up to date as either resizes. jsdom has no
 * ResizeObserver and no layout: there nothing ever overflows.
 */
function useOverflows(ref: RefObject<HTMLElement | null>): boolean {
  const [overflows, setOverflows] = useState(false);
  useEffect(() => {
    const element = ref.current;
    if (element === null || typeof ResizeObserver === 'undefined') return undefined;
    const observer = new ResizeObserver(() => {
      setOverflows(element.scrollWidth > element.clientWidth);
    });
    observer.observe(element);
    if (element.firstElementChild !== null) observer.observe(element.firstElementChild);
    return () => {
      observer.disconnect();
    };
  }, [ref]);
  return overflows;
}

/** Below this width (Tailwind's `sm`), tables become stacked rows: each cell on its own line, after its column. */
const STACK_BELOW_PX = 640;

/**
 * The style that stacks one table's rows on a phone: each row a block, each cell a line labelled with its column
 * (by position, so rows drawn by any component get their labels; a cell spanning the row, such as details shown
 * under a row, has none). Scoped to the table by `data-stack`.
 */
export function stackedTableCss(scope: string, columns: readonly string[]): string {
  const at = `[data-stack=${JSON.stringify(scope)}]`;
  const labels = columns
    .map(
      (column, index) =>
        `${at} td:not([colspan]):nth-child(${index + 1})::before{content:${JSON.stringify(column)}}`,
    )
    .join('');
  return (
    `@media (max-width:${STACK_BELOW_PX - 0.02}px){` +
    `${at} table,${at} tbody,${at} tr{display:block;min-width:0}` +
    `${at} tr{padding:.5rem 0}` +
    `${at} td{display:flex;gap:.75rem;padding:.125rem 0}` +
    `${at} td::before{flex:0 0 7rem;font-size:.75rem;line-height:1.25rem;text-transform:uppercase;color:rgb(100 116 139)}` +
    `${labels}}`
  );
}

/**
 * A table that, on a phone, stacks each row's cells under one another, each labelled with its column, so every
 * value shows without scrolling sideways; wider, it scrolls sideways inside its card instead of widening the page.
 * While it does, the scrolling box can take focus (named after the table), so that the keyboard can scroll it too.
 */
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
  const box = useRef<HTMLDivElement>(null);
  const scrolls = useOverflows(box);
  const scope = useId();
  return (
    <div
      ref={box}
      data-stack={scope}
      className="-mx-4 overflow-x-auto px-4"
      {...(scrolls ? { tabIndex: 0, role: 'region', 'aria-label': `${caption} (scrolls sideways)` } : {})}
    >
      <style>{stackedTableCss(scope, columns)}</style>
      <table
        className={`w-full ${wide ? 'sm:min-w-[56rem]' : 'sm:min-w-[36rem]'} border-collapse text-left text-sm`}
      >
        <caption className="sr-only">{caption}</caption>
        <thead className="max-sm:sr-only">
          <tr className="border-b border-slate-200 text-xs text-slate-600 uppercase dark:border-slate-800 dark:text-slate-400">
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

/** A past moment as "12 s ago", re-rendered every few seconds; the exact time on hover. */
export function Ago({ at }: { at: string | null }) {
  const now = useNow();
  return (
    <time dateTime={at ?? undefined} title={formatDateTime(at)}>
      {formatRelative(at, now)}
    </time>
  );
}

/**
 * For "Load older" under a table: returns a function to call as the loading starts; once rows arrive, the first new
 * one takes focus (and is read out). The button is disabled while loading and gone when nothing older is left, so
 * focus would otherwise fall to the page.
 */
export function useFocusFirstNewRow(container: RefObject<HTMLElement | null>, rowCount: number): () => void {
  const firstNew = useRef<number | null>(null);
  useEffect(() => {
    const index = firstNew.current;
    if (index === null) return;
    const row = container.current?.querySelectorAll<HTMLTableRowElement>('tbody tr')[index];
    if (row === undefined) return;
    firstNew.current = null;
    row.tabIndex = -1;
    row.focus();
  }, [container, rowCount]);
  return () => {
    firstNew.current = rowCount;
  };
}
