// Removes secrets (tokens, passwords, credentials in env lists and headers) from anything about to be logged or shown.
// Works on a copy, by field name and by value shape, so that callers need not know where secrets hide.

/** Field names that hold secrets: `adminToken`, `DB_PASSWORD`, `apiKey`, `Authorization`, `credentials`… */
export const SECRET_NAME_PATTERN = /PASSWORD|SECRET|KEY|TOKEN|CREDENTIAL|AUTH/i;

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

/** A whole string of the form `NAME=value`, as in a container's Env list or a `--password=x` argument. */
const ASSIGNMENT = /^([^=\s]+)=[\s\S]*$/;

/** `Bearer <token>` anywhere in a string; the token is RFC 6750's b64token, so quotes and punctuation end it. */
const BEARER = /\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi;

/** The password of `scheme://user:password@host`; quotes and backslashes end it so JSON text stays valid. */
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"'\\]*:)[^\s/@"'\\]+@/gi;

/**
 * True when a field or variable of this name holds a secret. One definition, so that logs, error details and
 * displayed container settings agree on what is hidden.
 */
export function isSecretName(name: string): boolean {
  return SECRET_NAME_PATTERN.test(name);
}

/**
 * Hides the secrets a lone string can carry: the value of a secret `NAME=value`, Bearer tokens and URL passwords.
 * Exported for text that never passes through an object, such as a log message.
 */
export function redactString(text: string): string {
  const assignment = ASSIGNMENT.exec(text);
  if (assignment?.[1] !== undefined && isSecretName(assignment[1])) return `${assignment[1]}=${REDACTED}`;
  return redactInlineSecrets(text);
}

/**
 * Hides only the secrets recognisable inside a longer text (Bearer tokens, URL passwords), keeping the text's
 * structure: safe on a finished JSON log line, where redactString's `NAME=value` rule would cut the line.
 */
export function redactInlineSecrets(text: string): string {
  return text.replace(BEARER, `$1 ${REDACTED}`).replace(URL_PASSWORD, `$1${REDACTED}@`);
}

/**
 * Returns a deep copy of `value` with secrets replaced by "[redacted]": values of secret-named fields, secret
 * `NAME=value` strings, Bearer tokens and URL passwords. The input is never changed, cycles are kept as cycles,
 * and Errors stay Errors (same prototype, message, stack, code, cause) so pino's err serializer still works.
 * Class instances become plain objects of their own fields (or of their `toJSON()`), which is what a log shows.
 * A secret-named field that is null or undefined is kept: it shows that no secret was set, and reveals nothing.
 */
export function redactSecrets<T>(value: T): T {
  return redactValue(value, new WeakMap()) as T;
}

function redactValue(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (value instanceof Date) return new Date(value.getTime());
  if (value instanceof Error) return redactError(value, seen);
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(redactValue(item, seen));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [key, item] of value as Map<unknown, unknown>) {
      copy.set(key, typeof key === 'string' ? redactField(key, item, seen) : redactValue(item, seen));
    }
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set<unknown>();
    seen.set(value, copy);
    for (const item of value as Set<unknown>) copy.add(redactValue(item, seen));
    return copy;
  }
  if (hasToJson(value)) {
    // Marked before the call: a toJSON() that returns its own object again must not recurse for ever.
    seen.set(value, '[Circular]');
    const copy = redactValue(value.toJSON(), seen);
    seen.set(value, copy);
    return copy;
  }
  const copy: Record<string, unknown> = {};
  seen.set(value, copy);
  copyFields(value, copy, seen);
  return copy;
}

function redactField(name: string, value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (isSecretName(name) && value !== null && value !== undefined) return REDACTED;
  return redactValue(value, seen);
}

function copyFields(from: object, to: object, seen: WeakMap<object, unknown>): void {
  for (const [name, item] of Object.entries(from)) {
    // defineProperty rather than assignment: a "__proto__" key from parsed JSON must stay a plain field.
    Object.defineProperty(to, name, {
      value: redactField(name, item, seen),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}

/** Copies an Error keeping its prototype, so `instanceof`, `constructor.name` and pino's err serializer still work. */
function redactError(error: Error, seen: WeakMap<object, unknown>): Error {
  const copy = Object.create(Object.getPrototypeOf(error) as object | null) as Error;
  seen.set(error, copy);
  const hidden = (name: string, item: unknown): void => {
    Object.defineProperty(copy, name, { value: item, enumerable: false, writable: true, configurable: true });
  };
  hidden('message', redactString(error.message));
  if (error.stack !== undefined) hidden('stack', redactString(error.stack));
  if ('cause' in error) hidden('cause', redactValue(error.cause, seen));
  if (error instanceof AggregateError) hidden('errors', redactValue(error.errors, seen));
  copyFields(error, copy, seen);
  return copy;
}

function hasToJson(value: object): value is { toJSON: () => unknown } {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
