// Durations as people write them in flags, env and config files ("30s", "5m", "1h30m") and back again.
import { AppError } from '../core/errors.js';

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** One `<number><unit>` part of a Go-style duration; `ms` comes before `m` so the longer unit wins. */
const PART = /(\d+(?:\.\d*)?|\.\d+)(ms|h|m|s)/.source;

const ACCEPTED = 'use a number of milliseconds or a value like "30s", "5m", "1h30m"';

/**
 * Parses a duration into milliseconds. Timeouts and intervals come from people (flags, env, JSON), so both a
 * plain millisecond count and Go-style strings such as "1m30s" or "1.5s" are accepted; anything else is rejected
 * with a message that says what would have been accepted.
 */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    throw invalidDuration(String(input));
  }
  const text = input.trim();
  if (/^\d+$/.test(text)) return checkedMs(Number(text), input);
  if (text === '') throw invalidDuration(JSON.stringify(input));

  let total = 0;
  const part = new RegExp(PART, 'y');
  while (part.lastIndex < text.length) {
    const match = part.exec(text);
    if (match === null) throw invalidDuration(JSON.stringify(input));
    const [, amount = '', unit = ''] = match;
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return checkedMs(Math.round(total), input);
}

function checkedMs(ms: number, input: string): number {
  if (!Number.isSafeInteger(ms)) throw invalidDuration(JSON.stringify(input));
  return ms;
}

function invalidDuration(shown: string): AppError {
  return new AppError('invalid_argument', `invalid duration ${shown}: ${ACCEPTED}`, {
    hint: 'durations are a number of milliseconds or numbers with units ms, s, m, h (e.g. "1m30s")',
  });
}
