// The one state store of a ztunnel process: workloads, services and policies with explicit indexes,
// written only by the config updater (xDS or local file) and queried by the proxy paths.
import { policyKey, serviceKey, type Policy, type Service, type Workload } from './types.ts';

const addrKey = (network: string, ip: string): string => `${network}/${ip}`;

export type AddressLookup = { kind: 'workload'; workload: Workload } | { kind: 'service'; service: Service };

export class ProxyState {
  private readonly workloadsByUid = new Map<string, Workload>();
  private readonly workloadsByAddr = new Map<string, Workload>();
  private readonly servicesByKey = new Map<string, Service>();
  private readonly servicesByVip = new Map<string, Service>();
  /** Service key → uids of workloads that list it in their `services`. */
  private readonly endpointsByService = new Map<string, Set<string>>();
  private readonly policiesByKey = new Map<string, Policy>();
  private listeners: (() => void)[] = [];

  // --- writes (the updater only) ---

  upsertWorkload(w: Workload): void {
    this.removeWorkload(w.uid, false);
    this.workloadsByUid.set(w.uid, w);
    for (const ip of w.addresses) this.workloadsByAddr.set(addrKey(w.network, ip), w);
    for (const svc of Object.keys(w.services)) {
      let set = this.endpointsByService.get(svc);
      if (!set) this.endpointsByService.set(svc, (set = new Set()));
      set.add(w.uid);
    }
    this.changed();
  }

  removeWorkload(uid: string, notify = true): boolean {
    const old = this.workloadsByUid.get(uid);
    if (!old) return false;
    this.workloadsByUid.delete(uid);
    for (const ip of old.addresses) {
      const k = addrKey(old.network, ip);
      if (this.workloadsByAddr.get(k)?.uid === uid) this.workloadsByAddr.delete(k);
    }
    for (const svc of Object.keys(old.services)) this.endpointsByService.get(svc)?.delete(uid);
    if (notify) this.changed();
    return true;
  }

  upsertService(s: Service): void {
    const key = serviceKey(s);
    this.removeService(key, false);
    this.servicesByKey.set(key, s);
    for (const vip of s.vips) this.servicesByVip.set(addrKey(vip.network, vip.address), s);
    this.changed();
  }

  removeService(key: string, notify = true): boolean {
    const old = this.servicesByKey.get(key);
    if (!old) return false;
    this.servicesByKey.delete(key);
    for (const vip of old.vips) {
      const k = addrKey(vip.network, vip.address);
      if (this.servicesByVip.get(k) === old) this.servicesByVip.delete(k);
    }
    if (notify) this.changed();
    return true;
  }

  upsertPolicy(p: Policy): void {
    this.policiesByKey.set(policyKey(p), p);
    this.changed();
  }

  removePolicy(key: string): boolean {
    const had = this.policiesByKey.delete(key);
    if (had) this.changed();
    return had;
  }

  /**
   * `find()` now, or as soon as a change makes it return something, or undefined after `timeoutMs`.
   * For a pod whose workload has not arrived yet (ZDS handed the pod over before xDS described it).
   */
  waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const now = find();
    if (now !== undefined || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (v: T | undefined) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = this.onChange(() => {
        const v = find();
        if (v !== undefined) done(v);
      });
      const timer = setTimeout(() => done(undefined), timeoutMs);
    });
  }

  /** Called after every change (the connection manager re-checks policies on it). */
  onChange(fn: () => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  // --- queries ---

  findWorkloadByUid(uid: string): Workload | undefined {
    return this.workloadsByUid.get(uid);
  }

  findWorkloadByAddress(network: string, ip: string): Workload | undefined {
    return this.workloadsByAddr.get(addrKey(network, ip));
  }

  findServiceByVip(network: string, ip: string): Service | undefined {
    return this.servicesByVip.get(addrKey(network, ip));
  }

  findServiceByKey(key: string): Service | undefined {
    return this.servicesByKey.get(key);
  }

  findServiceByHostname(hostname: string): Service[] {
    return [...this.servicesByKey.values()].filter((s) => s.hostname === hostname);
  }

  /** A service VIP first (as Istio resolves), then a workload address. */
  findAddress(network: string, ip: string): AddressLookup | undefined {
    const service = this.findServiceByVip(network, ip);
    if (service) return { kind: 'service', service };
    const workload = this.findWorkloadByAddress(network, ip);
    return workload ? { kind: 'workload', workload } : undefined;
  }

  /** How ztunnel matches a ZDS pod to its WDS workload: name, namespace, service account, on this node. */
  findWorkloadByInfo(info: { name: string; namespace: string; serviceAccount: string }, node: string): Workload | undefined {
    for (const w of this.workloadsByUid.values()) {
      if (w.node === node && w.name === info.name && w.namespace === info.namespace && (w.serviceAccount || 'default') === (info.serviceAccount || 'default')) return w;
    }
    return undefined;
  }

  /** Workloads behind a service (any health; the caller filters). */
  serviceEndpoints(key: string): Workload[] {
    const uids = this.endpointsByService.get(key);
    if (!uids) return [];
    return [...uids].map((u) => this.workloadsByUid.get(u)).filter((w): w is Workload => w !== undefined);
  }

  /** Candidate policies for a destination workload (fact sheet §4.7). Unknown names are skipped. */
  policiesFor(w: Workload): Policy[] {
    const out: Policy[] = [];
    for (const p of this.policiesByKey.values()) {
      if (p.scope === 'GLOBAL' || (p.scope === 'NAMESPACE' && p.namespace === w.namespace)) out.push(p);
    }
    for (const name of w.authorizationPolicies) {
      const p = this.policiesByKey.get(name);
      if (p && p.scope === 'WORKLOAD_SELECTOR') out.push(p);
    }
    return out;
  }

  workloads(): Workload[] {
    return [...this.workloadsByUid.values()];
  }

  services(): Service[] {
    return [...this.servicesByKey.values()];
  }

  policies(): Policy[] {
    return [...this.policiesByKey.values()];
  }
}
