// Keeps the captured set equal to what enrollment says: informer events, namespace label changes
// and the agent's own start all end in `sync`. Work is queued per pod (pod-queue.ts): one pod's
// rule and ZDS steps never interleave, different pods proceed in parallel up to a bound. A pod the
// agent cannot capture yet (no IP, netns not found) is retried with backoff; a running pod is
// captured in place, never restarted.
import type { Logger } from '../../lib/log/logger.ts';
import type { MeshDataplane } from './dataplane.ts';
import { decideEnrollment, type NamespaceView, type PodView } from './enrollment.ts';
import type { FoundNetns } from './netns-finder.ts';
import { PodQueue } from './pod-queue.ts';

export interface ReconcilerDeps {
  dataplane: MeshDataplane;
  findNetns(ips: readonly string[]): FoundNetns | undefined;
  namespace(name: string): NamespaceView | undefined;
  pods(): PodView[];
  excludedNamespaces: ReadonlySet<string>;
  log: Logger;
  onError?(pod: PodView, err: Error): void;
  /** Pods worked on at the same time. Default DEFAULT_POD_CONCURRENCY. */
  concurrency?: number;
}

export const DEFAULT_POD_CONCURRENCY = 8;

const RETRY_MS = [200, 500, 1000, 2000, 5000];

export class Reconciler {
  private readonly deps: ReconcilerDeps;
  private readonly queue: PodQueue;
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; attempt: number }>();
  private closed = false;

  constructor(deps: ReconcilerDeps) {
    this.deps = deps;
    this.queue = new PodQueue(deps.concurrency ?? DEFAULT_POD_CONCURRENCY);
  }

  podChanged(pod: PodView): Promise<void> {
    return this.queue.run(pod.uid, () => this.sync(pod));
  }

  podDeleted(pod: PodView): Promise<void> {
    this.cancelRetry(pod.uid);
    return this.queue.run(pod.uid, () => this.deps.dataplane.unenroll(pod.uid, { podGone: true }));
  }

  /** Resolves once every pod of the namespace was synced (each in its own queue). */
  async namespaceChanged(ns: NamespaceView): Promise<void> {
    await Promise.all(this.deps.pods().filter((p) => p.namespace === ns.name).map((p) => this.podChanged(p)));
  }

  /** Every pod of the node (agent start, periodic resync). */
  async resyncAll(): Promise<void> {
    const pods = this.deps.pods();
    const known = new Set(pods.map((p) => p.uid));
    const gone = this.deps.dataplane.uids().filter((uid) => !known.has(uid));
    await Promise.all([
      ...gone.map((uid) => this.queue.run(uid, () => this.deps.dataplane.unenroll(uid, { podGone: true }))),
      ...pods.map((p) => this.podChanged(p)),
    ]);
  }

  /**
   * The CNI ADD path: the plugin named the netns, so no search; the answer says whether the pod was
   * captured. Throws when an ambient pod could not be captured (the plugin fails the ADD).
   */
  captureNew(pod: PodView, openNetns: () => number): Promise<boolean> {
    return this.queue.run(pod.uid, async () => {
      const d = decideEnrollment(pod, this.deps.namespace(pod.namespace), this.deps.excludedNamespaces);
      if (!d.enroll) return false;
      await this.deps.dataplane.enroll(pod, openNetns());
      this.cancelRetry(pod.uid);
      return true;
    });
  }

  private async sync(pod: PodView): Promise<void> {
    if (this.closed) return;
    const d = decideEnrollment(pod, this.deps.namespace(pod.namespace), this.deps.excludedNamespaces);
    const has = this.deps.dataplane.has(pod.uid);
    if (!d.enroll) {
      this.cancelRetry(pod.uid);
      if (has) await this.deps.dataplane.unenroll(pod.uid, { podGone: pod.deleting });
      return;
    }
    if (has) return;
    if (!pod.podIps.length) return; // the IP arrives with a later update
    const found = this.deps.findNetns(pod.podIps);
    if (!found) {
      this.retry(pod, `no network namespace carries ${pod.podIps.join(', ')} yet`);
      return;
    }
    try {
      await this.deps.dataplane.enroll(pod, found.fd);
      this.cancelRetry(pod.uid);
    } catch (err) {
      this.deps.onError?.(pod, err as Error);
      this.retry(pod, (err as Error).message);
    }
  }

  private retry(pod: PodView, why: string): void {
    if (this.closed) return;
    const prev = this.retries.get(pod.uid);
    const attempt = (prev?.attempt ?? -1) + 1;
    if (prev) clearTimeout(prev.timer);
    const ms = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)]!;
    this.deps.log.warn({ pod: `${pod.namespace}/${pod.name}`, attempt, retryMs: ms, why }, 'pod not captured yet; retrying');
    const timer = setTimeout(() => {
      const current = this.deps.pods().find((p) => p.uid === pod.uid);
      if (current) void this.podChanged(current);
    }, ms);
    timer.unref();
    this.retries.set(pod.uid, { timer, attempt });
  }

  private cancelRetry(uid: string): void {
    const r = this.retries.get(uid);
    if (r) clearTimeout(r.timer);
    this.retries.delete(uid);
  }

  /** Stops retrying; queued work finishes. */
  async close(): Promise<void> {
    this.closed = true;
    for (const uid of [...this.retries.keys()]) this.cancelRetry(uid);
    await this.queue.idle();
  }
}
