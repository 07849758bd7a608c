// The CLI's REST client of the master: bearer auth, the API's JSON shapes, and every failure (an error answer, an
// unreachable master, a slow one) turned into an AppError a person can read.
import type {
  DryRunJson,
  FindingJson,
  MigrationEventJson,
  MigrationJson as MigrationAnswer,
  MigrationListJson,
  MigrationListQuery as MigrationListParams,
  MigrationRequestBody,
  MigrationStatus,
  ReverseRequestBody,
  WorkerJson,
} from '../contract/index.js';
import { AppError, ERROR_CODES, type ErrorCode } from '../core/errors.js';

export type {
  DryRunJson,
  MigrationEventJson,
  ResourceJson as MigrationResourceJson,
} from '../contract/index.js';

/** The fields of GET /api/workers the CLI reads. */
export type WorkerRef = Pick<WorkerJson, 'id' | 'name' | 'status'>;

/** Body of POST /api/migrations, as the CLI sends it: every choice spelled out (`dry_run` is set per call). */
export type MigrationRequestJson = MigrationRequestBody &
  Required<
    Pick<
      MigrationRequestBody,
      | 'container_ids'
      | 'image_ids'
      | 'volume_names'
      | 'network_ids'
      | 'compose_projects'
      | 'mode'
      | 'strategy'
      | 'transfer_mode'
      | 'conflict_policy'
      | 'source_policy'
      | 'bind_mounts'
      | 'acknowledge'
      | 'dry_run'
    >
  >;

/** Body of POST /api/migrations/:id/reverse, as the CLI sends it (`dry_run` is set per call). */
export type ReverseRequestJson = Omit<ReverseRequestBody, 'dry_run'>;

/** Fields older masters did not send, which the CLI does without. */
type NewerFields = 'mode' | 'strategy' | 'rounds' | 'downtime_phases' | 'cancel_requested';

/** A migration as the client returns it: the lists an answer may leave out (findings, events) filled in as empty. */
export type MigrationJson = Omit<MigrationAnswer, NewerFields> &
  Partial<Pick<MigrationAnswer, NewerFields>> & { findings: FindingJson[]; events: MigrationEventJson[] };

/** The options of GET /api/migrations: the statuses as a list, joined with commas on the wire. */
export type MigrationListQuery = Omit<MigrationListParams, 'status'> & {
  status?: readonly MigrationStatus[];
};

/** GET /api/migrations: newest first, without events; `next_before` pages back, null on the last page. */
export type MigrationPageJson = Omit<MigrationListJson, 'migrations'> & { migrations: MigrationJson[] };

export interface MasterClientOptions {
  /** The master's HTTP address, e.g. http://master-host:8080 (a path prefix is kept, for a reverse proxy). */
  baseUrl: string;
  token: string;
  /** For tests; the global fetch of Node otherwise. */
  fetch?: typeof fetch;
  /** How long one request may take before the master is called unresponsive. */
  timeoutMs?: number;
}

export interface MasterClient {
  readonly baseUrl: string;
  listWorkers(signal?: AbortSignal): Promise<WorkerRef[]>;
  /** Starts a migration (`dry_run` false): the master answers 201 with the new migration. */
  startMigration(body: MigrationRequestJson, signal?: AbortSignal): Promise<MigrationJson>;
  /** Plans one without running it (`dry_run` true). */
  planMigration(body: MigrationRequestJson, signal?: AbortSignal): Promise<DryRunJson>;
  listMigrations(query?: MigrationListQuery, signal?: AbortSignal): Promise<MigrationPageJson>;
  getMigration(id: string, signal?: AbortSignal): Promise<MigrationJson>;
  cancelMigration(id: string, signal?: AbortSignal): Promise<MigrationJson>;
  /** Starts the move back of a completed migration: the master answers 201 with the new migration. */
  reverseMigration(id: string, body: ReverseRequestJson, signal?: AbortSignal): Promise<MigrationJson>;
  /** Plans a move back without running it. */
  planReverse(id: string, body: ReverseRequestJson, signal?: AbortSignal): Promise<DryRunJson>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** Creating a migration runs preflight on both workers (inspecting, sizing volumes), so it may take longer. */
const CREATE_TIMEOUT_FACTOR = 4;

/** Used when an error answer has no JSON body with a code (a proxy in between, an old master). */
const CODE_BY_STATUS: Readonly<Record<number, ErrorCode>> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'conflict',
  412: 'failed_precondition',
  499: 'canceled',
  503: 'unavailable',
  504: 'deadline_exceeded',
};

const TOKEN_HINT =
  'pass the admin token the master printed on its first start with --admin-token or DOCKER_MIGRATE_ADMIN_TOKEN';

/** Normalises a --master-url: a scheme is required so that http and https are never guessed. */
export function parseMasterUrl(text: string): URL {
  const trimmed = text.trim();
  let url: URL | undefined;
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      url = new URL(trimmed);
    } catch {
      url = undefined;
    }
  }
  if (url === undefined || url.search !== '' || url.hash !== '') {
    throw new AppError('invalid_argument', `invalid master URL "${trimmed}"`, {
      hint: "use the master's HTTP address with its scheme, e.g. http://master-host:8080",
    });
  }
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  return url;
}

export function createMasterClient(options: MasterClientOptions): MasterClient {
  const base = parseMasterUrl(options.baseUrl);
  const baseUrl = base.href.replace(/\/$/, '');
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function request(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    init: { body?: unknown; signal?: AbortSignal | undefined; timeoutMs?: number },
  ): Promise<Record<string, unknown>> {
    const url = new URL(path, base);
    const timeout = AbortSignal.timeout(init.timeoutMs ?? timeoutMs);
    const signal = init.signal === undefined ? timeout : AbortSignal.any([init.signal, timeout]);
    const headers: Record<string, string> = {
      authorization: `Bearer ${options.token}`,
      accept: 'application/json',
    };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method,
        headers,
        body: init.body === undefined ? null : JSON.stringify(init.body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      throw transportError(error, baseUrl, what, init.signal, timeout);
    }
    const body = parseJson(text);
    if (!response.ok) throw answerError(response, body, what, baseUrl);
    if (!isRecord(body)) {
      throw new AppError('internal', `${what}: the master answered with something other than a JSON object`, {
        hint: `is ${baseUrl} the master's HTTP address?`,
        details: { status: response.status },
      });
    }
    return body;
  }

  function migrationOf(body: Record<string, unknown>, what: string): MigrationJson {
    const migration = body.migration;
    if (!isRecord(migration) || typeof migration.id !== 'string' || typeof migration.status !== 'string') {
      throw unexpectedAnswer(what, 'migration');
    }
    const withLists = { resources: [], findings: [], events: [], ...migration };
    return withLists as unknown as MigrationJson;
  }

  return {
    baseUrl,

    async listWorkers(signal) {
      const what = 'cannot list the workers';
      const body = await request('GET', 'api/workers', what, { signal });
      if (!Array.isArray(body.workers)) throw unexpectedAnswer(what, 'workers');
      return body.workers as WorkerRef[];
    },

    async startMigration(body, signal) {
      const what = 'cannot start the migration';
      const answer = await request('POST', 'api/migrations', what, {
        body: { ...body, dry_run: false },
        signal,
        timeoutMs: timeoutMs * CREATE_TIMEOUT_FACTOR,
      });
      return migrationOf(answer, what);
    },

    async planMigration(body, signal) {
      const what = 'cannot plan the migration';
      const answer = await request('POST', 'api/migrations', what, {
        body: { ...body, dry_run: true },
        signal,
        timeoutMs: timeoutMs * CREATE_TIMEOUT_FACTOR,
      });
      return dryRunOf(answer, what);
    },

    async reverseMigration(id, body, signal) {
      const what = `cannot move migration ${id} back`;
      const answer = await request('POST', `api/migrations/${encodeURIComponent(id)}/reverse`, what, {
        body: { ...body, dry_run: false },
        signal,
        timeoutMs: timeoutMs * CREATE_TIMEOUT_FACTOR,
      });
      return migrationOf(answer, what);
    },

    async planReverse(id, body, signal) {
      const what = `cannot plan the move back of migration ${id}`;
      const answer = await request('POST', `api/migrations/${encodeURIComponent(id)}/reverse`, what, {
        body: { ...body, dry_run: true },
        signal,
        timeoutMs: timeoutMs * CREATE_TIMEOUT_FACTOR,
      });
      return dryRunOf(answer, what);
    },

    async listMigrations(query = {}, signal) {
      const what = 'cannot list the migrations';
      const params = new URLSearchParams();
      if (query.limit !== undefined) params.set('limit', String(query.limit));
      if (query.before !== undefined) params.set('before', query.before);
      if (query.status !== undefined && query.status.length > 0) params.set('status', query.status.join(','));
      const search = params.size > 0 ? `?${params.toString()}` : '';
      const answer = await request('GET', `api/migrations${search}`, what, { signal });
      if (!Array.isArray(answer.migrations)) throw unexpectedAnswer(what, 'migrations');
      const migrations = answer.migrations.map((item: unknown) => migrationOf({ migration: item }, what));
      const next = typeof answer.next_before === 'string' ? answer.next_before : null;
      return { migrations, next_before: next };
    },

    async getMigration(id, signal) {
      const what = `cannot read migration ${id}`;
      return migrationOf(
        await request('GET', `api/migrations/${encodeURIComponent(id)}`, what, { signal }),
        what,
      );
    },

    async cancelMigration(id, signal) {
      const what = `cannot cancel migration ${id}`;
      const path = `api/migrations/${encodeURIComponent(id)}/cancel`;
      return migrationOf(await request('POST', path, what, { body: {}, signal }), what);
    },
  };
}

/** A dry run's answer, with the lists an older master may leave out filled in. */
function dryRunOf(answer: Record<string, unknown>, what: string): DryRunJson {
  if (!isRecord(answer.plan) || typeof answer.blocked !== 'boolean') throw unexpectedAnswer(what, 'plan');
  const plan = { resources: [], findings: [], total_bytes: 0, ...answer.plan };
  return { findings: [], ...answer, plan } as unknown as DryRunJson;
}

/** An error answer of the API ({"error":{"code","message","details"}}) as an AppError with the master's words. */
function answerError(response: Response, body: unknown, what: string, baseUrl: string): AppError {
  const error = isRecord(body) && isRecord(body.error) ? body.error : undefined;
  const sentCode = error?.code;
  const sentMessage = error?.message;
  const known = typeof sentCode === 'string' && (ERROR_CODES as readonly string[]).includes(sentCode);
  const code: ErrorCode = known ? (sentCode as ErrorCode) : statusCode(response.status);
  const reason =
    typeof sentMessage === 'string' && sentMessage !== ''
      ? sentMessage
      : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  const details: Record<string, unknown> = { status: response.status };
  if (isRecord(error?.details)) details.details = error.details;
  // An answer that already says where to look (near names, the worker that holds it) needs no guess of ours.
  const guided = isRecord(error?.details) && ('suggestions' in error.details || 'found_on' in error.details);
  const hint = guided ? undefined : hintFor(code, response.status, baseUrl);
  return new AppError(code, `${what}: ${reason}`, { ...(hint === undefined ? {} : { hint }), details });
}

function statusCode(status: number): ErrorCode {
  return CODE_BY_STATUS[status] ?? (status >= 500 ? 'internal' : 'invalid_argument');
}

function hintFor(code: ErrorCode, status: number, baseUrl: string): string | undefined {
  switch (code) {
    case 'unauthenticated':
    case 'permission_denied':
      return TOKEN_HINT;
    case 'not_found':
      return status === 404 ? `is ${baseUrl} the master that knows it?` : undefined;
    case 'internal':
      return "the master failed to answer; its log says why (this CLI's --debug shows only the client's side)";
    case 'unavailable':
    case 'deadline_exceeded':
      return 'the master or a worker is busy or unreachable; try again in a moment';
    case 'invalid_argument':
    case 'conflict':
    case 'failed_precondition':
    case 'canceled':
      return undefined;
  }
}

/**
 * Node's fetch (undici) rejects with TypeError("fetch failed") and the socket error as its cause; the cause's code
 * says whether nothing listens, the name does not resolve, or the peer hung up (e.g. a TLS or gRPC port).
 */
function transportError(
  error: unknown,
  baseUrl: string,
  what: string,
  callerSignal: AbortSignal | undefined,
  timeout: AbortSignal,
): AppError {
  if (callerSignal?.aborted === true) {
    return new AppError('canceled', `${what}: stopped`, { cause: error });
  }
  const hint =
    "is the master running? --master-url (or DOCKER_MIGRATE_API_URL) is its HTTP address, e.g. http://master-host:8080, not the workers' gRPC port";
  if (timeout.aborted) {
    return new AppError('deadline_exceeded', `${what}: the master at ${baseUrl} did not answer in time`, {
      hint,
      cause: error,
    });
  }
  const code = socketErrorCode(error);
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'the host name cannot be resolved right now',
    ECONNRESET: 'the connection was reset',
    EHOSTUNREACH: 'no route to host',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_SOCKET: 'the connection was closed before an answer',
    CERT_HAS_EXPIRED: "the master's certificate has expired",
    DEPTH_ZERO_SELF_SIGNED_CERT: "the master's certificate is self-signed",
  };
  const reason =
    (code === undefined ? undefined : reasons[code]) ?? causeMessage(error) ?? 'the request failed';
  return new AppError('unavailable', `cannot reach the master at ${baseUrl}: ${reason}`, {
    hint,
    cause: error,
  });
}

function socketErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && isRecord(current); depth++) {
    if (typeof current.code === 'string') return current.code;
    current = current.cause;
  }
  return undefined;
}

function causeMessage(error: unknown): string | undefined {
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message !== '') return cause.message;
  return error instanceof Error && error.message !== '' ? error.message : undefined;
}

function unexpectedAnswer(what: string, field: string): AppError {
  return new AppError('internal', `${what}: the master's answer has no valid "${field}"`, {
    hint: 'are this CLI and the master the same version? (docker-migrate version)',
  });
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
