import { describe, expect, it } from 'vitest';
import type { PathMatch, RouteAction } from '../config/types.ts';
import { prefixRewrite, redirectLocation, rewritePath } from './path-rewrite.ts';
import { regexReplaceAll } from './regex.ts';

const prefix = (value: string): PathMatch => ({ kind: 'prefix', value });
type Redirect = Extract<RouteAction, { kind: 'redirect' }>;

describe('prefix and regex rewrite', () => {
  it.each<[PathMatch, string, string, string | undefined]>([
    [prefix('/old'), '/old/path?key=value', '/new', '/new/path?key=value'],
    [prefix('/old/'), '/old/x', '/', '/x'],
    [{ kind: 'separated-prefix', value: '/api' }, '/api/v1', '/v2', '/v2/v1'],
    [{ kind: 'exact', value: '/login' }, '/login?next=/a', '/signin', '/signin?next=/a'],
    [{ kind: 'regex', value: '/.*' }, '/a', '/b', undefined],
  ])('%o %s → %s = %s', (match, path, rewrite, want) => {
    expect(rewritePath(match, path, { prefixRewrite: rewrite })).toBe(want);
  });

  it('regex rewrite replaces every match in the path, keeps the query, supports \\N groups', () => {
    expect(rewritePath(prefix('/'), '/service/foo/v1/api?x=1', { regexRewrite: { pattern: '^/service/([^/]+)(/.*)$', substitution: '\\2/instance/\\1' } })).toBe('/v1/api/instance/foo?x=1');
    expect(regexReplaceAll('o', '/foo/boo', '0')).toBe('/f00/b00');
    expect(regexReplaceAll('(a)(b)?', 'ac', '[\\0|\\2]')).toBe('[a|]c');
    expect(regexReplaceAll('(', 'x', 'y')).toBeUndefined(); // RE2 rejects it: no rewrite
    expect(rewritePath(prefix('/'), '/x', { regexRewrite: { pattern: '(', substitution: '' } })).toBeUndefined();
  });

  it('a rewrite to the same path is no rewrite', () => {
    expect(rewritePath(prefix('/a'), '/a/b', { prefixRewrite: '/a' })).toBeUndefined();
    expect(prefixRewrite(prefix('/a'), '/a/b', 'x')).toBe('x/b');
  });
});

describe('redirect Location', () => {
  const req = { scheme: 'http', authority: 'b.example:85', path: '/foo?q=1' };
  it.each<[Partial<Redirect>, string]>([
    [{}, 'http://b.example:85/foo?q=1'],
    [{ scheme: 'https', port: 80 }, 'https://b.example:80/foo?q=1'],
    [{ port: 80 }, 'http://b.example/foo?q=1'], // default port dropped
    [{ host: 'c.example' }, 'http://c.example/foo?q=1'],
    [{ path: '/bar' }, 'http://b.example:85/bar?q=1'],
    [{ path: '/bar?z=2' }, 'http://b.example:85/bar?z=2'],
    [{ prefixRewrite: '/v2' }, 'http://b.example:85/v2?q=1'],
  ])('%o → %s', (over, want) => {
    expect(redirectLocation({ kind: 'redirect', status: 301, ...over }, prefix('/foo'), req)).toBe(want);
  });
  it('a scheme change drops the old scheme default port', () => {
    expect(redirectLocation({ kind: 'redirect', status: 301, scheme: 'https' }, prefix('/'), { scheme: 'http', authority: 'b:80', path: '/' })).toBe('https://b/');
  });
});
