import { describe, expect, it } from 'vitest';
import type { Cluster, Endpoint, OutlierDetection } from '../config/types.ts';
import type { DataPlaneEvent } from '../listener/events.ts';
import { ClusterManager, hostKey } from './cluster-manager.ts';
import type { UpstreamConnector } from './upstream-connector.ts';

const ep = (i: number, over: Partial<Endpoint> = {}): Endpoint => ({ address: `10.0.0.${i}`, port: 80, tunnel: 'hbone', healthy: true, weight: 1, ...over });
const od: OutlierDetection = {
  consecutive5xx: 1, enforcingConsecutive5xxPercent: 100, consecutiveGatewayFailure: 0, enforcingConsecutiveGatewayFailurePercent: 0,
  intervalMs: 10_000, baseEjectionTimeMs: 1000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 100,
};
const cluster = (endpoints: Endpoint[], over: Partial<Cluster> = {}): Cluster => ({
  name: 'c', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 1000, upstreamProtocol: 'http1', services: [],
  circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 }, idleTimeoutMs: 0, maxRequestsPerConnection: 0, endpoints, ...over,
});

function manager(now = { t: 0 }, events: DataPlaneEvent[] = []) {
  return new ClusterManager({} as UpstreamConnector, () => 0, { now: () => now.t, onEvent: (e) => events.push(e) });
}

describe('ClusterRuntime picking', () => {
  it('skips outlier-ejected endpoints and flags them for /clusters', () => {
    const events: DataPlaneEvent[] = [];
    const cm = manager({ t: 0 }, events);
    const rt = cm.get(cluster([ep(1), ep(2)], { outlierDetection: od, healthyPanicThresholdPercent: 0 }));
    rt.recordResult(ep(1), 503);
    expect(events).toEqual([{ kind: 'outlier-ejected', cluster: 'c', endpoint: hostKey(ep(1)), reason: 'consecutive_5xx', untilMs: 1000 }]);
    for (let i = 0; i < 4; i++) expect(rt.pick()?.address).toBe('10.0.0.2');
    expect(rt.healthFlags(ep(1))).toBe('/failed_outlier_check');
    expect(rt.healthFlags(ep(2))).toBe('healthy');
    expect(rt.healthFlags(ep(3, { healthy: false }))).toBe('/failed_eds_health');
    // Everything ejected with panic threshold 0: nothing to pick (503 UH).
    rt.recordResult(ep(2), 500);
    expect(rt.pick()).toBeUndefined();
    cm.close();
  });

  it('panics (uses ejected hosts again) below the healthy panic threshold', () => {
    const cm = manager();
    const rt = cm.get(cluster([ep(1), ep(2)], { outlierDetection: od }));
    rt.recordResult(ep(1), 503);
    rt.recordResult(ep(2), 503);
    expect(rt.pick()).toBeDefined(); // default threshold 50 %: 0 % available → panic
    cm.close();
  });

  it('previous hosts are avoided while another one is left', () => {
    const cm = manager();
    const rt = cm.get(cluster([ep(1, { weight: 100 }), ep(2)]));
    expect(rt.pick({ exclude: new Set([hostKey(ep(1))]) })?.address).toBe('10.0.0.2');
    expect(rt.pick({ exclude: new Set([hostKey(ep(1)), hostKey(ep(2))]) })).toBeDefined();
    cm.close();
  });

  it('RING_HASH follows the request hash', () => {
    const cm = manager();
    const rt = cm.get(cluster([ep(1), ep(2), ep(3)], { lbPolicy: 'RING_HASH', ringHash: { minimumRingSize: 64, maximumRingSize: 1024 } }));
    expect(rt.hashing).toBe(true);
    const picks = new Set<string>();
    for (let h = 0n; h < 50n; h++) {
      const hash = h * 0x0123456789abcdefn;
      const a = rt.pick({ hash });
      expect(rt.pick({ hash })).toBe(a);
      picks.add(a!.address);
    }
    expect(picks.size).toBeGreaterThan(1);
    expect(cm.get(cluster([ep(1)], { lbPolicy: 'LEAST_REQUEST' })).hashing).toBe(false);
    cm.close();
  });
});
