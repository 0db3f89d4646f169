// The pods bench/controller creates: fake-ready (the kubelet stand-in gives them an address and Ready
// at once, no netns or process; e2e/lab/kubelet/fake-pods.ts), pinned to nodes round-robin, in a
// namespace that is not ambient (the node agent leaves them alone; the controller still sends every
// pod with an IP to every ztunnel, with tunnel protocol NONE). Pure.
import { FAKE_READY_ANNOTATION } from '../../e2e/lab/kubelet/fake-pods.ts';

export const BENCH_NAMESPACE = 'bench';

export interface BenchPodStatus {
  podIP?: string;
  conditions?: { type: string; status: string }[];
}

/** Pod names of round `round` (1-based), distinct across rounds so a late event of a deleted pod can not count. */
export function podNames(round: number, size: number): string[] {
  const width = String(size - 1).length;
  return Array.from({ length: size }, (_, i) => `r${round}-${String(i).padStart(width, '0')}`);
}

/** The node of the `index`-th pod: round-robin over `nodes`. */
export function nodeFor(index: number, nodes: readonly string[]): string {
  const n = nodes[index % nodes.length];
  if (n === undefined) throw new Error('no nodes');
  return n;
}

export function benchPod(name: string, node: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: BENCH_NAMESPACE, labels: { app: 'bench-controller' }, annotations: { [FAKE_READY_ANNOTATION]: 'true' } },
    spec: {
      nodeName: node,
      // A real image: should a kubelet not know the annotation, the pod turns Ready with a real
      // address at once and the bench stops with a clear error instead of waiting for its deadline.
      containers: [{ name: 'main', image: 'lab/sleep' }],
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 0,
    },
  };
}

export function isPodReady(status: BenchPodStatus | undefined): boolean {
  return status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}
