// The waypoint store per proxy: a waypoint's proxies get its resources, other proxies nothing; a
// rebuild announces only the types whose versions moved.
import { describe, expect, it } from 'vitest';
import { CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_TYPE_URL, type Node } from '../../../lib/proto/index.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { XdsProxy } from '../../../lib/xds/index.ts';
import { modelOptions } from '../model/options.ts';
import { namespace, pod, service } from '../model/test-fixtures.ts';
import type { WaypointClusterState } from './build.ts';
import { WaypointXdsStore } from './store.ts';

function proxy(id: string, metadata: Record<string, unknown>): XdsProxy {
  const node = { id, cluster: '', metadata, userAgentName: '', dynamicParameters: {}, extensions: [], clientFeatures: [], listeningAddresses: [] } as Node;
  return { connectionId: `${id}-1`, node, metadata: metadata as XdsProxy['metadata'], caller: undefined, callMetadata: undefined as never, peer: '127.0.0.1:1' };
}

const wp = proxy('router~10.244.1.9~waypoint-x.default~default.svc.cluster.local', { NAMESPACE: 'default', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } });
const zt = proxy('ztunnel~10.0.0.5~zt.istio-system~istio-system.svc.cluster.local', { NAMESPACE: 'istio-system' });

describe('WaypointXdsStore', () => {
  it('serves each waypoint its own set and other proxies nothing; announces only what changed', () => {
    let state: WaypointClusterState = {
      pods: [pod({ labels: { app: 'echo' } })],
      services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' } })],
      namespaces: [namespace('default')],
      waypoints: (ns, n) => (ns === 'default' && (n === 'waypoint' || n === 'other') ? {} : undefined),
    };
    const registry = new Registry();
    const store = new WaypointXdsStore(() => state, modelOptions(), registry);
    const changes: string[][] = [];
    store.onChange((t) => changes.push([...t].sort()));

    expect(store.snapshot(ROUTE_TYPE_URL, zt).size).toBe(0);
    expect([...store.snapshot(ROUTE_TYPE_URL, wp).keys()]).toEqual(['inbound-vip|80|http|echo.default.svc.cluster.local']);
    const other = proxy('router~10.244.1.10~other-x.default~default.svc.cluster.local', { NAMESPACE: 'default', GATEWAY_NAME: 'other' });
    expect(store.snapshot(ROUTE_TYPE_URL, other).size).toBe(0);
    expect(store.snapshot(LISTENER_TYPE_URL, other).size).toBe(2);
    expect(registry.render()).toContain('controller_waypoint_xds_waypoints 2');

    expect(store.rebuild().changed.size).toBe(0);
    state = { ...state, pods: [...state.pods, pod({ name: 'echo-2', ips: ['10.244.1.6'], labels: { app: 'echo' } })] };
    expect([...store.rebuild().changed]).toEqual([ENDPOINT_TYPE_URL]);
    state = { ...state, services: [service({ labels: { 'istio.io/use-waypoint': 'other' } })] };
    const r = store.rebuild();
    expect([...r.changed].sort()).toEqual([CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_TYPE_URL].sort());
    expect(store.snapshot(ROUTE_TYPE_URL, wp).size).toBe(0);
    expect(store.snapshot(ROUTE_TYPE_URL, other).size).toBe(1);
    expect(changes).toEqual([[ENDPOINT_TYPE_URL], [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_TYPE_URL].sort()]);
  });

  it('a VirtualService change re-pushes only RDS; its problems are reported and counted, and the count goes back to 0', () => {
    let state: WaypointClusterState = {
      pods: [pod({ labels: { app: 'echo' } })],
      services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' } })],
      namespaces: [namespace('default')],
      waypoints: (ns, n) => (ns === 'default' && n === 'waypoint' ? {} : undefined),
    };
    const registry = new Registry();
    const store = new WaypointXdsStore(() => state, modelOptions(), registry);
    store.snapshot(ROUTE_TYPE_URL, wp);
    state = { ...state, virtualServices: [{ metadata: { name: 'echo', namespace: 'default' }, spec: { hosts: ['echo'], http: [{ match: [{ uri: { regex: '(?=x)' } }], route: [{ destination: { host: 'echo' } }] }, { route: [{ destination: { host: 'echo' } }] }] } }] };
    const r = store.rebuild();
    expect([...r.changed]).toEqual([ROUTE_TYPE_URL]);
    expect(r.diagnostics).toEqual([expect.objectContaining({ kind: 'VirtualService', namespace: 'default', name: 'echo', severity: 'refused', reason: 'invalid-regex' })]);
    expect(registry.render()).toContain('controller_traffic_config_problems{kind="VirtualService",reason="invalid-regex",severity="refused"} 1');
    state = { ...state, virtualServices: [] };
    expect(store.rebuild().diagnostics).toEqual([]);
    expect(registry.render()).toContain('controller_traffic_config_problems{kind="VirtualService",reason="invalid-regex",severity="refused"} 0');
  });
});
