// The fault matrix: which fault is injected at which phase, why the other cells do not apply, and the outcome
// table (faults × phases) printed after the run and written as markdown for the README.

export const PHASES = ['prepare', 'stop_source', 'transfer', 'create', 'start', 'finalize'] as const;
export type Phase = (typeof PHASES)[number];

export const FAULTS = [
  'kill_master',
  'kill_source_worker',
  'kill_target_worker',
  'link_cut',
  'disk_full',
  'cancel',
] as const;
export type Fault = (typeof FAULTS)[number];

export const FAULT_TITLES: Record<Fault, string> = {
  kill_master: 'SIGKILL master (restarted)',
  kill_source_worker: 'SIGKILL source worker (restarted)',
  kill_target_worker: 'SIGKILL target worker (restarted)',
  link_cut: "target host's link down (up again)",
  disk_full: "target's volumes disk full",
  cancel: 'cancel (POST …/cancel)',
};

/**
 * The table's columns: each phase at its start (the master's failpoint holds it there), plus the transfer once
 * bytes of the volume move — the start of the transfer and the middle of the copy fail in different ways.
 */
export const COLUMNS = [
  'prepare',
  'stop_source',
  'transfer',
  'mid_copy',
  'create',
  'start',
  'finalize',
] as const;
export type Column = (typeof COLUMNS)[number];

const COLUMN_TITLES: Record<Column, string> = {
  prepare: 'prepare',
  stop_source: 'stop_source',
  transfer: 'transfer (start)',
  mid_copy: 'transfer (mid-copy)',
  create: 'create',
  start: 'start',
  finalize: 'finalize',
};

/** Why a fault is not injected in a column; absent where it is. */
const NOT_APPLICABLE: Partial<Record<Fault, { columns: readonly Column[]; reason: string }>> = {
  link_cut: {
    columns: ['prepare', 'stop_source', 'create', 'start', 'finalize'],
    reason:
      'the link between the workers carries bytes only in the transfer phase; a target cut off at another phase is ' +
      'what the master sees when the target worker dies (SIGKILL target worker)',
  },
  disk_full: {
    columns: ['prepare', 'stop_source', 'transfer', 'create', 'start', 'finalize'],
    reason:
      "only the volume copy writes to the target's volumes filesystem, and it needs no trigger: see mid-copy",
  },
};

export function notApplicable(fault: Fault, column: Column): string | undefined {
  const rule = NOT_APPLICABLE[fault];
  return rule?.columns.includes(column) ? rule.reason : undefined;
}

export interface FaultCase {
  fault: Fault;
  column: Column;
  /** The migration phase the fault strikes in. */
  phase: Phase;
  /** mid_copy strikes once the volume's bytes move; the other columns while a failpoint holds the phase. */
  trigger: 'failpoint' | 'mid_transfer';
}

/** Every applicable cell, grouped by column so that one master (one failpoint setting) serves a group. */
export function faultCases(): FaultCase[] {
  return COLUMNS.flatMap((column) =>
    FAULTS.filter((fault) => notApplicable(fault, column) === undefined).map((fault): FaultCase =>
      column === 'mid_copy'
        ? { fault, column, phase: 'transfer', trigger: 'mid_transfer' }
        : { fault, column, phase: column, trigger: 'failpoint' },
    ),
  );
}

export type OutcomeKind = 'completed' | 'rolled_back' | 'fail' | 'harness_error';

export interface Outcome {
  kind: OutcomeKind;
  /** Why, for fail and harness_error; the migration's status and error otherwise. */
  detail: string;
  dataLost: boolean;
  stuck: boolean;
  seconds: number;
  /** The migration's events, for a failure message (not the table). */
  events?: string[];
}

function cell(outcome: Outcome | undefined, fault: Fault, column: Column, notes: string[]): string {
  const reason = notApplicable(fault, column);
  if (reason !== undefined) {
    if (!notes.includes(reason)) notes.push(reason);
    return `n/a (${notes.indexOf(reason) + 1})`;
  }
  if (!outcome) return 'not run';
  const detail = outcome.detail.replace(/\s+/g, ' ').replace(/\|/g, '\\|').slice(0, 160);
  switch (outcome.kind) {
    case 'completed':
      return 'completed';
    case 'rolled_back':
      return 'rolled back';
    case 'fail':
      return `FAIL: ${detail}`;
    case 'harness_error':
      // Short: the same words for many cells; the list under the table has them in full.
      return `HARNESS ERROR: ${detail.slice(0, 60)}…`;
  }
}

/** The markdown table with totals and the n/a reasons under it. */
export function renderTable(
  outcomes: ReadonlyMap<string, Outcome>,
  elapsedSeconds: number,
  /** Lines about the run as a whole (e.g. settings the master refused), printed under the totals. */
  remarks: readonly string[] = [],
): string {
  const notes: string[] = [];
  const header = `| fault \\ phase | ${COLUMNS.map((column) => COLUMN_TITLES[column]).join(' | ')} |`;
  const rule = `|---|${COLUMNS.map(() => '---').join('|')}|`;
  const rows = FAULTS.map((fault) => {
    const cells = COLUMNS.map((column) =>
      cell(outcomes.get(caseKey({ fault, column })), fault, column, notes),
    );
    return `| ${FAULT_TITLES[fault]} | ${cells.join(' | ')} |`;
  });
  const all = [...outcomes.values()];
  const count = (kind: OutcomeKind): number => all.filter((o) => o.kind === kind).length;
  return [
    header,
    rule,
    ...rows,
    '',
    `Cases run: ${all.length} — completed: ${count('completed')}, rolled back: ${count('rolled_back')}, ` +
      `failed: ${count('fail')}, harness errors: ${count('harness_error')}; ` +
      `**data lost: ${all.filter((o) => o.dataLost).length}, stuck: ${all.filter((o) => o.stuck).length}** ` +
      `(${Math.round(elapsedSeconds)} s).`,
    ...remarks,
    '',
    'Each column but mid-copy strikes at the start of its phase, while the master holds it with the failpoint ' +
      "`pause:<phase>`; mid-copy strikes once the volume's bytes move.",
    '',
    ...notes.flatMap((note, index) => [`(${index + 1}) n/a: ${note}.`, '']),
    '',
    'Each case: how the migration ended (its status and error) and seconds from start to verdict.',
    '',
    ...[...outcomes].map(
      ([key, outcome]) =>
        `- ${key}: ${outcome.detail.replace(/\s+/g, ' ')} (${outcome.seconds.toFixed(1)} s)`,
    ),
    '',
  ].join('\n');
}

export function caseKey(c: { fault: Fault; column: Column }): string {
  return `${c.fault}@${c.column}`;
}
