// Kubernetes Events about pods, as kubelet records them (source kubelet/<node>): one Event per
// distinct reason and message per pod, its count and lastTimestamp bumped when it repeats.
import { KubeError, type KubeClient } from '../kube-client.ts';

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** Bounded: distinct events remembered per pod before the oldest is forgotten. */
const MAX_PER_POD = 16;

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly node: string;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private readonly seen = new Map<string, Map<string, { name: string; count: number }>>();

  constructor(client: KubeClient, node: string, log: (msg: string, fields?: Record<string, unknown>) => void) {
    this.client = client;
    this.node = node;
    this.log = log;
  }

  async record(pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const mine = this.seen.get(pod.uid) ?? new Map<string, { name: string; count: number }>();
    this.seen.set(pod.uid, mine);
    const key = `${reason}\n${message}`;
    const now = new Date().toISOString();
    const prior = mine.get(key);
    try {
      if (prior) {
        prior.count++;
        await this.client.request('PATCH', `/api/v1/namespaces/${pod.namespace}/events/${prior.name}`,
          { count: prior.count, lastTimestamp: now }, 'application/merge-patch+json');
        return;
      }
      const name = `${pod.name}.${Date.now().toString(16)}${Math.random().toString(16).slice(2, 6)}`;
      await this.client.request('POST', `/api/v1/namespaces/${pod.namespace}/events`, {
        apiVersion: 'v1', kind: 'Event',
        metadata: { name, namespace: pod.namespace },
        involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid },
        reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
        source: { component: 'kubelet', host: this.node },
        reportingComponent: 'kubelet', reportingInstance: this.node,
      });
      mine.set(key, { name, count: 1 });
      if (mine.size > MAX_PER_POD) mine.delete(mine.keys().next().value!);
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 404)) this.log('event not recorded', { pod: `${pod.namespace}/${pod.name}`, reason, error: (err as Error).message });
    }
  }

  forget(uid: string): void {
    this.seen.delete(uid);
  }
}
