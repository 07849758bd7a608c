// Bounds the time a promise may take, so that a silent peer (an engine that never answers) cannot hang a command;
// and waits that a cancel cuts short.
import { AppError } from './errors.js';

/** Resolves like `promise`, or rejects with `onTimeout()` (default: deadline_exceeded) after `ms`. */
export async function withDeadline<T>(
  promise: Promise<T>,
  ms: number,
  onTimeout?: () => AppError,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(onTimeout?.() ?? new AppError('deadline_exceeded', `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`, or fails with `canceled` (carrying `reason`) as soon as the signal aborts. */
export function abortableSleep(ms: number, signal: AbortSignal, reason = 'cancelled'): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(new AppError('canceled', reason));
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(new AppError('canceled', reason));
    }
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
