// Preflight findings grouped by severity, and the sentence that announces them.
import { describe, expect, it } from 'vitest';

import type { FindingJson } from '../api/migration-types';
import { findingsSummary, groupFindings } from './migration-findings';

function finding(severity: FindingJson['severity'], code: FindingJson['code']): FindingJson {
  return { severity, code, message: code };
}

describe('findings', () => {
  it('groups them by severity, in their order', () => {
    const groups = groupFindings([
      finding('warning', 'port_in_use'),
      finding('error', 'name_conflict'),
      finding('warning', 'disk_space'),
    ]);
    expect(groups.warning.map((f) => f.code)).toEqual(['port_in_use', 'disk_space']);
    expect(groups.error.map((f) => f.code)).toEqual(['name_conflict']);
    expect(groups.info).toEqual([]);
  });

  it('says in one sentence what preflight found, with plurals', () => {
    expect(findingsSummary([])).toBe('Preflight found nothing to report.');
    expect(findingsSummary([finding('info', 'port_in_use')])).toBe('Preflight found 1 note.');
    expect(findingsSummary([finding('warning', 'port_in_use'), finding('info', 'name_conflict')])).toBe(
      'Preflight found 1 warning and 1 note.',
    );
    expect(
      findingsSummary([
        finding('error', 'port_in_use'),
        finding('warning', 'name_conflict'),
        finding('warning', 'disk_space'),
        finding('info', 'already_present'),
      ]),
    ).toBe('Preflight found 1 error, 2 warnings and 1 note.');
  });
});
