// The docker-migrate command line: the commands, their shared options, and how errors are shown to a person.
import { Command, CommanderError } from 'commander';
import { AppError } from '../core/errors.js';
import { buildInfo } from '../platform/build-info.js';
import { listCommand } from './list-command.js';
import { masterCommand } from './master-command.js';
import { migrateCommand } from './migrate-command.js';
import { migrationsCommand } from './migrations-command.js';
import { uiCommand } from './ui-command.js';
import { workerCommand } from './worker-command.js';
import { versionCommand } from './version-command.js';

/** Exit codes: 0 success, 1 the command failed, 2 the command line or configuration is wrong. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

export interface CliIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export function createProgram(io: CliIo): Command {
  const program = new Command('docker-migrate')
    .description(
      'Dockation: move Docker containers with their images, volumes, networks and settings between hosts.',
    )
    .version(buildInfo().version, '-V, --version-number', 'print only the version number')
    .option(
      '--config <file>',
      'config file (default: ~/.docker-migrate/config.json, or $DOCKER_MIGRATE_CONFIG)',
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent (default: info)')
    .option('--debug', 'debug logs, and the cause chain of an error')
    .option(
      '-H, --docker-host <address>',
      'Docker engine to use (default: $DOCKER_HOST or unix:///var/run/docker.sock)',
    )
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => io.out.write(text),
      writeErr: (text) => io.err.write(text),
      outputError: (text, write) => {
        write(text);
      },
    })
    .exitOverride();
  program.addCommand(masterCommand(io.out));
  program.addCommand(workerCommand(io.out));
  program.addCommand(uiCommand(io.out));
  program.addCommand(listCommand(io.out));
  program.addCommand(migrateCommand(io.out, io.err));
  program.addCommand(migrationsCommand(io.out, io.err));
  program.addCommand(versionCommand(io.out));
  // Subcommands inherit the output settings and throw instead of exiting, so main decides the exit code.
  const inherit = (command: Command): void => {
    for (const sub of command.commands) {
      sub
        .exitOverride()
        .configureOutput(program.configureOutput())
        .showHelpAfterError('(run with --help for usage)');
      inherit(sub);
    }
  };
  inherit(program);
  return program;
}

/** The messages of the cause chain, for --debug. */
function causeChain(error: unknown): string[] {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 10; depth++) {
    lines.push(current.stack ?? `${current.name}: ${current.message}`);
    current = current.cause;
  }
  return lines;
}

/** Prints an error as a person should see it: one line, a hint, and the details only with --debug. */
export function reportError(error: unknown, err: NodeJS.WritableStream, debug: boolean): number {
  const appError = AppError.from(error);
  err.write(`error: ${appError.message}\n`);
  if (appError.hint) err.write(`hint: ${appError.hint}\n`);
  if (debug) err.write(`${causeChain(error).join('\ncaused by: ')}\n`);
  else if (appError.code === 'internal') err.write('hint: run again with --debug to see where it failed\n');
  return appError.code === 'invalid_argument' ? EXIT_USAGE : EXIT_FAILURE;
}

/** Runs the command line; resolves with the exit code (main.ts sets it on the process). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  const debug = argv.includes('--debug');
  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed its message (or the help) already.
      return error.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    return reportError(error, io.err, debug);
  }
}
