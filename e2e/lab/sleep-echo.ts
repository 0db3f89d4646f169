// Two pods in an ambient namespace on different nodes (a `lab/sleep` client on node1, a
// `lab/tcp-echo` server on node2 on port 9000), each with its own service account: the traffic of
// the certificate-lifetime, root-rotation and istioctl suites.
import { kubectlSync, podRef } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';

type Pod = PodJson & { metadata: { annotations?: Record<string, string> }; status: { podIP?: string } };

/** `echoServiceAccount: 'default'` runs echo as the namespace's default service account (no own one). */
export function sleepEchoManifests(ns: string, opts: { echoServiceAccount?: 'echo' | 'default' } = {}): string {
  const echoSa = opts.echoServiceAccount ?? 'echo';
  const echoSaManifest = echoSa === 'echo' ? `
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: echo, namespace: ${ns} }` : '';
  return `
apiVersion: v1
kind: Namespace
metadata: { name: ${ns}, labels: { istio.io/dataplane-mode: ambient } }
---
apiVersion: v1
kind: ServiceAccount
metadata: { name: sleep, namespace: ${ns} }${echoSaManifest}
---
apiVersion: v1
kind: Pod
metadata: { name: sleep, namespace: ${ns}, labels: { app: sleep } }
spec: { nodeName: node1, serviceAccountName: sleep, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: v1
kind: Pod
metadata: { name: echo, namespace: ${ns}, labels: { app: echo } }
spec: { nodeName: node2, serviceAccountName: ${echoSa}, containers: [{ name: main, image: lab/tcp-echo }] }
`;
}

/** Applies the two pods and waits until both are Ready and captured; returns what the traffic needs. */
export async function deploySleepEcho(lab: LabState, ns: string): Promise<{ sleepNetns: string; echoIp: string; echoId: string }> {
  const pods = () => (JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', ns, '-o', 'json']).stdout) as { items: Pod[] }).items;
  kubectlSync(lab, ['apply', '-f', '-'], sleepEchoManifests(ns));
  const ready = await pollUntil('the pods Ready and captured', () => {
    const all = pods();
    return all.length === 2 && all.every(isReady) && all.every((p) => p.metadata.annotations?.['ambient.istio.io/redirection'] === 'enabled') ? all : undefined;
  }, { timeoutMs: 90_000 });
  return {
    sleepNetns: podRef(ns, 'sleep', lab).netns,
    echoIp: ready.find((p) => p.metadata.name === 'echo')!.status.podIP!,
    echoId: `spiffe://cluster.local/ns/${ns}/sa/echo`,
  };
}
