// The pods this ztunnel serves, as the node agent announces them over ZDS: a proxy per pod uid,
// started on add, stopped on delete, and the set reconciled when a snapshot completes.
import { fstatSync } from 'node:fs';
import type { Logger } from '../../../lib/log/logger.ts';
import { NetnsHandle } from '../../../lib/netns/index.ts';
import { startPodProxy, type PodInfo, type PodProxy, type PodProxyDeps } from './pod-proxy.ts';

export class WorkloadManager {
  // Each pod's netns as a handle, released after its proxy stopped: a dial still waiting (for a
  // certificate, say) then fails cleanly instead of using an fd number reused by another pod.
  private readonly proxies = new Map<string, PodProxy & { netns: NetnsHandle }>();
  private readonly deps: PodProxyDeps;
  private readonly log: Logger;
  private snapshotDone = false;

  constructor(deps: PodProxyDeps) {
    this.deps = deps;
    this.log = deps.log;
  }

  /**
   * Takes ownership of `netnsFd` (released when the pod is removed, or now if it fails). A re-add of
   * a pod whose proxy already runs in the same netns (every snapshot after a ZDS reconnect) keeps
   * that proxy and its connections.
   */
  add(pod: PodInfo, netnsFd: number | NetnsHandle): void {
    const netns = netnsFd instanceof NetnsHandle ? netnsFd : NetnsHandle.adopt(netnsFd);
    const current = this.proxies.get(pod.uid);
    try {
      if (current && fstatSync(current.netns.fd).ino === fstatSync(netns.fd).ino) {
        netns.release();
        return;
      }
    } catch (err) {
      netns.release();
      throw err;
    }
    this.remove(pod.uid);
    try {
      this.proxies.set(pod.uid, { ...startPodProxy(this.deps, pod, netns), netns });
    } catch (err) {
      netns.release();
      throw err;
    }
  }

  remove(uid: string): boolean {
    const p = this.proxies.get(uid);
    if (!p) return false;
    this.proxies.delete(uid);
    try {
      p.close();
    } finally {
      p.netns.release();
    }
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
