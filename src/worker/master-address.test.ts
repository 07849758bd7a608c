// The master address as people type it into --master-url, and the readable refusal of anything else.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { parseMasterUrl } from './master-address.js';

describe('parseMasterUrl', () => {
  it('reads host:port', () => {
    expect(parseMasterUrl('master.example:9090')).toEqual({
      host: 'master.example',
      port: 9090,
      target: 'master.example:9090',
    });
  });

  it('accepts a URL scheme, a trailing slash and surrounding blanks', () => {
    const expected = { host: 'master.example', port: 9090, target: 'master.example:9090' };
    expect(parseMasterUrl('https://master.example:9090/')).toEqual(expected);
    expect(parseMasterUrl('grpcs://master.example:9090')).toEqual(expected);
    expect(parseMasterUrl('  tcp://master.example:9090//  ')).toEqual(expected);
  });

  it('reads an IPv4 address', () => {
    expect(parseMasterUrl('10.0.0.7:443')).toEqual({ host: '10.0.0.7', port: 443, target: '10.0.0.7:443' });
  });

  it('reads a bracketed IPv6 address and dials it in brackets', () => {
    expect(parseMasterUrl('[::1]:9090')).toEqual({ host: '::1', port: 9090, target: '[::1]:9090' });
    expect(parseMasterUrl('https://[fd00::5]:9090/')).toEqual({
      host: 'fd00::5',
      port: 9090,
      target: '[fd00::5]:9090',
    });
  });

  it.each([
    ['no port', 'master.example'],
    ['no host', ':9090'],
    ['an empty value', ''],
    ['port 0', 'master.example:0'],
    ['a port above 65535', 'master.example:65536'],
    ['a port that is not a number', 'master.example:http'],
    ['a path', 'https://master.example:9090/api'],
    ['an IPv6 address without brackets', '::1:9090'],
  ])('refuses %s with a hint', (_case, value) => {
    let caught: unknown;
    try {
      parseMasterUrl(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const error = caught as AppError;
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toContain(`"${value}"`);
    expect(error.hint).toMatch(/HOST:PORT/);
  });
});
