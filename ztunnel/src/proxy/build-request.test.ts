import { describe, expect, it } from 'vitest';
import { service, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { buildRequest, RoundRobin, type OutboundPlan } from './build-request.ts';

function state(): ProxyState {
  const s = new ProxyState();
  s.upsertWorkload(workload({ name: 'client', namespace: 'a', ip: '10.244.1.5' }));
  const svcKey = 'b/echo.b.svc.cluster.local';
  s.upsertWorkload(workload({ name: 'echo-1', namespace: 'b', serviceAccount: 'echo', ip: '10.244.2.7', node: 'node2', services: { [svcKey]: { 80: 8080 } } }));
  s.upsertWorkload(workload({ name: 'echo-2', namespace: 'b', serviceAccount: 'echo', ip: '10.244.1.8', services: { [svcKey]: { 80: 8080 } } }));
  s.upsertWorkload(workload({ name: 'echo-sick', namespace: 'b', ip: '10.244.1.9', status: 'UNHEALTHY', services: { [svcKey]: { 80: 8080 } } }));
  s.upsertWorkload(workload({ name: 'legacy', namespace: 'c', ip: '10.244.2.20', tunnelProtocol: 'NONE' }));
  s.upsertService(service({ name: 'echo', namespace: 'b', vip: '10.96.0.10', ports: [{ servicePort: 80, targetPort: 0 }] }));
  s.upsertWorkload(workload({ name: 'waypoint', namespace: 'w', ip: '10.244.2.30' }));
  s.upsertService(service({ name: 'with-wp', namespace: 'w', vip: '10.96.0.20', waypoint: { kind: 'address', network: '', address: '10.244.2.30', hboneMtlsPort: 15008 } }));
  s.upsertService(service({ name: 'empty', namespace: 'b', vip: '10.96.0.30' }));
  return s;
}

const run = (s: ProxyState, ip: string, port: number, rr = new RoundRobin()): OutboundPlan =>
  buildRequest(s, s.findWorkloadByUid('Kubernetes//Pod/a/client')!, { ip, port }, rr.pick);

describe('buildRequest', () => {
  it('pod IP of an HBONE workload → HBONE to podIP:15008, authority podIP:port, its identity', () => {
    expect(run(state(), '10.244.2.7', 8080)).toMatchObject({
      kind: 'hbone', connectAddress: { ip: '10.244.2.7', port: 15008 }, authority: '10.244.2.7:8080',
      expectedIdentities: ['spiffe://cluster.local/ns/b/sa/echo'], viaWaypoint: false,
    });
  });

  it('service VIP → a healthy endpoint round robin, target port from the workload mapping', () => {
    const s = state();
    const rr = new RoundRobin();
    const picks = [0, 1, 2, 3].map(() => run(s, '10.96.0.10', 80, rr));
    const authorities = picks.map((p) => (p.kind === 'hbone' ? p.authority : p.kind));
    expect(new Set(authorities)).toEqual(new Set(['10.244.2.7:8080', '10.244.1.8:8080']));
    expect(authorities[0]).not.toBe(authorities[1]);
  });

  it('service with a waypoint → HBONE to the waypoint with the original VIP as authority', () => {
    expect(run(state(), '10.96.0.20', 80)).toMatchObject({
      kind: 'hbone', connectAddress: { ip: '10.244.2.30', port: 15008 }, authority: '10.96.0.20:80',
      expectedIdentities: ['spiffe://cluster.local/ns/w/sa/waypoint'], viaWaypoint: true,
    });
  });

  it('unknown destination → passthrough; NONE workload → plain TCP', () => {
    expect(run(state(), '192.0.2.1', 443)).toEqual({ kind: 'tcp', connectAddress: { ip: '192.0.2.1', port: 443 }, reason: 'passthrough' });
    expect(run(state(), '10.244.2.20', 9000)).toMatchObject({ kind: 'tcp', reason: 'no-tunnel' });
  });

  it('service without healthy endpoints → reject; loopback ztunnel port → reject', () => {
    expect(run(state(), '10.96.0.30', 80)).toMatchObject({ kind: 'reject' });
    expect(run(state(), '127.0.0.1', 15001)).toMatchObject({ kind: 'reject', reason: 'self-call to a ztunnel port' });
  });
});

describe('ProxyState', () => {
  it('indexes and unindexes workloads, services and their endpoints', () => {
    const s = state();
    expect(s.findAddress('', '10.96.0.10')?.kind).toBe('service');
    expect(s.findAddress('', '10.244.2.7')?.kind).toBe('workload');
    expect(s.serviceEndpoints('b/echo.b.svc.cluster.local')).toHaveLength(3);
    s.removeWorkload('Kubernetes//Pod/b/echo-1');
    expect(s.findAddress('', '10.244.2.7')).toBeUndefined();
    expect(s.serviceEndpoints('b/echo.b.svc.cluster.local')).toHaveLength(2);
    expect(s.findWorkloadByInfo({ name: 'echo-2', namespace: 'b', serviceAccount: 'echo' }, 'node1')?.name).toBe('echo-2');
    expect(s.findWorkloadByInfo({ name: 'echo-2', namespace: 'b', serviceAccount: 'echo' }, 'node2')).toBeUndefined();
  });

  it('selects candidate policies by scope and by the workload list', () => {
    const s = new ProxyState();
    const base = { rules: [], dryRun: false, action: 'ALLOW' as const };
    s.upsertPolicy({ ...base, name: 'g', namespace: 'istio-system', scope: 'GLOBAL' });
    s.upsertPolicy({ ...base, name: 'n', namespace: 'b', scope: 'NAMESPACE' });
    s.upsertPolicy({ ...base, name: 'other', namespace: 'c', scope: 'NAMESPACE' });
    s.upsertPolicy({ ...base, name: 'sel', namespace: 'b', scope: 'WORKLOAD_SELECTOR' });
    s.upsertPolicy({ ...base, name: 'sel2', namespace: 'b', scope: 'WORKLOAD_SELECTOR' });
    const w = workload({ name: 'x', namespace: 'b', authorizationPolicies: ['b/sel', 'b/missing'] });
    expect(s.policiesFor(w).map((p) => p.name).sort()).toEqual(['g', 'n', 'sel']);
  });
});
