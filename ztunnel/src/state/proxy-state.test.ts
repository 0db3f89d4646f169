// ProxyState: batches notify once with what changed, equal writes are no changes, waits re-run only
// on workload changes, and the indexed queries answer what a scan of everything held would.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Registry } from '../../../lib/metrics/registry.ts';
import type { StateChange } from './change.ts';
import { policy, service, workload } from './fixtures.ts';
import { ProxyState, registerStateMetrics } from './proxy-state.ts';
import type { Policy, Service, Workload } from './types.ts';

/** The descriptor as plain sorted arrays, for toEqual. */
function plain(c: StateChange) {
  const k = (s: ReadonlySet<string>) => [...s].sort();
  const kinds = (x: StateChange['workloads']) => ({ added: k(x.added), changed: k(x.changed), removed: k(x.removed) });
  return { workloads: kinds(c.workloads), services: kinds(c.services), policies: kinds(c.policies) };
}

function recording(s: ProxyState): StateChange[] {
  const seen: StateChange[] = [];
  s.onChange((c) => seen.push(c));
  return seen;
}

const none = { added: [], changed: [], removed: [] };

describe('ProxyState batches', () => {
  it('notifies once at the end of a batch, with the uids and keys added, changed and removed', () => {
    const s = new ProxyState();
    s.upsertWorkload(workload({ name: 'keep', ip: '10.0.0.1' }));
    s.upsertWorkload(workload({ name: 'edit', ip: '10.0.0.2' }));
    s.upsertWorkload(workload({ name: 'gone', ip: '10.0.0.3' }));
    s.upsertService(service({ name: 'old', vip: '10.96.0.1' }));
    s.upsertPolicy(policy({ name: 'p1' }));
    const seen = recording(s);
    const returned = s.batch(() => {
      s.upsertWorkload(workload({ name: 'keep', ip: '10.0.0.1' }));
      s.upsertWorkload(workload({ name: 'edit', ip: '10.0.0.20' }));
      s.removeWorkload('Kubernetes//Pod/default/gone');
      s.upsertWorkload(workload({ name: 'new', ip: '10.0.0.4' }));
      s.removeService('default/old.default.svc.cluster.local');
      s.upsertService(service({ name: 'fresh', vip: '10.96.0.2' }));
      s.upsertPolicy(policy({ name: 'p1', action: 'DENY' }));
      s.upsertPolicy(policy({ name: 'p2' }));
      expect(seen).toHaveLength(0);
      return 'result';
    });
    expect(returned).toBe('result');
    expect(seen).toHaveLength(1);
    expect(plain(seen[0]!)).toEqual({
      workloads: { added: ['Kubernetes//Pod/default/new'], changed: ['Kubernetes//Pod/default/edit'], removed: ['Kubernetes//Pod/default/gone'] },
      services: { added: ['default/fresh.default.svc.cluster.local'], changed: [], removed: ['default/old.default.svc.cluster.local'] },
      policies: { added: ['default/p2'], changed: ['default/p1'], removed: [] },
    });
    expect(seen[0]!.previous.workloads.get('Kubernetes//Pod/default/edit')?.addresses).toEqual(['10.0.0.2']);
    expect(seen[0]!.previous.workloads.get('Kubernetes//Pod/default/gone')?.addresses).toEqual(['10.0.0.3']);
    expect(seen[0]!.previous.policies.get('default/p1')?.action).toBe('ALLOW');
    // The writes are in force once the batch ends.
    expect(s.findWorkloadByAddress('', '10.0.0.20')?.name).toBe('edit');
    expect(s.findWorkloadByAddress('', '10.0.0.3')).toBeUndefined();
  });

  it('a write outside a batch is a batch of one; nested batches join the outer one', () => {
    const s = new ProxyState();
    const seen = recording(s);
    s.upsertPolicy(policy({ name: 'p' }));
    expect(seen.map(plain)).toEqual([{ workloads: none, services: none, policies: { added: ['default/p'], changed: [], removed: [] } }]);
    s.batch(() => {
      s.upsertWorkload(workload({ name: 'a' }));
      s.batch(() => s.upsertWorkload(workload({ name: 'b' })));
      expect(seen).toHaveLength(1);
    });
    expect(seen).toHaveLength(2);
    expect(plain(seen[1]!).workloads.added).toEqual(['Kubernetes//Pod/default/a', 'Kubernetes//Pod/default/b']);
  });

  it('an upsert equal to what is held, or a batch that ends where it began, changes nothing', () => {
    const registry = new Registry();
    const s = new ProxyState(registerStateMetrics(registry));
    s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.1', services: { 'default/x': { 80: 8080 } } }));
    s.upsertService(service({ name: 'x', vip: '10.96.0.1' }));
    s.upsertPolicy(policy({ name: 'p', rules: [[[]]] }));
    expect(registry.render()).toMatch(/^ztunnel_state_batches_total 3$/m);
    const seen = recording(s);
    // Fresh objects, same values.
    s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.1', services: { 'default/x': { 80: 8080 } } }));
    s.upsertService(service({ name: 'x', vip: '10.96.0.1' }));
    s.upsertPolicy(policy({ name: 'p', rules: [[[]]] }));
    s.batch(() => {
      s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.9' }));
      s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.1', services: { 'default/x': { 80: 8080 } } }));
      s.upsertWorkload(workload({ name: 'tmp' }));
      s.removeWorkload('Kubernetes//Pod/default/tmp');
      s.removePolicy('default/nothing-here');
    });
    expect(seen).toEqual([]);
    expect(registry.render()).toMatch(/^ztunnel_state_batches_total 3$/m);
    expect(s.findWorkloadByAddress('', '10.0.0.1')?.name).toBe('a');
    expect(s.findWorkloadByAddress('', '10.0.0.9')).toBeUndefined();
  });

  it('a batch whose function throws puts back what it replaced and tells no one', () => {
    const s = new ProxyState();
    s.batch(() => {
      s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.1', services: { 'default/x.default.svc.cluster.local': { 80: 8080 } } }));
      s.upsertWorkload(workload({ name: 'b', ip: '10.0.0.2' }));
      s.upsertService(service({ name: 'x', vip: '10.96.0.1' }));
      s.upsertPolicy(policy({ name: 'p', namespace: 'b' }));
      s.upsertPolicy(policy({ name: 'g', namespace: 'istio-system', scope: 'GLOBAL' }));
    });
    const before = { workloads: s.workloads(), services: s.services(), policies: s.policies() };
    const probe = workload({ name: 'probe', namespace: 'b' });
    const candidates = s.policiesFor(probe);
    const seen = recording(s);
    expect(() =>
      s.batch(() => {
        s.upsertWorkload(workload({ name: 'a', ip: '10.0.0.9' }));
        s.removeWorkload('Kubernetes//Pod/default/b');
        s.upsertWorkload(workload({ name: 'c', ip: '10.0.0.3' }));
        s.removeService('default/x.default.svc.cluster.local');
        s.upsertService(service({ name: 'y', vip: '10.96.0.2' }));
        s.upsertPolicy(policy({ name: 'p', namespace: 'b', action: 'DENY' }));
        s.removePolicy('istio-system/g');
        s.upsertPolicy(policy({ name: 'q', namespace: 'b' }));
        expect(s.policiesFor(probe).map((p) => p.name)).toEqual(['p', 'q']);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(seen).toEqual([]);
    const byKey = <T>(xs: T[], k: (x: T) => string) => [...xs].sort((a, b) => k(a).localeCompare(k(b)));
    expect(byKey(s.workloads(), (w) => w.uid)).toEqual(byKey(before.workloads, (w) => w.uid));
    expect(s.services()).toEqual(before.services);
    expect(byKey(s.policies(), (p) => p.name)).toEqual(byKey(before.policies, (p) => p.name));
    expect(byKey(s.policiesFor(probe), (p) => p.name)).toEqual(byKey(candidates, (p) => p.name));
    expect(s.findWorkloadByAddress('', '10.0.0.1')?.name).toBe('a');
    expect(s.findWorkloadByAddress('', '10.0.0.2')?.name).toBe('b');
    expect(s.findWorkloadByAddress('', '10.0.0.3')).toBeUndefined();
    expect(s.findWorkloadByAddress('', '10.0.0.9')).toBeUndefined();
    expect(s.findServiceByVip('', '10.96.0.1')?.name).toBe('x');
    expect(s.findServiceByVip('', '10.96.0.2')).toBeUndefined();
    expect(s.serviceEndpoints('default/x.default.svc.cluster.local').map((w) => w.name)).toEqual(['a']);
    expect(s.findWorkloadByInfo({ name: 'c', namespace: 'default', serviceAccount: 'c' }, 'node1')).toBeUndefined();
    // And the state still takes writes, notifying as usual.
    s.upsertWorkload(workload({ name: 'c', ip: '10.0.0.3' }));
    expect(seen).toHaveLength(1);
  });

  it('every listener hears a change even when one throws', () => {
    const s = new ProxyState();
    let heard = 0;
    s.onChange(() => {
      throw new Error('listener bug');
    });
    s.onChange(() => heard++);
    expect(() => s.upsertWorkload(workload({ name: 'a' }))).toThrow('listener bug');
    expect(heard).toBe(1);
  });

  it('waitFor re-runs its query after workload changes, not after policy-only batches', async () => {
    const s = new ProxyState();
    let runs = 0;
    const waiting = s.waitFor(() => {
      runs++;
      return s.findWorkloadByInfo({ name: 'late', namespace: 'default', serviceAccount: 'late' }, 'node1');
    }, 60_000);
    expect(runs).toBe(1);
    s.upsertPolicy(policy({ name: 'p' }));
    s.removePolicy('default/p');
    s.upsertService(service({ name: 'svc' }));
    expect(runs).toBe(1);
    s.upsertWorkload(workload({ name: 'other' }));
    expect(runs).toBe(2);
    s.upsertWorkload(workload({ name: 'late' }));
    expect((await waiting)?.name).toBe('late');
    expect(runs).toBe(3);
    // The wait has unsubscribed.
    s.upsertWorkload(workload({ name: 'more' }));
    expect(runs).toBe(3);
  });
});

describe('ProxyState indexes', () => {
  it('findWorkloadByInfo matches on node, namespace, name and service account (default when empty)', () => {
    const s = new ProxyState();
    s.upsertWorkload(workload({ name: 'a', namespace: 'x', serviceAccount: '' }));
    s.upsertWorkload(workload({ name: 'a', namespace: 'y', serviceAccount: 'sa', node: 'node2' }));
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'x', serviceAccount: 'default' }, 'node1')?.namespace).toBe('x');
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'x', serviceAccount: 'other' }, 'node1')).toBeUndefined();
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'y', serviceAccount: 'sa' }, 'node1')).toBeUndefined();
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'y', serviceAccount: 'sa' }, 'node2')?.namespace).toBe('y');
    // Moved to another node: the old key no longer finds it.
    s.upsertWorkload(workload({ name: 'a', namespace: 'y', serviceAccount: 'sa', node: 'node3' }));
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'y', serviceAccount: 'sa' }, 'node2')).toBeUndefined();
    expect(s.findWorkloadByInfo({ name: 'a', namespace: 'y', serviceAccount: 'sa' }, 'node3')).toBeDefined();
  });

  it('policiesFor keeps first-added order across GLOBAL and NAMESPACE policies, then the named selector ones', () => {
    const s = new ProxyState();
    s.upsertPolicy(policy({ name: 'n1', namespace: 'b' }));
    s.upsertPolicy(policy({ name: 'g1', namespace: 'istio-system', scope: 'GLOBAL' }));
    s.upsertPolicy(policy({ name: 'n2', namespace: 'b' }));
    s.upsertPolicy(policy({ name: 'sel', namespace: 'b', scope: 'WORKLOAD_SELECTOR' }));
    s.upsertPolicy(policy({ name: 'other', namespace: 'c' }));
    const w = workload({ name: 'w', namespace: 'b', authorizationPolicies: ['b/sel', 'b/unknown', 'b/n1'] });
    expect(s.policiesFor(w).map((p) => p.name)).toEqual(['n1', 'g1', 'n2', 'sel']);
    // An update keeps its place, even when its scope changes; removed and re-added goes last.
    s.upsertPolicy(policy({ name: 'n1', namespace: 'b', scope: 'GLOBAL', action: 'DENY' }));
    expect(s.policiesFor(w).map((p) => `${p.name}:${p.action}`)).toEqual(['n1:DENY', 'g1:ALLOW', 'n2:ALLOW', 'sel:ALLOW']);
    expect(s.policiesFor(workload({ name: 'z', namespace: 'c' })).map((p) => p.name)).toEqual(['n1', 'g1', 'other']);
    s.removePolicy('istio-system/g1');
    s.upsertPolicy(policy({ name: 'g1', namespace: 'istio-system', scope: 'GLOBAL' }));
    expect(s.policiesFor(w).map((p) => p.name)).toEqual(['n1', 'n2', 'g1', 'sel']);
  });

  // The queries as plain scans over everything held (the state's iteration order is the order the
  // scans saw before the indexes existed).
  const scan = {
    byInfo(s: ProxyState, info: { name: string; namespace: string; serviceAccount: string }, node: string): Workload | undefined {
      return s.workloads().find((w) => w.node === node && w.name === info.name && w.namespace === info.namespace && (w.serviceAccount || 'default') === (info.serviceAccount || 'default'));
    },
    policiesFor(s: ProxyState, w: Workload): Policy[] {
      const out = s.policies().filter((p) => p.scope === 'GLOBAL' || (p.scope === 'NAMESPACE' && p.namespace === w.namespace));
      for (const name of w.authorizationPolicies) {
        const p = s.policies().find((q) => `${q.namespace}/${q.name}` === name);
        if (p && p.scope === 'WORKLOAD_SELECTOR') out.push(p);
      }
      return out;
    },
    byHostname(s: ProxyState, hostname: string): Service[] {
      return s.services().filter((x) => x.hostname === hostname);
    },
  };

  const names = ['a', 'b', 'c'];
  const namespaces = ['x', 'y', 'istio-system'];
  const nodes = ['node1', 'node2'];
  const accounts = ['', 'default', 'sa'];
  const hosts = ['h1.example', 'h2.example', 'h1.EXAMPLE'];
  const policyKeys = namespaces.flatMap((ns) => names.map((n) => `${ns}/${n}`));

  const arbWorkload = fc.record({
    uidN: fc.integer({ min: 0, max: 5 }),
    name: fc.constantFrom(...names),
    namespace: fc.constantFrom(...namespaces),
    node: fc.constantFrom(...nodes),
    serviceAccount: fc.constantFrom(...accounts),
    authorizationPolicies: fc.subarray(policyKeys),
  });
  const arbOp = fc.oneof(
    arbWorkload.map((w) => ({ op: 'upsertWorkload' as const, w })),
    fc.integer({ min: 0, max: 5 }).map((uidN) => ({ op: 'removeWorkload' as const, uidN })),
    fc.record({ name: fc.constantFrom(...names), namespace: fc.constantFrom(...namespaces), hostname: fc.constantFrom(...hosts), port: fc.constantFrom(80, 81) }).map((v) => ({ op: 'upsertService' as const, v })),
    fc.record({ namespace: fc.constantFrom(...namespaces), hostname: fc.constantFrom(...hosts) }).map((v) => ({ op: 'removeService' as const, v })),
    fc.record({ name: fc.constantFrom(...names), namespace: fc.constantFrom(...namespaces), scope: fc.constantFrom('GLOBAL' as const, 'NAMESPACE' as const, 'WORKLOAD_SELECTOR' as const), action: fc.constantFrom('ALLOW' as const, 'DENY' as const) }).map((v) => ({ op: 'upsertPolicy' as const, v })),
    fc.constantFrom(...policyKeys).map((key) => ({ op: 'removePolicy' as const, key })),
  );
  const arbInBatches = fc.array(fc.record({ batch: fc.boolean(), fail: fc.boolean(), ops: fc.array(arbOp, { maxLength: 6 }) }), { maxLength: 25 });

  it('indexed lookups equal the linear scans on random write sequences, failed batches included', () => {
    fc.assert(
      fc.property(arbInBatches, (groups) => {
        const s = new ProxyState();
        for (const g of groups) {
          const run = () => {
            for (const o of g.ops) {
              switch (o.op) {
                case 'upsertWorkload':
                  s.upsertWorkload(workload({ ...o.w, uid: `uid-${o.w.uidN}` }));
                  break;
                case 'removeWorkload':
                  s.removeWorkload(`uid-${o.uidN}`);
                  break;
                case 'upsertService':
                  s.upsertService(service({ ...o.v, ports: [{ servicePort: o.v.port, targetPort: 8080 }] }));
                  break;
                case 'removeService':
                  s.removeService(`${o.v.namespace}/${o.v.hostname}`);
                  break;
                case 'upsertPolicy':
                  s.upsertPolicy(policy(o.v));
                  break;
                case 'removePolicy':
                  s.removePolicy(o.key);
                  break;
              }
            }
          };
          if (g.batch && g.fail) {
            // A failed batch leaves every value as it was.
            const held = () => ({
              workloads: new Map(s.workloads().map((w) => [w.uid, w])),
              services: new Map(s.services().map((x) => [`${x.namespace}/${x.hostname}`, x])),
              policies: new Map(s.policies().map((p) => [`${p.namespace}/${p.name}`, p])),
            });
            const before = held();
            expect(() =>
              s.batch(() => {
                run();
                throw new Error('fail');
              }),
            ).toThrow('fail');
            expect(held()).toEqual(before);
          } else if (g.batch) s.batch(run);
          else run();
          for (const node of nodes) {
            for (const namespace of namespaces) {
              for (const name of names) {
                for (const serviceAccount of accounts) {
                  const info = { name, namespace, serviceAccount };
                  expect(s.findWorkloadByInfo(info, node)).toBe(scan.byInfo(s, info, node));
                }
              }
            }
          }
          for (const w of s.workloads()) expect(s.policiesFor(w)).toEqual(scan.policiesFor(s, w));
          for (const namespace of namespaces) {
            const w = workload({ name: 'probe', namespace, authorizationPolicies: policyKeys });
            expect(s.policiesFor(w)).toEqual(scan.policiesFor(s, w));
          }
          for (const h of hosts) expect(s.findServiceByHostname(h)).toEqual(scan.byHostname(s, h));
        }
      }),
      { numRuns: 200 },
    );
  });
});
