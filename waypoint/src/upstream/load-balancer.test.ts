import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../config/types.ts';
import { LeastRequestLoadBalancer } from './load-balancer-least-request.ts';
import { RandomLoadBalancer } from './load-balancer-random.ts';
import { RoundRobinLoadBalancer } from './load-balancer-round-robin.ts';
import { endpointKey, healthyEndpoints } from './load-balancer.ts';

const ep = (last: number, over: Partial<Endpoint> = {}): Endpoint => ({ address: `10.0.0.${last}`, port: 8080, tunnel: 'hbone', identity: 'spiffe://td/ns/a/sa/b', healthy: true, weight: 1, ...over });
const seq = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

describe('healthyEndpoints / endpointKey', () => {
  it('skips unhealthy and zero-weight endpoints; brackets IPv6', () => {
    expect(healthyEndpoints([ep(1), ep(2, { healthy: false }), ep(3, { weight: 0 })]).map((e) => e.address)).toEqual(['10.0.0.1']);
    expect(endpointKey({ address: 'fd00::1', port: 80 })).toBe('[fd00::1]:80');
  });
});

describe('RoundRobinLoadBalancer', () => {
  it('cycles over healthy endpoints', () => {
    const lb = new RoundRobinLoadBalancer();
    const eps = [ep(1), ep(2, { healthy: false }), ep(3), ep(4)];
    expect(Array.from({ length: 6 }, () => lb.pick(eps)!.address)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.4', '10.0.0.1', '10.0.0.3', '10.0.0.4']);
  });
  it('honours weights, interleaved', () => {
    const lb = new RoundRobinLoadBalancer();
    const eps = [ep(1, { weight: 2 }), ep(2)];
    expect(Array.from({ length: 6 }, () => lb.pick(eps)!.address)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.1', '10.0.0.1', '10.0.0.2', '10.0.0.1']);
  });
  it('none healthy → undefined', () => {
    expect(new RoundRobinLoadBalancer().pick([ep(1, { healthy: false })])).toBeUndefined();
    expect(new RoundRobinLoadBalancer().pick([])).toBeUndefined();
  });
});

describe('RandomLoadBalancer', () => {
  it('picks by the random source over healthy endpoints', () => {
    const eps = [ep(1), ep(2, { healthy: false }), ep(3)];
    expect(new RandomLoadBalancer(() => 0.1).pick(eps)!.address).toBe('10.0.0.1');
    expect(new RandomLoadBalancer(() => 0.9).pick(eps)!.address).toBe('10.0.0.3');
    expect(new RandomLoadBalancer(() => 0.5).pick([ep(1, { healthy: false })])).toBeUndefined();
  });
});

describe('LeastRequestLoadBalancer (power of two choices)', () => {
  const eps = [ep(1), ep(2), ep(3), ep(4, { healthy: false })];
  const active: Record<string, number> = { '10.0.0.1': 5, '10.0.0.2': 1, '10.0.0.3': 3 };
  it.each([
    // [first draw, second draw] → the less loaded of the two distinct picks
    [[0, 0], '10.0.0.2'], // 1 vs 2 (second draw skips the first)
    [[0.5, 0.9], '10.0.0.2'], // 2 vs 3
    [[0.9, 0], '10.0.0.3'], // 3 (3 active) vs 1 (5 active)
  ])('draws %j → %s', (draws, want) => {
    const lb = new LeastRequestLoadBalancer((e) => active[e.address] ?? 0, seq(...draws));
    expect(lb.pick(eps)!.address).toBe(want);
  });
  it('ties keep the first draw; never an unhealthy endpoint', () => {
    const lb = new LeastRequestLoadBalancer(() => 0, seq(0.9, 0));
    expect(lb.pick(eps)!.address).toBe('10.0.0.3');
    const counts = new Map<string, number>();
    const rnd = new LeastRequestLoadBalancer(() => 0);
    for (let i = 0; i < 300; i++) {
      const a = rnd.pick(eps)!.address;
      counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    expect(counts.has('10.0.0.4')).toBe(false);
    expect(counts.size).toBe(3);
  });
  it('spreads load toward idle endpoints', () => {
    const load = new Map<string, number>();
    const lb = new LeastRequestLoadBalancer((e) => load.get(e.address) ?? 0);
    for (let i = 0; i < 300; i++) {
      const a = lb.pick(eps)!.address;
      load.set(a, (load.get(a) ?? 0) + 1);
    }
    const values = [...load.values()];
    expect(Math.max(...values) - Math.min(...values)).toBeLessThan(10);
  });
});
