// `docker-migrate migrations list|show|watch|cancel`: the migrations a master knows, through its REST API — a
// table, one migration in full, the live bar of a running one, and a cancel that says what really happened.
import { Command, InvalidArgumentError, Option } from 'commander';
import { AppError } from '../core/errors.js';
import { MIGRATION_STATUSES, type MigrationStatus } from '../contract/index.js';
import {
  followMigration,
  outcomeError,
  processInterrupts,
  type FollowDeps,
  type Interrupts,
} from './follow-migration.js';
import { connectMasterApi, withMasterApiOptions, type MasterApiFlags } from './master-api-options.js';
import type { MasterClient, MigrationEventJson, MigrationJson } from './master-client.js';
import {
  createProgressView,
  dayTwoLines,
  downtimeText,
  elapsedMs,
  FINISHED_STATUSES,
  findingsText,
  humanDuration,
  movedOfTotal,
  phaseName,
  roundsText,
  STATUS_WORDS,
  summaryColumns,
  summaryText,
  type WorkerNames,
} from './progress-view.js';
import { renderTable, type Column } from './table.js';
import { plural } from '../core/plural.js';

/** How many recent migrations an id prefix is looked up among (the API's largest page). */
const PREFIX_SEARCH_LIMIT = 500;

const DEFAULT_LIST_LIMIT = 20;

export interface MigrationsDeps extends FollowDeps {
  /** Results: tables, texts, JSON, the summary after watching. */
  out: NodeJS.WritableStream;
  /** Following and notices: the bar, events, hints. */
  err: NodeJS.WritableStream;
  /** Whether `err` is a terminal, so that a bar can be redrawn in place. */
  tty: boolean;
  interrupts: Interrupts;
}

export interface ListFlags extends MasterApiFlags {
  status?: string[];
  limit: number;
  json?: boolean;
}

interface JsonFlag extends MasterApiFlags {
  json?: boolean;
}

/** Worker ids to names, for the texts; a worker the master no longer knows shows as its short id. */
async function workerNamer(client: MasterClient): Promise<(migration: MigrationJson) => WorkerNames> {
  const workers = await client.listWorkers();
  const names = new Map(workers.map((worker) => [worker.id, worker.name]));
  const name = (id: string): string => names.get(id) ?? id.slice(0, 12);
  return (migration) => ({
    source: name(migration.source_worker_id),
    target: name(migration.target_worker_id),
  });
}

/** Whether `ref` starts the id, also without the id's kind prefix ("m-"), which people tend to leave out. */
function idMatches(id: string, ref: string): boolean {
  return id.startsWith(ref) || id.replace(/^[a-z]+-/, '').startsWith(ref);
}

/**
 * Finds a migration by id or by a unique id prefix among the recent ones, the way `docker` finds containers, and
 * returns it in full (with its events). An id older than the recent ones still works when written whole.
 */
export async function resolveMigration(client: MasterClient, ref: string): Promise<MigrationJson> {
  const wanted = ref.trim();
  if (wanted === '') {
    throw new AppError('invalid_argument', 'which migration? the id is empty', {
      hint: 'docker-migrate migrations list shows the ids',
    });
  }
  const { migrations } = await client.listMigrations({ limit: PREFIX_SEARCH_LIMIT });
  const exact = migrations.find((migration) => migration.id === wanted);
  const matches = exact === undefined ? migrations.filter((m) => idMatches(m.id, wanted)) : [exact];
  const [only] = matches;
  if (matches.length === 1 && only !== undefined) return client.getMigration(only.id);
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).map((m) => `${m.id} (${m.status.replaceAll('_', ' ')})`);
    const more = matches.length > shown.length ? ` and ${matches.length - shown.length} more` : '';
    throw new AppError(
      'failed_precondition',
      `migration id "${wanted}" matches ${matches.length} migrations`,
      {
        hint: `give more of the id: ${shown.join(', ')}${more}`,
      },
    );
  }
  try {
    return await client.getMigration(wanted);
  } catch (error) {
    if (AppError.from(error).code !== 'not_found') throw error;
    throw new AppError('not_found', `no migration has an id starting with "${wanted}"`, {
      hint: 'docker-migrate migrations list shows the recent ones (--status, --limit narrow or widen it)',
      cause: error,
    });
  }
}

/** `--status running --status failed` or `--status running,failed`; checked here so a typo exits 2 at once. */
export function parseStatuses(values: readonly string[]): MigrationStatus[] {
  const statuses = values
    .flatMap((value) => value.split(','))
    .map((value) => value.trim().replaceAll('-', '_'));
  for (const status of statuses) {
    if (!(MIGRATION_STATUSES as readonly string[]).includes(status)) {
      throw new AppError('invalid_argument', `unknown --status "${status}"`, {
        hint: `one of ${MIGRATION_STATUSES.join(', ')} (repeatable, or comma-separated)`,
      });
    }
  }
  return [...new Set(statuses)] as MigrationStatus[];
}

/** "2026-01-02 10:00:01" in UTC, so that what a table shows does not depend on where it is read. */
export function utcTime(iso: string | null): string {
  if (iso === null) return '-';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '-' : at.toISOString().slice(0, 19).replace('T', ' ');
}

/** "2 containers, 1 volume, 1 image": what a migration moves, by kind. */
export function resourcesInShort(migration: MigrationJson): string {
  const counts = new Map<string, number>();
  for (const resource of migration.resources) counts.set(resource.type, (counts.get(resource.type) ?? 0) + 1);
  const parts = [...counts].map(([type, count]) => plural(count, type));
  return parts.length === 0 ? '-' : parts.join(', ');
}

/** The status as the table shows it: a requested cancel is visible before the migration has stopped. */
function statusText(migration: MigrationJson): string {
  const status = migration.status.replaceAll('_', ' ');
  const cancelling = migration.cancel_requested === true && !FINISHED_STATUSES.has(migration.status);
  return cancelling ? `${status} (cancelling)` : status;
}

function modeText(migration: MigrationJson): string {
  if (migration.mode === undefined) return '-';
  return migration.strategy === 'incremental' ? `${migration.mode}, incremental` : migration.mode;
}

function listColumns(names: (migration: MigrationJson) => WorkerNames): Column<MigrationJson>[] {
  return [
    { header: 'ID', value: (m) => m.id },
    { header: 'STATUS', value: statusText },
    { header: 'MODE', value: modeText },
    {
      header: 'SOURCE → TARGET',
      value: (m) => {
        const workers = names(m);
        return `${workers.source} → ${workers.target}`;
      },
    },
    { header: 'RESOURCES', value: resourcesInShort },
    { header: 'STARTED (UTC)', value: (m) => utcTime(m.started_at ?? m.created_at) },
    { header: 'DOWNTIME', value: (m) => humanDuration(m.downtime_ms) },
  ];
}

export async function runList(flags: ListFlags, deps: MigrationsDeps): Promise<void> {
  const status = parseStatuses(flags.status ?? []);
  const page = await deps.client.listMigrations({ limit: flags.limit, status });
  if (flags.json === true) {
    deps.out.write(`${JSON.stringify(page, null, 2)}\n`);
    return;
  }
  if (page.migrations.length === 0) {
    const which = status.length > 0 ? ` with status ${status.join(' or ')}` : '';
    deps.out.write(`no migrations${which}\n`);
    return;
  }
  const names = await workerNamer(deps.client);
  deps.out.write(renderTable(listColumns(names), page.migrations));
  if (page.next_before !== null) {
    deps.err.write(`showing the newest ${page.migrations.length}; --limit shows more (up to 500)\n`);
  }
}

function eventLogLine(event: MigrationEventJson): string {
  const level = event.level === 'info' ? '' : `${event.level}: `;
  return `  ${utcTime(event.at)}  ${phaseName(event.phase)}: ${level}${event.message}`;
}

/** One migration in full: what `show` prints. */
export function showText(migration: MigrationJson, workers: WorkerNames, nowMs = Date.now()): string {
  const downtime = downtimeText(migration, nowMs);
  const rounds = migration.rounds ?? [];
  const lines = [
    `Migration ${migration.id} ${STATUS_WORDS[migration.status]}`,
    `  from:      ${workers.source} to ${workers.target}`,
    `  mode:      ${modeText(migration)}`,
    `  phase:     ${phaseName(migration.phase)}${migration.cancel_requested === true ? ' (cancel requested)' : ''}`,
    `  created:   ${utcTime(migration.created_at)} UTC`,
    `  started:   ${utcTime(migration.started_at)}${migration.started_at === null ? '' : ' UTC'}`,
    `  ended:     ${utcTime(migration.completed_at)}${migration.completed_at === null ? '' : ' UTC'}`,
    `  duration:  ${humanDuration(elapsedMs(migration))}`,
    `  downtime:  ${downtime}`,
    `  moved:     ${movedOfTotal(migration, ' of ')}`,
  ];
  if (rounds.length > 0) lines.push(`  rounds:    ${roundsText(rounds)}`);
  if (migration.error !== null && migration.error !== '') lines.push(`  error:     ${migration.error}`);
  lines.push(...dayTwoLines(migration, workers));
  let text = `${lines.join('\n')}\n`;
  if (migration.resources.length > 0)
    text += `\nResources:\n${renderTable(summaryColumns, migration.resources)}`;
  const findings = findingsText(migration.findings);
  if (findings !== '') text += `\n${findings}\n`;
  const events = [...migration.events].sort((a, b) => a.id - b.id);
  text +=
    events.length > 0 ? `\nEvents (UTC):\n${events.map(eventLogLine).join('\n')}\n` : '\nEvents: none\n';
  return text;
}

export async function runShow(ref: string, flags: JsonFlag, deps: MigrationsDeps): Promise<void> {
  const migration = await resolveMigration(deps.client, ref);
  if (flags.json === true) {
    deps.out.write(`${JSON.stringify({ migration }, null, 2)}\n`);
    return;
  }
  const names = await workerNamer(deps.client);
  deps.out.write(showText(migration, names(migration)));
}

/**
 * Follows a migration with the bar `migrate` shows, then prints its summary; throws unless it completed. Ctrl-C
 * only stops watching: the migration keeps running (cancelling is `migrations cancel`).
 */
export async function runWatch(ref: string, flags: JsonFlag, deps: MigrationsDeps): Promise<void> {
  const first = await resolveMigration(deps.client, ref);
  const names = (await workerNamer(deps.client))(first);
  const view = createProgressView(deps.err, { tty: deps.tty });
  const stopWatching = new AbortController();
  const stopListening = deps.interrupts.onInterrupt(() => {
    stopWatching.abort();
  });
  let migration: MigrationJson;
  try {
    if (!FINISHED_STATUSES.has(first.status)) {
      view.log(
        `watching migration ${first.id}: ${names.source} to ${names.target} (Ctrl-C stops watching; it does not cancel the migration)`,
      );
    }
    migration = await followMigration(first, view, stopWatching.signal, deps);
  } catch (error) {
    if (!stopWatching.signal.aborted) throw error;
    throw new AppError('canceled', `stopped watching migration ${first.id}; it keeps running on the master`, {
      hint: `docker-migrate migrations watch ${first.id} follows it again; docker-migrate migrations cancel ${first.id} cancels it`,
      cause: error,
    });
  } finally {
    stopListening();
    view.stop();
  }
  deps.out.write(
    flags.json === true ? `${JSON.stringify({ migration }, null, 2)}\n` : summaryText(migration, names),
  );
  const failure = outcomeError(migration);
  if (failure !== undefined) throw failure;
}

function alreadyEnded(migration: MigrationJson, cause?: unknown): AppError {
  return new AppError(
    'failed_precondition',
    `migration ${migration.id} has already ended (${migration.status.replaceAll('_', ' ')}); there is nothing to cancel`,
    {
      hint: `docker-migrate migrations show ${migration.id} says how it ended`,
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/**
 * Asks the master to cancel a migration. One that has already ended cannot be cancelled: today's master answers
 * 200 with the ended migration, a later one may answer 409; both are reported as such, with exit code 1.
 */
export async function runCancel(ref: string, flags: JsonFlag, deps: MigrationsDeps): Promise<void> {
  const migration = await resolveMigration(deps.client, ref);
  if (FINISHED_STATUSES.has(migration.status)) throw alreadyEnded(migration);
  let answer: MigrationJson;
  try {
    answer = await deps.client.cancelMigration(migration.id);
  } catch (error) {
    if (AppError.from(error).code !== 'conflict') throw error;
    const now = await deps.client.getMigration(migration.id);
    if (FINISHED_STATUSES.has(now.status)) throw alreadyEnded(now, error);
    throw error;
  }
  // It may have ended between the two requests; the master then answers with the ended migration.
  if (FINISHED_STATUSES.has(answer.status)) throw alreadyEnded(answer);
  if (flags.json === true) {
    deps.out.write(`${JSON.stringify({ migration: answer }, null, 2)}\n`);
    return;
  }
  const again = migration.cancel_requested === true ? ' (a cancel had been requested already)' : '';
  deps.out.write(
    `cancel requested for migration ${migration.id}${again}: the master stops it and rolls it back\n`,
  );
  deps.err.write(`docker-migrate migrations watch ${migration.id} follows the rollback\n`);
}

function positiveLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
    throw new InvalidArgumentError('a whole number from 1 to 500');
  }
  return limit;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Builds the `migrations` command group. Results go to `out`, the live view and notices to `err`; `testing`
 * shortens the poll interval and replaces Ctrl-C in tests.
 */
export function migrationsCommand(
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  testing: { pollIntervalMs?: number; interrupts?: Interrupts } = {},
): Command {
  const deps = (command: Command, flags: MasterApiFlags): MigrationsDeps => {
    const result: MigrationsDeps = {
      client: connectMasterApi(command, flags, out, err),
      out,
      err,
      tty: (err as Partial<NodeJS.WriteStream>).isTTY === true,
      interrupts: testing.interrupts ?? processInterrupts(),
    };
    if (testing.pollIntervalMs !== undefined) result.pollIntervalMs = testing.pollIntervalMs;
    return result;
  };
  const group = new Command('migrations')
    .description("list, show, watch or cancel the master's migrations (through its HTTP API)")
    .addHelpText(
      'after',
      [
        '',
        "Each command takes --master-url, the master's HTTP address (e.g. http://master-host:8080; default",
        '$DOCKER_MIGRATE_API_URL), not the gRPC address workers join, and --admin-token (default',
        '$DOCKER_MIGRATE_ADMIN_TOKEN). An ID may be shortened to any unique prefix, as `docker` allows.',
        '',
      ].join('\n'),
    );

  group.addCommand(
    withMasterApiOptions(new Command('list').description('the migrations, newest first'))
      .addOption(
        new Option(
          '--status <status>',
          `only these (${MIGRATION_STATUSES.join(', ')}; repeatable)`,
        ).argParser(collect),
      )
      .addOption(
        new Option('--limit <n>', 'how many at most (1-500)')
          .argParser(positiveLimit)
          .default(DEFAULT_LIST_LIMIT),
      )
      .option('--json', "print the master's JSON answer")
      .action(async (flags: ListFlags, command: Command) => {
        await runList(flags, deps(command, flags));
      }),
  );
  group.addCommand(
    withMasterApiOptions(
      new Command('show')
        .description('one migration: summary, resources, downtime and its phases, rounds, events, error')
        .argument('<id>', 'migration id, or a unique prefix of it'),
    )
      .option('--json', "print the master's JSON answer")
      .action(async (id: string, flags: JsonFlag, command: Command) => {
        await runShow(id, flags, deps(command, flags));
      }),
  );
  group.addCommand(
    withMasterApiOptions(
      new Command('watch')
        .description('follow a migration with a live progress bar until it ends, then print its summary')
        .argument('<id>', 'migration id, or a unique prefix of it'),
    )
      .option('--json', 'print the migration as JSON when it ends')
      .addHelpText(
        'after',
        '\nExit code 0 only when the migration completed. Ctrl-C stops watching and leaves the migration running:\nit does NOT cancel it (docker-migrate migrations cancel ID does).\n',
      )
      .action(async (id: string, flags: JsonFlag, command: Command) => {
        await runWatch(id, flags, deps(command, flags));
      }),
  );
  group.addCommand(
    withMasterApiOptions(
      new Command('cancel')
        .description('ask the master to cancel a migration; it is stopped and rolled back')
        .argument('<id>', 'migration id, or a unique prefix of it'),
    )
      .option('--json', "print the master's JSON answer")
      .addHelpText(
        'after',
        '\nExit code 1 when the migration has already ended (there is nothing to cancel).\n',
      )
      .action(async (id: string, flags: JsonFlag, command: Command) => {
        await runCancel(id, flags, deps(command, flags));
      }),
  );
  return group;
}
