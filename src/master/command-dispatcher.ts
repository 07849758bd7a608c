// Runs commands on workers over their control streams: one outstanding promise per command, settled by the
// worker's result, its session ending, a timeout or the caller's abort.
import { AppError, isErrorCode, isErrorReason } from '../core/errors.js';
import type {
  CommandArgs,
  CommandProgressReport,
  CommandResultOf,
  WorkerCommandKind,
  WorkerGateway,
} from '../core/worker-commands.js';
import { newId } from '../platform/secrets.js';
import type { WorkerRegistry, WorkerSession } from './worker-registry.js';

interface Pending {
  workerId: string;
  kind: string;
  session: WorkerSession;
  resolve: (value: unknown) => void;
  reject: (error: AppError) => void;
  onProgress?: (report: CommandProgressReport) => void;
  cleanup: () => void;
}

/** A command the master stopped waiting for (cancel, timeout) while the worker may still be running it. */
interface Abandoned {
  workerId: string;
  session: WorkerSession;
  /** Settles when the worker answers it after all, or can no longer (its session ended). */
  done: Promise<void>;
  finish: () => void;
}

/** Default time a command may take; transfers pass their own. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export class CommandDispatcher implements WorkerGateway {
  private readonly pending = new Map<string, Pending>();
  private readonly abandoned = new Map<string, Abandoned>();

  /**
   * `epoch` is the leader's term this dispatcher sends for: every command carries it, so a worker that has seen a
   * newer leader refuses it unrun (0, the default: a master without high availability). `onOutcome` counts finished
   * commands (the docker_migrate_docker_operations_total metric).
   */
  constructor(
    private readonly registry: WorkerRegistry,
    readonly epoch = 0,
    private readonly onOutcome?: (kind: string, outcome: 'ok' | 'error') => void,
  ) {}

  /** Commands still waiting for an answer (for metrics and tests). */
  get outstanding(): number {
    return this.pending.size;
  }

  run<K extends WorkerCommandKind>(
    workerId: string,
    kind: K,
    args: CommandArgs<K>,
    options: {
      timeoutMs?: number;
      signal?: AbortSignal;
      onProgress?: (report: CommandProgressReport) => void;
    } = {},
  ): Promise<CommandResultOf<K>> {
    const session = this.registry.session(workerId);
    const name = this.registry.get(workerId)?.name ?? workerId;
    if (!session) return Promise.reject(new AppError('unavailable', `worker "${name}" is offline`));
    if (options.signal?.aborted) return Promise.reject(new AppError('canceled', 'cancelled'));
    const id = newId('c');
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise<CommandResultOf<K>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.abandon(id)?.reject(
          new AppError('deadline_exceeded', `worker "${name}" did not finish ${kind} within ${timeoutMs} ms`),
        );
        session.cancelCommand(id);
      }, timeoutMs);
      const onAbort = (): void => {
        session.cancelCommand(id);
        this.abandon(id)?.reject(new AppError('canceled', `${kind} on worker "${name}" was cancelled`));
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        workerId,
        kind,
        session,
        resolve: resolve as (value: unknown) => void,
        reject,
        onProgress: options.onProgress,
        cleanup: () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
        },
      });
      try {
        session.sendCommand({
          id,
          kind,
          argsJson: JSON.stringify(args),
          deadlineMs: Date.now() + timeoutMs,
          epoch: this.epoch,
        });
      } catch (error) {
        this.settle(id)?.reject(
          new AppError(
            'unavailable',
            `cannot send ${kind} to worker "${name}": ${AppError.from(error).message}`,
          ),
        );
      }
    });
  }

  /**
   * Settles a command the caller no longer waits for, and remembers it until the worker answers: a stop already
   * under way on the worker still lands, and quiesce() lets a rollback wait for that before it looks.
   */
  private abandon(id: string): Pending | undefined {
    const pending = this.settle(id);
    if (!pending) return undefined;
    let finish = (): void => undefined;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    this.abandoned.set(id, { workerId: pending.workerId, session: pending.session, done, finish });
    return pending;
  }

  private forgetAbandoned(id: string): void {
    const abandoned = this.abandoned.get(id);
    if (!abandoned) return;
    this.abandoned.delete(id);
    abandoned.finish();
  }

  /**
   * Waits until the worker has answered every command the master stopped waiting for (or its session ended), at
   * most `timeoutMs`; answers whether it did. What the engine holds afterwards is the outcome of those commands.
   */
  async quiesce(workerId: string, timeoutMs: number): Promise<boolean> {
    const waiting = [...this.abandoned.values()].filter((a) => a.workerId === workerId).map((a) => a.done);
    if (waiting.length === 0) return true;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => {
        resolve(false);
      }, timeoutMs);
    });
    try {
      return await Promise.race([Promise.all(waiting).then(() => true), expired]);
    } finally {
      clearTimeout(timer);
    }
  }

  private settle(id: string): Pending | undefined {
    const pending = this.pending.get(id);
    if (!pending) return undefined;
    this.pending.delete(id);
    pending.cleanup();
    return pending;
  }

  /** A worker answered a command; answers from another worker than the one asked are ignored. */
  result(
    workerId: string,
    answer: {
      id: string;
      ok: boolean;
      resultJson: string;
      errorCode: string;
      errorMessage: string;
      /** Empty or absent from workers that predate it. */
      errorReason?: string;
      errorDetailsJson?: string;
    },
  ): void {
    if (this.abandoned.get(answer.id)?.workerId === workerId) this.forgetAbandoned(answer.id);
    const pending = this.pending.get(answer.id);
    if (pending?.workerId !== workerId) return;
    this.settle(answer.id);
    this.onOutcome?.(pending.kind, answer.ok ? 'ok' : 'error');
    if (answer.ok) {
      try {
        pending.resolve(answer.resultJson ? JSON.parse(answer.resultJson) : {});
      } catch {
        pending.reject(new AppError('internal', `worker sent an unreadable result for ${pending.kind}`));
      }
    } else {
      const code = isErrorCode(answer.errorCode) ? answer.errorCode : 'internal';
      const reason = answer.errorReason;
      const details = receivedDetails(answer.errorDetailsJson);
      pending.reject(
        new AppError(code, answer.errorMessage || `${pending.kind} failed on the worker`, {
          ...(reason !== undefined && isErrorReason(reason) ? { reason } : {}),
          ...(details ? { details } : {}),
        }),
      );
    }
  }

  progress(workerId: string, report: { id: string; bytes: number; totalBytes: number }): void {
    const pending = this.pending.get(report.id);
    if (pending?.workerId !== workerId) return;
    pending.onProgress?.({ bytes: report.bytes, totalBytes: report.totalBytes });
  }

  /** The session ended: its commands can no longer be answered. */
  sessionEnded(session: WorkerSession, reason: string): void {
    for (const [id, abandoned] of this.abandoned) if (abandoned.session === session) this.forgetAbandoned(id);
    for (const [id, pending] of this.pending) {
      if (pending.session !== session) continue;
      const name = this.registry.get(pending.workerId)?.name ?? pending.workerId;
      this.settle(id)?.reject(
        new AppError('unavailable', `lost worker "${name}" during ${pending.kind} (${reason})`),
      );
    }
  }

  /** Fails everything still outstanding (master shutdown). */
  closeAll(reason: string): void {
    for (const id of [...this.abandoned.keys()]) this.forgetAbandoned(id);
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new AppError('unavailable', reason));
  }
}

/** A worker's error details: a JSON object, or undefined when it sent none or something else. */
function receivedDetails(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined || json === '') return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
