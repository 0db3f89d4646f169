// The ZDS → WorkloadManager binding: field mapping, fd hand-over, and that the end of a snapshot
// keeps every pod the manager runs (the client already dropped the others) while marking it done.
import { describe, expect, it } from 'vitest';
import type { PodInfo } from './pod-proxy.ts';
import { workloadManagerConsumer, type ZdsWorkloadTarget } from './zds-workloads.ts';

class FakeManager implements ZdsWorkloadTarget {
  readonly running = new Map<string, { pod: PodInfo; fd: number }>();
  reconciled: Set<string>[] = [];
  add(pod: PodInfo, netnsFd: number): void {
    this.running.set(pod.uid, { pod, fd: netnsFd });
  }
  remove(uid: string): boolean {
    return this.running.delete(uid);
  }
  reconcile(named: Set<string>): void {
    this.reconciled.push(named);
  }
  pods(): PodInfo[] {
    return [...this.running.values()].map((r) => r.pod);
  }
}

describe('workloadManagerConsumer', () => {
  it('maps add/del/snapshotDone onto the manager', async () => {
    const m = new FakeManager();
    const c = workloadManagerConsumer(m);
    await c.onAdd('u1', { name: 'echo', namespace: 'default', serviceAccount: 'echo-sa' }, 42);
    await c.onAdd('u2', { name: 'sleep', namespace: 'default', serviceAccount: 'sleep' }, 43);
    expect(m.running.get('u1')).toEqual({ pod: { uid: 'u1', name: 'echo', namespace: 'default', serviceAccount: 'echo-sa' }, fd: 42 });
    await c.onDel('u2');
    await c.onDel('never-added');
    await c.onSnapshotDone();
    expect([...m.running.keys()]).toEqual(['u1']);
    expect(m.reconciled).toEqual([new Set(['u1'])]);
  });
});
