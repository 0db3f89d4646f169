import { describe, expect, it } from 'vitest';
import type { Route, RouteMatch, RouteTable, VirtualHost } from '../config/types.ts';
import { matchRoute, parseQuery, pathMatches, selectVirtualHost, stringMatches, type RouteRequest } from './route-table.ts';

const vh = (name: string, domains: string[], routes: Route[] = []): VirtualHost => ({ name, domains, routes });
const m = (over: Partial<RouteMatch> = {}): RouteMatch => ({ path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [], ...over });
const r = (name: string, match: RouteMatch): Route => ({ name, match, action: { kind: 'direct-response', status: 200 } });
const req = (path: string, headers: Record<string, string> = {}, authority = 'svc', method = 'GET'): RouteRequest => ({
  authority, path, method, scheme: 'http', header: (n) => headers[n],
});

describe('selectVirtualHost (Envoy domain rules)', () => {
  const table: RouteTable = {
    name: 't',
    virtualHosts: [
      vh('any', ['*']),
      vh('prefix', ['foo.*']),
      vh('suffix-short', ['*.com']),
      vh('suffix-long', ['*.example.com']),
      vh('exact', ['www.example.com', 'api.example.com:8080']),
    ],
  };
  it.each([
    ['www.example.com', 'exact'],
    ['WWW.Example.COM', 'exact'],
    ['api.example.com:8080', 'exact'],
    ['api.example.com', 'suffix-long'],
    ['www.example.com:9080', 'any'], // `*` matches with the port, so it is never stripped
    ['a.b.com', 'suffix-short'],
    ['foo.bar', 'prefix'],
    ['other', 'any'],
    ['.example.com', 'suffix-short'], // the wildcard needs at least one character
  ])('%s → %s', (authority, want) => {
    expect(selectVirtualHost(table, authority)?.name).toBe(want);
  });
  it('strips the port only when nothing matched', () => {
    const t: RouteTable = { name: 't', virtualHosts: [vh('exact', ['reviews']), vh('exact-port', ['reviews:9080'])] };
    expect(selectVirtualHost(t, 'reviews:9080')?.name).toBe('exact-port');
    expect(selectVirtualHost(t, 'reviews:1234')?.name).toBe('exact');
    expect(selectVirtualHost(t, '[::1]:80')).toBeUndefined();
    expect(selectVirtualHost({ name: 't', virtualHosts: [vh('v6', ['[::1]'])] }, '[::1]:80')?.name).toBe('v6');
  });
});

describe('path matching', () => {
  it.each([
    [{ kind: 'prefix', value: '/api' }, '/api/v1', true, true],
    [{ kind: 'prefix', value: '/api' }, '/apiv1', true, true],
    [{ kind: 'prefix', value: '/API' }, '/api', true, false],
    [{ kind: 'prefix', value: '/API' }, '/api', false, true],
    [{ kind: 'exact', value: '/a' }, '/a?x=1', true, true],
    [{ kind: 'exact', value: '/a' }, '/a/', true, false],
    [{ kind: 'exact', value: '/A' }, '/a', false, true],
    [{ kind: 'separated-prefix', value: '/foo' }, '/foo', true, true],
    [{ kind: 'separated-prefix', value: '/foo' }, '/foo/bar', true, true],
    [{ kind: 'separated-prefix', value: '/foo' }, '/foo?x', true, true],
    [{ kind: 'separated-prefix', value: '/foo' }, '/foobar', true, false],
    [{ kind: 'regex', value: '/v[0-9]+/items' }, '/v12/items?q=1', true, true],
    [{ kind: 'regex', value: '/v[0-9]+' }, '/v12/items', true, false], // full match
    [{ kind: 'regex', value: '(?=bad)' }, '/bad', true, false], // not RE2: never matches
  ] as const)('%j on %s (case sensitive %s) → %s', (pm, path, cs, want) => {
    expect(pathMatches(pm, path, cs)).toBe(want);
  });
});

describe('string matching', () => {
  it.each([
    [{ kind: 'exact', value: 'abc' }, 'abc', true],
    [{ kind: 'exact', value: 'ABC', ignoreCase: true }, 'abc', true],
    [{ kind: 'prefix', value: 'ab' }, 'abc', true],
    [{ kind: 'suffix', value: 'bc' }, 'abc', true],
    [{ kind: 'contains', value: 'b' }, 'abc', true],
    [{ kind: 'contains', value: 'B' }, 'abc', false],
    [{ kind: 'regex', value: 'a.c' }, 'abc', true],
    [{ kind: 'regex', value: 'a.c' }, 'xabc', false],
  ] as const)('%j vs %s → %s', (sm, v, want) => expect(stringMatches(sm, v)).toBe(want));
});

describe('matchRoute', () => {
  const table: RouteTable = {
    name: 't',
    virtualHosts: [
      vh('svc', ['*'], [
        r('header-v2', m({ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' }, invert: false }] })),
        r('not-canary', m({ path: { kind: 'prefix', value: '/c' }, headers: [{ name: 'x-canary', match: { kind: 'present' }, invert: true }] })),
        r('canary', m({ path: { kind: 'prefix', value: '/c' } })),
        r('method', m({ path: { kind: 'exact', value: '/m' }, headers: [{ name: ':method', match: { kind: 'exact', value: 'POST' }, invert: false }] })),
        r('query', m({ path: { kind: 'exact', value: '/q' }, queryParams: [{ name: 'debug', match: { kind: 'exact', value: 'on' } }] })),
        r('query-present', m({ path: { kind: 'exact', value: '/q' }, queryParams: [{ name: 'flag', match: { kind: 'present' } }] })),
        r('authority', m({ path: { kind: 'exact', value: '/h' }, headers: [{ name: ':authority', match: { kind: 'suffix', value: ':8080' }, invert: false }] })),
        r('fallback', m({ path: { kind: 'prefix', value: '/f' } })),
      ]),
    ],
  };
  it.each([
    [req('/any', { 'end-user': 'jason' }), 'header-v2'],
    [req('/c'), 'not-canary'],
    [req('/c', { 'x-canary': '' }), 'canary'],
    [req('/m', {}, 'svc', 'POST'), 'method'],
    [req('/m'), undefined],
    [req('/q?debug=on'), 'query'],
    [req('/q?debug=off&flag'), 'query-present'],
    [req('/q?x=%6Fn&debug=%6Fn'), 'query'],
    [req('/h', {}, 'svc:8080'), 'authority'],
    [req('/h'), undefined],
    [req('/fx'), 'fallback'],
    [req('/nothing'), undefined],
  ])('%# → %s', (rq, want) => expect(matchRoute(table, rq)?.route.name).toBe(want));

  it('no virtual host → no route', () => {
    expect(matchRoute({ name: 't', virtualHosts: [vh('only', ['a.b'], [r('x', m())])] }, req('/', {}, 'c.d'))).toBeUndefined();
  });
});

describe('parseQuery', () => {
  it('first value wins, decodes, keeps bad escapes', () => {
    expect([...parseQuery('/p?a=1&a=2&b=x+y&c=%zz&d#frag')]).toEqual([['a', '1'], ['b', 'x y'], ['c', '%zz'], ['d', '']]);
  });
});
