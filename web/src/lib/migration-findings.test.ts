// Preflight findings grouped by severity, and the sentence that announces them.
import { describe, expect, it } from 'vitest';

import type { FindingJson } from '../api/migration-types';
import { findingsSummary, groupFindings } from './migration-findings';

function finding(severity: FindingJson['severity'], code: string): FindingJson {
  return { severity, code, message: code };
}

describe('findings', () => {
  it('groups them by severity, in their order', () => {
    const groups = groupFindings([finding('warning', 'a'), finding('error', 'b'), finding('warning', 'c')]);
    expect(groups.warning.map((f) => f.code)).toEqual(['a', 'c']);
    expect(groups.error.map((f) => f.code)).toEqual(['b']);
    expect(groups.info).toEqual([]);
  });

  it('says in one sentence what preflight found, with plurals', () => {
    expect(findingsSummary([])).toBe('Preflight found nothing to report.');
    expect(findingsSummary([finding('info', 'a')])).toBe('Preflight found 1 note.');
    expect(findingsSummary([finding('warning', 'a'), finding('info', 'b')])).toBe(
      'Preflight found 1 warning and 1 note.',
    );
    expect(
      findingsSummary([
        finding('error', 'a'),
        finding('warning', 'b'),
        finding('warning', 'c'),
        finding('info', 'd'),
      ]),
    ).toBe('Preflight found 1 error, 2 warnings and 1 note.');
  });
});
