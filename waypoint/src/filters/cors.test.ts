import { describe, expect, it } from 'vitest';
import type { CorsPolicy } from '../config/types.ts';
import { decideCors, type CorsRequest } from './cors.ts';

const policy: CorsPolicy = {
  allowOrigins: [{ kind: 'exact', value: 'cors.com' }, { kind: 'regex', value: 'https://.*\\.example\\.org' }],
  allowMethods: 'POST,GET',
  allowHeaders: 'X-Foo-Bar,X-Foo-Baz',
  exposeHeaders: 'X-Exposed',
  maxAge: '86400',
  allowCredentials: true,
  forwardNotMatchingPreflights: true,
  enabledPerMillion: 1_000_000,
};

describe('decideCors', () => {
  it.each<[string, CorsPolicy | undefined, CorsRequest, unknown]>([
    ['no policy', undefined, { method: 'GET', origin: 'cors.com' }, { kind: 'none' }],
    ['no Origin', policy, { method: 'GET' }, { kind: 'none' }],
    [
      'a preflight from an allowed origin is answered here',
      policy,
      { method: 'OPTIONS', origin: 'cors.com', accessControlRequestMethod: 'POST' },
      { kind: 'preflight', status: 200, headers: { 'access-control-allow-origin': 'cors.com', 'access-control-allow-credentials': 'true', 'access-control-allow-methods': 'POST,GET', 'access-control-allow-headers': 'X-Foo-Bar,X-Foo-Baz', 'access-control-max-age': '86400' } },
    ],
    ['a preflight from another origin goes upstream (FORWARD)', policy, { method: 'OPTIONS', origin: 'evil.com', accessControlRequestMethod: 'POST' }, { kind: 'forward', responseHeaders: {} }],
    ['… or is answered bare (IGNORE)', { ...policy, forwardNotMatchingPreflights: false }, { method: 'OPTIONS', origin: 'evil.com', accessControlRequestMethod: 'POST' }, { kind: 'preflight', status: 200, headers: {} }],
    ['an OPTIONS without Access-Control-Request-Method is not a preflight', policy, { method: 'OPTIONS', origin: 'cors.com' }, { kind: 'forward', responseHeaders: { 'access-control-allow-origin': 'cors.com', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'X-Exposed' } }],
    ['an actual request from a regex-allowed origin', policy, { method: 'GET', origin: 'https://a.example.org' }, { kind: 'forward', responseHeaders: { 'access-control-allow-origin': 'https://a.example.org', 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'X-Exposed' } }],
    ['an actual request from another origin gets nothing', policy, { method: 'GET', origin: 'https://example.org' }, { kind: 'none' }],
    ['a disabled policy (filter_enabled 0)', { ...policy, enabledPerMillion: 0 }, { method: 'GET', origin: 'cors.com' }, { kind: 'none' }],
  ])('%s', (_n, p, req, want) => {
    expect(decideCors(p, req, () => 0.5)).toEqual(want);
  });
});
