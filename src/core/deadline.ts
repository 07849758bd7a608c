// Bounds the time a promise may take, so that a silent peer (an engine that never answers) cannot hang a command.
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
