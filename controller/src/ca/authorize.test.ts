import { describe, expect, it } from 'vitest';
import { authorizeIdentity, callerFromUsername, type AuthorizeInput, type PodFacts } from './authorize.ts';

const ztunnelPod: PodFacts = { uid: 'zt-1', namespace: 'istio-system', serviceAccount: 'ztunnel', nodeName: 'node1', phase: 'Running' };
const pods: PodFacts[] = [
  ztunnelPod,
  { uid: 'p1', namespace: 'app', serviceAccount: 'sleep', nodeName: 'node1', phase: 'Running' },
  { uid: 'p2', namespace: 'app', serviceAccount: 'echo', nodeName: 'node2', phase: 'Running' },
  { uid: 'p3', namespace: 'app', serviceAccount: 'done', nodeName: 'node1', phase: 'Succeeded' },
];
const base = (over: Partial<AuthorizeInput> = {}): AuthorizeInput => ({
  caller: { namespace: 'istio-system', serviceAccount: 'ztunnel', podName: 'ztunnel-abc', podUid: 'zt-1' },
  trustDomain: 'cluster.local',
  trustedNodeAccounts: new Set(['istio-system/ztunnel']),
  callerPod: ztunnelPod,
  podsOnNode: (n) => pods.filter((p) => p.nodeName === n),
  ...over,
});

describe('callerFromUsername', () => {
  it('reads a service account and its pod binding', () => {
    expect(callerFromUsername('system:serviceaccount:app:sleep', { 'authentication.kubernetes.io/pod-name': ['sleep-1'], 'authentication.kubernetes.io/pod-uid': ['u1'] }))
      .toEqual({ namespace: 'app', serviceAccount: 'sleep', podName: 'sleep-1', podUid: 'u1' });
    expect(callerFromUsername('system:node:node1')).toBeUndefined();
    expect(callerFromUsername('admin')).toBeUndefined();
  });
});

describe('authorizeIdentity', () => {
  it('gives a caller its own identity', () => {
    expect(authorizeIdentity(base({ caller: { namespace: 'app', serviceAccount: 'sleep' } }))).toEqual({ kind: 'allow', identity: { trustDomain: 'cluster.local', namespace: 'app', serviceAccount: 'sleep' } });
  });

  it('lets the node proxy impersonate a pod on its own node', () => {
    expect(authorizeIdentity(base({ impersonated: 'spiffe://cluster.local/ns/app/sa/sleep' }))).toMatchObject({ kind: 'allow', identity: { namespace: 'app', serviceAccount: 'sleep' } });
  });

  it.each([
    ['a pod on another node', base({ impersonated: 'spiffe://cluster.local/ns/app/sa/echo' }), /no running pod with service account app\/echo on node node1/],
    ['a finished pod', base({ impersonated: 'spiffe://cluster.local/ns/app/sa/done' }), /no running pod/],
    ['an untrusted account', base({ caller: { namespace: 'app', serviceAccount: 'sleep', podName: 'x', podUid: 'y' }, impersonated: 'spiffe://cluster.local/ns/app/sa/echo' }), /app\/sleep may not impersonate/],
    ['a token without pod binding', base({ caller: { namespace: 'istio-system', serviceAccount: 'ztunnel' }, impersonated: 'spiffe://cluster.local/ns/app/sa/sleep' }), /not bound to a pod/],
    ['a stale pod uid', base({ caller: { namespace: 'istio-system', serviceAccount: 'ztunnel', podName: 'ztunnel-abc', podUid: 'old' }, impersonated: 'spiffe://cluster.local/ns/app/sa/sleep' }), /has uid zt-1, the token names old/],
    ['a missing caller pod', base({ callerPod: undefined, impersonated: 'spiffe://cluster.local/ns/app/sa/sleep' }), /does not exist/],
    ['not a SPIFFE id', base({ impersonated: 'app/sleep' }), /ImpersonatedIdentity "app\/sleep"/],
    ['another trust domain', base({ impersonated: 'spiffe://other.td/ns/app/sa/sleep' }), /outside trust domain/],
  ])('refuses %s', (_name, input, reason) => {
    const d = authorizeIdentity(input);
    expect(d.kind).toBe('deny');
    expect(d.kind === 'deny' ? d.reason : '').toMatch(reason);
  });
});
