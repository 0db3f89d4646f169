import { describe, expect, it } from 'vitest';
import { match, policy } from '../state/fixtures.ts';
import { authorize, type RbacConnection } from './authorize.ts';
import { ipInCidr } from './cidr.ts';

const sleepA: RbacConnection = { srcIdentity: 'spiffe://cluster.local/ns/a/sa/sleep', srcIp: '10.244.1.5', dstIp: '10.244.2.7', dstPort: 8080 };
const otherB: RbacConnection = { srcIdentity: 'spiffe://cluster.local/ns/b/sa/other', srcIp: '10.244.1.9', dstIp: '10.244.2.7', dstPort: 8080 };
const plaintext: RbacConnection = { srcIp: '172.18.0.1', dstIp: '10.244.2.7', dstPort: 8080 };

describe('authorize', () => {
  it('allows everything when no policy applies', () => {
    expect(authorize([], sleepA).kind).toBe('allow');
  });

  it('DENY by principal blocks that client and not another', () => {
    const deny = policy({ name: 'deny-sleep', action: 'DENY', clauses: [[match({ principals: [{ kind: 'exact', value: 'cluster.local/ns/a/sa/sleep' }] })]] });
    expect(authorize([deny], sleepA)).toMatchObject({ kind: 'deny', policy: 'default/deny-sleep', reason: 'denied by policy' });
    expect(authorize([deny], otherB).kind).toBe('allow');
  });

  it('ALLOW allows only what it lists', () => {
    const allow = policy({ name: 'allow-ns-a', clauses: [[match({ namespaces: [{ kind: 'exact', value: 'a' }] })]] });
    expect(authorize([allow], sleepA)).toMatchObject({ kind: 'allow', policy: 'default/allow-ns-a' });
    expect(authorize([allow], otherB)).toMatchObject({ kind: 'deny', reason: 'no allow policy matched' });
    expect(authorize([allow], plaintext).kind).toBe('deny');
  });

  it('an ALLOW policy without rules allows nothing; a rule without clauses matches all', () => {
    expect(authorize([policy({ name: 'allow-nothing' })], sleepA).kind).toBe('deny');
    expect(authorize([policy({ name: 'allow-all', rules: [[]] })], sleepA).kind).toBe('allow');
  });

  it('a match without any condition matches nothing (a DENY whose L7 part was dropped has no effect)', () => {
    expect(authorize([policy({ name: 'l7-only', action: 'DENY', clauses: [[match({})]] })], sleepA).kind).toBe('allow');
    expect(authorize([policy({ name: 'l7-only-allow', clauses: [[match({})]] })], sleepA).kind).toBe('deny');
  });

  it('DENY wins over ALLOW', () => {
    const allow = policy({ name: 'all', rules: [[]] });
    const deny = policy({ name: 'port', action: 'DENY', clauses: [[match({ destinationPorts: [8080] })]] });
    expect(authorize([allow, deny], sleepA).kind).toBe('deny');
  });

  it('clauses are AND-ed, matches within a clause OR-ed, not* fields exclude', () => {
    const p = policy({
      name: 'p',
      clauses: [
        [match({ namespaces: [{ kind: 'exact', value: 'a' }] }), match({ namespaces: [{ kind: 'exact', value: 'b' }] })],
        [match({ notDestinationPorts: [9090], sourceIps: [{ address: '10.244.1.0', prefixLength: 24 }] })],
      ],
    });
    expect(authorize([p], sleepA).kind).toBe('allow');
    expect(authorize([p], otherB).kind).toBe('allow');
    expect(authorize([p], { ...sleepA, dstPort: 9090 }).kind).toBe('deny');
    expect(authorize([p], { ...sleepA, srcIp: '10.244.2.5' }).kind).toBe('deny');
  });

  it('string matches: prefix, suffix, presence; plaintext has no principal', () => {
    const m = (kind: 'prefix' | 'suffix', value: string) => policy({ name: kind, clauses: [[match({ principals: [{ kind, value }] })]] });
    expect(authorize([m('prefix', 'cluster.local/ns/a/')], sleepA).kind).toBe('allow');
    expect(authorize([m('suffix', '/sa/sleep')], sleepA).kind).toBe('allow');
    const present = policy({ name: 'mtls', clauses: [[match({ principals: [{ kind: 'presence' }] })]] });
    expect(authorize([present], sleepA).kind).toBe('allow');
    expect(authorize([present], plaintext).kind).toBe('deny');
  });

  it('dry-run policies are reported and never decide', () => {
    const deny = policy({ name: 'dry', action: 'DENY', dryRun: true, rules: [[]] });
    expect(authorize([deny], sleepA)).toEqual({ kind: 'allow', dryRunMatches: ['default/dry'] });
  });
});

describe('ipInCidr', () => {
  it.each([
    ['10.244.1.5', '10.244.1.0', 24, true],
    ['10.244.2.5', '10.244.1.0', 24, false],
    ['10.244.2.5', '0.0.0.0', 0, true],
    ['10.0.0.1', '10.0.0.1', 32, true],
    ['::ffff:10.0.0.1', '10.0.0.0', 8, true],
    ['2001:db8::1', '2001:db8::', 32, true],
    ['2001:db9::1', '2001:db8::', 32, false],
    ['10.0.0.1', '2001:db8::', 32, false],
  ])('%s in %s/%d → %s', (ip, net, len, want) => {
    expect(ipInCidr(ip, { address: net, prefixLength: len })).toBe(want);
  });
});
