// The fault matrix: which fault is injected at which phase, why the other cells do not apply, and the outcome
// tables (faults × phases, one per migration mode) printed after the run and written as markdown for the README.

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
/** A fault, or none: the warm table's control row, which shows what its checks make of an undisturbed migration. */
export type CaseFault = Fault | 'none';

export const FAULT_TITLES: Record<CaseFault, string> = {
  none: 'no fault (control)',
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

/** The migration mode a case runs in: cold stops the source first, warm pre-copies while it runs. */
export type Mode = 'cold' | 'warm';

export type FaultCase =
  | {
      mode: 'cold';
      fault: Fault;
      column: Column;
      /** The migration phase the fault strikes in. */
      phase: Phase;
      /** mid_copy strikes once the volume's bytes move; the other columns while a failpoint holds the phase. */
      trigger: 'failpoint' | 'mid_transfer';
    }
  | {
      mode: 'warm';
      fault: CaseFault;
      column: WarmColumn;
      phase: 'transfer';
      /** Each strikes while the volume's bytes move: in pre-copy round 1 or 2, or in the final round. */
      trigger: 'mid_precopy' | 'mid_round2' | 'mid_final';
    };

/** Every applicable cold cell, grouped by column so that one master (one failpoint setting) serves a group. */
export function faultCases(): FaultCase[] {
  return COLUMNS.flatMap((column) =>
    FAULTS.filter((fault) => notApplicable(fault, column) === undefined).map((fault): FaultCase =>
      column === 'mid_copy'
        ? { mode: 'cold', fault, column, phase: 'transfer', trigger: 'mid_transfer' }
        : { mode: 'cold', fault, column, phase: column, trigger: 'failpoint' },
    ),
  );
}

/**
 * Warm mode's columns: the copies that differ from a cold migration's — pre-copy rounds, made while the source
 * container runs and writes (round 1 sends everything; round 2 only what changed, against what the source worker
 * kept of round 1), and the final round, made once it is stopped. Each strikes mid-copy.
 */
export const WARM_COLUMNS = ['precopy', 'precopy_round2', 'final_round'] as const;
export type WarmColumn = (typeof WARM_COLUMNS)[number];

const WARM_COLUMN_TITLES: Record<WarmColumn, string> = {
  precopy: 'pre-copy (mid round 1)',
  precopy_round2: 'pre-copy (mid round 2)',
  final_round: 'final round (mid-copy)',
};

const WARM_TRIGGERS: Record<WarmColumn, 'mid_precopy' | 'mid_round2' | 'mid_final'> = {
  precopy: 'mid_precopy',
  precopy_round2: 'mid_round2',
  final_round: 'mid_final',
};

/**
 * The faults of the warm table: the disk-full case is the cold table's (the same copy fills the same disk; a warm
 * round adds nothing to it).
 */
export const WARM_FAULTS = [
  'none',
  'kill_master',
  'kill_source_worker',
  'kill_target_worker',
  'link_cut',
  'cancel',
] as const satisfies readonly CaseFault[];

function warmNotApplicable(fault: CaseFault, column: WarmColumn): string | undefined {
  return fault === 'none' && column !== 'final_round'
    ? 'without a fault every column is the same migration: it runs once, under the final round'
    : undefined;
}

/** Every warm cell: each fault mid round 1, mid round 2, then mid final round (the control first). */
export function warmFaultCases(): FaultCase[] {
  return WARM_COLUMNS.flatMap((column) =>
    WARM_FAULTS.filter((fault) => warmNotApplicable(fault, column) === undefined).map((fault): FaultCase => ({
      mode: 'warm',
      fault,
      column,
      phase: 'transfer',
      trigger: WARM_TRIGGERS[column],
    })),
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

function cell(outcome: Outcome | undefined, reason: string | undefined, notes: string[]): string {
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

/** What a mode's table is made of; both tables are rendered by the same code. */
interface Grid<C extends string> {
  mode: Mode;
  faults: readonly CaseFault[];
  columns: readonly C[];
  columnTitles: Record<C, string>;
  notApplicable: (fault: CaseFault, column: C) => string | undefined;
  /** How the columns strike, said under the totals. */
  legend: string;
}

function renderGrid<C extends string>(
  grid: Grid<C>,
  outcomes: ReadonlyMap<string, Outcome>,
  elapsedSeconds: number,
  remarks: readonly string[],
): string {
  const notes: string[] = [];
  const header = `| fault \\ phase | ${grid.columns.map((column) => grid.columnTitles[column]).join(' | ')} |`;
  const rule = `|---|${grid.columns.map(() => '---').join('|')}|`;
  const rows = grid.faults.map((fault) => {
    const cells = grid.columns.map((column) =>
      cell(
        outcomes.get(caseKey({ mode: grid.mode, fault, column })),
        grid.notApplicable(fault, column),
        notes,
      ),
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
    grid.legend,
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

/** The cold markdown table (faults × phases) with totals and the n/a reasons under it; `outcomes` of cold cases. */
export function renderTable(
  outcomes: ReadonlyMap<string, Outcome>,
  elapsedSeconds: number,
  /** Lines about the run as a whole (e.g. settings the master refused), printed under the totals. */
  remarks: readonly string[] = [],
): string {
  return renderGrid(
    {
      mode: 'cold',
      faults: FAULTS,
      columns: COLUMNS,
      columnTitles: COLUMN_TITLES,
      notApplicable: (fault, column) => (fault === 'none' ? undefined : notApplicable(fault, column)),
      legend:
        'Each column but mid-copy strikes at the start of its phase, while the master holds it with the failpoint ' +
        "`pause:<phase>`; mid-copy strikes once the volume's bytes move.",
    },
    outcomes,
    elapsedSeconds,
    remarks,
  );
}

/** The warm markdown table (faults × the two kinds of copy round), made like the cold one; `outcomes` of warm cases. */
export function renderWarmTable(
  outcomes: ReadonlyMap<string, Outcome>,
  elapsedSeconds: number,
  remarks: readonly string[] = [],
): string {
  return renderGrid(
    {
      mode: 'warm',
      faults: WARM_FAULTS,
      columns: WARM_COLUMNS,
      columnTitles: WARM_COLUMN_TITLES,
      notApplicable: warmNotApplicable,
      legend: WARM_LEGEND,
    },
    outcomes,
    elapsedSeconds,
    remarks,
  );
}

const WARM_LEGEND =
  'The source container appends a numbered line to a counter file and rewrites a set of 1 MiB files in its volume ' +
  'all the while it runs. Pre-copy strikes once round 1 has moved bytes of the volume (the source running and ' +
  "writing), or once round 2 has moved bytes over the target's link; final round strikes once the source is stopped and the final round's delta has moved bytes over the " +
  "target's link. Completed: the target's container runs and its volume equals the source's as it stopped (names, " +
  'owners, modes, content). Rolled back: the source container runs, the data it had before is unchanged and its ' +
  'counter file runs 1, 2, 3, … without a gap to at least the value seen before the migration; the target holds ' +
  'nothing of the migration. Either way the source worker keeps no sync session of the migration.';

/** A case's name in outcomes, DM_FAULTS_ONLY and the tables: `fault@column`, warm ones `warm:fault@column`. */
export function caseKey(c: { mode?: Mode; fault: CaseFault; column: string }): string {
  return `${c.mode === 'warm' ? 'warm:' : ''}${c.fault}@${c.column}`;
}
