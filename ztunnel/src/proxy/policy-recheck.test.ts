// Live re-authorization after state changes: only connections whose destination or candidate
// policies a batch changed are evaluated again (ztunnel_connections_rechecked_total says how many),
// and those now denied are closed.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/log/logger.ts';
import { registerTcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { Registry } from '../../../lib/metrics/registry.ts';
import { match, policy, service, workload } from '../state/fixtures.ts';
import { ProxyState } from '../state/proxy-state.ts';
import { ConnectionManager } from './connection-manager.ts';
import { inScope, recheckOnChange, recheckScope, registerRecheckMetrics } from './policy-recheck.ts';

const everyone = [[[match({ sourceIps: [{ address: '0.0.0.0', prefixLength: 0 }] })]]];

function metric(registry: Registry, line: string): number {
  const found = registry.render().split('\n').find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

function setup() {
  const registry = new Registry();
  const state = new ProxyState();
  const cm = new ConnectionManager(registerTcpMetrics(registry), createLogger({ component: 'test', level: 'silent' }));
  const off = recheckOnChange(state, cm, registerRecheckMetrics(registry));
  const echoA = workload({ name: 'echo', namespace: 'a', ip: '10.244.1.10' });
  const echoB = workload({ name: 'echo', namespace: 'b', ip: '10.244.1.20' });
  state.batch(() => {
    state.upsertWorkload(echoA);
    state.upsertWorkload(echoB);
  });
  const closed: string[] = [];
  const connect = (w: typeof echoA, label: string) =>
    cm.open({
      direction: 'inbound',
      metric: { reporter: 'destination', source: { workload: 'sleep' }, destination: { workload: w.name }, mutualTls: true },
      access: { direction: 'inbound', src: { addr: '10.244.2.5:40000' }, dst: { addr: `${w.addresses[0]}:8080` } },
      rbac: { conn: { srcIdentity: 'spiffe://cluster.local/ns/c/sa/sleep', srcIp: '10.244.2.5', dstIp: w.addresses[0]!, dstPort: 8080 }, destinationUid: w.uid },
      close: () => closed.push(label),
    });
  const toA = connect(echoA, 'to-a');
  const toB = connect(echoB, 'to-b');
  const rechecked = () => ({ allowed: metric(registry, 'ztunnel_connections_rechecked_total{result="allowed"}'), denied: metric(registry, 'ztunnel_connections_rechecked_total{result="denied"}') });
  return { registry, state, cm, off, echoA, echoB, closed, toA, toB, rechecked };
}

describe('recheckOnChange', () => {
  it('a policy-only change in namespace a re-checks the connection to a, not the one to b', () => {
    const t = setup();
    t.state.upsertPolicy(policy({ name: 'allow-all', namespace: 'a', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 0 });
    t.state.upsertPolicy(policy({ name: 'deny-all', namespace: 'a', action: 'DENY', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 1 });
    expect(t.closed).toEqual(['to-a']);
    t.cm.finish(t.toA);
    // The same in namespace b reaches the other connection only.
    t.state.upsertPolicy(policy({ name: 'deny-all', namespace: 'b', action: 'DENY', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 2 });
    expect(t.closed).toEqual(['to-a', 'to-b']);
  });

  it('a removed NAMESPACE policy counts where it applied before', () => {
    const t = setup();
    t.state.upsertPolicy(policy({ name: 'p', namespace: 'b', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 0 });
    t.state.removePolicy('b/p');
    expect(t.rechecked()).toEqual({ allowed: 2, denied: 0 });
    expect(t.closed).toEqual([]);
  });

  it('a GLOBAL policy re-checks every connection', () => {
    const t = setup();
    t.state.upsertPolicy(policy({ name: 'deny-c', namespace: 'istio-system', scope: 'GLOBAL', action: 'DENY', clauses: [[match({ namespaces: [{ kind: 'exact', value: 'c' }] })]] }));
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 2 });
    expect(t.closed.sort()).toEqual(['to-a', 'to-b']);
  });

  it('a WORKLOAD_SELECTOR policy re-checks connections to the workloads that name it', () => {
    const t = setup();
    // Not named by anyone yet: nothing to re-check.
    t.state.upsertPolicy(policy({ name: 'istio_converted_static_strict', namespace: 'istio-system', scope: 'WORKLOAD_SELECTOR', action: 'DENY', clauses: [[match({ namespaces: [{ kind: 'exact', value: 'c' }] })]] }));
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 0 });
    // The destination workload now names it: that is a change of the destination.
    t.state.upsertWorkload({ ...t.echoB, authorizationPolicies: ['istio-system/istio_converted_static_strict'] });
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 1 });
    expect(t.closed).toEqual(['to-b']);
  });

  it('a change of the selector policy a destination names re-checks only that destination', () => {
    const t = setup();
    t.state.upsertPolicy(policy({ name: 'sel', namespace: 'b', scope: 'WORKLOAD_SELECTOR', rules: everyone }));
    t.state.upsertWorkload({ ...t.echoB, authorizationPolicies: ['b/sel'] });
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 0 });
    t.state.upsertPolicy(policy({ name: 'sel', namespace: 'b', scope: 'WORKLOAD_SELECTOR', action: 'DENY', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 1, denied: 1 });
    expect(t.closed).toEqual(['to-b']);
  });

  it('a removed destination closes its connections; service-only and equal writes re-check nothing', () => {
    const t = setup();
    t.state.upsertService(service({ name: 'echo', namespace: 'a', vip: '10.96.0.10' }));
    t.state.upsertWorkload(workload({ name: 'echo', namespace: 'a', ip: '10.244.1.10' }));
    t.state.upsertWorkload(workload({ name: 'unrelated', namespace: 'a', ip: '10.244.1.30' }));
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 0 });
    t.state.removeWorkload(t.echoA.uid);
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 1 });
    expect(t.closed).toEqual(['to-a']);
  });

  it('one batch of many policy writes re-checks each affected connection once', () => {
    const t = setup();
    t.state.batch(() => {
      for (let i = 0; i < 50; i++) t.state.upsertPolicy(policy({ name: `p${i}`, namespace: i % 2 ? 'a' : 'b', rules: everyone }));
    });
    expect(t.rechecked()).toEqual({ allowed: 2, denied: 0 });
  });

  it('stops after the unsubscribe', () => {
    const t = setup();
    t.off();
    t.state.upsertPolicy(policy({ name: 'deny-all', namespace: 'a', action: 'DENY', rules: everyone }));
    expect(t.rechecked()).toEqual({ allowed: 0, denied: 0 });
    expect(t.closed).toEqual([]);
  });
});

describe('recheckScope / inScope', () => {
  it('a policy that moved from NAMESPACE to WORKLOAD_SELECTOR counts in both places', () => {
    const s = new ProxyState();
    s.upsertPolicy(policy({ name: 'p', namespace: 'a' }));
    let scope: ReturnType<typeof recheckScope> | undefined;
    s.onChange((c) => (scope = recheckScope(c, (k) => s.findPolicyByKey(k))));
    s.upsertPolicy(policy({ name: 'p', namespace: 'a', scope: 'WORKLOAD_SELECTOR' }));
    expect(scope).toBeDefined();
    expect({ all: scope!.all, namespaces: [...scope!.namespaces], selectorPolicies: [...scope!.selectorPolicies], workloads: [...scope!.workloads] }).toEqual({ all: false, namespaces: ['a'], selectorPolicies: ['a/p'], workloads: [] });
    expect(inScope(scope!, 'u1', workload({ name: 'x', namespace: 'a' }))).toBe(true);
    expect(inScope(scope!, 'u2', workload({ name: 'y', namespace: 'b', authorizationPolicies: ['a/p'] }))).toBe(true);
    expect(inScope(scope!, 'u3', workload({ name: 'z', namespace: 'b' }))).toBe(false);
    expect(inScope(scope!, 'u4', undefined)).toBe(false);
  });
});
