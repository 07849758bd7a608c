// Unit tests of secret redaction: by field name, by NAME=value shape, Bearer tokens, and safe copying.
import { describe, expect, it } from 'vitest';

import { AppError } from '../core/errors.js';
import {
  isSecretName,
  redactInlineSecrets,
  redactSecrets,
  redactString,
  SECRET_NAME_PATTERN,
} from './redact.js';

describe('isSecretName', () => {
  it.each([
    'password',
    'DB_PASSWORD',
    'apiKey',
    'admin_token',
    'Authorization',
    'authorization',
    'clientSecret',
    'credentials',
    'X-Auth-Token',
  ])('treats %j as a secret', (name) => {
    expect(isSecretName(name)).toBe(true);
    expect(SECRET_NAME_PATTERN.test(name)).toBe(true);
  });

  it.each(['PATH', 'name', 'image', 'labels', 'host', 'ca_hash'])('treats %j as plain', (name) => {
    expect(isSecretName(name)).toBe(false);
  });
});

describe('redactSecrets', () => {
  it('replaces the value of every secret-named field, at any depth', () => {
    const redacted = redactSecrets({
      password: 'p',
      user: 'alice',
      nested: { apiKey: 'k', Authorization: 'Bearer abc', deeper: [{ clientSecret: { a: 1 } }] },
      headers: { authorization: 'Bearer xyz', accept: 'application/json' },
    });
    expect(redacted).toEqual({
      password: '[redacted]',
      user: 'alice',
      nested: { apiKey: '[redacted]', Authorization: '[redacted]', deeper: [{ clientSecret: '[redacted]' }] },
      headers: { authorization: '[redacted]', accept: 'application/json' },
    });
  });

  it('redacts secret NAME=value strings in lists and keeps the others', () => {
    expect(redactSecrets({ Env: ['DB_PASSWORD=hunter2', 'PATH=/bin', 'API_KEY=', 'MODE=a=b'] })).toEqual({
      Env: ['DB_PASSWORD=[redacted]', 'PATH=/bin', 'API_KEY=[redacted]', 'MODE=a=b'],
    });
  });

  it('redacts a plain string field of the form NAME=value', () => {
    expect(redactSecrets({ arg: '--password=hunter2', other: 'color=blue' })).toEqual({
      arg: '--password=[redacted]',
      other: 'color=blue',
    });
  });

  it('hides Bearer tokens inside any string', () => {
    expect(
      redactSecrets({ line: 'sent Authorization: Bearer abc.def-123= to the master', list: ['bearer zzz'] }),
    ).toEqual({ line: 'sent Authorization: Bearer [redacted] to the master', list: ['bearer [redacted]'] });
  });

  it('hides the password of a URL', () => {
    expect(redactString('pulling from https://bob:s3cret@registry.example/v2')).toBe(
      'pulling from https://bob:[redacted]@registry.example/v2',
    );
    expect(redactString('listening on http://0.0.0.0:8080/api')).toBe('listening on http://0.0.0.0:8080/api');
  });

  it('keeps numbers, booleans, null and undefined, and secret-named fields that hold nothing', () => {
    expect(redactSecrets({ count: 3, ok: true, none: null, token: null, password: undefined })).toEqual({
      count: 3,
      ok: true,
      none: null,
      token: null,
      password: undefined,
    });
    expect(redactSecrets(42)).toBe(42);
    expect(redactSecrets(null)).toBeNull();
  });

  it('redacts secret-named fields whatever the type of their value', () => {
    expect(redactSecrets({ pin_password: 1234, auth: { user: 'u', pass: 'p' }, has_token: true })).toEqual({
      pin_password: '[redacted]',
      auth: '[redacted]',
      has_token: '[redacted]',
    });
  });

  it('does not change its input', () => {
    const input = { password: 'p', env: ['TOKEN=t'], nested: { key: 'k', when: new Date(0) } };
    const before = structuredClone(input);
    redactSecrets(input);
    expect(input).toEqual(before);
  });

  it('copies a cyclic structure without recursing for ever', () => {
    const input: Record<string, unknown> = { name: 'a', token: 't' };
    input.self = input;
    input.list = [input];
    const redacted = redactSecrets(input);
    expect(redacted).not.toBe(input);
    expect(redacted.self).toBe(redacted);
    expect((redacted.list as unknown[])[0]).toBe(redacted);
    expect(redacted.token).toBe('[redacted]');
  });

  it('keeps an Error an Error with its message, stack, code and cause, redacted', () => {
    const cause = new Error('inner Bearer abc');
    const error = new AppError('unavailable', 'master refused Bearer xyz', {
      cause,
      details: { token: 't', id: 7 },
    });
    const redacted = redactSecrets(error);
    expect(redacted).toBeInstanceOf(AppError);
    expect(redacted).not.toBe(error);
    expect(redacted.message).toBe('master refused Bearer [redacted]');
    expect(redacted.stack).toContain('master refused Bearer [redacted]');
    expect(redacted.stack).not.toContain('xyz');
    expect(redacted.code).toBe('unavailable');
    expect(redacted.name).toBe('AppError');
    expect(redacted.details).toEqual({ token: '[redacted]', id: 7 });
    expect((redacted.cause as Error).message).toBe('inner Bearer [redacted]');
    expect(error.message).toBe('master refused Bearer xyz');
  });

  it('copies dates, maps and sets, redacting inside them', () => {
    const when = new Date(1_000);
    const redacted = redactSecrets({
      when,
      map: new Map<string, string>([
        ['token', 't'],
        ['name', 'n'],
      ]),
      set: new Set(['SECRET=s']),
    });
    expect(redacted.when).toEqual(when);
    expect(redacted.when).not.toBe(when);
    expect([...redacted.map]).toEqual([
      ['token', '[redacted]'],
      ['name', 'n'],
    ]);
    expect([...redacted.set]).toEqual(['SECRET=[redacted]']);
  });

  it('redacts what an object shows through toJSON', () => {
    const value = { toJSON: () => ({ adminToken: 'a', id: 1 }) };
    expect(redactSecrets({ value })).toEqual({ value: { adminToken: '[redacted]', id: 1 } });
  });

  it('keeps a "__proto__" key from parsed JSON as a plain field', () => {
    const redacted = redactSecrets(JSON.parse('{"__proto__": {"token": "t"}}') as object);
    expect(Object.getPrototypeOf(redacted)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(redacted, '__proto__')?.value).toEqual({ token: '[redacted]' });
  });
});

describe('redactInlineSecrets', () => {
  it('keeps a JSON line valid while hiding Bearer tokens and URL passwords in it', () => {
    const line = JSON.stringify({
      msg: 'Bearer abc\n"x"',
      url: 'http://u:p@h',
      port: 'http://h:1',
      mail: 'a@b',
    });
    const redacted = redactInlineSecrets(line);
    expect(JSON.parse(redacted)).toEqual({
      msg: 'Bearer [redacted]\n"x"',
      url: 'http://u:[redacted]@h',
      port: 'http://h:1',
      mail: 'a@b',
    });
  });

  it('leaves a NAME=value text alone, as it may be part of a longer line', () => {
    expect(redactInlineSecrets('{"a":"TOKEN=x"}')).toBe('{"a":"TOKEN=x"}');
  });
});
