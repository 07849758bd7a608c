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

/** Why a fault is not injected at a phase; absent where it is. */
const NOT_APPLICABLE: Partial<Record<Fault, { phases: readonly Phase[]; reason: string }>> = {
  link_cut: {
    phases: ['prepare', 'stop_source', 'create', 'start', 'finalize'],
    reason:
      'the link between the workers carries bytes only while volumes move; a target cut off at another phase is ' +
      'what the master sees when the target worker dies (SIGKILL target worker)',
  },
  disk_full: {
    phases: ['prepare', 'stop_source', 'create', 'start', 'finalize'],
    reason: "only the volume copy writes to the target's volumes filesystem",
  },
};

export function notApplicable(fault: Fault, phase: Phase): string | undefined {
  const rule = NOT_APPLICABLE[fault];
  return rule?.phases.includes(phase) ? rule.reason : undefined;
}

export interface FaultCase {
  fault: Fault;
  phase: Phase;
  /** The transfer column strikes mid-copy (bytes moved); the others while a failpoint holds the phase. */
  trigger: 'failpoint' | 'mid_transfer';
}

/** Every applicable cell, grouped by phase so that one master (one failpoint setting) serves a group. */
export function faultCases(): FaultCase[] {
  return PHASES.flatMap((phase) =>
    FAULTS.filter((fault) => notApplicable(fault, phase) === undefined).map((fault): FaultCase => ({
      fault,
      phase,
      trigger: phase === 'transfer' ? 'mid_transfer' : 'failpoint',
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

function cell(outcome: Outcome | undefined, fault: Fault, phase: Phase, notes: string[]): string {
  const reason = notApplicable(fault, phase);
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
      return `HARNESS ERROR: ${detail}`;
  }
}

/** The markdown table with totals and the n/a reasons under it. */
export function renderTable(outcomes: ReadonlyMap<string, Outcome>, elapsedSeconds: number): string {
  const notes: string[] = [];
  const header = `| fault \\ phase | ${PHASES.join(' | ')} |`;
  const rule = `|---|${PHASES.map(() => '---').join('|')}|`;
  const rows = FAULTS.map(
    (fault) =>
      `| ${FAULT_TITLES[fault]} | ${PHASES.map((phase) => cell(outcomes.get(caseKey({ fault, phase })), fault, phase, notes)).join(' | ')} |`,
  );
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
    '',
    "The transfer column strikes mid-copy (the volume's bytes moving); the other columns while the master holds the " +
      'phase with the failpoint `pause:<phase>`.',
    ...notes.map((note, index) => `(${index + 1}) n/a: ${note}.`),
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

export function caseKey(c: { fault: Fault; phase: Phase }): string {
  return `${c.fault}@${c.phase}`;
}
