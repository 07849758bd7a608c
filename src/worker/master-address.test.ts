// The master addresses as people type them into --master-url (one, or a list), and the readable refusal of anything
// else.
import { describe, expect, it } from 'vitest';
import { AppError } from '../core/errors.js';
import { leaderReferral, parseMasterUrl, parseMasterUrls, sameMasters } from './master-address.js';

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

describe('parseMasterUrls', () => {
  it('reads one address as a list of one', () => {
    expect(parseMasterUrls('master.example:9090').map((master) => master.target)).toEqual([
      'master.example:9090',
    ]);
  });

  it('reads a comma-separated list in the order given, blanks and schemes allowed', () => {
    expect(
      parseMasterUrls(' m1.example:9090, https://10.0.0.2:9090/ ,[fd00::3]:9090').map(
        (master) => master.target,
      ),
    ).toEqual(['m1.example:9090', '10.0.0.2:9090', '[fd00::3]:9090']);
  });

  it('counts a repeated address once, where it first appears', () => {
    expect(parseMasterUrls('b:9090,a:9090,grpcs://b:9090').map((master) => master.target)).toEqual([
      'b:9090',
      'a:9090',
    ]);
  });

  it.each([
    ['an empty value', '', /no master address given/],
    ['only commas', ' , ', /no master address given/],
    ['an empty entry', 'a:9090,,b:9090', /"a:9090,,b:9090": address 2 is empty/],
    ['a trailing comma', 'a:9090,', /address 2 is empty/],
  ])('refuses %s with a hint', (_case, value, message) => {
    let caught: unknown;
    try {
      parseMasterUrls(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    expect((caught as AppError).code).toBe('invalid_argument');
    expect((caught as AppError).message).toMatch(message);
    expect((caught as AppError).hint).toMatch(/HOST:PORT|commas/);
  });

  it('names the invalid entry of a list', () => {
    expect(() => parseMasterUrls('a:9090,b')).toThrow('invalid master address "b"');
  });
});

describe('sameMasters', () => {
  it('accepts the same list, in any order, and a list that adds or drops a master', () => {
    const enrolled = ['a:9090', 'b:9090'];
    expect(sameMasters(enrolled, parseMasterUrls('a:9090,b:9090'))).toBe(true);
    expect(sameMasters(enrolled, parseMasterUrls('b:9090,a:9090'))).toBe(true);
    expect(sameMasters(enrolled, parseMasterUrls('a:9090,b:9090,c:9090'))).toBe(true);
    expect(sameMasters(enrolled, parseMasterUrls('https://b:9090'))).toBe(true);
  });

  it('refuses a list with no master in common', () => {
    expect(sameMasters(['a:9090', 'b:9090'], parseMasterUrls('c:9090,d:9090'))).toBe(false);
    expect(sameMasters(['a:9090'], parseMasterUrls('a:9091'))).toBe(false);
  });
});

describe('leaderReferral', () => {
  it('reads the leader a not_leader refusal names', () => {
    const refusal = new AppError(
      'unavailable',
      'this master does not lead; the leader is at [fd00::2]:9090',
      {
        reason: 'not_leader',
        details: { leader: '[fd00::2]:9090' },
      },
    );
    expect(leaderReferral(refusal)?.target).toBe('[fd00::2]:9090');
  });

  it('names nobody for a refusal without a leader, another failure or an address that does not parse', () => {
    expect(
      leaderReferral(new AppError('unavailable', 'no master leads right now', { reason: 'not_leader' })),
    ).toBe(undefined);
    expect(
      leaderReferral(new AppError('unavailable', 'connection refused', { details: { leader: 'a:9090' } })),
    ).toBeUndefined();
    expect(
      leaderReferral(
        new AppError('unavailable', 'x', { reason: 'not_leader', details: { leader: 'nonsense' } }),
      ),
    ).toBeUndefined();
  });
});
