import { describe, expect, it } from 'vitest';
import type { OutlierDetection } from '../config/types.ts';
import { OutlierDetector } from './outlier-detection.ts';

const cfg = (over: Partial<OutlierDetection> = {}): OutlierDetection => ({
  consecutive5xx: 2,
  enforcingConsecutive5xxPercent: 100,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailurePercent: 0,
  intervalMs: 1000,
  baseEjectionTimeMs: 10_000,
  maxEjectionTimeMs: 300_000,
  maxEjectionPercent: 100,
  ...over,
});

describe('OutlierDetector', () => {
  it('ejects after N consecutive 5xx; a success in between resets the count', () => {
    const d = new OutlierDetector(cfg());
    expect(d.record('a', 500, 3, 0)).toBeUndefined();
    expect(d.record('a', 200, 3, 1)).toBeUndefined();
    expect(d.record('a', 503, 3, 2)).toBeUndefined();
    expect(d.record('a', 'connect-failure', 3, 3)).toEqual({ kind: 'ejected', endpoint: 'a', reason: 'consecutive_5xx', untilMs: 10_003, ejections: 1 });
    expect(d.isEjected('a')).toBe(true);
    expect(d.ejectedCount).toBe(1);
  });

  it('comes back on the first tick after baseEjectionTime × ejections; the multiplier grows and decays', () => {
    const d = new OutlierDetector(cfg({ consecutive5xx: 1 }));
    d.record('a', 500, 2, 0);
    expect(d.tick(9_999)).toEqual([]);
    expect(d.tick(10_000)).toEqual([{ kind: 'unejected', endpoint: 'a' }]);
    expect(d.isEjected('a')).toBe(false);
    // Ejected again right away: twice as long.
    expect(d.record('a', 500, 2, 10_001)).toMatchObject({ kind: 'ejected', untilMs: 30_001, ejections: 2 });
    d.tick(30_001);
    // Two intervals in good health: the multiplier is back to 0, the next ejection is base-long.
    d.tick(31_001);
    d.tick(32_001);
    expect(d.record('a', 500, 2, 32_002)).toMatchObject({ ejections: 1, untilMs: 42_002 });
  });

  it('caps the ejection time at maxEjectionTime', () => {
    const d = new OutlierDetector(cfg({ consecutive5xx: 1, baseEjectionTimeMs: 100, maxEjectionTimeMs: 150 }));
    d.record('a', 500, 1, 0);
    d.tick(100);
    expect(d.record('a', 500, 1, 100)).toMatchObject({ untilMs: 250 });
  });

  it('respects maxEjectionPercent (the first ejection always happens)', () => {
    const d = new OutlierDetector(cfg({ consecutive5xx: 1, maxEjectionPercent: 10 }));
    expect(d.record('a', 500, 3, 0)).toMatchObject({ kind: 'ejected' });
    expect(d.record('b', 500, 3, 0)).toEqual({ kind: 'ejection-skipped', endpoint: 'b', reason: 'consecutive_5xx', why: 'max-ejection-percent' });
    expect(d.isEjected('b')).toBe(false);
  });

  it('consecutive gateway failures count only 502/503/504 and local failures, and only when enforced', () => {
    const d = new OutlierDetector(cfg({ consecutive5xx: 0, consecutiveGatewayFailure: 2, enforcingConsecutiveGatewayFailurePercent: 100 }));
    d.record('a', 502, 2, 0);
    expect(d.record('a', 500, 2, 0)).toBeUndefined(); // 500 is not a gateway failure: the count restarts
    d.record('a', 504, 2, 0);
    expect(d.record('a', 'timeout', 2, 0)).toMatchObject({ kind: 'ejected', reason: 'consecutive_gateway_failure' });
    const off = new OutlierDetector(cfg({ consecutive5xx: 0, consecutiveGatewayFailure: 1 }));
    expect(off.record('a', 503, 2, 0)).toEqual({ kind: 'ejection-skipped', endpoint: 'a', reason: 'consecutive_gateway_failure', why: 'not-enforced' });
  });

  it('forgets hosts that left the cluster, ejections included', () => {
    const d = new OutlierDetector(cfg({ consecutive5xx: 1 }));
    d.record('a', 500, 2, 0);
    d.setHosts(['b']);
    expect(d.ejectedCount).toBe(0);
    expect(d.view()).toEqual([]);
  });
});
