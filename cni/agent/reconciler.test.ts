import { openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MeshDataplane } from './dataplane.ts';
import type { NamespaceView, PodView } from './enrollment.ts';
import { Reconciler } from './reconciler.ts';
import { fakeDataplaneDeps, quietLog, testPod } from './test-fakes.ts';

const settle = () => new Promise((r) => setImmediate(r));

function setup(namespaces: NamespaceView[], pods: PodView[], netnsFound = true) {
  const { deps, calls } = fakeDataplaneDeps();
  const dataplane = new MeshDataplane(deps);
  const nsMap = new Map(namespaces.map((n) => [n.name, n]));
  const r = new Reconciler({
    dataplane,
    findNetns: () => (netnsFound ? { fd: openSync('/dev/null', 'r'), path: '/proc/1/ns/net' } : undefined),
    namespace: (n) => nsMap.get(n),
    pods: () => pods,
    excludedNamespaces: new Set(['kube-system']),
    log: quietLog(),
  });
  return { r, dataplane, calls, nsMap, pods };
}

const ambientNs = { name: 'app', labels: { 'istio.io/dataplane-mode': 'ambient' } };

describe('Reconciler', () => {
  it('captures running pods of an ambient namespace at start, and drops what is no longer there', async () => {
    const { r, dataplane } = setup([ambientNs], [testPod, { ...testPod, uid: 'u2', name: 'q', namespace: 'other' }]);
    await r.resyncAll();
    expect(dataplane.uids()).toEqual(['u1']);
    await r.close();
    dataplane.close();
  });

  it('follows the namespace label both ways without touching the pods', async () => {
    const { r, dataplane, nsMap, calls } = setup([{ name: 'app', labels: {} }], [testPod]);
    await r.resyncAll();
    expect(dataplane.has('u1')).toBe(false);
    nsMap.set('app', ambientNs);
    await r.namespaceChanged(ambientNs);
    expect(dataplane.state('u1')).toBe('enabled');
    nsMap.set('app', { name: 'app', labels: {} });
    await r.namespaceChanged({ name: 'app', labels: {} });
    expect(dataplane.has('u1')).toBe(false);
    expect(calls.filter((c) => c.startsWith('annotate'))).toEqual(['annotate p=enabled', 'annotate p=(removed)']);
    await r.close();
  });

  it('waits for the pod IP, and retries while the netns cannot be found', async () => {
    const { r, dataplane } = setup([ambientNs], [{ ...testPod, podIps: [] }], false);
    await r.resyncAll();
    expect(dataplane.has('u1')).toBe(false);
    await r.podChanged(testPod);
    expect(dataplane.has('u1')).toBe(false);
    await r.close();
  });

  it('captures a new pod from the CNI ADD path only when enrollment says so', async () => {
    const { r, dataplane, nsMap } = setup([ambientNs, { name: 'plain', labels: {} }], []);
    expect(await r.captureNew(testPod, () => openSync('/dev/null', 'r'))).toBe(true);
    expect(await r.captureNew({ ...testPod, uid: 'u3', namespace: 'plain' }, () => openSync('/dev/null', 'r'))).toBe(false);
    expect(dataplane.uids()).toEqual(['u1']);
    expect(nsMap.size).toBe(2);
    await r.podDeleted(testPod);
    expect(dataplane.uids()).toEqual([]);
    await r.close();
  });

  it('works on different pods side by side and keeps one pod’s steps in order', async () => {
    const { deps, calls } = fakeDataplaneDeps();
    // Rule application that finishes only when the test says so, per pod netns fd.
    const pending: (() => void)[] = [];
    deps.rules.apply = (n) => {
      calls.push(`rules+ start ${n.path}`);
      return new Promise<void>((resolve) => pending.push(() => {
        calls.push(`rules+ end ${n.path}`);
        resolve();
      }));
    };
    const dataplane = new MeshDataplane(deps);
    const a = { ...testPod, uid: 'ua', name: 'a', podIps: ['10.244.1.5'] };
    const b = { ...testPod, uid: 'ub', name: 'b', podIps: ['10.244.1.6'] };
    const fds = new Map<string, number>();
    const r = new Reconciler({
      dataplane,
      findNetns: (ips) => {
        const fd = openSync('/dev/null', 'r');
        fds.set(ips[0]!, fd);
        return { fd, path: `/proc/1/ns/net` };
      },
      namespace: () => ambientNs,
      pods: () => [a, b],
      excludedNamespaces: new Set(),
      log: quietLog(),
    });
    const path = (pod: typeof a) => `/proc/${process.pid}/fd/${fds.get(pod.podIps[0]!)}`;
    const addA = r.podChanged(a);
    const addB = r.podChanged(b);
    const delA = r.podDeleted(a);
    let ticked = false;
    setImmediate(() => (ticked = true));
    await settle();
    // Both pods' rules are in flight at once, and the event loop turned meanwhile.
    expect(calls).toEqual([`rules+ start ${path(a)}`, `rules+ start ${path(b)}`]);
    expect(ticked).toBe(true);
    pending[1]!();
    await addB;
    expect(dataplane.state('ub')).toBe('enabled');
    // a's delete waits for a's add, however long its rules take.
    expect(dataplane.has('ua')).toBe(false);
    expect(calls).not.toContain('zds- ua');
    pending[0]!();
    await Promise.all([addA, delA]);
    const at = (c: string) => calls.indexOf(c);
    expect(at(`rules+ end ${path(a)}`)).toBeLessThan(at('zds+ ua app/a/sa'));
    expect(at('annotate a=enabled')).toBeLessThan(at('zds- ua'));
    expect(at('zds- ua')).toBeLessThan(at('rules-'));
    expect(dataplane.uids()).toEqual(['ub']);
    await r.close();
    dataplane.close();
  });
});
