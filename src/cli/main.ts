#!/usr/bin/env node
// Entry point of the docker-migrate binary: runs the command line and is the only place that sets the exit code.
import { reportError, runCli, type CliIo } from './program.js';

const io: CliIo = { out: process.stdout, err: process.stderr };
runCli(process.argv, io).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.exitCode = reportError(error, io.err, process.argv.includes('--debug'));
  },
);
