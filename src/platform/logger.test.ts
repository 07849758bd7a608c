// Unit tests of the logger: secrets never reach the output, levels filter, JSON or pretty as asked.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';

import { AppError } from '../core/errors.js';
import { createLogger } from './logger.js';
import type { LoggerOptions } from './logger.js';

/** A destination that keeps what was written, synchronously, as the logger writes it. */
function capture(isTTY?: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream: Writable & { isTTY?: boolean } = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  if (isTTY !== undefined) stream.isTTY = isTTY;
  return { stream, text: () => chunks.join('') };
}

function jsonLogger(options: Partial<LoggerOptions> = {}) {
  const out = capture();
  const logger = createLogger({ level: 'info', format: 'json', destination: out.stream, ...options });
  const lines = (): Record<string, unknown>[] =>
    out
      .text()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, text: out.text, lines };
}

const SECRETS = {
  password: 'p',
  nested: { apiKey: 'k', Authorization: 'Bearer abc' },
  env: ['DB_PASSWORD=hunter2', 'PATH=/bin'],
  headers: { authorization: 'Bearer xyz' },
};

describe('createLogger', () => {
  it('redacts every secret of a logged object and keeps the other fields', () => {
    const { logger, text, lines } = jsonLogger();
    logger.info({ ...SECRETS, container: 'web' }, 'started');
    expect(lines()).toEqual([
      expect.objectContaining({
        msg: 'started',
        container: 'web',
        password: '[redacted]',
        nested: { apiKey: '[redacted]', Authorization: '[redacted]' },
        env: ['DB_PASSWORD=[redacted]', 'PATH=/bin'],
        headers: { authorization: '[redacted]' },
      }),
    ]);
    for (const secret of ['hunter2', 'abc', 'xyz', '"p"', '"k"']) expect(text()).not.toContain(secret);
  });

  it('does not change the object it logs', () => {
    const { logger } = jsonLogger();
    const logged = structuredClone(SECRETS);
    logger.info(logged, 'started');
    expect(logged).toEqual(SECRETS);
  });

  it('redacts the bindings of child loggers at every depth', () => {
    const { logger, text, lines } = jsonLogger();
    const child = logger.child({ worker: 'w1', token: 'tok-1' });
    child.child({ headers: { authorization: 'Bearer tok-2' } }).info('grandchild');
    child.setBindings({ apiKey: 'tok-3' });
    child.info('child');
    expect(lines()).toEqual([
      expect.objectContaining({
        worker: 'w1',
        token: '[redacted]',
        headers: { authorization: '[redacted]' },
      }),
      expect.objectContaining({ worker: 'w1', token: '[redacted]', apiKey: '[redacted]', msg: 'child' }),
    ]);
    expect(text()).not.toMatch(/tok-\d/);
  });

  it('redacts secrets in message strings and their arguments', () => {
    const { logger, text, lines } = jsonLogger();
    logger.info('calling with Bearer abc');
    logger.info('header was %s', 'Bearer xyz');
    logger.info('DB_PASSWORD=hunter2');
    expect(lines().map((line) => line.msg)).toEqual([
      'calling with Bearer [redacted]',
      'header was Bearer [redacted]',
      'DB_PASSWORD=[redacted]',
    ]);
    expect(text()).not.toMatch(/abc|xyz|hunter2/);
  });

  it("keeps pino's err serializer: message, stack, type and code", () => {
    const { logger, lines } = jsonLogger();
    const error = new AppError('unavailable', 'engine is down', { cause: new Error('connect ECONNREFUSED') });
    logger.error({ err: error }, 'inventory failed');
    const [line] = lines();
    expect(line).toMatchObject({ msg: 'inventory failed', err: { type: 'AppError', code: 'unavailable' } });
    const err = line?.err as { message: string; stack: string };
    expect(err.message).toBe('engine is down: connect ECONNREFUSED');
    expect(err.stack).toContain('AppError: engine is down');
    expect(err.stack).toContain('caused by: Error: connect ECONNREFUSED');
  });

  it('redacts a token in the message pino takes from a logged Error', () => {
    const { logger, text, lines } = jsonLogger();
    logger.error(new Error('rejected Bearer abc'));
    expect(lines()[0]).toMatchObject({ msg: 'rejected Bearer [redacted]' });
    expect(text()).not.toContain('abc');
  });

  it('writes only lines at or above the level', () => {
    const { logger, lines } = jsonLogger({ level: 'warn' });
    logger.debug('d');
    logger.info('i');
    logger.warn('w');
    logger.error('e');
    expect(lines().map((line) => line.msg)).toEqual(['w', 'e']);
  });

  it('writes nothing when silent', () => {
    const { logger, text } = jsonLogger({ level: 'silent' });
    logger.fatal('f');
    expect(text()).toBe('');
  });

  it('rejects an unknown level with the levels it accepts', () => {
    expect(() => createLogger({ level: 'verbose', format: 'json', destination: capture().stream })).toThrow(
      expect.objectContaining({ code: 'invalid_argument', message: 'unknown log level "verbose"' }) as Error,
    );
  });

  it('names the logger and stamps an ISO time', () => {
    const { logger, lines } = jsonLogger({ name: 'master' });
    logger.info('up');
    const [line] = lines();
    expect(line).toMatchObject({ name: 'master', level: 30 });
    expect(line?.time).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('writes readable text, redacted, when the format is pretty', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', format: 'pretty', destination: out.stream });
    logger.info(SECRETS, 'started');
    expect(out.text()).toMatch(/INFO.*started/);
    expect(out.text()).toContain('[redacted]');
    expect(out.text()).not.toMatch(/hunter2|abc|xyz/);
    expect(() => JSON.parse(out.text()) as unknown).toThrow();
  });

  it('chooses pretty text on a terminal and JSON elsewhere when the format is auto', () => {
    const terminal = capture(true);
    createLogger({ level: 'info', format: 'auto', destination: terminal.stream }).info('hello');
    expect(terminal.text()).toMatch(/INFO.*hello/);

    const pipe = capture(false);
    createLogger({ level: 'info', format: 'auto', destination: pipe.stream }).info('hello');
    expect(JSON.parse(pipe.text())).toMatchObject({ msg: 'hello' });

    const forced = capture(false);
    createLogger({ level: 'info', format: 'auto', destination: forced.stream, isTty: true }).info('hello');
    expect(forced.text()).toMatch(/INFO.*hello/);
  });
});
