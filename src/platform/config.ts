// Loads the configuration of master, worker and UI: flags > DOCKER_MIGRATE_* env > JSON config file > defaults.
// Validated once at start with one zod schema; every problem is reported together, naming where the value came from.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';

import { AppError } from '../core/errors.js';
import { parseDuration } from './duration.js';
import { CREATE_KEK_COMMAND } from './key-encryption-key.js';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';

/** What a process runs as; absent when a command needs no role (e.g. `docker-migrate version`). */
export const ROLES = ['master', 'worker', 'ui'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Every setting, as a dotted path into the config. The env variable names are derived from this explicit list
 * (DOCKER_MIGRATE_MASTER_WORKER_TIMEOUT → master.worker_timeout) so that no name is ambiguous, and a source
 * that sets one of these paths replaces the lower sources' value whole (so `worker.labels` is not merged).
 */
export const CONFIG_PATHS = [
  'role',
  'api_url',
  'http_addr',
  'grpc_addr',
  'log_level',
  'log_format',
  'data_dir',
  'store_url',
  'ca_key_kek',
  'docker.host',
  'docker.cert_path',
  'docker.tls_verify',
  'docker.tls',
  'master.enrollment_token',
  'master.admin_token',
  'master.worker_timeout',
  'master.heartbeat_interval',
  'master.inventory_interval',
  'master.advertise_addr',
  'master.ready_timeout',
  'master.rollback_timeout',
  'master.transfer_stall_timeout',
  'master.relay_addr',
  'master.failpoints',
  'master.session_ttl',
  'master.http_tls_cert',
  'master.http_tls_key',
  'master.trust_proxy',
  'master.downloads_dir',
  'worker.master_url',
  'worker.token',
  'worker.ca_hash',
  'worker.name',
  'worker.labels',
  'worker.data_dir',
  'worker.grpc_addr',
  'worker.advertise_addr',
  'worker.reconnect_interval',
  'worker.max_reconnect_interval',
  'worker.volume_access',
] as const;
export type ConfigPath = (typeof CONFIG_PATHS)[number];

const ENV_PREFIX = 'DOCKER_MIGRATE_';

/** Names the config file when no `--config` is given. */
export const CONFIG_FILE_VARIABLE = 'DOCKER_MIGRATE_CONFIG';

/** Phases a failpoint may pause at (fault injection). */
const FAILPOINT_PHASES = ['prepare', 'stop_source', 'transfer', 'create', 'start', 'finalize'] as const;

/**
 * Fault injection for the fault suite: "pause:<phase>=<duration>,…" holds every migration that long at the start
 * of that phase. Empty means none. A warm migration enters `transfer` twice (before pre-copy round 1, and before the
 * final round once the source stopped): the pause holds it both times.
 */
export function parseFailpoints(value: string): {
  pause: Partial<Record<(typeof FAILPOINT_PHASES)[number], number>>;
} {
  const pause: Partial<Record<(typeof FAILPOINT_PHASES)[number], number>> = {};
  for (const item of value.split(',').map((part) => part.trim())) {
    if (item === '') continue;
    const match = /^pause:([a-z_]+)=(.+)$/.exec(item);
    const phase = FAILPOINT_PHASES.find((p) => p === match?.[1]);
    if (!match?.[2] || !phase)
      throw new Error(
        `failpoint "${item}": expected "pause:<phase>=<duration>" with a phase of ${FAILPOINT_PHASES.join(', ')}`,
      );
    pause[phase] = parseDuration(match[2]);
  }
  return { pause };
}

/** Short names people expect for the settings they set most; the full name wins when both are set. */
const ENV_ALIASES: Readonly<Record<string, ConfigPath>> = {
  DOCKER_MIGRATE_ADMIN_TOKEN: 'master.admin_token',
  DOCKER_MIGRATE_ENROLLMENT_TOKEN: 'master.enrollment_token',
  DOCKER_MIGRATE_TOKEN: 'worker.token',
  DOCKER_MIGRATE_MASTER_URL: 'worker.master_url',
};

/** The Docker CLI's own variables, read so that docker-migrate talks to the same engine as `docker` does. */
const DOCKER_VARIABLES: Readonly<Record<string, ConfigPath>> = {
  DOCKER_HOST: 'docker.host',
  DOCKER_CERT_PATH: 'docker.cert_path',
  DOCKER_TLS_VERIFY: 'docker.tls_verify',
  DOCKER_TLS: 'docker.tls',
};

/** DOCKER_MIGRATE_* name → config path, for every path and alias. */
export const ENV_VARIABLES: Readonly<Record<string, ConfigPath>> = buildEnvVariables();

/** One problem in the configuration; `details.issues` of the thrown AppError lists them all. */
export interface ConfigProblem {
  /** Dotted config path, or the variable name for an unknown variable; absent for a whole-file problem. */
  path?: string;
  /** Where the value came from: `flags`, `environment DOCKER_HOST`, `config file /etc/x.json`. */
  source?: string;
  message: string;
}

export interface ConfigSources {
  /** Parsed command-line flags, in the config's nested snake_case shape; undefined values are ignored. */
  flags?: object;
  env?: Record<string, string | undefined>;
  /** The `--config` path; it must exist. */
  configFile?: string;
  homeDir: string;
  /** Returns the file's text, or undefined when it does not exist; reads with node:fs by default. */
  readFile?: (path: string) => string | undefined;
}

/** The loaded configuration: every default filled in, durations in milliseconds, "~" expanded. */
export type Config = z.output<ReturnType<typeof createConfigSchema>>;

/** What a caller may pass as flags: the config's shape with every key optional and strings allowed. */
export type ConfigFlags = z.input<ReturnType<typeof createConfigSchema>>;

/**
 * Loads and validates the configuration from all sources at once, so that a person sees every problem in one
 * run rather than one per attempt. Throws AppError('invalid_argument') listing each problem with its path and
 * source; it never reads the process environment itself (see loadConfigFromProcess), which keeps it testable.
 */
export function loadConfig(sources: ConfigSources): Config {
  const problems: ConfigProblem[] = [];
  const layers: Layer[] = [];

  const file = resolveConfigFile(sources);
  const fileLayer = readConfigFile(file, sources.readFile ?? readFileIfPresent, problems);
  if (fileLayer !== undefined) layers.push(fileLayer);
  layers.push(envLayer(sources.env ?? {}, problems));
  if (sources.flags !== undefined) layers.push({ value: sources.flags, describe: () => 'flags' });

  const origins = new Map<string, string>();
  const merged: Record<string, unknown> = {};
  for (const layer of layers) mergeLayer(merged, layer, origins);

  const result = createConfigSchema(sources.homeDir).safeParse(merged, { error: readableMessage });
  if (!result.success) problems.push(...result.error.issues.flatMap((issue) => toProblems(issue, origins)));
  if (problems.length > 0 || !result.success) throw configError(problems, file.path);
  return result.data;
}

/**
 * Loads the configuration of this process. The only place that reads process.env and the home directory, so
 * that everything else receives its settings explicitly.
 */
export function loadConfigFromProcess(flags: object, configFile?: string): Config {
  const sources: ConfigSources = { flags, env: process.env, homeDir: homedir() };
  if (configFile !== undefined) sources.configFile = configFile;
  return loadConfig(sources);
}

/**
 * DOCKER_MIGRATE_MASTER_URL, which `migrate` read as the master's HTTP address before DOCKER_MIGRATE_API_URL
 * existed, although the same variable gives `worker` the master's gRPC address. Read here (the only module that
 * reads process.env) so that the CLI can still honour it for one release, with a deprecation note.
 */
export const DEPRECATED_API_URL_VARIABLE = 'DOCKER_MIGRATE_MASTER_URL';

export function deprecatedApiUrlFromProcess(): string | undefined {
  return nonEmpty(process.env[DEPRECATED_API_URL_VARIABLE]);
}

/** Where the config file is looked for when none is named: `<home>/.docker-migrate/config.json`. */
export function defaultConfigFilePath(homeDir: string): string {
  return join(homeDir, '.docker-migrate', 'config.json');
}

/** Expands a leading "~" or "~/" to the home directory, as a shell would; other paths are returned unchanged. */
export function expandHome(path: string, homeDir: string): string {
  if (path === '~') return homeDir;
  if (path.startsWith('~/')) return join(homeDir, path.slice(2));
  return path;
}

/** The schema; built per home directory because defaults and "~" expansion depend on it. */
function createConfigSchema(homeDir: string) {
  const path = z.string().transform((value) => expandHome(value, homeDir));
  const duration = z
    .union([z.string(), z.number()], {
      error: 'expected a duration such as "30s" or "5m", or a number of milliseconds',
    })
    .transform((value, ctx) => {
      try {
        return parseDuration(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message, input: value });
        return z.NEVER;
      }
    });
  // "pause:create=6s,pause:transfer=2s" (see parseFailpoints): checked here, read by the master.
  const failpoints = z.string().superRefine((value, ctx) => {
    try {
      parseFailpoints(value);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message, input: value });
    }
  });
  const flag = z
    .union([z.boolean(), z.string()], { error: 'expected true or false' })
    .transform((value, ctx) => {
      const parsed = typeof value === 'boolean' ? value : parseBoolean(value);
      if (parsed !== undefined) return parsed;
      ctx.addIssue({
        code: 'custom',
        message: `invalid boolean "${String(value)}": use true or false`,
        input: value,
      });
      return z.NEVER;
    });
  const labels = z.preprocess(
    (value, ctx) => (typeof value === 'string' ? parseLabels(value, ctx) : value),
    z.record(z.string(), z.string(), {
      error: 'expected labels as an object of strings or as "key=value,key2=value2"',
    }),
  );

  const config = z.strictObject({
    role: z.enum(ROLES).optional(),
    // The master's HTTP address for the CLI's `migrate` and `migrations` (DOCKER_MIGRATE_API_URL); not a worker's.
    api_url: z.string().optional(),
    http_addr: z.string().default(':8080'),
    grpc_addr: z.string().default(':9090'),
    log_level: z.enum(LOG_LEVELS).default('info'),
    log_format: z.enum(LOG_FORMATS).default('auto'),
    data_dir: path.default(join(homeDir, '.docker-migrate')),
    // The master's state in PostgreSQL (postgres://…); absent: SQLite in <data_dir>/master/state.db.
    store_url: z
      .string()
      .regex(
        /^postgres(ql)?:\/\//,
        'expected a postgres:// URL (the master keeps its state in SQLite without one)',
      )
      .optional(),
    // The file of the key that seals the CA key in PostgreSQL, shared by every master (required with store_url).
    ca_key_kek: path.optional(),
    // prefault, not default: an absent or partial block is parsed, so each field gets its own default.
    docker: z
      .strictObject({
        host: z.string().default('unix:///var/run/docker.sock'),
        cert_path: path.default(join(homeDir, '.docker')),
        tls_verify: flag.default(false),
        tls: flag.default(false),
      })
      .prefault({}),
    master: z
      .strictObject({
        enrollment_token: z.string().optional(),
        admin_token: z.string().optional(),
        worker_timeout: duration.default(30_000),
        heartbeat_interval: duration.default(10_000),
        inventory_interval: duration.default(60_000),
        advertise_addr: z.string().optional(),
        ready_timeout: duration.default(120_000),
        rollback_timeout: duration.default(600_000),
        transfer_stall_timeout: duration.default(60_000),
        // Where workers that cannot reach each other send and take transfers (mutual TLS, the bulk channel).
        relay_addr: z.string().default(':9091'),
        failpoints: failpoints.default(''),
        session_ttl: duration.default(12 * 3600_000),
        // PEM files of the HTTP listener's certificate (chain) and key: HTTPS when both are set.
        http_tls_cert: path.optional(),
        http_tls_key: path.optional(),
        // Whether X-Forwarded-For/-Proto from a reverse proxy are believed (client address, https).
        trust_proxy: flag.default(false),
        // Release archives and SHA256SUMS served at /downloads/ (default: see defaultDownloadsDir).
        downloads_dir: path.optional(),
      })
      .superRefine((master, ctx) => {
        const cert = master.http_tls_cert !== undefined;
        if (cert === (master.http_tls_key !== undefined)) return;
        ctx.addIssue({
          code: 'custom',
          path: [cert ? 'http_tls_key' : 'http_tls_cert'],
          message:
            'HTTPS needs both http_tls_cert and http_tls_key (--http-tls-cert FILE --http-tls-key FILE)',
          input: undefined,
        });
      })
      .prefault({}),
    worker: z
      .strictObject({
        master_url: z.string().optional(),
        token: z.string().optional(),
        ca_hash: z.string().optional(),
        name: z.string().optional(),
        labels: labels.default(() => ({})),
        data_dir: path.optional(),
        grpc_addr: z.string().optional(),
        advertise_addr: z.string().optional(),
        reconnect_interval: duration.default(5_000),
        max_reconnect_interval: duration.default(300_000),
        volume_access: z.enum(['auto', 'mountpoint', 'engine']).default('auto'),
      })
      .prefault({}),
  });
  return config.superRefine((value, ctx) => {
    if (value.store_url === undefined || value.ca_key_kek !== undefined || value.role === 'worker') return;
    ctx.addIssue({
      code: 'custom',
      path: ['ca_key_kek'],
      message: `masters on PostgreSQL (store_url) need a key-encryption key file (--ca-key-kek FILE), the same for every master; create one with: ${CREATE_KEK_COMMAND}`,
      input: undefined,
    });
  });
}

/** One source of settings, as a nested object, and how to name it in a message about one of its paths. */
interface Layer {
  value: object;
  describe: (path: string) => string;
}

/**
 * Deep-merges a layer over the lower ones, recording which source supplied each path so that a problem found
 * later by the schema can name it. Known paths (CONFIG_PATHS) are replaced whole; unknown objects are merged so
 * that an unknown key deep inside is reported with its full path.
 */
function mergeLayer(target: Record<string, unknown>, layer: Layer, origins: Map<string, string>): void {
  mergeObject(target, layer.value, '', layer, origins);
}

function mergeObject(
  target: Record<string, unknown>,
  source: object,
  prefix: string,
  layer: Layer,
  origins: Map<string, string>,
): void {
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const current = target[key];
    if (isPlainObject(value) && !KNOWN_PATHS.has(path)) {
      if (!isPlainObject(current)) forgetOrigins(origins, path);
      const into: Record<string, unknown> = isPlainObject(current) ? current : {};
      origins.set(path, layer.describe(path));
      setOwn(target, key, into);
      mergeObject(into, value, path, layer, origins);
    } else {
      forgetOrigins(origins, path);
      origins.set(path, layer.describe(path));
      setOwn(target, key, value);
    }
  }
}

const KNOWN_PATHS: ReadonlySet<string> = new Set(CONFIG_PATHS);

function forgetOrigins(origins: Map<string, string>, path: string): void {
  for (const known of origins.keys()) {
    if (known === path || known.startsWith(`${path}.`)) origins.delete(known);
  }
}

/** The source of a path: recorded for it, or for the nearest enclosing object. */
function originOf(origins: Map<string, string>, path: readonly string[]): string | undefined {
  for (let length = path.length; length > 0; length--) {
    const origin = origins.get(path.slice(0, length).join('.'));
    if (origin !== undefined) return origin;
  }
  return undefined;
}

function toProblems(issue: z.core.$ZodIssue, origins: Map<string, string>): ConfigProblem[] {
  const path = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) =>
      problem([...path, key], origins, `unknown key${suggestion(key, keysUnder(path.join('.')))}`),
    );
  }
  return [problem(path, origins, issue.message)];
}

/**
 * Zod's default messages ("Invalid input: expected string, received number") rephrased for a person editing a
 * file. Values are not echoed, since a misplaced token could be one; enum values are, as they are never secret.
 */
function readableMessage(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected === 'object' ? 'an object' : `a ${issue.expected}`}, got ${kindOf(issue.input)}`;
  }
  if (issue.code === 'invalid_value') {
    const got = typeof issue.input === 'string' ? JSON.stringify(issue.input) : kindOf(issue.input);
    return `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, got ${got}`;
  }
  return undefined;
}

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

function problem(path: string[], origins: Map<string, string>, message: string): ConfigProblem {
  const found: ConfigProblem = { path: path.join('.'), message };
  const source = originOf(origins, path);
  if (source !== undefined) found.source = source;
  return found;
}

/** The keys allowed directly under an object path ('' for the top level), for "did you mean" hints. */
function keysUnder(prefix: string): string[] {
  const start = prefix === '' ? '' : `${prefix}.`;
  const keys = CONFIG_PATHS.filter((path) => path.startsWith(start)).map(
    (path) => path.slice(start.length).split('.')[0] ?? '',
  );
  return [...new Set(keys)];
}

interface ConfigFile {
  path: string;
  /** Named by `--config` or DOCKER_MIGRATE_CONFIG, so it must exist; the default path may be absent. */
  explicit: boolean;
}

function resolveConfigFile(sources: Pick<ConfigSources, 'configFile' | 'env' | 'homeDir'>): ConfigFile {
  const named = sources.configFile ?? nonEmpty(sources.env?.[CONFIG_FILE_VARIABLE]);
  if (named !== undefined) return { path: expandHome(named, sources.homeDir), explicit: true };
  return { path: defaultConfigFilePath(sources.homeDir), explicit: false };
}

function readConfigFile(
  file: ConfigFile,
  readFile: (path: string) => string | undefined,
  problems: ConfigProblem[],
): Layer | undefined {
  const source = `config file ${file.path}`;
  let text: string | undefined;
  try {
    text = readFile(file.path);
  } catch (error) {
    problems.push({ source, message: `cannot read config file ${file.path}: ${errorMessage(error)}` });
    return undefined;
  }
  if (text === undefined) {
    if (file.explicit) problems.push({ source, message: `config file not found: ${file.path}` });
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    problems.push({
      source,
      message: `config file ${file.path} is not valid JSON: ${jsonProblem(error, text)}`,
    });
    return undefined;
  }
  if (!isPlainObject(value)) {
    problems.push({
      source,
      message: `config file ${file.path} must hold a JSON object ({...}), not ${kindOf(value)}`,
    });
    return undefined;
  }
  return { value, describe: () => source };
}

/**
 * V8's JSON.parse message quotes the text around the error, which may hold a token; keep only the description
 * and turn "at position N" into a line and column a person can find.
 */
function jsonProblem(error: unknown, text: string): string {
  const message = errorMessage(error).replace(/, "[\s\S]*" is not valid JSON$/, '');
  const position = /at position (\d+)/.exec(message)?.[1];
  if (position === undefined || /\bline\b/.test(message)) return message;
  const before = text.slice(0, Number(position)).split('\n');
  return `${message} (line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1})`;
}

/**
 * The environment as a layer: Docker's own variables first, then aliases, then full DOCKER_MIGRATE_* names, each
 * overriding the one before. Empty values are ignored; an unknown DOCKER_MIGRATE_* name is a problem, since it is
 * almost always a typo that would otherwise be silently ignored.
 */
function envLayer(env: Record<string, string | undefined>, problems: ConfigProblem[]): Layer {
  const value: Record<string, unknown> = {};
  const names = new Map<string, string>();
  const set = (name: string, path: ConfigPath, setting: unknown): void => {
    setPath(value, path, setting);
    names.set(path, name);
  };

  for (const [name, path] of Object.entries(DOCKER_VARIABLES)) {
    const setting = nonEmpty(env[name]);
    if (setting === undefined) continue;
    set(name, path, path === 'docker.tls_verify' || path === 'docker.tls' ? dockerFlag(setting) : setting);
  }
  // Aliases first, so that the full name wins when both are set.
  const variables = Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && nonEmpty(env[name]) !== undefined)
    .sort((a, b) => Number(b in ENV_ALIASES) - Number(a in ENV_ALIASES));
  for (const name of variables) {
    if (name === CONFIG_FILE_VARIABLE) continue;
    const path = ENV_VARIABLES[name];
    if (path === undefined) {
      const hint = suggestion(name, [...Object.keys(ENV_VARIABLES), CONFIG_FILE_VARIABLE]);
      problems.push({ path: name, source: 'environment', message: `unknown variable${hint}` });
    } else {
      set(name, path, env[name]);
    }
  }
  return {
    value,
    describe: (path) => {
      const name = names.get(path);
      return name === undefined ? 'environment' : `environment ${name}`;
    },
  };
}

function buildEnvVariables(): Record<string, ConfigPath> {
  const variables: Record<string, ConfigPath> = { ...ENV_ALIASES };
  for (const path of CONFIG_PATHS) {
    const name = ENV_PREFIX + path.replaceAll('.', '_').toUpperCase();
    if (name in variables)
      throw new Error(`config: ${name} would name both ${variables[name] ?? ''} and ${path}`);
    variables[name] = path;
  }
  return variables;
}

/** Docker's rule for DOCKER_TLS_VERIFY: set to anything but "0" or "false" means on. */
function dockerFlag(value: string): boolean {
  const lowered = value.trim().toLowerCase();
  return lowered !== '0' && lowered !== 'false';
}

function parseBoolean(value: string): boolean | undefined {
  const lowered = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(lowered)) return true;
  if (['false', '0', 'no', 'off'].includes(lowered)) return false;
  return undefined;
}

/** Labels from env or a flag: "zone=a,tier=db"; blanks around keys, values and commas are ignored. */
function parseLabels(text: string, ctx: z.RefinementCtx): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    const key = equals < 0 ? '' : pair.slice(0, equals).trim();
    if (key === '') {
      ctx.addIssue({
        code: 'custom',
        message: `invalid label "${pair.trim()}": use "key=value" pairs separated by commas`,
        input: text,
      });
      continue;
    }
    setOwn(labels, key, pair.slice(equals + 1).trim());
  }
  return labels;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let node = target;
  for (const key of keys) {
    const next = node[key];
    if (isPlainObject(next)) {
      node = next;
    } else {
      const created: Record<string, unknown> = {};
      node[key] = created;
      node = created;
    }
  }
  node[last] = value;
}

/** Assigns an own field even for the key "__proto__", which JSON.parse can produce. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** ` (did you mean "x"?)` when one known name is within two edits of a mistyped one. */
function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

function configError(problems: ConfigProblem[], file: string): AppError {
  const lines = problems.map((found) => {
    if (found.path === undefined) return `  - ${found.message}`;
    const source = found.source === undefined ? '' : ` (${found.source})`;
    return `  - ${found.path}${source}: ${found.message}`;
  });
  return new AppError('invalid_argument', `invalid configuration:\n${lines.join('\n')}`, {
    hint: `fix the settings above; they come from flags, ${ENV_PREFIX}* variables and the config file ${file}`,
    details: { issues: problems, configFile: file },
  });
}

function readFileIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
