// `docker-migrate migrate`: asks the master to move resources from one worker to another, then follows the migration
// with a live progress bar until it ends (or plans it only, with --dry-run).
import { Command, InvalidArgumentError, Option } from 'commander';
import { AppError } from '../core/errors.js';
import { ACKNOWLEDGEABLE_FINDINGS } from '../contract/codes.js';
import { nearNames } from '../core/near-names.js';
import type {
  BindMountRule,
  ConflictPolicy,
  MigrationMode,
  MigrationStrategy,
  SourcePolicy,
  TransferCompression,
  TransferMode,
} from '../core/migration.js';
import {
  followMigration,
  outcomeError,
  processInterrupts,
  type FollowDeps,
  type Interrupts,
} from './follow-migration.js';
import { connectMasterApi, withMasterApiOptions, type MasterApiFlags } from './master-api-options.js';
import {
  type DryRunJson,
  type MigrationJson,
  type MigrationRequestJson,
  type ReverseRequestJson,
  type WorkerRef,
} from './master-client.js';
import { resolveMigration } from './migrations-command.js';
import { createProgressView, planText, summaryText, type WorkerNames } from './progress-view.js';

export { POLL_INTERVAL_MS, processInterrupts, type Interrupts } from './follow-migration.js';
import { plural } from '../core/plural.js';

const STRATEGIES = ['full', 'incremental'] as const satisfies readonly MigrationStrategy[];
const TRANSFER_MODES = ['auto', 'direct', 'proxy'] as const satisfies readonly TransferMode[];
const COMPRESSIONS = ['none', 'zstd'] as const satisfies readonly TransferCompression[];
const CONFLICT_POLICIES = [
  'fail',
  'skip',
  'rename',
  'overwrite',
] as const satisfies readonly ConflictPolicy[];
const SOURCE_POLICIES = ['keep_stopped', 'remove', 'keep_running'] as const satisfies readonly SourcePolicy[];

/** The command's options as commander parses them (camelCase of the flags). */
export interface MigrateFlags extends MasterApiFlags {
  /** Required unless --reverse. */
  from?: string;
  to?: string;
  /** The id (or a unique prefix) of a completed migration to move back. */
  reverse?: string;
  container?: string[];
  volume?: string[];
  image?: string[];
  network?: string[];
  composeProject?: string[];
  /**
   * Any word: the master judges it and says why it refuses one (`live` needs CRIU checkpointing), so the CLI keeps
   * no copy of that rule that could answer with a bare list of choices instead.
   */
  mode: string;
  strategy: MigrationStrategy;
  transferMode: TransferMode;
  /** Absent or `none`: blocks travel as they are. */
  compression?: TransferCompression;
  /** Warm only: "2s", "500ms"… (the master checks the range). */
  downtimeBudget?: string;
  maxRounds?: number;
  /** Seconds each source container gets to exit on its stop signal; absent: each container's own. */
  stopTimeout?: number;
  conflictPolicy: ConflictPolicy;
  sourcePolicy: SourcePolicy;
  bindMount?: string[];
  acknowledge?: string[];
  dryRun?: boolean;
  json?: boolean;
  detach?: boolean;
}

export interface MigrateDeps extends FollowDeps {
  /** Results: the plan, the summary, the id with --detach, JSON. */
  out: NodeJS.WritableStream;
  /** Following: the bar, phase lines, events, notices. */
  err: NodeJS.WritableStream;
  /** Whether `err` is a terminal, so that a bar can be redrawn in place. */
  tty: boolean;
  interrupts: Interrupts;
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * `--bind-mount SRC=DST` maps a host path of the source to one on the target (the same path keeps it);
 * `SRC=skip` leaves the mount out. Paths are absolute, because they are paths on another machine than this one.
 * The first "=" separates them, so a target path may hold "=" but a source path cannot.
 */
export function parseBindMounts(values: readonly string[]): Record<string, BindMountRule> {
  const rules: Record<string, BindMountRule> = {};
  for (const value of values) {
    const equals = value.indexOf('=');
    const source = equals < 0 ? '' : value.slice(0, equals).trim();
    const target = equals < 0 ? '' : value.slice(equals + 1).trim();
    const usage = 'use --bind-mount /source/path=/target/path, or /source/path=skip to leave the mount out';
    if (equals < 0 || source === '' || target === '') {
      throw new AppError('invalid_argument', `invalid --bind-mount "${value}"`, { hint: usage });
    }
    if (!source.startsWith('/')) {
      throw new AppError(
        'invalid_argument',
        `invalid --bind-mount "${value}": "${source}" is not an absolute path`,
        {
          hint: usage,
        },
      );
    }
    if (target !== 'skip' && !target.startsWith('/')) {
      throw new AppError(
        'invalid_argument',
        `invalid --bind-mount "${value}": "${target}" is neither an absolute path nor "skip"`,
        { hint: usage },
      );
    }
    if (Object.hasOwn(rules, source)) {
      throw new AppError('invalid_argument', `--bind-mount names "${source}" twice`, { hint: usage });
    }
    rules[source] = target === 'skip' ? { skip: true } : { path: target };
  }
  return rules;
}

/**
 * `--acknowledge CODE`: finding codes, as the master accepts them (lower-case words). Codes preflight does not
 * block on are accepted too, so that a newer master's codes can be acknowledged by this command.
 */
export function parseAcknowledged(values: readonly string[]): string[] {
  for (const value of values) {
    if (!/^[a-z_]{1,64}$/.test(value))
      throw new AppError(
        'invalid_argument',
        `invalid --acknowledge "${value}": finding codes are lower-case words`,
        {
          hint: `e.g. --acknowledge ${ACKNOWLEDGEABLE_FINDINGS.join(' or --acknowledge ')}`,
        },
      );
  }
  return [...new Set(values)];
}

/**
 * A --mode as the request carries it. The contract types the field with the modes the master knows; a word outside
 * them is sent all the same, and the master's 400 names the modes it runs.
 */
function asSent(mode: string): MigrationMode {
  return mode as MigrationMode;
}

/** The body of POST /api/migrations for these flags, between two resolved workers. */
export function migrationRequestBody(
  flags: MigrateFlags,
  sourceWorkerId: string,
  targetWorkerId: string,
): MigrationRequestJson {
  const body: MigrationRequestJson = {
    source_worker_id: sourceWorkerId,
    target_worker_id: targetWorkerId,
    container_ids: flags.container ?? [],
    image_ids: flags.image ?? [],
    volume_names: flags.volume ?? [],
    network_ids: flags.network ?? [],
    compose_projects: flags.composeProject ?? [],
    mode: asSent(flags.mode),
    strategy: flags.strategy,
    transfer_mode: flags.transferMode,
    // Sent only when asked for, so that a master that predates the field still takes an ordinary request.
    ...(flags.compression === 'zstd' ? { compression: flags.compression } : {}),
    ...(flags.downtimeBudget === undefined ? {} : { downtime_budget: flags.downtimeBudget }),
    ...(flags.maxRounds === undefined ? {} : { max_rounds: flags.maxRounds }),
    ...(flags.stopTimeout === undefined ? {} : { stop_timeout: flags.stopTimeout }),
    conflict_policy: flags.conflictPolicy,
    source_policy: flags.sourcePolicy,
    bind_mounts: parseBindMounts(flags.bindMount ?? []),
    acknowledge: parseAcknowledged(flags.acknowledge ?? []),
    dry_run: flags.dryRun ?? false,
  };
  const selected =
    body.container_ids.length +
    body.image_ids.length +
    body.volume_names.length +
    body.network_ids.length +
    body.compose_projects.length;
  if (selected === 0) {
    throw new AppError('invalid_argument', 'nothing to migrate', {
      hint: 'name what to move with --container, --volume, --image, --network or --compose-project (each repeatable)',
    });
  }
  return body;
}

function describeWorkers(workers: readonly WorkerRef[]): string {
  return workers.map((worker) => `${worker.name} (${worker.id.slice(0, 12)}, ${worker.status})`).join(', ');
}

/**
 * Finds a worker by exact id, then exact name, then unique id prefix, the way `docker` finds containers. Several
 * workers may carry one name (one removed and enrolled again elsewhere), so a name can be ambiguous too.
 */
export function resolveWorker(
  workers: readonly WorkerRef[],
  ref: string,
  flag: '--from' | '--to',
): WorkerRef {
  const byId = workers.find((worker) => worker.id === ref);
  if (byId !== undefined) return byId;
  const byName = workers.filter((worker) => worker.name === ref);
  const matches = byName.length > 0 ? byName : workers.filter((worker) => worker.id.startsWith(ref));
  const [only] = matches;
  if (matches.length === 1 && only !== undefined) return only;
  if (matches.length > 1) {
    throw new AppError('failed_precondition', `${flag} "${ref}" matches ${matches.length} workers`, {
      hint: `name one by its id: ${describeWorkers(matches)}`,
    });
  }
  const near = nearNames(
    ref,
    workers.map((worker) => worker.name),
  );
  const guess = near.length > 0 ? `; did you mean ${near.map((n) => `"${n}"`).join(' or ')}?` : '';
  throw new AppError('not_found', `${flag}: no worker is named "${ref}" or has that id${guess}`, {
    hint:
      workers.length === 0
        ? 'no worker is enrolled with this master yet (docker-migrate worker --master-url … --token …)'
        : `known workers: ${describeWorkers(workers)}`,
  });
}

/** Flags that choose what moves where, which a move back takes from the migration it reverses. */
const FORWARD_FLAGS: ReadonlyArray<[keyof MigrateFlags, string]> = [
  ['from', '--from'],
  ['to', '--to'],
  ['container', '--container'],
  ['volume', '--volume'],
  ['image', '--image'],
  ['network', '--network'],
  ['composeProject', '--compose-project'],
  ['conflictPolicy', '--conflict-policy'],
  ['sourcePolicy', '--source-policy'],
  ['bindMount', '--bind-mount'],
  ['acknowledge', '--acknowledge'],
  ['downtimeBudget', '--downtime-budget'],
  ['maxRounds', '--max-rounds'],
];

/**
 * Runs the command once its flags are parsed; throws an AppError for every outcome that must not exit 0. `given`
 * names the flags set on the command line or in the environment (not left at their defaults).
 */
export async function runMigrate(
  flags: MigrateFlags,
  deps: MigrateDeps,
  given: ReadonlySet<string> = new Set(Object.keys(flags)),
): Promise<void> {
  if (flags.reverse !== undefined) {
    await runReverse(flags.reverse, flags, deps, given);
    return;
  }
  const { client, out } = deps;
  if (flags.from === undefined || flags.to === undefined)
    throw new AppError('invalid_argument', `missing ${flags.from === undefined ? '--from' : '--to'}`, {
      hint: 'name the source and target workers with --from and --to, or move a migration back with --reverse ID',
    });
  // Checked before any request, so that a wrong command line fails fast with exit code 2.
  migrationRequestBody(flags, '', '');

  const workers = await client.listWorkers();
  const source = resolveWorker(workers, flags.from, '--from');
  const target = resolveWorker(workers, flags.to, '--to');
  if (source.id === target.id) {
    throw new AppError('invalid_argument', `--from and --to both name worker ${source.name} (${source.id})`, {
      hint: 'a migration moves resources to another worker',
    });
  }
  const names: WorkerNames = { source: source.name, target: target.name };
  const body = migrationRequestBody(flags, source.id, target.id);

  if (flags.dryRun === true) {
    reportDryRun(await client.planMigration(body), names, flags, out);
    return;
  }

  if (flags.detach === true) {
    reportDetached(await client.startMigration(body), names, flags, deps);
    return;
  }

  await followToEnd((signal) => client.startMigration(body, signal), names, flags, deps);
}

/**
 * `--reverse ID`: moves a completed migration's workload back from its target to its source, reusing what it left
 * there; only --mode, --strategy, --transfer-mode, --compression and --stop-timeout may change how.
 */
async function runReverse(
  ref: string,
  flags: MigrateFlags,
  deps: MigrateDeps,
  given: ReadonlySet<string>,
): Promise<void> {
  const { client, out } = deps;
  const extra = FORWARD_FLAGS.filter(([key]) => given.has(key)).map(([, flag]) => flag);
  if (extra.length > 0)
    throw new AppError(
      'invalid_argument',
      `--reverse moves back what the migration moved, between the same workers: ${extra.join(', ')} ${extra.length === 1 ? 'does' : 'do'} not go with it`,
      {
        hint: 'with --reverse, only --mode, --strategy, --transfer-mode, --compression, --stop-timeout, --dry-run, --json and --detach apply',
      },
    );
  const original = await resolveMigration(client, ref);
  const workers = await client.listWorkers();
  const nameOf = (id: string): string => workers.find((w) => w.id === id)?.name ?? id;
  // The move back runs the other way.
  const names: WorkerNames = {
    source: nameOf(original.target_worker_id),
    target: nameOf(original.source_worker_id),
  };
  const body: ReverseRequestJson = {
    ...(given.has('mode') ? { mode: asSent(flags.mode) } : {}),
    ...(given.has('strategy') ? { strategy: flags.strategy } : {}),
    ...(given.has('transferMode') ? { transfer_mode: flags.transferMode } : {}),
    ...(given.has('compression') && flags.compression !== undefined
      ? { compression: flags.compression }
      : {}),
    ...(given.has('stopTimeout') && flags.stopTimeout !== undefined
      ? { stop_timeout: flags.stopTimeout }
      : {}),
  };
  if (flags.dryRun === true) {
    reportDryRun(await client.planReverse(original.id, body), names, flags, out);
    return;
  }
  if (flags.detach === true) {
    reportDetached(await client.reverseMigration(original.id, body), names, flags, deps);
    return;
  }
  await followToEnd((signal) => client.reverseMigration(original.id, body, signal), names, flags, deps);
}

/** Prints a dry run's plan; throws when it is blocked, naming the acknowledgements that would let it go on. */
function reportDryRun(
  answer: DryRunJson,
  names: WorkerNames,
  flags: MigrateFlags,
  out: NodeJS.WritableStream,
): void {
  out.write(flags.json === true ? `${JSON.stringify(answer, null, 2)}\n` : planText(answer, names));
  if (answer.blocked) {
    const errors = answer.findings.filter((finding) => finding.severity === 'error');
    const acknowledgeable = [
      ...new Set(
        errors
          .map((finding) => finding.code)
          .filter((code) => (ACKNOWLEDGEABLE_FINDINGS as readonly string[]).includes(code)),
      ),
    ];
    const acknowledge = acknowledgeable.map((code) => `--acknowledge ${code}`).join(' ');
    throw new AppError(
      'failed_precondition',
      errors.length > 0
        ? `the dry run found ${plural(errors.length, 'problem')} that ${errors.length === 1 ? 'blocks' : 'block'} this migration`
        : 'the master would refuse this migration',
      {
        hint:
          acknowledgeable.length === errors.length && errors.length > 0
            ? `read them; to go on all the same, add ${acknowledge}`
            : `fix ${errors.length === 1 ? 'it' : 'them'}, or choose another --conflict-policy or --bind-mount rule${acknowledge ? ` (or add ${acknowledge} for what you accept)` : ''}, then run the dry run again`,
      },
    );
  }
}

/** `--detach`: the new migration's id on stdout, a line on stderr. */
function reportDetached(
  migration: MigrationJson,
  names: WorkerNames,
  flags: MigrateFlags,
  deps: MigrateDeps,
): void {
  deps.out.write(flags.json === true ? `${JSON.stringify({ migration }, null, 2)}\n` : `${migration.id}\n`);
  deps.err.write(
    `started migration ${migration.id} from ${names.source} to ${names.target}; it runs on the master without this command\n`,
  );
}

/** Starts a migration, follows it to its end, prints its summary; throws unless it completed. */
async function followToEnd(
  start: (signal: AbortSignal) => Promise<MigrationJson>,
  names: WorkerNames,
  flags: MigrateFlags,
  deps: MigrateDeps,
): Promise<void> {
  const migration = await startAndFollow(start, names, deps);
  deps.out.write(
    flags.json === true ? `${JSON.stringify({ migration }, null, 2)}\n` : summaryText(migration, names),
  );
  const failure = outcomeError(migration);
  if (failure !== undefined) throw failure;
}

/**
 * Starts the migration and polls it until it ends. The first Ctrl-C asks the master to cancel it and keeps
 * following, so that the person sees the rollback finish; a second one stops following and leaves it running.
 */
async function startAndFollow(
  start: (signal: AbortSignal) => Promise<MigrationJson>,
  names: WorkerNames,
  deps: MigrateDeps,
): Promise<MigrationJson> {
  const { client } = deps;
  const view = createProgressView(deps.err, { tty: deps.tty });
  const stopFollowing = new AbortController();
  let presses = 0;
  let id: string | undefined;
  let cancelling: Promise<void> | undefined;

  const requestCancel = (migrationId: string): void => {
    cancelling = client.cancelMigration(migrationId).then(
      () => {
        view.log('cancel requested: following the migration until the master has stopped it');
      },
      (error: unknown) => {
        view.log(`could not cancel: ${AppError.from(error).message}`);
      },
    );
  };
  const stopListening = deps.interrupts.onInterrupt(() => {
    presses += 1;
    if (presses === 1) {
      view.log('Ctrl-C: cancelling the migration; press Ctrl-C again to stop following and leave it running');
      if (id !== undefined) requestCancel(id);
    } else {
      stopFollowing.abort();
    }
  });

  try {
    let migration: MigrationJson;
    try {
      migration = await start(stopFollowing.signal);
    } catch (error) {
      if (!stopFollowing.signal.aborted) throw error;
      throw new AppError(
        'canceled',
        'stopped waiting for the master to start the migration; it may have started',
        {
          hint: 'docker-migrate migrations list shows the migrations the master knows',
          cause: error,
        },
      );
    }
    id = migration.id;
    view.log(
      `migration ${id} started: ${names.source} to ${names.target} (Ctrl-C cancels it and rolls it back)`,
    );
    if (presses > 0) requestCancel(id);
    return await followMigration(migration, view, stopFollowing.signal, deps);
  } catch (error) {
    if (id === undefined || !stopFollowing.signal.aborted) throw error;
    throw new AppError(
      'canceled',
      `stopped following migration ${id}; it keeps running on the master${cancelling === undefined ? '' : ' (a cancel was requested)'}`,
      {
        hint: `docker-migrate migrations watch ${id} follows it again; migrations show ${id} says how it ended`,
        cause: error,
      },
    );
  } finally {
    stopListening();
    view.stop();
    await cancelling;
  }
}

/**
 * Builds the `migrate` command. Results go to `out` (stdout), the live view to `err` (stderr), so that
 * `docker-migrate migrate … --json > result.json` still shows progress. `testing` shortens the poll interval and
 * replaces Ctrl-C in tests.
 */
export function migrateCommand(
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
  testing: { pollIntervalMs?: number; interrupts?: Interrupts } = {},
): Command {
  return withMasterApiOptions(
    new Command('migrate').description(
      'move containers, volumes, images, networks or compose projects from one worker to another through the master, with live progress',
    ),
  )
    .option('--from <worker>', 'source worker, by name or id (required unless --reverse)')
    .option('--to <worker>', 'target worker, by name or id (required unless --reverse)')
    .option(
      '--reverse <migration>',
      'move a completed migration back: from its target to its source, reusing what it left there (id or unique prefix)',
    )
    .addOption(
      repeatable('--container <name>', 'a container, with its image, volumes and networks (name or id)'),
    )
    .addOption(repeatable('--volume <name>', 'a volume'))
    .addOption(repeatable('--image <ref>', 'an image (repo:tag or id)'))
    .addOption(repeatable('--network <name>', 'a user-defined network (name or id)'))
    .addOption(
      repeatable('--compose-project <name>', 'every container, volume and network of a compose project'),
    )
    .addOption(
      new Option(
        '--mode <mode>',
        'cold: stop the containers, copy, start them on the target; warm: copy while they run, stop them only for what changed (live is refused: it needs CRIU checkpointing)',
      ).default('cold'),
    )
    .addOption(
      new Option(
        '--strategy <strategy>',
        "full: copy every volume whole; incremental: bring the target's copy from an earlier migration up to date, sending only what differs",
      )
        .choices(STRATEGIES)
        .default('full'),
    )
    .addOption(
      new Option(
        '--downtime-budget <duration>',
        'warm: stop pre-copying once the last copy should fit in this (e.g. 2s, 500ms; default 2s)',
      ),
    )
    .addOption(
      new Option(
        '--max-rounds <n>',
        'warm: pre-copy rounds at most before the containers are stopped anyway (default 8)',
      ).argParser((value) => {
        const rounds = Number(value);
        if (!Number.isInteger(rounds) || rounds < 1 || rounds > 32)
          throw new InvalidArgumentError('a whole number from 1 to 32');
        return rounds;
      }),
    )
    .addOption(
      new Option(
        '--stop-timeout <seconds>',
        "seconds each source container gets to exit on its stop signal before it is killed (default: the container's own, Docker's 10 s unless set)",
      ).argParser((value) => {
        const seconds = Number(value);
        if (!Number.isInteger(seconds) || seconds < 0 || seconds > 3600)
          throw new InvalidArgumentError('a whole number of seconds from 0 to 3600');
        return seconds;
      }),
    )
    .addOption(
      new Option(
        '--transfer-mode <mode>',
        'direct: worker to worker; proxy: relayed by the master (NAT); auto: direct, else proxy',
      )
        .choices(TRANSFER_MODES)
        .default('auto'),
    )
    .addOption(
      new Option(
        '--compression <codec>',
        'zstd: compress volume and image data (level 1) where it shrinks, for slow links; costs CPU on a LAN',
      )
        .choices(COMPRESSIONS)
        .default('none'),
    )
    .addOption(
      new Option('--conflict-policy <policy>', 'when the target already has an object of the same name')
        .choices(CONFLICT_POLICIES)
        .default('fail'),
    )
    .addOption(
      new Option('--source-policy <policy>', 'what becomes of the source containers after success')
        .choices(SOURCE_POLICIES)
        .default('keep_stopped'),
    )
    .addOption(
      repeatable(
        '--bind-mount <src=dst>',
        'where a bind-mounted host path goes on the target: SRC=DST, or SRC=skip to leave it out',
      ),
    )
    .addOption(
      repeatable(
        '--acknowledge <code>',
        `accept a finding that blocks until acknowledged (${ACKNOWLEDGEABLE_FINDINGS.join(', ')}); it then only warns`,
      ),
    )
    .option('--dry-run', 'plan only: show what would move and what preflight finds; exit 1 if it is blocked')
    .option('--json', 'print the JSON answer of the master (the plan, or the migration when it ends)')
    .option('--detach', 'start the migration, print its id and exit without following it')
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  export DOCKER_MIGRATE_API_URL=http://master:8080 DOCKER_MIGRATE_ADMIN_TOKEN=…',
        '  docker-migrate migrate --from host-a --to host-b --container web --dry-run',
        '  docker-migrate migrate --from host-a --to host-b --compose-project shop --bind-mount /srv/shop=/data/shop',
        '  docker-migrate migrate --reverse m-3f2a            # move that migration back where it came from',
        '',
        'Exit code 0 only when the migration completed (or the dry run is not blocked). The first Ctrl-C cancels',
        'the migration and follows its rollback; a second one stops following and leaves it running.',
        '`docker-migrate migrations` lists, shows, watches and cancels migrations afterwards.',
        '',
      ].join('\n'),
    )
    .action(async (flags: MigrateFlags, command: Command) => {
      const client = connectMasterApi(command, flags, out, err);
      const deps: MigrateDeps = {
        client,
        out,
        err,
        tty: (err as Partial<NodeJS.WriteStream>).isTTY === true,
        interrupts: testing.interrupts ?? processInterrupts(),
      };
      if (testing.pollIntervalMs !== undefined) deps.pollIntervalMs = testing.pollIntervalMs;
      const given = new Set(
        Object.keys(flags).filter((key) => {
          const source = command.getOptionValueSource(key);
          return source !== undefined && source !== 'default';
        }),
      );
      await runMigrate(flags, deps, given);
    });
}

function repeatable(flags: string, description: string): Option {
  return new Option(flags, `${description} (repeatable)`).argParser(collect);
}
