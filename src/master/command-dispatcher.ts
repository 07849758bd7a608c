// Runs commands on workers over their control streams: one outstanding promise per command, settled by the
// worker's result, its session ending, a timeout or the caller's abort.
import { AppError, isErrorCode } from '../core/errors.js';
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

/** Default time a command may take; transfers pass their own. */
const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export class CommandDispatcher implements WorkerGateway {
  private readonly pending = new Map<string, Pending>();

  /** `onOutcome` counts finished commands (the docker_migrate_docker_operations_total metric). */
  constructor(
    private readonly registry: WorkerRegistry,
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
        this.settle(id)?.reject(
          new AppError('deadline_exceeded', `worker "${name}" did not finish ${kind} within ${timeoutMs} ms`),
        );
        session.cancelCommand(id);
      }, timeoutMs);
      const onAbort = (): void => {
        session.cancelCommand(id);
        this.settle(id)?.reject(new AppError('canceled', `${kind} on worker "${name}" was cancelled`));
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
        session.sendCommand({ id, kind, argsJson: JSON.stringify(args), deadlineMs: Date.now() + timeoutMs });
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
    answer: { id: string; ok: boolean; resultJson: string; errorCode: string; errorMessage: string },
  ): void {
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
      pending.reject(new AppError(code, answer.errorMessage || `${pending.kind} failed on the worker`));
    }
  }

  progress(workerId: string, report: { id: string; bytes: number; totalBytes: number }): void {
    const pending = this.pending.get(report.id);
    if (pending?.workerId !== workerId) return;
    pending.onProgress?.({ bytes: report.bytes, totalBytes: report.totalBytes });
  }

  /** The session ended: its commands can no longer be answered. */
  sessionEnded(session: WorkerSession, reason: string): void {
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
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(new AppError('unavailable', reason));
  }
}
