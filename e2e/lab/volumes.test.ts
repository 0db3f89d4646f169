// The kubelet stand-in's volumes on the lab: a pod mounting a projected pod-bound token, a ConfigMap,
// downward-API labels and the apiserver-injected kube-api-access reads them through paths relative
// to its cwd (the pod root); a missing ConfigMap holds it in ContainerCreating with FailedMount
// until it is created; ConfigMap and label changes reach the files without a restart.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { down, kubectlSync, podLogLines, podRef, runningLab, up } from './lab.ts';
import { pollUntil } from './poll.ts';
import type { LabState } from './state.ts';

const NS = 'voltest';
const FILES = [
  './var/run/secrets/tokens/istio-token',
  './etc/app/greeting',
  './etc/podinfo/labels',
  './var/run/secrets/kubernetes.io/serviceaccount/namespace',
];

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: ${NS} }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: reader, namespace: ${NS} }
---
apiVersion: v1
kind: Pod
metadata: { name: reader, namespace: ${NS}, labels: { app: reader, tier: one } }
spec:
  serviceAccountName: reader
  containers:
  - name: main
    image: lab/sleep
    env: [{ name: CAT_FILES, value: "${FILES.join(',')}" }]
    volumeMounts:
    - { name: istio-token, mountPath: /var/run/secrets/tokens }
    - { name: app-config, mountPath: /etc/app }
    - { name: podinfo, mountPath: /etc/podinfo }
    - { name: scratch, mountPath: /tmp/scratch }
  volumes:
  - name: istio-token
    projected: { sources: [{ serviceAccountToken: { audience: istio-ca, expirationSeconds: 43200, path: istio-token } }] }
  - name: app-config
    configMap: { name: app-config }
  - name: podinfo
    downwardAPI: { items: [{ path: labels, fieldRef: { fieldPath: metadata.labels } }] }
  - name: scratch
    emptyDir: {}
`;

interface PodJson {
  metadata: { uid: string };
  status: { conditions?: { type: string; status: string }[]; containerStatuses?: { state?: { waiting?: { reason?: string; message?: string } } }[] };
}

describe('pod volumes (root)', () => {
  let lab: LabState;
  const pod = () => JSON.parse(kubectlSync(lab, ['get', 'pod', '-n', NS, 'reader', '-o', 'json']).stdout) as PodJson;
  /** The newest content the pod logged for each file. */
  const seen = () => {
    const out = new Map<string, string | null>();
    for (const l of podLogLines(NS, 'reader', 'main', lab)) if (l.msg === 'file') out.set(String(l.path), l.missing ? null : String(l.content));
    return out;
  };

  beforeAll(async () => {
    if (runningLab()) throw new Error("a lab is already running: this suite brings up its own; run 'e2e/lab/lab down' first");
    lab = await up({ nodes: 1 });
    kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
  }, 240_000);

  afterAll(async () => {
    if (runningLab()) await down();
  }, 120_000);

  it('holds the pod in ContainerCreating with a FailedMount event while its ConfigMap is missing', async () => {
    const waiting = await pollUntil('the FailedMount message on the container', () => {
      const w = pod().status.containerStatuses?.[0]?.state?.waiting;
      return w?.message?.includes('not found') ? w : undefined;
    }, { timeoutMs: 30_000 });
    expect(waiting).toEqual({ reason: 'ContainerCreating', message: 'MountVolume.SetUp failed for volume "app-config" : configmap "app-config" not found' });
    const events = await pollUntil('the FailedMount event', () => {
      const list = JSON.parse(kubectlSync(lab, ['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=reader', '-o', 'json']).stdout) as { items: { reason: string; type: string; message: string; source: { component: string; host: string } }[] };
      return list.items.find((e) => e.reason === 'FailedMount');
    }, { timeoutMs: 30_000 });
    expect(events).toMatchObject({ type: 'Warning', source: { component: 'kubelet', host: 'node1' } });
    expect(pod().status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
  });

  it('starts the pod once the ConfigMap exists; it reads every mount through paths relative to its cwd', async () => {
    kubectlSync(lab, ['create', 'configmap', 'app-config', '-n', NS, '--from-literal=greeting=hello']);
    await pollUntil('the pod to be Ready', () => pod().status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'), { timeoutMs: 30_000 });
    const files = await pollUntil('the pod to log its files', () => (seen().size === FILES.length ? seen() : undefined), { timeoutMs: 10_000 });
    expect(files.get('./etc/app/greeting')).toBe('hello');
    expect(files.get('./etc/podinfo/labels')).toBe('app="reader"\ntier="one"');
    expect(files.get('./var/run/secrets/kubernetes.io/serviceaccount/namespace')).toBe(NS);
    // The token is the pod's: audience istio-ca, bound to this Pod object (as the CA checks).
    const review = JSON.parse(kubectlSync(lab, ['create', '-o', 'json', '-f', '-'], JSON.stringify({
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: files.get('./var/run/secrets/tokens/istio-token'), audiences: ['istio-ca'] },
    })).stdout) as { status: { authenticated?: boolean; user?: { username: string; extra?: Record<string, string[]> } } };
    expect(review.status.authenticated).toBe(true);
    expect(review.status.user?.username).toBe(`system:serviceaccount:${NS}:reader`);
    expect(review.status.user?.extra?.['authentication.kubernetes.io/pod-name']).toEqual(['reader']);
    expect(review.status.user?.extra?.['authentication.kubernetes.io/pod-uid']).toEqual([pod().metadata.uid]);
  });

  it('rewrites a ConfigMap file when the ConfigMap changes, and the labels file when labels change', async () => {
    kubectlSync(lab, ['apply', '-f', '-'], kubectlSync(lab, ['create', 'configmap', 'app-config', '-n', NS, '--from-literal=greeting=bonjour', '--dry-run=client', '-o', 'yaml']).stdout);
    await pollUntil('the new greeting in the pod', () => seen().get('./etc/app/greeting') === 'bonjour', { timeoutMs: 10_000 });
    kubectlSync(lab, ['label', 'pod', '-n', NS, 'reader', 'tier=two', '--overwrite']);
    await pollUntil('the new label in the pod', () => seen().get('./etc/podinfo/labels') === 'app="reader"\ntier="two"', { timeoutMs: 10_000 });
  });

  it('removes the pod root and its volumes when the pod is deleted', async () => {
    const dir = podRef(NS, 'reader', lab).dir;
    expect(existsSync(`${dir}/root/var/run/secrets/tokens/istio-token`)).toBe(true);
    kubectlSync(lab, ['delete', 'pod', '-n', NS, 'reader', '--wait=true', '--timeout=60s']);
    await pollUntil('the pod root gone', () => !existsSync(`${dir}/root`) && !existsSync(`${dir}/volumes`), { timeoutMs: 30_000 });
    expect(existsSync(`${dir}/main.log`)).toBe(true);
  });
});
