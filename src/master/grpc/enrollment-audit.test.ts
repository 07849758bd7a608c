// Failed enrollments summed up in the audit log: bounded rows whatever the number of attempts and addresses.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { NewAuditEntry } from '../../core/workers.js';
import { createFailedEnrollmentAudit, enrolledSummary } from './enrollment-audit.js';

let rows: NewAuditEntry[];
const store = {
  appendAudit(entry: NewAuditEntry) {
    rows.push(entry);
    return Promise.resolve({ id: rows.length, ...entry, summary: entry.summary ?? null });
  },
};

beforeEach(() => {
  rows = [];
  vi.useFakeTimers({ now: Date.parse('2025-03-01T12:00:00Z') });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('failed enrollment audit', () => {
  it('writes one row per window for attempts from ten thousand rotating addresses', async () => {
    const audit = createFailedEnrollmentAudit({ store, windowMs: 60_000, maxAddresses: 3 });
    for (let i = 0; i < 10_000; i += 1) audit.record(`2001:db8::${i.toString(16)}`, 'wrong token');
    audit.record('2001:db8::1', 'rate limited');

    await vi.advanceTimersByTimeAsync(60_000);

    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'worker.enroll', outcome: 'error', remoteAddress: null });
    expect(rows[0]?.details).toMatchObject({
      attempts: 10_001,
      reasons: { 'wrong token': 10_000, 'rate limited': 1 },
      attemptsFromOtherAddresses: 9_997,
    });
    expect(Object.keys(rows[0]?.details.addresses as object)).toHaveLength(3);
    expect(rows[0]?.details.addresses).toMatchObject({ '2001:db8::1': 2 });
    expect(rows[0]?.summary).toBe('refused 10001 attempts: wrong token (10000), rate limited (1)');
  });

  it('names the one address of a window, starts a new window after, and writes nothing when quiet', async () => {
    const audit = createFailedEnrollmentAudit({ store, windowMs: 60_000 });
    audit.record('10.0.0.7', 'wrong token');
    await vi.advanceTimersByTimeAsync(60_000);
    await vi.advanceTimersByTimeAsync(600_000);
    audit.record('10.0.0.8', 'wrong token');
    await audit.flush();

    expect(rows.map((row) => [row.actor, row.remoteAddress, row.details.attempts])).toEqual([
      ['remote:10.0.0.7', '10.0.0.7', 1],
      ['remote:10.0.0.8', '10.0.0.8', 1],
    ]);
  });
});

describe('enrolment summary', () => {
  it('names the enrolled worker, and its host when that differs', () => {
    expect(enrolledSummary('hostb', 'hostb')).toBe('enrolled worker hostb');
    expect(enrolledSummary('db', 'rack-7.example')).toBe('enrolled worker db (host rack-7.example)');
  });
});
