#!/usr/bin/env node
// Entry point of the docker-migrate binary: runs the command line and is the only place that sets the exit code.
import { reportError, runCli, type CliIo } from './program.js';

/** After a command ends, stray handles (a closing socket, a timer) get this long before the process exits anyway. */
const EXIT_GRACE_MS = 5_000;

const io: CliIo = { out: process.stdout, err: process.stderr };

// `docker-migrate … | head` closes the pipe early: stop quietly, as other command-line tools do, instead of
// crashing with a stack trace on the unhandled EPIPE.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

function finish(code: number): void {
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
}

runCli(process.argv, io).then(finish, (error: unknown) => {
  finish(reportError(error, io.err, process.argv.includes('--debug')));
});
