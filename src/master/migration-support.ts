// Small helpers the migration runner and its rollback share: a wait, readable errors, short ids.
import { AppError } from '../core/errors.js';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function message(error: unknown): string {
  return AppError.from(error).message;
}

/** An id as people read it: 12 hex digits, without "sha256:". */
export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}
