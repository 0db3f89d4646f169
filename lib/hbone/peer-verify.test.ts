import { describe, expect, it } from 'vitest';
import { checkClientIdentity, checkServerIdentity } from './peer-verify.ts';

const id = (trustDomain: string, namespace: string, serviceAccount: string) => ({ trustDomain, namespace, serviceAccount });

describe('checkServerIdentity', () => {
  it('accepts when any server SAN is an expected identity', () => {
    expect(checkServerIdentity([id('td', 'a', 'x'), id('td', 'b', 'y')], ['spiffe://td/ns/b/sa/y'])).toEqual({ kind: 'ok', identity: id('td', 'b', 'y') });
  });
  it('rejects otherwise, also with no SPIFFE SAN at all', () => {
    expect(checkServerIdentity([id('td', 'a', 'x')], ['spiffe://td/ns/a/sa/other']).kind).toBe('reject');
    expect(checkServerIdentity([], ['spiffe://td/ns/a/sa/x']).kind).toBe('reject');
    expect(checkServerIdentity([id('td', 'a', 'x')], []).kind).toBe('reject');
  });
});

describe('checkClientIdentity', () => {
  it('accepts a client identity in our trust domain', () => {
    expect(checkClientIdentity([id('other', 'a', 'x'), id('td', 'a', 'y')], 'td')).toEqual({ kind: 'ok', identity: id('td', 'a', 'y') });
  });
  it('rejects other trust domains and certificates without SPIFFE SANs', () => {
    expect(checkClientIdentity([id('other', 'a', 'x')], 'td').kind).toBe('reject');
    expect(checkClientIdentity([], 'td').kind).toBe('reject');
  });
});
