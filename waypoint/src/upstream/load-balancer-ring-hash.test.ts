import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../config/types.ts';
import { buildMaglevTable, buildRing, hash64, MaglevLoadBalancer, RingHashLoadBalancer } from './load-balancer-ring-hash.ts';

const ep = (i: number, weight = 1, healthy = true): Endpoint => ({ address: `10.0.0.${i}`, port: 80, tunnel: 'hbone', healthy, weight });
const EPS = [ep(1), ep(2), ep(3), ep(4)];
const keys = Array.from({ length: 2000 }, (_, i) => hash64(`user-${i}`));

describe('RingHashLoadBalancer', () => {
  it('the same hash picks the same endpoint; keys spread over all endpoints', () => {
    const lb = new RingHashLoadBalancer();
    const counts = new Map<string, number>();
    for (const k of keys) {
      const a = lb.pickByHash(EPS, k)!;
      expect(lb.pickByHash(EPS, k)).toBe(a);
      counts.set(a.address, (counts.get(a.address) ?? 0) + 1);
    }
    expect(counts.size).toBe(4);
    for (const n of counts.values()) expect(n).toBeGreaterThan(300);
  });

  it('an endpoint leaving moves its keys and (ring rescaled) only a few others', () => {
    const lb = new RingHashLoadBalancer();
    const before = keys.map((k) => lb.pickByHash(EPS, k)!.address);
    const after = keys.map((k) => lb.pickByHash([ep(1), ep(2), ep(3), ep(4, 1, false)], k)!.address);
    expect(after).not.toContain('10.0.0.4');
    const stayed = before.filter((b, i) => b !== '10.0.0.4' && after[i] === b).length;
    const others = before.filter((b) => b !== '10.0.0.4').length;
    // Envoy rescales the ring to the new set (more points per endpoint), which moves some keys too.
    expect(stayed / others).toBeGreaterThan(0.8);
  });

  it('weights give proportional ring shares; no healthy endpoint → undefined', () => {
    const ring = buildRing([ep(1, 3), ep(2, 1)], { minimumRingSize: 1024, maximumRingSize: 8 << 20 });
    const heavy = ring.owners.filter((e) => e.address === '10.0.0.1').length;
    expect(heavy / ring.owners.length).toBeCloseTo(0.75, 2);
    expect(new RingHashLoadBalancer().pickByHash([ep(1, 1, false)], 1n)).toBeUndefined();
  });
});

describe('MaglevLoadBalancer', () => {
  it('fills the table in proportion and is stable per hash', () => {
    const t = buildMaglevTable(EPS, 1009);
    expect(t).toHaveLength(1009);
    for (const e of EPS) expect(t.filter((x) => x === e).length).toBeGreaterThan(240);
    const lb = new MaglevLoadBalancer(1009);
    for (const k of keys.slice(0, 100)) expect(lb.pickByHash(EPS, k)).toBe(lb.pickByHash(EPS, k));
  });
});
