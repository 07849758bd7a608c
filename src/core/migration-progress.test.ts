import { describe, expect, it } from 'vitest';
import type { MigrationPlan, PlannedResource, ResourceType } from './migration.js';
import { planTotals, resourceTotalBytes } from './migration-progress.js';

function planned(type: ResourceType, extra: Partial<PlannedResource> = {}): PlannedResource {
  return {
    type,
    name: `${type}-1`,
    sourceId: `${type}-1`,
    targetName: `${type}-1`,
    reason: 'dependency',
    action: 'create',
    estimatedBytes: 0,
    status: 'pending',
    bytes: 0,
    ...extra,
  };
}

function plan(...resources: PlannedResource[]): MigrationPlan {
  return { resources, findings: [], totalBytes: 0 };
}

const GiB = 1024 ** 3;

describe('planTotals', () => {
  it('totals the estimates of what is still to move before anything moved', () => {
    const totals = planTotals(
      plan(
        planned('image', { estimatedBytes: 212_000_000 }),
        planned('volume', { estimatedBytes: GiB }),
        planned('container'),
      ),
    );
    expect(totals).toEqual({ bytesTransferred: 0, totalBytes: 212_000_000 + GiB, progress: 0 });
  });

  it('takes what a done resource really moved as its part of the total', () => {
    // The image sent only its top layer: 10 MB of its 212 MB.
    const totals = planTotals(
      plan(
        planned('image', { estimatedBytes: 212_000_000, status: 'done', bytes: 10_000_000 }),
        planned('volume', { estimatedBytes: 90_000_000, status: 'running', bytes: 30_000_000 }),
      ),
    );
    expect(totals.bytesTransferred).toBe(40_000_000);
    expect(totals.totalBytes).toBe(100_000_000);
    expect(totals.progress).toBeCloseTo(0.4);
  });

  it('raises the total to the bytes moved when a volume grew past its estimate, never showing more done than total', () => {
    const totals = planTotals(
      plan(planned('volume', { estimatedBytes: 1_980_000, status: 'running', bytes: 212_000_000 })),
    );
    expect(totals.bytesTransferred).toBe(212_000_000);
    expect(totals.totalBytes).toBe(212_000_000);
    expect(totals.progress).toBe(0.99);
  });

  it('leaves skipped resources, volumes created empty and configuration out of both figures', () => {
    const totals = planTotals(
      plan(
        planned('image', { estimatedBytes: 50_000_000, action: 'skip', status: 'skipped' }),
        planned('image', { estimatedBytes: 70_000_000, status: 'skipped' }),
        planned('volume', { estimatedBytes: 5_000, copyContent: false, status: 'done' }),
        planned('network', { status: 'done' }),
        planned('volume', { estimatedBytes: 1_000, status: 'pending' }),
      ),
    );
    expect(totals).toEqual({ bytesTransferred: 0, totalBytes: 1_000, progress: 0 });
  });

  it('shows a failed resource with what it moved against its estimate', () => {
    expect(resourceTotalBytes(planned('volume', { estimatedBytes: 100, status: 'failed', bytes: 40 }))).toBe(
      100,
    );
    expect(resourceTotalBytes(planned('volume', { estimatedBytes: 100, status: 'failed', bytes: 140 }))).toBe(
      140,
    );
  });
});
