// The workload xDS handlers write one response as one state batch: listeners (re-authorization, the
// DNS catalog, pending waits) hear about it once, whatever its size; a resent, unchanged resource
// is no change at all.
import { describe, expect, it } from 'vitest';
import { addressCodec, authorizationCodec, packAny } from '../../../lib/proto/index.ts';
import type { XdsResource } from '../../../lib/xds/index.ts';
import type { StateChange } from '../state/change.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { addressHandler, authorizationHandler } from './handlers.ts';

function wl(i: number, version = 'v1'): XdsResource {
  const name = `pod-${i}`;
  const uid = `Kubernetes//Pod/default/${name}`;
  const address = Buffer.from([10, 244, (i >> 8) & 0xff, i & 0xff]);
  return { name: uid, version, resource: packAny(addressCodec, { type: { $case: 'workload', workload: { uid, name, namespace: 'default', addresses: [address], node: 'node1', tunnelProtocol: 1, serviceAccount: name, clusterId: version } } }) };
}

function svc(i: number): XdsResource {
  const hostname = `svc-${i}.default.svc.cluster.local`;
  return { name: `default/${hostname}`, version: 'v1', resource: packAny(addressCodec, { type: { $case: 'service', service: { name: `svc-${i}`, namespace: 'default', hostname, addresses: [{ network: '', address: Buffer.from([10, 96, (i >> 8) & 0xff, i & 0xff]) }], ports: [{ servicePort: 80, targetPort: 8080 }] } } }) };
}

function pol(i: number, ns = 'default'): XdsResource {
  return { name: `${ns}/p-${i}`, version: 'v1', resource: packAny(authorizationCodec, { name: `p-${i}`, namespace: ns, scope: 1, action: 1 }) };
}

function recording(s: ProxyState): StateChange[] {
  const seen: StateChange[] = [];
  s.onChange((c) => seen.push(c));
  return seen;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('xDS handlers: one response, one batch', () => {
  it('a 1000-resource address response notifies once; resending it unchanged notifies nothing', () => {
    const state = new ProxyState();
    const seen = recording(state);
    const h = addressHandler(state);
    const resources = [...range(900).map((i) => wl(i)), ...range(100).map((i) => svc(i))];
    expect(h.apply({ resources, removed: [] }).rejected).toEqual([]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.workloads.added.size).toBe(900);
    expect(seen[0]!.services.added.size).toBe(100);
    expect(state.workloads()).toHaveLength(900);
    h.apply({ resources, removed: [] });
    expect(seen).toHaveLength(1);
  });

  it('changes, removals and rejections of one response land in one notification', () => {
    const state = new ProxyState();
    const h = addressHandler(state);
    h.apply({ resources: range(10).map((i) => wl(i)), removed: [] });
    const seen = recording(state);
    const bad = { ...wl(50), name: 'not-the-uid' };
    const r = h.apply({ resources: [wl(1, 'v2'), wl(2), bad], removed: ['Kubernetes//Pod/default/pod-3', 'unknown/name'] });
    expect(r.rejected.map((x) => x.name)).toEqual(['not-the-uid']);
    expect(seen).toHaveLength(1);
    expect([...seen[0]!.workloads.changed]).toEqual(['Kubernetes//Pod/default/pod-1']);
    expect([...seen[0]!.workloads.removed]).toEqual(['Kubernetes//Pod/default/pod-3']);
    expect(seen[0]!.workloads.added.size).toBe(0);
  });

  it('a 1000-policy authorization response notifies once', () => {
    const state = new ProxyState();
    const seen = recording(state);
    const h = authorizationHandler(state);
    h.apply({ resources: range(1000).map((i) => pol(i, `ns-${i % 7}`)), removed: [] });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.policies.added.size).toBe(1000);
    h.apply({ resources: [], removed: range(1000).map((i) => `ns-${i % 7}/p-${i}`) });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.policies.removed.size).toBe(1000);
    expect(state.policies()).toEqual([]);
  });
});
