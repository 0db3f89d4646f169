import { openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MeshDataplane } from './dataplane.ts';
import type { NamespaceView, PodView } from './enrollment.ts';
import { Reconciler } from './reconciler.ts';
import { fakeDataplaneDeps, quietLog, testPod } from './test-fakes.ts';

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
});
