import { describe, expect, it } from 'vitest';
import { ambientNamespaces, decideEnrollment, type PodView } from './enrollment.ts';

const pod = (over: Partial<PodView> = {}): PodView => ({
  uid: 'u1', name: 'p', namespace: 'app', labels: {}, annotations: {}, hostNetwork: false, phase: 'Running', deleting: false, podIps: ['10.244.1.5'], serviceAccount: 'default', ...over,
});
const ambient = { name: 'app', labels: { 'istio.io/dataplane-mode': 'ambient' } };
const plain = { name: 'app', labels: {} };
const excluded = new Set(['kube-system']);

describe('decideEnrollment', () => {
  it.each([
    ['namespace ambient', pod(), ambient, true],
    ['namespace ambient, pod opts out', pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), ambient, false],
    ['pod label ambient in a plain namespace', pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), plain, true],
    ['plain namespace', pod(), plain, false],
    ['namespace unknown yet', pod(), undefined, false],
    ['host network', pod({ hostNetwork: true }), ambient, false],
    ['sidecar', pod({ annotations: { 'sidecar.istio.io/status': '{}' } }), ambient, false],
    ['being deleted', pod({ deleting: true }), ambient, false],
    ['finished', pod({ phase: 'Succeeded' }), ambient, false],
    ['excluded namespace', pod({ namespace: 'kube-system' }), { name: 'kube-system', labels: ambient.labels }, false],
  ] as const)('%s', (_name, p, ns, want) => {
    expect(decideEnrollment(p, ns, excluded).enroll).toBe(want);
  });

  it('says why a pod is not enrolled', () => {
    expect(decideEnrollment(pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), ambient, excluded)).toEqual({ enroll: false, reason: 'pod label istio.io/dataplane-mode=none' });
  });

  it('lists ambient namespaces, never excluded ones', () => {
    expect(ambientNamespaces([ambient, { name: 'b', labels: {} }, { name: 'kube-system', labels: ambient.labels }, { name: 'a', labels: ambient.labels }], excluded)).toEqual(['a', 'app']);
  });
});
