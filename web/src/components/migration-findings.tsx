// Preflight findings grouped by severity: errors block a migration, some only until accepted, warnings need reading,
// notes just inform.
import type { FindingJson } from '../api/migration-types';
import { groupFindings, type FindingGroups } from '../lib/migration-findings';

const GROUPS: { severity: keyof FindingGroups; title: string; classes: string }[] = [
  {
    severity: 'error',
    title: 'Errors',
    classes:
      'border-rose-300 bg-rose-50 text-rose-950 dark:border-rose-800 dark:bg-rose-950 dark:text-rose-100',
  },
  {
    severity: 'acknowledge',
    title: 'Blocking until you accept them',
    classes:
      'border-orange-300 bg-orange-50 text-orange-950 dark:border-orange-800 dark:bg-orange-950 dark:text-orange-100',
  },
  {
    severity: 'warning',
    title: 'Warnings',
    classes:
      'border-amber-300 bg-amber-50 text-amber-950 dark:border-amber-800 dark:bg-amber-950 dark:text-amber-100',
  },
  {
    severity: 'info',
    title: 'Notes',
    classes:
      'border-slate-200 bg-slate-50 text-slate-800 dark:border-slate-700 dark:bg-slate-800 dark:text-slate-200',
  },
];

export function MigrationFindings({ findings }: { findings: FindingJson[] }) {
  const groups = groupFindings(findings);
  if (findings.length === 0) {
    return <p className="text-sm text-slate-600 dark:text-slate-400">Preflight found nothing to report.</p>;
  }
  return (
    <div className="space-y-3">
      {GROUPS.filter((group) => groups[group.severity].length > 0).map((group) => (
        <section
          key={group.severity}
          aria-label={`${group.title} (${groups[group.severity].length})`}
          className={`rounded-md border p-3 text-sm ${group.classes}`}
        >
          <h3 className="mb-1 font-semibold">
            {group.title} ({groups[group.severity].length})
          </h3>
          <ul className="list-disc space-y-1 pl-5">
            {groups[group.severity].map((finding, index) => (
              <li key={`${finding.code}-${index}`} className="break-words">
                {finding.resource !== undefined && !finding.message.includes(finding.resource.name) && (
                  <span className="font-medium">
                    {finding.resource.type} {finding.resource.name}:{' '}
                  </span>
                )}
                {finding.message}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
