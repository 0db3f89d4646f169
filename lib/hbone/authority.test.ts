import { describe, expect, it } from 'vitest';
import { authorityToString, formatAuthority, parseAuthority } from './authority.ts';

describe('parseAuthority', () => {
  it.each([
    ['10.0.0.1:8080', { kind: 'ip', ip: '10.0.0.1', port: 8080, family: 4 }],
    ['[fd00::1]:80', { kind: 'ip', ip: 'fd00::1', port: 80, family: 6 }],
    ['[::ffff:10.0.0.1]:65535', { kind: 'ip', ip: '::ffff:10.0.0.1', port: 65535, family: 6 }],
    ['reviews.default.svc.cluster.local:9080', { kind: 'hostname', hostname: 'reviews.default.svc.cluster.local', port: 9080 }],
  ])('%s', (text, want) => {
    expect(parseAuthority(text)).toEqual({ kind: 'ok', authority: want });
  });

  it.each([
    ['10.0.0.1', 'no port'],
    ['10.0.0.1:', 'empty port'],
    ['10.0.0.1:0', 'port 0'],
    ['10.0.0.1:65536', 'port too large'],
    ['10.0.0.1:80a', 'port not numeric'],
    ['10.0.0.1:+80', 'signed port'],
    ['fd00::1:80', 'unbracketed IPv6'],
    ['[fd00::1]80', 'missing colon'],
    ['[fd00::1]', 'bracketed without port'],
    ['[10.0.0.1]:80', 'IPv4 in brackets'],
    ['[fe80::1%eth0]:80', 'zone id'],
    ['999.0.0.1:80', 'bad IPv4'],
    ['under_score.example:80', 'invalid hostname'],
    [':80', 'empty host'],
    ['', 'empty'],
  ])('rejects %s (%s)', (text) => {
    expect(parseAuthority(text).kind).toBe('error');
  });

  it('formats with brackets for IPv6 only', () => {
    expect(formatAuthority('10.0.0.1', 80)).toBe('10.0.0.1:80');
    expect(formatAuthority('fd00::1', 80)).toBe('[fd00::1]:80');
    expect(authorityToString({ kind: 'ip', ip: 'fd00::1', port: 1, family: 6 })).toBe('[fd00::1]:1');
    expect(authorityToString({ kind: 'hostname', hostname: 'a.b', port: 2 })).toBe('a.b:2');
  });
});
