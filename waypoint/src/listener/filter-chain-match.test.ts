import { describe, expect, it } from 'vitest';
import type { FilterChain, FilterChainMatch } from '../config/types.ts';
import { ipMatchLength, selectAfterSniff, selectFilterChain } from './filter-chain-match.ts';

const tcp = (name: string, match: FilterChainMatch): FilterChain => ({ kind: 'tcp', name, match, statPrefix: name, clusters: [], idleTimeoutMs: 0 });
const cidr = (address: string, prefixLen: number) => ({ address, prefixLen });

const chains: FilterChain[] = [
  tcp('vip-80', { destinationIps: [cidr('10.96.0.10', 32)], destinationPort: 80 }),
  tcp('range-80', { destinationIps: [cidr('10.96.0.0', 16)], destinationPort: 80 }),
  tcp('any-ip-80', { destinationPort: 80 }),
  tcp('vip-any-port', { destinationIps: [cidr('10.96.0.10', 32)] }),
  tcp('v6-443', { destinationIps: [cidr('fd00::', 64)], destinationPort: 443 }),
  tcp('sniff-http', { destinationIps: [cidr('10.96.0.20', 32)], destinationPort: 7000, applicationProtocols: ['http/1.1', 'h2c'] }),
  tcp('sniff-tcp', { destinationIps: [cidr('10.96.0.20', 32)], destinationPort: 7000 }),
  tcp('only-http', { destinationIps: [cidr('10.96.0.21', 32)], destinationPort: 7000, applicationProtocols: ['http/1.1'] }),
];

describe('selectFilterChain', () => {
  it.each([
    ['10.96.0.10', 80, 'vip-80'],
    ['10.96.5.5', 80, 'range-80'],
    ['192.0.2.1', 80, 'any-ip-80'],
    ['10.96.0.10', 9999, 'vip-any-port'],
    ['::ffff:10.96.0.10', 80, 'vip-80'],
    ['fd00::1', 443, 'v6-443'],
  ])('%s:%s → %s', (ip, port, want) => {
    const s = selectFilterChain(chains, { ip, port });
    expect(s.kind === 'chain' ? s.chain.name : s.kind).toBe(want);
  });

  it('an exact port that matches no IP does not fall back to port-less chains (Envoy)', () => {
    expect(selectFilterChain(chains, { ip: 'fd00:1::1', port: 443 })).toEqual({ kind: 'none' });
  });

  it('nothing matches → none', () => {
    expect(selectFilterChain(chains, { ip: '192.0.2.1', port: 9999 })).toEqual({ kind: 'none' });
    expect(selectFilterChain([], { ip: '10.0.0.1', port: 1 })).toEqual({ kind: 'none' });
  });

  it('chains with application protocols need sniffing', () => {
    const s = selectFilterChain(chains, { ip: '10.96.0.20', port: 7000 });
    expect(s.kind).toBe('sniff');
    if (s.kind !== 'sniff') return;
    expect(selectAfterSniff(s.candidates, 'http/1.1')?.name).toBe('sniff-http');
    expect(selectAfterSniff(s.candidates, 'h2c')?.name).toBe('sniff-http');
    expect(selectAfterSniff(s.candidates, 'tcp')?.name).toBe('sniff-tcp');
  });

  it('only protocol-conditioned chains: accept, sniff, maybe nothing fits', () => {
    const s = selectFilterChain(chains, { ip: '10.96.0.21', port: 7000 });
    expect(s.kind).toBe('sniff');
    if (s.kind !== 'sniff') return;
    expect(selectAfterSniff(s.candidates, 'http/1.1')?.name).toBe('only-http');
    expect(selectAfterSniff(s.candidates, 'tcp')).toBeUndefined();
  });
});

describe('ipMatchLength', () => {
  it.each([
    [undefined, '10.0.0.1', 0],
    [[cidr('10.0.0.0', 8)], '10.1.2.3', 8],
    [[cidr('10.0.0.0', 8), cidr('10.1.0.0', 16)], '10.1.2.3', 16],
    [[cidr('10.0.0.0', 8)], '11.0.0.1', -1],
    [[cidr('0.0.0.0', 0)], '1.2.3.4', 0],
    [[cidr('10.0.0.0', 8)], 'fd00::1', -1],
    [[cidr('fd00::', 16)], 'fd00:abcd::1', 16],
    [[cidr('::ffff:0:0', 96)], '::ffff:1.2.3.4', -1], // mapped IPv4 compares as IPv4
    [[cidr('not-an-ip', 8)], '10.0.0.1', -1],
  ] as const)('%j contains %s → %s', (ranges, ip, want) => expect(ipMatchLength(ranges, ip)).toBe(want));
});
