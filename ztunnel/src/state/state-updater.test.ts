import { describe, expect, it } from 'vitest';
import { policy, service, workload } from './fixtures.ts';
import { ProxyState } from './proxy-state.ts';
import { applySnapshot } from './state-updater.ts';

describe('applySnapshot', () => {
  it('adds, replaces and removes to match the snapshot, notifying listeners once per snapshot', () => {
    const s = new ProxyState();
    let changes = 0;
    s.onChange(() => changes++);
    applySnapshot(s, { workloads: [workload({ name: 'a', ip: '10.0.0.1' }), workload({ name: 'b', ip: '10.0.0.2' })], services: [service({ name: 's', vip: '10.96.0.1' })], policies: [policy({ name: 'p' })] });
    expect(s.workloads()).toHaveLength(2);
    applySnapshot(s, { workloads: [workload({ name: 'b', ip: '10.0.0.3' })], services: [], policies: [] });
    expect(s.workloads().map((w) => w.addresses[0])).toEqual(['10.0.0.3']);
    expect(s.findWorkloadByAddress('', '10.0.0.2')).toBeUndefined();
    expect(s.services()).toEqual([]);
    expect(s.policies()).toEqual([]);
    expect(changes).toBe(2);
  });

  it('one snapshot is one notification, and an unchanged snapshot none', () => {
    const s = new ProxyState();
    const snap = { workloads: [workload({ name: 'a', ip: '10.0.0.1' }), workload({ name: 'b', ip: '10.0.0.2' })], services: [service({ name: 's', vip: '10.96.0.1' })], policies: [policy({ name: 'p' })] };
    applySnapshot(s, snap);
    let changes = 0;
    s.onChange(() => changes++);
    applySnapshot(s, structuredClone(snap));
    expect(changes).toBe(0);
    applySnapshot(s, { ...snap, workloads: [workload({ name: 'c', ip: '10.0.0.3' })], policies: [] });
    expect(changes).toBe(1);
  });
});
