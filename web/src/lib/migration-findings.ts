// Preflight findings by severity: errors block a migration, warnings need reading, notes only inform.
import type { FindingJson } from '../api/migration-types';

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
