// A migration's event log, oldest first and newest at the bottom, scrolled along as events arrive unless the reader
// has scrolled up to read an older one; announced politely to screen readers.
import { useEffect, useRef } from 'react';

import type { MigrationEventJson } from '../../api/migration-types';
import { Badge } from '../../components/ui';
import { formatDateTime } from '../../lib/format';
import { PHASE_LABELS } from '../../lib/migration-status';

const LEVEL_TONES = { info: 'slate', warning: 'amber', error: 'red' } as const;

/** How close to the bottom (px) still counts as "following" the log. */
const FOLLOW_SLACK = 24;

export function MigrationEventLog({ events }: { events: MigrationEventJson[] }) {
  const region = useRef<HTMLDivElement>(null);
  const following = useRef(true);

  useEffect(() => {
    const element = region.current;
    if (element !== null && following.current) element.scrollTop = element.scrollHeight;
  }, [events.length]);

  return (
    <div
      ref={region}
      role="log"
      aria-live="polite"
      aria-label="Event log"
      tabIndex={0}
      onScroll={(event) => {
        const element = event.currentTarget;
        following.current = element.scrollHeight - element.scrollTop - element.clientHeight <= FOLLOW_SLACK;
      }}
      className="max-h-96 overflow-y-auto rounded-md border border-slate-200 focus-visible:ring-2 focus-visible:ring-sky-500 focus-visible:outline-none dark:border-slate-800"
    >
      {events.length === 0 ? (
        <p className="p-3 text-sm text-slate-600 dark:text-slate-400">No events yet.</p>
      ) : (
        <ol className="divide-y divide-slate-100 text-sm dark:divide-slate-800">
          {events.map((event) => (
            <li
              key={event.id}
              className="flex flex-wrap items-baseline gap-x-2 gap-y-0.5 px-3 py-1.5 sm:grid sm:grid-cols-[11rem_5rem_7rem_1fr] sm:gap-x-3"
            >
              <time dateTime={event.at} className="font-mono text-xs text-slate-600 dark:text-slate-400">
                {formatDateTime(event.at)}
              </time>
              <span>
                <Badge tone={LEVEL_TONES[event.level]}>{event.level}</Badge>
              </span>
              <span className="text-xs text-slate-600 dark:text-slate-400">{PHASE_LABELS[event.phase]}</span>
              <span className="min-w-0 basis-full break-words sm:basis-auto">{event.message}</span>
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
