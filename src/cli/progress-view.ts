// How `docker-migrate migrate` shows a migration: a live progress bar on a terminal (cli-progress), plain lines
// elsewhere, its events as they come, the dry-run plan and the final summary.
import cliProgress from 'cli-progress';
import type { FindingJson, MigrationPhase, MigrationStatus, Severity } from '../contract/index.js';
import { humanBytes } from './format.js';
import type {
  DryRunJson,
  MigrationEventJson,
  MigrationJson,
  MigrationResourceJson,
} from './master-client.js';
import { renderTable, type Column } from './table.js';
import { plural } from '../core/plural.js';

/** Statuses a migration never leaves (mirrors isFinished in core/migration.ts, for the API's spelling). */
export const FINISHED_STATUSES: ReadonlySet<MigrationStatus> = new Set([
  'completed',
  'failed',
  'cancelled',
  'rolled_back',
]);

/** Worker names for the texts; ids when a name is unknown. */
export interface WorkerNames {
  source: string;
  target: string;
}

/** "850ms", "8.4s", "40s", "1m 12s", "2h 5m": compact, and precise where it matters (a short downtime). */
export function humanDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toString()}s`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** A phase as a person reads it: "stop source" rather than "stop_source". */
export function phaseName(phase: MigrationPhase): string {
  return phase.replaceAll('_', ' ');
}

/** The longest phase name, so that the bar does not jump sideways when the phase changes. */
const PHASE_WIDTH = 'stop source'.length;

/** Whole percent, never 100 before the migration has really ended. */
function percent(migration: MigrationJson): number {
  const value = Math.floor(Math.min(1, Math.max(0, migration.progress)) * 100);
  return migration.status === 'completed' ? 100 : Math.min(value, 99);
}

/**
 * The total shown beside the bytes moved: never below them (a volume that grew while copied raises it), so a line
 * never reads "212 MiB of 1.9 MiB".
 */
export function shownTotal(migration: Pick<MigrationJson, 'bytes_transferred' | 'total_bytes'>): number {
  return Math.max(migration.total_bytes, migration.bytes_transferred);
}

/** "1.2 GiB of 3.0 GiB": a migration's bytes moved against its total. */
export function movedOfTotal(migration: MigrationJson, separator: string): string {
  return `${humanBytes(migration.bytes_transferred)}${separator}${humanBytes(shownTotal(migration))}`;
}

/** Time left at the current rate, in whole seconds (as ms); undefined when there is no rate or nothing left. */
export function etaMs(migration: MigrationJson): number | undefined {
  const left = shownTotal(migration) - migration.bytes_transferred;
  if (migration.rate_bytes_per_s <= 0 || left <= 0) return undefined;
  return Math.ceil(left / migration.rate_bytes_per_s) * 1_000;
}

/** Bytes being copied right now, against a known total. */
function copying(migration: MigrationJson): boolean {
  return migration.status === 'running' && migration.phase === 'transfer' && migration.total_bytes > 0;
}

function label(migration: MigrationJson): string {
  return migration.status === 'pending' ? 'pending' : phaseName(migration.phase);
}

/**
 * How long the source has been down so far: from the request to stop it while the migration runs, its measured
 * downtime once that is known; undefined when nothing was stopped.
 */
export function downSoFarMs(migration: MigrationJson, nowMs = Date.now()): number | undefined {
  if (migration.downtime_ms !== null) return migration.downtime_ms;
  const since = Date.parse(migration.downtime_started_at ?? '');
  if (Number.isNaN(since) || FINISHED_STATUSES.has(migration.status)) return undefined;
  return Math.max(0, nowMs - since);
}

/**
 * The text of the live line, around a bar drawn by the caller (cli-progress on a terminal):
 * `transfer     [bar]  42% | 1.2 GiB / 3 GiB | 45 MiB/s | ETA 40s | down 12s`. The rate and time left only while
 * bytes are copied (an ETA from a rate of another phase would freeze or lie); the downtime so far once the source
 * was asked to stop.
 */
export function progressLine(migration: MigrationJson, bar: string, nowMs = Date.now()): string {
  const parts = [`${label(migration).padEnd(PHASE_WIDTH)} ${bar} ${String(percent(migration)).padStart(3)}%`];
  if (shownTotal(migration) > 0) parts.push(movedOfTotal(migration, ' / '));
  if (migration.total_bytes > 0 && migration.status === 'running' && migration.phase === 'transfer') {
    parts.push(migration.rate_bytes_per_s > 0 ? `${humanBytes(migration.rate_bytes_per_s)}/s` : '-- B/s');
    const eta = etaMs(migration);
    if (eta !== undefined) parts.push(`ETA ${humanDuration(eta)}`);
  }
  const down = downSoFarMs(migration, nowMs);
  if (down !== undefined && migration.status === 'running') parts.push(`down ${humanDuration(down)}`);
  return parts.join(' | ');
}

/**
 * What a migration means for the day after: the move back it is or had, and what it left on the source —
 * "left on alpha: web (container, stopped), data (volume); docker-migrate migrate --reverse m-… moves it back".
 */
export function dayTwoLines(migration: MigrationJson, workers: WorkerNames): string[] {
  const lines: string[] = [];
  if (migration.reverse_of) lines.push(`  moves back: migration ${migration.reverse_of}`);
  if (migration.reversed_by) lines.push(`  moved back: by migration ${migration.reversed_by}`);
  const left = migration.left_on_source ?? [];
  if (left.length > 0) {
    const items = left.map((l) => `${l.name} (${l.type}${l.type === 'container' ? `, ${l.state}` : ''})`);
    lines.push(`  left on ${workers.source}: ${items.join(', ')}`);
    if (!migration.reversed_by) lines.push(`  move back:  docker-migrate migrate --reverse ${migration.id}`);
  }
  return lines;
}

/**
 * A line for logs and pipes, printed when the phase or status changes and as a copy moves on:
 * `phase transfer (42%, 1.2 GiB of 3.0 GiB)`, and at the end `completed (100%, 3.0 GiB of 3.0 GiB)`.
 */
export function phaseLine(migration: MigrationJson): string {
  if (migration.status === 'pending') return 'pending: waiting for the master to start it';
  const bytes = shownTotal(migration) > 0 ? `, ${movedOfTotal(migration, ' of ')}` : '';
  const what = FINISHED_STATUSES.has(migration.status)
    ? migration.status.replaceAll('_', ' ')
    : `phase ${phaseName(migration.phase)}`;
  return `${what} (${percent(migration)}%${bytes})`;
}

/** `12:01:03 transfer: copied volume data`, with the level in front when it is not info; local time. */
export function eventLine(event: MigrationEventJson): string {
  const at = new Date(event.at);
  const time = Number.isNaN(at.getTime())
    ? '--:--:--'
    : [at.getHours(), at.getMinutes(), at.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const level = event.level === 'info' ? '' : `${event.level}: `;
  return `${time} ${phaseName(event.phase)}: ${level}${event.message}`;
}

const SEVERITIES: { severity: Severity; title: string }[] = [
  { severity: 'error', title: 'Errors (they block the migration)' },
  { severity: 'warning', title: 'Warnings' },
  { severity: 'info', title: 'Info' },
];

function findingLine(finding: FindingJson): string {
  const about = finding.resource ? `${finding.resource.type} ${finding.resource.name}: ` : '';
  return `  - ${about}${finding.message} [${finding.code}]`;
}

/** Findings grouped by severity, errors first; empty groups are left out. */
export function findingsText(findings: FindingJson[]): string {
  const groups = SEVERITIES.map(({ severity, title }) => {
    const found = findings.filter((finding) => finding.severity === severity);
    return found.length === 0 ? '' : `${title} (${found.length}):\n${found.map(findingLine).join('\n')}\n`;
  });
  return groups.filter(Boolean).join('\n');
}

const planColumns: Column<MigrationResourceJson>[] = [
  { header: 'TYPE', value: (r) => r.type },
  { header: 'NAME', value: (r) => r.name },
  { header: 'ON TARGET', value: (r) => r.target_name },
  { header: 'ACTION', value: (r) => r.action },
  { header: 'SIZE', value: plannedSize },
];

/** A resource's size in the dry run: "-" for configuration, "unknown" for a volume that could not be measured. */
function plannedSize(resource: MigrationResourceJson): string {
  if (resource.type === 'container' || resource.type === 'network') return '-';
  if (resource.estimated_bytes === null) return 'unknown';
  return resource.estimated_bytes > 0 ? humanBytes(resource.estimated_bytes) : '-';
}

/** The dry run: what would move where, how much, what preflight found, and whether it may run. */
export function planText(answer: DryRunJson, workers: WorkerNames): string {
  const { resources, total_bytes: total } = answer.plan;
  const count = plural(resources.length, 'resource');
  const lines = [
    `Dry run: ${count} from ${workers.source} to ${workers.target}, ${humanBytes(total)} to move`,
    '',
  ];
  let text = lines.join('\n');
  if (resources.length > 0) text += `${renderTable(planColumns, resources)}\n`;
  const findings = findingsText(answer.findings);
  if (findings !== '') text += `${findings}\n`;
  const errors = answer.findings.filter((finding) => finding.severity === 'error').length;
  text += answer.blocked
    ? `Blocked: ${errors > 0 ? `${plural(errors, 'error')} above` : 'the master refuses this migration'}; nothing was changed.\n`
    : 'Ready: nothing blocks this migration; run the same command without --dry-run to start it.\n';
  return text;
}

export const STATUS_WORDS: Record<MigrationStatus, string> = {
  pending: 'is waiting to start',
  running: 'is running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'was cancelled',
  rolled_back: 'failed and was rolled back',
};

/** "migration 7c9e… was cancelled", for the summary and for the CLI's closing error. */
export function statusSentence(migration: MigrationJson): string {
  return `migration ${migration.id} ${STATUS_WORDS[migration.status]}`;
}

export const summaryColumns: Column<MigrationResourceJson>[] = [
  { header: 'TYPE', value: (r) => r.type },
  { header: 'NAME', value: (r) => r.name },
  { header: 'ON TARGET', value: (r) => r.target_name },
  { header: 'STATUS', value: (r) => r.status },
  {
    header: 'MOVED',
    value: (r) =>
      r.type === 'container' || r.type === 'network' || r.status === 'skipped' ? '-' : humanBytes(r.bytes),
  },
];

/** How long it ran: from its start (or creation, if it never started) to its end. */
export function elapsedMs(migration: MigrationJson): number | undefined {
  const from = Date.parse(migration.started_at ?? migration.created_at);
  const to = migration.completed_at === null ? Number.NaN : Date.parse(migration.completed_at);
  return Number.isNaN(from) || Number.isNaN(to) ? undefined : Math.max(0, to - from);
}

/** "stop 310ms, final copy 820ms, create 40ms, start 230ms, ready 100ms": where the downtime went. */
export function downtimePhasesText(phases: NonNullable<MigrationJson['downtime_phases']>): string {
  const parts: [string, number | null][] = [
    ['stop', phases.stop_ms],
    ['final copy', phases.final_sync_ms],
    ['create', phases.apply_ms],
    ['start', phases.start_ms],
    ['ready', phases.ready_ms],
  ];
  return parts
    .filter((part): part is [string, number] => part[1] !== null)
    .map(([name, ms]) => `${name} ${humanDuration(ms)}`)
    .join(', ');
}

/** "3 (1.0 GiB in 4.1s, 12 MiB in 350ms, final 3.0 MiB in 820ms)": each copy round of the volumes. */
export function roundsText(rounds: NonNullable<MigrationJson['rounds']>): string {
  const each = rounds.map(
    (r) => `${r.final ? 'final ' : ''}${humanBytes(r.bytes)} in ${humanDuration(r.duration_ms)}`,
  );
  return `${rounds.length} (${each.join(', ')})`;
}

/**
 * The downtime as `show` and the summary print it, whatever the outcome: measured (with where it went), counting
 * while the source is stopped, or why there is none — nothing was stopped (a volume alone, keep_running).
 */
export function downtimeText(migration: MigrationJson, nowMs = Date.now()): string {
  if (migration.downtime_ms !== null) {
    const phases = migration.downtime_phases;
    const where = phases ? downtimePhasesText(phases) : '';
    return `${humanDuration(migration.downtime_ms)}${where === '' ? '' : ` (${where})`}`;
  }
  const down = downSoFarMs(migration, nowMs);
  if (down !== undefined) return `${humanDuration(down)} so far (the source is stopped)`;
  const stopped = (migration.downtime_started_at ?? null) !== null;
  if (!FINISHED_STATUSES.has(migration.status)) return 'none yet (the source has not been stopped)';
  return stopped ? 'not measured' : 'none (nothing was stopped)';
}

/** The end of a run: status, duration, downtime, bytes, each resource, and the error when there is one. */
export function summaryText(migration: MigrationJson, workers: WorkerNames): string {
  const downtime = downtimeText(migration);
  const lines = [
    `Migration ${migration.id} ${STATUS_WORDS[migration.status]}`,
    `  from:      ${workers.source} to ${workers.target}`,
    `  duration:  ${humanDuration(elapsedMs(migration))}`,
    `  downtime:  ${downtime}`,
    `  moved:     ${movedOfTotal(migration, ' of ')}`,
  ];
  const rounds = migration.rounds ?? [];
  if (rounds.length > 1 || rounds.some((r) => !r.final)) lines.push(`  rounds:    ${roundsText(rounds)}`);
  if (migration.error !== null && migration.error !== '') lines.push(`  reason:    ${migration.error}`);
  lines.push(...dayTwoLines(migration, workers));
  let text = `${lines.join('\n')}\n`;
  if (migration.resources.length > 0) text += `\n${renderTable(summaryColumns, migration.resources)}`;
  return text;
}

/** What follows a running migration on screen. */
export interface ProgressView {
  /** Shows a fresh state of the migration: its new events, then the bar or a line when the phase changed. */
  show(migration: MigrationJson): void;
  /** A line of its own (a notice), kept above the bar on a terminal. */
  log(line: string): void;
  /** Draws the last state and gives the terminal back (cursor, line wrapping). */
  stop(): void;
}

/**
 * A terminal gets a bar redrawn in place; anything else (a pipe, a CI log) gets one line per phase change, since a
 * bar there would be hundreds of carriage returns in one line.
 */
export function createProgressView(stream: NodeJS.WritableStream, options: { tty: boolean }): ProgressView {
  let lastEventId = Number.NEGATIVE_INFINITY;
  let lastLine = '';
  let lastStep = -1;
  let bars: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  const write = (line: string): void => {
    if (bars === undefined) stream.write(`${line}\n`);
    else bars.log(`${line}\n`);
  };

  function showEvents(migration: MigrationJson): void {
    const fresh = migration.events.filter((event) => event.id > lastEventId).sort((a, b) => a.id - b.id);
    for (const event of fresh) {
      write(eventLine(event));
      lastEventId = event.id;
    }
  }

  return {
    show(migration) {
      showEvents(migration);
      if (!options.tty) {
        // A change of phase or status prints a line, and so does a copy's every further tenth: a long copy is seen
        // moving in a log, without a line per poll.
        const key = `${migration.status}/${migration.phase}`;
        const step = copying(migration) ? Math.floor(percent(migration) / 10) : -1;
        if (key !== lastLine || step > lastStep) stream.write(`${phaseLine(migration)}\n`);
        if (key !== lastLine) lastStep = -1;
        lastStep = Math.max(lastStep, step);
        lastLine = key;
        return;
      }
      if (bars === undefined) {
        bars = new cliProgress.MultiBar({
          stream,
          format: (format, params, payload: { migration: MigrationJson }) =>
            progressLine(payload.migration, cliProgress.Format.BarFormat(params.progress, format)),
          barsize: 20,
          barCompleteChar: cliProgress.Presets.shades_classic.barCompleteChar,
          barIncompleteChar: cliProgress.Presets.shades_classic.barIncompleteChar,
          hideCursor: true,
          clearOnComplete: false,
          // The command handles Ctrl-C itself (the first one cancels the migration), so the bar must not.
          gracefulExit: false,
        });
        bar = bars.create(1, 0, { migration });
      }
      bar?.update(Math.min(1, Math.max(0, migration.progress)), { migration });
    },
    log: write,
    stop() {
      if (bars === undefined) return;
      // MultiBar.stop() drops lines still waiting in its log buffer; update() writes them first.
      bars.update();
      bars.stop();
      bars = undefined;
      bar = undefined;
    },
  };
}
