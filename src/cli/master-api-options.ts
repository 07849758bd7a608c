// The master's REST API as `migrate` and `migrations` reach it: the --master-url/--admin-token options, where their
// values come from (flags > DOCKER_MIGRATE_API_URL / DOCKER_MIGRATE_ADMIN_TOKEN > config file), and the client.
import type { Command } from 'commander';
import { AppError } from '../core/errors.js';
import { DEPRECATED_API_URL_VARIABLE, deprecatedApiUrlFromProcess } from '../platform/config.js';
import { createContext } from './context.js';
import { createMasterClient, type MasterClient } from './master-client.js';

/** The options every command that talks to the master's REST API accepts. */
export interface MasterApiFlags {
  masterUrl?: string;
  adminToken?: string;
}

/** Said in --help wherever --master-url means the HTTP address, since `worker --master-url` wants the gRPC one. */
export const MASTER_URL_HELP =
  "the master's HTTP address (its REST API), e.g. http://master-host:8080 — not the gRPC address workers join (default: $DOCKER_MIGRATE_API_URL)";

export const ADMIN_TOKEN_HELP =
  "the master's admin token (default: $DOCKER_MIGRATE_ADMIN_TOKEN, which is safer: a flag shows in `ps`)";

/** Adds --master-url and --admin-token to a command. */
export function withMasterApiOptions(command: Command): Command {
  return command
    .option('--master-url <url>', MASTER_URL_HELP)
    .option('--admin-token <token>', ADMIN_TOKEN_HELP);
}

/**
 * Resolves the master's address and token through the config loader and returns a client. Before
 * DOCKER_MIGRATE_API_URL, `migrate` read DOCKER_MIGRATE_MASTER_URL, which is the worker's gRPC setting; it is still
 * honoured for one release when nothing else names the master, with a note on `err`.
 */
export function connectMasterApi(
  command: Command,
  flags: MasterApiFlags,
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): MasterClient {
  const master: Record<string, unknown> = {};
  if (flags.adminToken !== undefined) master.admin_token = flags.adminToken;
  const commandFlags: Record<string, unknown> = { master };
  if (flags.masterUrl !== undefined) commandFlags.api_url = flags.masterUrl;
  const { config } = createContext(command, out, commandFlags);
  let url = config.api_url;
  if (url === undefined) {
    url = deprecatedApiUrlFromProcess();
    if (url !== undefined) {
      err.write(
        `note: ${DEPRECATED_API_URL_VARIABLE} is deprecated for the master's HTTP address; set DOCKER_MIGRATE_API_URL instead (${DEPRECATED_API_URL_VARIABLE} stays the worker's gRPC address)\n`,
      );
    }
  }
  if (url === undefined) {
    throw new AppError('invalid_argument', 'which master? --master-url is missing', {
      hint: "pass the master's HTTP address with --master-url or DOCKER_MIGRATE_API_URL, e.g. http://master-host:8080",
    });
  }
  const token = config.master.admin_token;
  if (token === undefined) {
    throw new AppError('invalid_argument', 'the master needs its admin token: --admin-token is missing', {
      hint: 'set DOCKER_MIGRATE_ADMIN_TOKEN (or pass --admin-token) to the token the master printed on its first start',
    });
  }
  return createMasterClient({ baseUrl: url, token });
}
