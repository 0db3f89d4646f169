// ModelStore through the interface the delta server consumes: a full rebuild at startup, then
// batches of informer events that announce only the types, and name only the resources, they change.
import { describe, expect, it } from 'vitest';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../lib/proto/index.ts';
import { modelOptions, type ModelSnapshot } from '../model/index.ts';
import { authzPolicy, namespace, pod } from '../model/test-fixtures.ts';
import { ModelStore } from './store.ts';

const options = modelOptions();

function cluster(n: number): ModelSnapshot {
  return {
    pods: Array.from({ length: n }, (_, i) => pod({ namespace: `ns${i % 10}`, name: `p${i}`, labels: { app: `a${i % 100}` }, ips: [`10.1.${(i >> 8) & 255}.${i & 255}`] })),
    services: [],
    namespaces: Array.from({ length: 10 }, (_, i) => namespace(`ns${i}`)),
  };
}

describe('ModelStore', () => {
  it('starts with a full rebuild, then announces only what a batch of events changed', () => {
    const snap = cluster(10_000);
    const store = new ModelStore(() => snap, options);
    const types: string[][] = [];
    const names: Record<string, { updated: string[]; removed: string[] }>[] = [];
    store.onChange((t) => types.push([...t]));
    store.onResourceChange((c) => names.push(Object.fromEntries([...c].map(([t, x]) => [t, { updated: [...x.updated], removed: [...x.removed] }]))));

    const full = store.rebuild();
    expect(full.kind).toBe('full');
    expect(full.counts[ADDRESS_TYPE_URL]).toBe(10_000);
    expect(types).toEqual([[ADDRESS_TYPE_URL]]);
    const before = store.snapshot(ADDRESS_TYPE_URL).get('Kubernetes//Pod/ns1/p1')!;

    // One pod of 10k turns unready.
    const r = store.apply([{ kind: 'Pod', object: pod({ namespace: 'ns3', name: 'p3', labels: { app: 'a3' }, ips: ['10.1.0.3'], ready: false }), deleted: false }]);
    expect(r.kind).toBe('incremental');
    expect(r.built.workloads).toBe(1);
    expect([...r.changed]).toEqual([ADDRESS_TYPE_URL]);
    expect(names.at(-1)).toEqual({ [ADDRESS_TYPE_URL]: { updated: ['Kubernetes//Pod/ns3/p3'], removed: [] } });
    // Unchanged resources keep their entry, so the server sees the same version.
    expect(store.snapshot(ADDRESS_TYPE_URL).get('Kubernetes//Pod/ns1/p1')).toBe(before);

    // An event that changes nothing announces nothing.
    const calls = types.length;
    expect(store.apply([{ kind: 'Pod', object: snap.pods[5]!, deleted: false }]).changed.size).toBe(0);
    expect(types.length).toBe(calls);

    // A policy: the Authorization, and the workloads it selects, in one announcement.
    const p = store.apply([{ kind: 'AuthorizationPolicy', object: authzPolicy('ns1', 'deny', { selector: { matchLabels: { app: 'a1' } }, action: 'DENY', rules: [{ to: [{ operation: { ports: ['22'] } }] }] }), deleted: false }]);
    expect([...p.changed].sort()).toEqual([ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL].sort());
    expect(p.built.workloads).toBe(100);
    expect(store.snapshot(AUTHORIZATION_TYPE_URL).has('ns1/deny')).toBe(true);

    // Deleting a pod removes its name.
    store.apply([{ kind: 'Pod', object: snap.pods[7]!, deleted: true }]);
    expect(names.at(-1)).toEqual({ [ADDRESS_TYPE_URL]: { updated: [], removed: ['Kubernetes//Pod/ns7/p7'] } });
    expect(store.snapshot(ADDRESS_TYPE_URL).size).toBe(9_999);
  });
});
