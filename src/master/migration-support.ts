// Small helpers the migration runner and its rollback share: waits, readable errors, short ids.
import { AppError } from '../core/errors.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits `ms`, or fails with `canceled` as soon as the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AppError('canceled', 'cancelled by the user'));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(new AppError('canceled', 'cancelled by the user'));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function message(error: unknown): string {
  return AppError.from(error).message;
}

/** An id as people read it: 12 hex digits, without "sha256:". */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
