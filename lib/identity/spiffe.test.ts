import { describe, expect, it } from 'vitest';
import { formatSpiffeId, parseSpiffeId, spiffeIdString, tryParseSpiffeId } from './spiffe.ts';

describe('parseSpiffeId', () => {
  const ok = (trustDomain: string, namespace: string, serviceAccount: string) => ({ kind: 'ok', identity: { trustDomain, namespace, serviceAccount } });
  it.each([
    ['spiffe://cluster.local/ns/default/sa/bookinfo', ok('cluster.local', 'default', 'bookinfo')],
    ['spiffe://td.example/ns/istio-system/sa/ztunnel', ok('td.example', 'istio-system', 'ztunnel')],
  ])('accepts %s', (uri, want) => {
    expect(parseSpiffeId(uri)).toEqual(want);
  });

  it.each([
    ['http://cluster.local/ns/default/sa/x', 'scheme'],
    ['SPIFFE://cluster.local/ns/default/sa/x', 'scheme is case-sensitive'],
    ['spiffe://cluster.local/ns/default/sa', 'four segments'],
    ['spiffe://cluster.local/ns/default/sa/x/extra', 'six segments'],
    ['spiffe://cluster.local/ns/default/sa/x/', 'trailing slash makes six'],
    ['spiffe://cluster.local/namespace/default/sa/x', 'literal ns'],
    ['spiffe://cluster.local/ns/default/serviceaccount/x', 'literal sa'],
    ['spiffe://cluster.local/sa/x/ns/default', 'order'],
    ['spiffe:///ns/default/sa/x', 'empty trust domain'],
    ['spiffe://cluster.local/ns//sa/x', 'empty namespace'],
    ['spiffe://cluster.local/ns/default/sa/', 'empty service account'],
    ['', 'empty'],
  ])('rejects %s (%s)', (uri) => {
    expect(parseSpiffeId(uri).kind).toBe('error');
    expect(tryParseSpiffeId(uri)).toBeUndefined();
  });

  it('round-trips through formatSpiffeId', () => {
    const uri = 'spiffe://cluster.local/ns/a/sa/b';
    expect(formatSpiffeId(tryParseSpiffeId(uri)!)).toBe(uri);
  });

  it('spiffeIdString accepts both forms and throws on a malformed string', () => {
    expect(spiffeIdString({ trustDomain: 'td', namespace: 'n', serviceAccount: 's' })).toBe('spiffe://td/ns/n/sa/s');
    expect(spiffeIdString('spiffe://td/ns/n/sa/s')).toBe('spiffe://td/ns/n/sa/s');
    expect(() => spiffeIdString('spiffe://td/n/s')).toThrow(TypeError);
  });
});
