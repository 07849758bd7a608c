// Preflight findings by severity: errors block a migration, warnings need reading, notes only inform.
import type { FindingJson } from '../api/migration-types';
import { plural } from './format';

export interface FindingGroups {
  error: FindingJson[];
  warning: FindingJson[];
  info: FindingJson[];
}

export function groupFindings(findings: FindingJson[]): FindingGroups {
  return {
    error: findings.filter((finding) => finding.severity === 'error'),
    warning: findings.filter((finding) => finding.severity === 'warning'),
    info: findings.filter((finding) => finding.severity === 'info'),
  };
}

/** One sentence for a screen reader once preflight has answered: "Preflight found 1 error, 2 warnings and 1 note." */
export function findingsSummary(findings: FindingJson[]): string {
  const groups = groupFindings(findings);
  const parts = [
    groups.error.length > 0 ? plural(groups.error.length, 'error') : null,
    groups.warning.length > 0 ? plural(groups.warning.length, 'warning') : null,
    groups.info.length > 0 ? plural(groups.info.length, 'note') : null,
  ].filter((part) => part !== null);
  if (parts.length === 0) return 'Preflight found nothing to report.';
  const last = parts.pop();
  return `Preflight found ${parts.length === 0 ? last : `${parts.join(', ')} and ${last}`}.`;
}
