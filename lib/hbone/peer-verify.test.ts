import { describe, expect, it } from 'vitest';
import { checkClientIdentity, checkServerIdentity } from './peer-verify.ts';

const id = (trustDomain: string, namespace: string, serviceAccount: string) => ({ trustDomain, namespace, serviceAccount });
const ok = (trustDomain: string, namespace: string, serviceAccount: string) => ({ kind: 'ok' as const, identity: id(trustDomain, namespace, serviceAccount) });
const refused = { kind: 'reject' as const, reason: 'the peer certificate carries 2 URI SANs [a, b]; …' };

describe('checkServerIdentity', () => {
  it('accepts a server whose one identity is expected', () => {
    expect(checkServerIdentity(ok('td', 'b', 'y'), ['spiffe://td/ns/a/sa/x', 'spiffe://td/ns/b/sa/y'])).toEqual({ kind: 'ok', identity: id('td', 'b', 'y') });
  });
  it('rejects another identity, no expected identity, and a certificate that proves no single identity', () => {
    expect(checkServerIdentity(ok('td', 'a', 'x'), ['spiffe://td/ns/a/sa/other'])).toEqual({
      kind: 'reject',
      reason: 'server identity spiffe://td/ns/a/sa/x is not one of the expected [spiffe://td/ns/a/sa/other]',
    });
    expect(checkServerIdentity(ok('td', 'a', 'x'), []).kind).toBe('reject');
    expect(checkServerIdentity(refused, ['spiffe://td/ns/a/sa/x'])).toEqual({ kind: 'reject', reason: `server certificate refused: ${refused.reason}` });
  });
});

describe('checkClientIdentity', () => {
  it('accepts a client identity in our trust domain', () => {
    expect(checkClientIdentity(ok('td', 'a', 'y'), 'td')).toEqual({ kind: 'ok', identity: id('td', 'a', 'y') });
  });
  it('rejects other trust domains and certificates that prove no single identity', () => {
    expect(checkClientIdentity(ok('other', 'a', 'x'), 'td').kind).toBe('reject');
    expect(checkClientIdentity(refused, 'td')).toEqual({ kind: 'reject', reason: `client certificate refused: ${refused.reason}` });
  });
});
