// The one state store of a ztunnel process: workloads, services and policies with explicit indexes,
// written only by the config updater (xDS or local file) and queried by the proxy paths. Writes are
// grouped in batches (`batch(fn)`; a lone write is a batch of one): listeners hear once per batch,
// with a StateChange naming what the batch added, changed or removed; a batch that throws is rolled
// back unannounced. A write equal in value to what is held is not a change.
import { isDeepStrictEqual } from 'node:util';
import type { Counter, Registry } from '../../../lib/metrics/registry.ts';
import { ChangeRecorder, hasChanges, isEmptyChange, type StateChange } from './change.ts';
import { policyKey, serviceKey, type Policy, type Service, type Workload } from './types.ts';

export type { StateChange } from './change.ts';

const addrKey = (network: string, ip: string): string => `${network}/${ip}`;
/** (node, namespace, name): how a ZDS pod is matched to its workload. NUL cannot occur in any of them. */
const infoKey = (node: string, namespace: string, name: string): string => `${node}\0${namespace}\0${name}`;

export type AddressLookup = { kind: 'workload'; workload: Workload } | { kind: 'service'; service: Service };

export interface ProxyStateOptions {
  /** Counts committed batches that changed something (`ztunnel_state_batches_total`). */
  batches?: Counter;
}

/** `ztunnel_state_batches_total`, for the composition root to hand to the ProxyState. */
export function registerStateMetrics(r: Registry): ProxyStateOptions {
  return { batches: r.counter('ztunnel_state_batches_total', 'Batches of workload, service and policy writes that changed the state (at most one per xDS response or config file load)', []) };
}

function addToIndex(index: Map<string, Set<string>>, key: string, member: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(member);
}

function removeFromIndex(index: Map<string, Set<string>>, key: string, member: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(member);
  if (set.size === 0) index.delete(key);
}

export class ProxyState {
  private readonly workloadsByUid = new Map<string, Workload>();
  private readonly workloadsByAddr = new Map<string, Workload>();
  /**
   * infoKey → uids, in the order of `workloadsByUid` (a re-upsert moves a workload to the end of
   * both), so the first match is the one a scan of all workloads would find.
   */
  private readonly workloadsByInfo = new Map<string, Set<string>>();
  private readonly servicesByKey = new Map<string, Service>();
  private readonly servicesByVip = new Map<string, Service>();
  /** Hostname → service keys, in the order of `servicesByKey`. */
  private readonly servicesByHostname = new Map<string, Set<string>>();
  /** Service key → uids of workloads that list it in their `services`. */
  private readonly endpointsByService = new Map<string, Set<string>>();
  private readonly policiesByKey = new Map<string, Policy>();
  /**
   * Insertion rank of each policy key: an update keeps its place (as a Map entry does), a removed
   * and re-added policy goes last. Candidate lists are ordered by it, as a scan of all would be.
   */
  private readonly policyRank = new Map<string, number>();
  private nextPolicyRank = 0;
  private readonly globalPolicies = new Set<string>();
  /** Namespace → keys of its NAMESPACE-scope policies. */
  private readonly namespacePolicies = new Map<string, Set<string>>();
  /** Namespace → its GLOBAL and NAMESPACE candidates in rank order; dropped when one of them changes. */
  private readonly candidatesByNamespace = new Map<string, Policy[]>();
  private listeners: ((change: StateChange) => void)[] = [];
  private open: ChangeRecorder | undefined;
  private readonly batches: Counter | undefined;

  constructor(opts: ProxyStateOptions = {}) {
    this.batches = opts.batches;
  }

  // --- writes (the updater only) ---

  /**
   * Runs `fn`; every write inside it (nested batches included) reaches listeners as one change when
   * the outermost batch ends. If `fn` throws, the outermost batch puts back every value its writes
   * replaced (the last good config stays in force: an xDS response that fails is NACKed whole),
   * tells no listener, and rethrows. A nested batch is part of the outer one and rolls back with it.
   */
  batch<T>(fn: () => T): T {
    if (this.open) return fn();
    const rec = (this.open = new ChangeRecorder());
    let result: T;
    try {
      result = fn();
    } catch (err) {
      this.open = undefined;
      this.rollback(rec);
      throw err;
    }
    this.open = undefined;
    this.commit(rec);
    return result;
  }

  upsertWorkload(w: Workload): void {
    const old = this.workloadsByUid.get(w.uid);
    if (old && isDeepStrictEqual(old, w)) return;
    this.batch(() => {
      this.open!.workloads.touch(w.uid, old);
      this.setWorkload(w.uid, w);
    });
  }

  removeWorkload(uid: string): boolean {
    const old = this.workloadsByUid.get(uid);
    if (!old) return false;
    this.batch(() => {
      this.open!.workloads.touch(uid, old);
      this.setWorkload(uid, undefined);
    });
    return true;
  }

  upsertService(s: Service): void {
    const key = serviceKey(s);
    const old = this.servicesByKey.get(key);
    if (old && isDeepStrictEqual(old, s)) return;
    this.batch(() => {
      this.open!.services.touch(key, old);
      this.setService(key, s);
    });
  }

  removeService(key: string): boolean {
    const old = this.servicesByKey.get(key);
    if (!old) return false;
    this.batch(() => {
      this.open!.services.touch(key, old);
      this.setService(key, undefined);
    });
    return true;
  }

  upsertPolicy(p: Policy): void {
    const key = policyKey(p);
    const old = this.policiesByKey.get(key);
    if (old && isDeepStrictEqual(old, p)) return;
    this.batch(() => {
      this.open!.policies.touch(key, old);
      this.setPolicy(key, p);
    });
  }

  removePolicy(key: string): boolean {
    const old = this.policiesByKey.get(key);
    if (!old) return false;
    this.batch(() => {
      this.open!.policies.touch(key, old);
      this.setPolicy(key, undefined);
    });
    return true;
  }

  // The raw writes: maps and indexes only, no recording. A replaced workload or service goes to the
  // end of the iteration order (as before the indexes existed); a replaced policy keeps its place.

  private setWorkload(uid: string, w: Workload | undefined): void {
    const old = this.workloadsByUid.get(uid);
    if (old) {
      this.workloadsByUid.delete(uid);
      for (const ip of old.addresses) {
        const k = addrKey(old.network, ip);
        if (this.workloadsByAddr.get(k)?.uid === uid) this.workloadsByAddr.delete(k);
      }
      for (const svc of Object.keys(old.services)) this.endpointsByService.get(svc)?.delete(uid);
      removeFromIndex(this.workloadsByInfo, infoKey(old.node, old.namespace, old.name), uid);
    }
    if (!w) return;
    this.workloadsByUid.set(uid, w);
    for (const ip of w.addresses) this.workloadsByAddr.set(addrKey(w.network, ip), w);
    for (const svc of Object.keys(w.services)) addToIndex(this.endpointsByService, svc, uid);
    addToIndex(this.workloadsByInfo, infoKey(w.node, w.namespace, w.name), uid);
  }

  private setService(key: string, s: Service | undefined): void {
    const old = this.servicesByKey.get(key);
    if (old) {
      this.servicesByKey.delete(key);
      for (const vip of old.vips) {
        const k = addrKey(vip.network, vip.address);
        if (this.servicesByVip.get(k) === old) this.servicesByVip.delete(k);
      }
      removeFromIndex(this.servicesByHostname, old.hostname, key);
    }
    if (!s) return;
    this.servicesByKey.set(key, s);
    for (const vip of s.vips) this.servicesByVip.set(addrKey(vip.network, vip.address), s);
    addToIndex(this.servicesByHostname, s.hostname, key);
  }

  private setPolicy(key: string, p: Policy | undefined): void {
    const old = this.policiesByKey.get(key);
    if (old) this.unindexPolicy(key, old);
    if (!p) {
      this.policiesByKey.delete(key);
      this.policyRank.delete(key);
      return;
    }
    if (!old) this.policyRank.set(key, this.nextPolicyRank++);
    this.policiesByKey.set(key, p);
    if (p.scope === 'GLOBAL') this.globalPolicies.add(key);
    else if (p.scope === 'NAMESPACE') addToIndex(this.namespacePolicies, p.namespace, key);
    this.dropCandidates(p);
  }

  /** Puts back what a failed batch replaced; values are restored, iteration order may differ. */
  private rollback(rec: ChangeRecorder): void {
    for (const [uid, was] of rec.workloads.touched()) if (this.workloadsByUid.get(uid) !== was) this.setWorkload(uid, was);
    for (const [key, was] of rec.services.touched()) if (this.servicesByKey.get(key) !== was) this.setService(key, was);
    for (const [key, was] of rec.policies.touched()) if (this.policiesByKey.get(key) !== was) this.setPolicy(key, was);
  }

  /** Takes a policy out of the scope indexes (it stays in `policiesByKey` and keeps its rank). */
  private unindexPolicy(key: string, old: Policy): void {
    if (old.scope === 'GLOBAL') this.globalPolicies.delete(key);
    else if (old.scope === 'NAMESPACE') removeFromIndex(this.namespacePolicies, old.namespace, key);
    this.dropCandidates(old);
  }

  private dropCandidates(p: Policy): void {
    if (p.scope === 'GLOBAL') this.candidatesByNamespace.clear();
    else if (p.scope === 'NAMESPACE') this.candidatesByNamespace.delete(p.namespace);
  }

  /**
   * `find()` now, or as soon as a change makes it return something, or undefined after `timeoutMs`.
   * For a pod whose workload has not arrived yet (ZDS handed the pod over before xDS described it).
   * `find` is re-run only after changes `relevant` accepts: by default those that touched workloads.
   */
  waitFor<T>(find: () => T | undefined, timeoutMs: number, relevant: (c: StateChange) => boolean = (c) => hasChanges(c.workloads)): Promise<T | undefined> {
    const now = find();
    if (now !== undefined || timeoutMs <= 0) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (v: T | undefined) => {
        clearTimeout(timer);
        off();
        resolve(v);
      };
      const off = this.onChange((c) => {
        if (!relevant(c)) return;
        const v = find();
        if (v !== undefined) done(v);
      });
      const timer = setTimeout(() => done(undefined), timeoutMs);
    });
  }

  /** Called once per batch that changed something, with what it changed (the connection manager re-checks policies on it). */
  onChange(fn: (change: StateChange) => void): () => void {
    this.listeners.push(fn);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  private commit(rec: ChangeRecorder): void {
    const change = rec.finish({
      workload: (uid) => this.workloadsByUid.get(uid),
      service: (key) => this.servicesByKey.get(key),
      policy: (key) => this.policiesByKey.get(key),
    });
    if (isEmptyChange(change)) return;
    this.batches?.inc();
    // Every listener hears the change even if an earlier one throws; the first error is rethrown.
    let failure: { err: unknown } | undefined;
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (err) {
        failure ??= { err };
      }
    }
    if (failure) throw failure.err;
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

  findPolicyByKey(key: string): Policy | undefined {
    return this.policiesByKey.get(key);
  }

  findServiceByHostname(hostname: string): Service[] {
    const keys = this.servicesByHostname.get(hostname);
    if (!keys) return [];
    return [...keys].map((k) => this.servicesByKey.get(k)).filter((s): s is Service => s !== undefined);
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
    const uids = this.workloadsByInfo.get(infoKey(node, info.namespace, info.name));
    if (!uids) return undefined;
    const sa = info.serviceAccount || 'default';
    for (const uid of uids) {
      const w = this.workloadsByUid.get(uid);
      if (w && (w.serviceAccount || 'default') === sa) return w;
    }
    return undefined;
  }

  /** Workloads behind a service (any health; the caller filters). */
  serviceEndpoints(key: string): Workload[] {
    const uids = this.endpointsByService.get(key);
    if (!uids) return [];
    return [...uids].map((u) => this.workloadsByUid.get(u)).filter((w): w is Workload => w !== undefined);
  }

  /**
   * Candidate policies for a destination workload (fact sheet §4.7): every GLOBAL and every
   * NAMESPACE policy of its namespace in the order they were first added, then the
   * WORKLOAD_SELECTOR ones it names, in its order. Unknown names are skipped.
   */
  policiesFor(w: Workload): Policy[] {
    const out = this.namespaceCandidates(w.namespace).slice();
    for (const name of w.authorizationPolicies) {
      const p = this.policiesByKey.get(name);
      if (p && p.scope === 'WORKLOAD_SELECTOR') out.push(p);
    }
    return out;
  }

  private namespaceCandidates(namespace: string): Policy[] {
    let list = this.candidatesByNamespace.get(namespace);
    if (!list) {
      const keys = [...this.globalPolicies, ...(this.namespacePolicies.get(namespace) ?? [])];
      keys.sort((a, b) => this.policyRank.get(a)! - this.policyRank.get(b)!);
      list = keys.map((k) => this.policiesByKey.get(k)!);
      this.candidatesByNamespace.set(namespace, list);
    }
    return list;
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
