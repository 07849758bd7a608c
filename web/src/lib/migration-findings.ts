// Preflight findings by severity: errors block a migration, some of them only until the user accepts them, warnings
// need reading, notes only inform.
import type { AcknowledgeableFinding, FindingJson } from '../api/migration-types';
import { plural } from './format';

/**
 * Codes of findings that block until the request acknowledges them, then only warn. The browser imports the API
 * contract as types only, so its list is spelled out here as a record over the contract's union: a code added to or
 * removed from the contract stops this file compiling until it follows.
 */
const ACKNOWLEDGEABLE: Record<AcknowledgeableFinding, true> = {
  volume_host_path: true,
  writable_layer_changes: true,
};
export const ACKNOWLEDGEABLE_CODES: readonly string[] = Object.keys(ACKNOWLEDGEABLE);

export interface FindingGroups {
  /** Errors that block whatever the user says. */
  error: FindingJson[];
  /** Errors that block until the user acknowledges them (sending their codes with the request). */
  acknowledge: FindingJson[];
  warning: FindingJson[];
  info: FindingJson[];
}

export function isAcknowledgeable(finding: FindingJson): boolean {
  return ACKNOWLEDGEABLE_CODES.includes(finding.code);
}

export function groupFindings(findings: FindingJson[]): FindingGroups {
  return {
    error: findings.filter((finding) => finding.severity === 'error' && !isAcknowledgeable(finding)),
    acknowledge: findings.filter((finding) => finding.severity === 'error' && isAcknowledgeable(finding)),
    warning: findings.filter((finding) => finding.severity === 'warning'),
    info: findings.filter((finding) => finding.severity === 'info'),
  };
}

/** The codes to acknowledge in a request for these findings: those of acknowledgeable findings, once each. */
export function acknowledgeableCodes(findings: FindingJson[]): string[] {
  return [...new Set(findings.filter(isAcknowledgeable).map((finding) => finding.code))];
}

/** One sentence for a screen reader once preflight has answered: "Preflight found 1 error, 2 warnings and 1 note." */
export function findingsSummary(findings: FindingJson[]): string {
  const groups = groupFindings(findings);
  const parts = [
    groups.error.length > 0 ? plural(groups.error.length, 'error') : null,
    groups.acknowledge.length > 0
      ? plural(groups.acknowledge.length, 'finding to accept', 'findings to accept')
      : null,
    groups.warning.length > 0 ? plural(groups.warning.length, 'warning') : null,
    groups.info.length > 0 ? plural(groups.info.length, 'note') : null,
  ].filter((part) => part !== null);
  if (parts.length === 0) return 'Preflight found nothing to report.';
  const last = parts.pop();
  return `Preflight found ${parts.length === 0 ? last : `${parts.join(', ')} and ${last}`}.`;
}
