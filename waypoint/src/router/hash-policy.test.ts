import { describe, expect, it } from 'vitest';
import { hash64 } from '../upstream/load-balancer-ring-hash.ts';
import { requestHash, type HashInputs } from './hash-policy.ts';

const req = (h: Record<string, string> = {}, c: Record<string, string> = {}, q: Record<string, string> = {}): HashInputs => ({ header: (n) => h[n], cookie: (n) => c[n], sourceIp: '10.0.0.7', query: (n) => q[n] });

describe('requestHash', () => {
  it('hashes the first input found; nothing found → undefined (random pick)', () => {
    expect(requestHash([{ kind: 'header', name: 'x-user', terminal: false }], req({ 'x-user': 'jason' })).hash).toBe(hash64('jason'));
    expect(requestHash([{ kind: 'header', name: 'x-user', terminal: false }], req()).hash).toBeUndefined();
    expect(requestHash([{ kind: 'source-ip', terminal: false }], req()).hash).toBe(hash64('10.0.0.7'));
    expect(requestHash([{ kind: 'query-parameter', name: 'u', terminal: false }], req({}, {}, { u: 'a' })).hash).toBe(hash64('a'));
  });
  it('the same input gives the same hash; a terminal hit stops the list', () => {
    const ps = [{ kind: 'header' as const, name: 'a', terminal: true }, { kind: 'source-ip' as const, terminal: false }];
    expect(requestHash(ps, req({ a: '1' })).hash).toBe(hash64('1'));
    expect(requestHash(ps, req()).hash).toBe(hash64('10.0.0.7'));
    const both = requestHash([{ kind: 'header', name: 'a', terminal: false }, { kind: 'source-ip', terminal: false }], req({ a: '1' })).hash;
    expect(both).not.toBe(hash64('1'));
  });
  it('a TTL cookie policy without the cookie generates one to set', () => {
    const r = requestHash([{ kind: 'cookie', name: 'u', ttlMs: 5000, path: '/', terminal: false }], req());
    expect(r.setCookie).toMatchObject({ name: 'u', ttlMs: 5000, path: '/' });
    expect(requestHash([{ kind: 'cookie', name: 'u', ttlMs: 5000, terminal: false }], req({}, { u: r.setCookie!.value })).hash).toBe(r.hash);
    expect(requestHash([{ kind: 'cookie', name: 'u', terminal: false }], req()).hash).toBeUndefined();
  });
});
