// What a person sees while a migration runs and when it ends: the bar line, phase lines, events, plan and summary.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DryRunJson, MigrationJson } from './master-client.js';
import {
  createProgressView,
  downtimeText,
  eventLine,
  findingsText,
  humanDuration,
  phaseLine,
  planText,
  progressLine,
  summaryText,
} from './progress-view.js';

const WORKERS = { source: 'alpha', target: 'beta' };

function migration(overrides: Partial<MigrationJson> = {}): MigrationJson {
  return {
    id: 'mig-1',
    status: 'running',
    phase: 'transfer',
    progress: 0.42,
    bytes_transferred: 1_260_000_000,
    total_bytes: 3_000_000_000,
    rate_bytes_per_s: 45_000_000,
    created_at: '2026-01-02T10:00:00.000Z',
    started_at: '2026-01-02T10:00:01.000Z',
    completed_at: null,
    downtime_ms: null,
    error: null,
    source_worker_id: 'w-1',
    target_worker_id: 'w-2',
    mode: 'cold',
    strategy: 'full',
    transfer_mode: 'auto',
    compression: 'none',
    conflict_policy: 'fail',
    source_policy: 'keep_stopped',
    acknowledge: [],
    resources: [],
    findings: [],
    events: [],
    ...overrides,
  };
}

/** An ISO time whose local clock reads hh:mm:ss, whatever the time zone of the machine running the tests. */
function localAt(hours: number, minutes: number, seconds: number): string {
  return new Date(2026, 0, 2, hours, minutes, seconds).toISOString();
}

function capture(tty = false): Writable & { text: () => string; isTTY?: boolean } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  }) as Writable & { text: () => string; isTTY?: boolean };
  stream.text = () => chunks.join('');
  if (tty) stream.isTTY = true;
  return stream;
}

describe('humanDuration', () => {
  it.each([
    [0, '0ms'],
    [850, '850ms'],
    [8_400, '8.4s'],
    [9_960, '10s'],
    [40_000, '40s'],
    [72_000, '1m 12s'],
    [7_500_000, '2h 5m'],
  ])('shows %i ms as %s', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });

  it('shows an unknown duration as a dash', () => {
    expect(humanDuration(null)).toBe('-');
    expect(humanDuration(Number.NaN)).toBe('-');
  });
});

describe('progressLine', () => {
  it('shows phase, percent, bytes, rate and time left around the bar', () => {
    expect(progressLine(migration(), '[####----]')).toBe(
      'transfer    [####----]  42% | 1.2 GiB / 2.8 GiB | 43 MiB/s | ETA 39s',
    );
  });

  it('shows no bytes, rate or ETA for a migration that moves no data', () => {
    const line = progressLine(
      migration({
        phase: 'stop_source',
        progress: 0.7,
        total_bytes: 0,
        bytes_transferred: 0,
        rate_bytes_per_s: 0,
      }),
      '[]',
    );
    expect(line).toBe('stop source []  70%');
  });

  it('shows no time left while nothing moves yet, nor outside the copy', () => {
    const line = progressLine(migration({ rate_bytes_per_s: 0, bytes_transferred: 0, progress: 0 }), '[]');
    expect(line).toBe('transfer    []   0% | 0 B / 2.8 GiB | -- B/s');
    // The rate of the copy says nothing about how long starting the containers takes.
    expect(progressLine(migration({ phase: 'start', progress: 0.9 }), '[]')).toBe(
      'start       []  90% | 1.2 GiB / 2.8 GiB',
    );
  });

  it('counts the downtime from the stop request while the migration runs', () => {
    const stopped = migration({ phase: 'transfer', downtime_started_at: '2026-01-02T10:00:05.000Z' });
    expect(progressLine(stopped, '[]', Date.parse('2026-01-02T10:00:17.400Z'))).toBe(
      'transfer    []  42% | 1.2 GiB / 2.8 GiB | 43 MiB/s | ETA 39s | down 12s',
    );
    const ended = { ...stopped, status: 'completed' as const, phase: 'done' as const, downtime_ms: 12_900 };
    expect(progressLine(ended, '[]')).not.toContain('down');
  });

  it('shows no rate or time left once the migration has ended', () => {
    const ended = migration({ status: 'failed', phase: 'rollback', progress: 0.5 });
    expect(progressLine(ended, '[]')).toBe('rollback    []  50% | 1.2 GiB / 2.8 GiB');
  });

  it('never shows 100% before the migration has completed', () => {
    expect(progressLine(migration({ progress: 1, phase: 'finalize' }), '')).toContain(' 99%');
    expect(progressLine(migration({ progress: 1, status: 'completed', phase: 'done' }), '')).toContain(
      '100%',
    );
  });

  it('says pending until the master starts it', () => {
    expect(progressLine(migration({ status: 'pending', progress: 0 }), '[]')).toMatch(/^pending +\[\] +0%/);
  });
});

describe('phaseLine and eventLine', () => {
  it('says the phase with its percent and bytes', () => {
    expect(phaseLine(migration())).toBe('phase transfer (42%, 1.2 GiB of 2.8 GiB)');
    expect(phaseLine(migration({ status: 'pending' }))).toBe('pending: waiting for the master to start it');
    expect(phaseLine(migration({ status: 'rolled_back', phase: 'rollback' }))).toBe(
      'rolled back (42%, 1.2 GiB of 2.8 GiB)',
    );
  });

  it('raises the total to the bytes moved rather than show more done than the total', () => {
    const grown = migration({ bytes_transferred: 212 * 1024 ** 2, total_bytes: 2 * 1024 ** 2 });
    expect(phaseLine(grown)).toBe('phase transfer (42%, 212 MiB of 212 MiB)');
    expect(progressLine({ ...grown, rate_bytes_per_s: 0 }, '[]')).toContain('212 MiB / 212 MiB');
  });

  it('shows an event at local time, with its level unless it is info', () => {
    const event = { id: 1, at: localAt(12, 1, 3), phase: 'transfer' as const, message: 'copied volume data' };
    expect(eventLine({ ...event, level: 'info' })).toBe('12:01:03 transfer: copied volume data');
    expect(eventLine({ ...event, level: 'warning', phase: 'stop_source' })).toBe(
      '12:01:03 stop source: warning: copied volume data',
    );
  });
});

describe('planText', () => {
  const answer: DryRunJson = {
    dry_run: true,
    plan: {
      resources: [
        {
          type: 'container',
          name: 'web',
          target_name: 'web',
          source_id: 'id-web',
          reason: 'requested',
          action: 'create',
          status: 'pending',
          bytes: 0,
          estimated_bytes: 0,
        },
        {
          type: 'volume',
          name: 'data',
          target_name: 'data',
          source_id: 'id-data',
          reason: 'requested',
          action: 'create',
          status: 'pending',
          bytes: 0,
          estimated_bytes: 1_200_000_000,
        },
      ],
      total_bytes: 1_200_000_000,
      findings: [],
    },
    findings: [
      { severity: 'info', code: 'already_present', message: 'nginx:1 is already on the target' },
      {
        severity: 'error',
        code: 'name_conflict',
        message: 'the target has a container named web',
        resource: { type: 'container', name: 'web' },
      },
      { severity: 'warning', code: 'port_in_use', message: 'port 80 is taken on the target' },
    ],
    blocked: true,
  };

  it('says a volume it could not measure has an unknown size', () => {
    const unknown: DryRunJson = {
      ...answer,
      plan: {
        ...answer.plan,
        resources: [{ ...answer.plan.resources[1]!, estimated_bytes: null }],
        total_bytes: 0,
      },
      findings: [],
      blocked: false,
    };
    expect(planText(unknown, WORKERS)).toContain('volume   data   data        create   unknown\n');
  });

  it('lists the resources with their sizes and the findings grouped by severity, errors first', () => {
    expect(planText(answer, WORKERS)).toBe(
      [
        'Dry run: 2 resources from alpha to beta, 1.1 GiB to move',
        'TYPE        NAME   ON TARGET   ACTION   SIZE',
        'container   web    web         create   -',
        'volume      data   data        create   1.1 GiB',
        '',
        'Errors (they block the migration) (1):',
        '  - container web: the target has a container named web [name_conflict]',
        '',
        'Warnings (1):',
        '  - port 80 is taken on the target [port_in_use]',
        '',
        'Info (1):',
        '  - nginx:1 is already on the target [already_present]',
        '',
        'Blocked: 1 error above; nothing was changed.',
        '',
      ].join('\n'),
    );
  });

  it('says the migration may run when nothing blocks it', () => {
    const ready = { ...answer, findings: [], blocked: false };
    expect(planText(ready, WORKERS)).toContain('Ready: nothing blocks this migration');
    expect(findingsText([])).toBe('');
  });
});

describe('summaryText', () => {
  const resources: MigrationJson['resources'] = [
    {
      type: 'volume',
      name: 'data',
      target_name: 'data',
      source_id: 'id-data',
      reason: 'requested',
      action: 'create',
      status: 'done',
      bytes: 1_200_000_000,
      estimated_bytes: 1_200_000_000,
    },
    {
      type: 'image',
      name: 'nginx:1',
      target_name: 'nginx:1',
      source_id: 'id-nginx:1',
      reason: 'requested',
      action: 'create',
      status: 'skipped',
      bytes: 0,
      estimated_bytes: 190_000_000,
    },
    {
      type: 'container',
      name: 'web',
      target_name: 'web-1',
      source_id: 'id-web-1',
      reason: 'requested',
      action: 'create',
      status: 'done',
      bytes: 0,
      estimated_bytes: 0,
    },
  ];

  it('tells status, duration, downtime, bytes and each resource of a completed migration', () => {
    const done = migration({
      status: 'completed',
      phase: 'done',
      progress: 1,
      bytes_transferred: 1_200_000_000,
      total_bytes: 1_200_000_000,
      completed_at: '2026-01-02T10:01:13.000Z',
      downtime_ms: 8_400,
      resources,
    });
    expect(summaryText(done, WORKERS)).toBe(
      [
        'Migration mig-1 completed',
        '  from:      alpha to beta',
        '  duration:  1m 12s',
        '  downtime:  8.4s',
        '  moved:     1.1 GiB of 1.1 GiB',
        '',
        'TYPE        NAME      ON TARGET   STATUS    MOVED',
        'volume      data      data        done      1.1 GiB',
        'image       nginx:1   nginx:1     skipped   -',
        'container   web       web-1       done      -',
        '',
      ].join('\n'),
    );
  });

  it('says where the downtime went and what each copy round sent', () => {
    const done = migration({
      status: 'completed',
      phase: 'done',
      progress: 1,
      bytes_transferred: 1_100_000_000,
      total_bytes: 1_100_000_000,
      completed_at: '2026-01-02T10:01:13.000Z',
      downtime_ms: 1_460,
      downtime_phases: { stop_ms: 310, final_sync_ms: 820, apply_ms: null, start_ms: 230, ready_ms: 100 },
      rounds: [
        { round: 1, final: false, bytes: 1024 ** 3, duration_ms: 4_100, files: 2003 },
        { round: 2, final: true, bytes: 3 * 1024 ** 2, duration_ms: 820, files: 5 },
      ],
    });
    const text = summaryText(done, WORKERS);
    expect(text).toContain('  downtime:  1.5s (stop 310ms, final copy 820ms, start 230ms, ready 100ms)\n');
    expect(text).toContain('  rounds:    2 (1.0 GiB in 4.1s, final 3.0 MiB in 820ms)\n');
  });

  it('says what was left on the source and how to move it back, or that it was moved back', () => {
    const done = migration({
      status: 'completed',
      phase: 'done',
      progress: 1,
      completed_at: '2026-01-02T10:01:13.000Z',
      downtime_ms: 8_400,
      left_on_source: [
        { type: 'container', name: 'web', source_id: 'c1', state: 'stopped' },
        { type: 'volume', name: 'data', source_id: 'data', state: 'kept' },
      ],
      reverse_of: null,
      reversed_by: null,
    });
    const text = summaryText(done, WORKERS);
    expect(text).toContain(
      '  left on alpha: web (container, stopped), data (volume)\n  move back:  docker-migrate migrate --reverse mig-1\n',
    );
    const movedBack = summaryText({ ...done, reversed_by: 'm-back' }, WORKERS);
    expect(movedBack).toContain('  moved back: by migration m-back\n');
    expect(movedBack).not.toContain('--reverse');
    expect(summaryText({ ...done, left_on_source: [], reverse_of: 'm-first' }, WORKERS)).toContain(
      '  moves back: migration m-first\n',
    );
  });

  it('gives the reason of a rolled back migration', () => {
    const failed = migration({
      status: 'rolled_back',
      phase: 'rollback',
      completed_at: '2026-01-02T10:00:31.000Z',
      error: 'the target ran out of disk space',
      resources: resources.map((resource) => ({ ...resource, status: 'rolled_back' as const })),
    });
    const text = summaryText(failed, WORKERS);
    expect(text).toContain('Migration mig-1 failed and was rolled back\n');
    expect(text).toContain('  duration:  30s\n');
    expect(text).toContain('  downtime:  none (nothing was stopped)\n');
    expect(text).toContain('  reason:    the target ran out of disk space\n');
    expect(text).toContain('volume      data      data        rolled_back   1.1 GiB');
  });
});

describe('downtimeText', () => {
  it('prints the downtime of every outcome, and says why there is none', () => {
    const at = '2026-01-02T10:00:05.000Z';
    const ended = { completed_at: '2026-01-02T10:00:31.000Z', downtime_started_at: at };
    for (const status of ['completed', 'rolled_back', 'cancelled', 'failed'] as const)
      expect(downtimeText(migration({ ...ended, status, downtime_ms: 3_140 }))).toBe('3.1s');
    expect(downtimeText(migration({ downtime_started_at: at }), Date.parse('2026-01-02T10:00:17.000Z'))).toBe(
      '12s so far (the source is stopped)',
    );
    expect(downtimeText(migration({ downtime_started_at: null }))).toBe(
      'none yet (the source has not been stopped)',
    );
    expect(downtimeText(migration({ status: 'completed', downtime_started_at: null }))).toBe(
      'none (nothing was stopped)',
    );
    expect(downtimeText(migration({ ...ended, status: 'failed' }))).toBe('not measured');
  });
});

describe('createProgressView', () => {
  it('prints a line per phase change, each tenth of a copy and each event once when the output is not a terminal', () => {
    const out = capture();
    const view = createProgressView(out, { tty: false });
    const first = {
      id: 1,
      at: localAt(9, 0, 0),
      level: 'info' as const,
      phase: 'preflight' as const,
      message: 'ok',
    };
    const second = {
      id: 2,
      at: localAt(9, 0, 5),
      level: 'info' as const,
      phase: 'transfer' as const,
      message: 'go',
    };
    view.show(migration({ status: 'pending', progress: 0, events: [] }));
    view.show(migration({ progress: 0.1, events: [first] }));
    view.show(migration({ progress: 0.5, bytes_transferred: 1_500_000_000, events: [first, second] }));
    view.show(migration({ progress: 0.55, bytes_transferred: 1_650_000_000, events: [first, second] }));
    view.show(migration({ phase: 'create', progress: 0.9, events: [first, second] }));
    view.show(migration({ phase: 'create', progress: 0.95, events: [first, second] }));
    view.stop();
    expect(out.text()).toBe(
      [
        'pending: waiting for the master to start it',
        '09:00:00 preflight: ok',
        'phase transfer (10%, 1.2 GiB of 2.8 GiB)',
        '09:00:05 transfer: go',
        'phase transfer (50%, 1.4 GiB of 2.8 GiB)',
        'phase create (90%, 1.2 GiB of 2.8 GiB)',
        '',
      ].join('\n'),
    );
  });

  it('draws a bar in place on a terminal, keeps notices above it and leaves the last state drawn', () => {
    const out = capture(true);
    const view = createProgressView(out, { tty: true });
    view.show(migration({ progress: 0.5 }));
    view.log('a notice');
    view.show(
      migration({ status: 'completed', phase: 'done', progress: 1, bytes_transferred: 3_000_000_000 }),
    );
    view.stop();
    const text = out.text();
    expect(text).toContain('\x1B[?25l'); // cursor hidden while drawing…
    expect(text).toContain('\x1B[?25h'); // …and shown again
    expect(text).toContain('a notice\n');
    // The last state ends right there: no rate or ETA once it is done.
    expect(text).toContain(`done        ${'█'.repeat(20)} 100% | 2.8 GiB / 2.8 GiB\x1B[0K`);
    expect(text.endsWith('\n')).toBe(true);
  });
});
