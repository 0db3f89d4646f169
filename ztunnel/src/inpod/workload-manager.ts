// The pods this ztunnel serves, as the node agent announces them over ZDS: a proxy per pod uid,
// started on add, stopped on delete, and the set reconciled when a snapshot completes.
import { fstatSync } from 'node:fs';
import type { Logger } from '../../../lib/log/logger.ts';
import { closeFd } from '../../../lib/netns/index.ts';
import { startPodProxy, type PodInfo, type PodProxy, type PodProxyDeps } from './pod-proxy.ts';

export class WorkloadManager {
  private readonly proxies = new Map<string, PodProxy & { netnsFd: number }>();
  private readonly deps: PodProxyDeps;
  private readonly log: Logger;
  private snapshotDone = false;

  constructor(deps: PodProxyDeps) {
    this.deps = deps;
    this.log = deps.log;
  }

  /**
   * Takes ownership of `netnsFd` (closed when the pod is removed, or now if it fails). A re-add of
   * a pod whose proxy already runs in the same netns (every snapshot after a ZDS reconnect) keeps
   * that proxy and its connections.
   */
  add(pod: PodInfo, netnsFd: number): void {
    const current = this.proxies.get(pod.uid);
    if (current && fstatSync(current.netnsFd).ino === fstatSync(netnsFd).ino) {
      closeFd(netnsFd);
      return;
    }
    this.remove(pod.uid);
    try {
      this.proxies.set(pod.uid, { ...startPodProxy(this.deps, pod, netnsFd), netnsFd });
    } catch (err) {
      closeFd(netnsFd);
      throw err;
    }
  }

  remove(uid: string): boolean {
    const p = this.proxies.get(uid);
    if (!p) return false;
    p.close();
    closeFd(p.netnsFd);
    this.proxies.delete(uid);
    return true;
  }

  /** After a snapshot: keep what it named (added or kept), stop the rest. */
  reconcile(named: Set<string>): void {
    for (const uid of [...this.proxies.keys()]) if (!named.has(uid)) this.remove(uid);
    this.snapshotDone = true;
    this.log.info({ pods: this.proxies.size }, 'snapshot reconciled');
  }

  has(uid: string): boolean {
    return this.proxies.has(uid);
  }

  ready(): boolean {
    return this.snapshotDone;
  }

  pods(): PodInfo[] {
    return [...this.proxies.values()].map((p) => p.pod);
  }

  /** Graceful stop of every pod proxy; resolves when their tunnels finished (bound it with a deadline). */
  async drain(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((p) => p.drain()));
  }

  close(): void {
    for (const uid of [...this.proxies.keys()]) this.remove(uid);
  }
}
