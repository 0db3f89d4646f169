// The node agent's side effects for one pod, in Istio's order (fact sheet §3.4): rules inside the
// pod netns, the netns handed to ztunnel over ZDS, the pod IP in the host probe set, then the pod
// annotated `ambient.istio.io/redirection: enabled` (`pending` while no ztunnel took it). Removal
// undoes the same steps. Holds one netns fd per captured pod: the ZDS snapshot resends them. Rule
// and probe-set work is asynchronous (child processes off the event loop); the caller keeps the
// steps of one pod in order (reconciler.ts), different pods may be in flight together.
import type { Logger } from '../../lib/log/logger.ts';
import { closeFd } from '../../lib/netns/index.ts';
import type { NetnsPath } from '../../lib/redirect/index.ts';
import type { ZdsSnapshotEntry, ZdsWorkloadInfo } from '../../lib/zds/index.ts';
import type { PodView } from './enrollment.ts';

export type RedirectionState = 'enabled' | 'pending';

export interface DataplaneDeps {
  rules: { apply(netns: NetnsPath): Promise<void>; remove(netns: NetnsPath): Promise<void> };
  probes: { add(ips: readonly string[]): Promise<void>; remove(ips: readonly string[]): Promise<void> };
  ztunnel: { add(uid: string, info: ZdsWorkloadInfo, netnsFd: number): Promise<void>; del(uid: string): Promise<void> };
  annotate(pod: PodView, state: RedirectionState | undefined): Promise<void>;
  log: Logger;
  /** Metrics hooks: a pod entered or left the captured set. */
  onEnrolled?(): void;
  onUnenrolled?(): void;
}

interface Captured {
  pod: PodView;
  fd: number;
  state: RedirectionState;
}

/** A path to a netns fd we hold, usable by child processes (nsenter, iptables-restore). */
export const fdPath = (fd: number): string => `/proc/${process.pid}/fd/${fd}`;

export class MeshDataplane {
  private readonly captured = new Map<string, Captured>();
  private readonly deps: DataplaneDeps;

  constructor(deps: DataplaneDeps) {
    this.deps = deps;
  }

  has(uid: string): boolean {
    return this.captured.has(uid);
  }

  uids(): string[] {
    return [...this.captured.keys()];
  }

  state(uid: string): RedirectionState | undefined {
    return this.captured.get(uid)?.state;
  }

  /**
   * Captures `pod` in the netns `fd` (ownership passes to us, also on failure). Rule failures throw
   * (the pod must not run uncaptured); a ztunnel that is absent or refuses leaves the pod `pending`,
   * and the next snapshot delivers it.
   */
  async enroll(pod: PodView, fd: number): Promise<RedirectionState> {
    const existing = this.captured.get(pod.uid);
    if (existing && existing.fd !== fd) closeFd(existing.fd);
    try {
      await this.deps.rules.apply({ path: fdPath(fd) });
    } catch (err) {
      closeFd(fd);
      this.captured.delete(pod.uid);
      throw err;
    }
    const entry: Captured = { pod, fd, state: 'pending' };
    if (!existing) this.deps.onEnrolled?.();
    this.captured.set(pod.uid, entry);
    try {
      await this.deps.ztunnel.add(pod.uid, zdsInfo(pod), fd);
      entry.state = 'enabled';
    } catch (err) {
      this.deps.log.warn({ pod: `${pod.namespace}/${pod.name}`, err: (err as Error).message }, 'ztunnel did not take the pod yet; it stays pending');
    }
    await this.deps.probes.add(pod.podIps);
    await this.deps.annotate(pod, entry.state);
    this.deps.log.info({ pod: `${pod.namespace}/${pod.name}`, uid: pod.uid, redirection: entry.state }, 'pod enrolled');
    return entry.state;
  }

  /**
   * A ztunnel acknowledged these pods in its snapshot: the pending ones among them become enabled.
   * A pod it refused stays pending (and is offered again with the next snapshot).
   */
  async confirmAcknowledged(uids: readonly string[]): Promise<void> {
    await Promise.all(uids.map((uid) => this.confirm(uid)));
  }

  /** A ztunnel took the pod through a snapshot: a pending pod becomes enabled. */
  async confirm(uid: string): Promise<void> {
    const c = this.captured.get(uid);
    if (!c || c.state === 'enabled') return;
    c.state = 'enabled';
    await this.deps.annotate(c.pod, 'enabled');
  }

  /** Undoes enroll. `podGone`: the netns may be gone already, so rule removal errors are expected. */
  async unenroll(uid: string, opts: { podGone: boolean }): Promise<void> {
    const c = this.captured.get(uid);
    if (!c) return;
    this.captured.delete(uid);
    this.deps.onUnenrolled?.();
    const name = `${c.pod.namespace}/${c.pod.name}`;
    await this.deps.ztunnel.del(uid).catch((err: Error) => this.deps.log.warn({ pod: name, err: err.message }, 'ztunnel delete failed'));
    try {
      await this.deps.rules.remove({ path: fdPath(c.fd) });
    } catch (err) {
      if (!opts.podGone) this.deps.log.warn({ pod: name, err: (err as Error).message }, 'removing the pod rules failed');
    }
    closeFd(c.fd);
    await this.deps.probes.remove(c.pod.podIps).catch((err: Error) => this.deps.log.warn({ pod: name, err: err.message }, 'removing the pod from the probe set failed'));
    if (!opts.podGone) await this.deps.annotate(c.pod, undefined);
    this.deps.log.info({ pod: name, uid }, 'pod unenrolled');
  }

  /** What a (re)connecting ztunnel is sent: every captured pod with its netns. */
  snapshot(): ZdsSnapshotEntry[] {
    return [...this.captured.values()].map((c) => ({ uid: c.pod.uid, info: zdsInfo(c.pod), netnsFd: c.fd }));
  }

  close(): void {
    for (const c of this.captured.values()) closeFd(c.fd);
    this.captured.clear();
  }
}

function zdsInfo(pod: PodView): ZdsWorkloadInfo {
  return { name: pod.name, namespace: pod.namespace, serviceAccount: pod.serviceAccount };
}
