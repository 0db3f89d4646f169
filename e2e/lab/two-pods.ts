// Two pods of namespace `amb` on two nodes, as the capture suites use them: `client` (lab/sleep) on
// node1 and `echo` (lab/tcp-echo on 9000) on node2, with the probes those suites share: each pod's
// netns, IP and redirection annotation, and one exchange captured on the fabric.
import { randomBytes } from 'node:crypto';
import { kubectlSync, podRef } from './lab.ts';
import { pollUntil } from './poll.ts';
import { isReady, type PodJson } from './sample-apps.ts';
import type { LabState } from './state.ts';
import { captureFabric } from '../ztunnel/lab-mesh.ts';
import { talk } from '../ztunnel/netns-harness.ts';

export const TWO_PODS_NAMESPACE = 'amb';

const MANIFESTS = `
apiVersion: v1
kind: Namespace
metadata: { name: amb }
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: amb, labels: { app: client } }
spec: { nodeName: node1, containers: [{ name: main, image: lab/sleep }] }
---
apiVersion: v1
kind: Pod
metadata: { name: echo, namespace: amb, labels: { app: echo } }
spec: { nodeName: node2, containers: [{ name: main, image: lab/tcp-echo }] }
`;

export interface TwoPodMeta {
  metadata: { uid: string; annotations?: Record<string, string> };
  status: { containerStatuses?: { restartCount: number }[] };
}

/** What one client → echo exchange showed: the reply, and what the fabric carried. */
export interface Exchange {
  reply: string;
  secret: string;
  plaintextOnWire: boolean;
  /** The ports seen on the fabric among 15008 (HBONE) and 9000 (the app's, in plaintext). */
  ports: Set<string | undefined>;
}

export interface TwoPods {
  netns(name: string): string;
  ip(name: string): string;
  pod(name: string): TwoPodMeta;
  /** The `ambient.istio.io/redirection` annotation the node agent writes. */
  redirection(name: string): string | undefined;
  exchange(): Promise<Exchange>;
}

/** Applies the two pods and waits until both are Ready. */
export async function deployTwoPods(lab: LabState): Promise<TwoPods> {
  kubectlSync(lab, ['apply', '-f', '-'], MANIFESTS);
  await pollUntil('the two sample pods to be Ready', () => {
    const pods = JSON.parse(kubectlSync(lab, ['get', 'pods', '-n', TWO_PODS_NAMESPACE, '-o', 'json']).stdout) as { items: PodJson[] };
    return pods.items.length === 2 && pods.items.every(isReady);
  }, { timeoutMs: 90_000 });
  const netns = (name: string): string => podRef(TWO_PODS_NAMESPACE, name, lab).netns;
  const ip = (name: string): string => podRef(TWO_PODS_NAMESPACE, name, lab).podIp;
  const pod = (name: string): TwoPodMeta => JSON.parse(kubectlSync(lab, ['get', 'pod', '-n', TWO_PODS_NAMESPACE, name, '-o', 'json']).stdout) as TwoPodMeta;
  return {
    netns,
    ip,
    pod,
    redirection: (name) => pod(name).metadata.annotations?.['ambient.istio.io/redirection'],
    exchange: async () => {
      const secret = `secret-${randomBytes(6).toString('hex')}`;
      const cap = await captureFabric(lab, () => talk(netns('client'), ip('echo'), 9000, secret));
      return { reply: cap.result, secret, plaintextOnWire: cap.raw.includes(Buffer.from(secret)), ports: new Set(cap.text.map((l) => (/\.(15008|9000)[ :]/.exec(l) ?? [])[1])) };
    },
  };
}
