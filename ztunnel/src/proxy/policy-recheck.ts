// Re-authorization of live connections after a state change (fact sheet §4.7, "Re-checks"): a
// connection that policy now denies is closed. Only the connections whose answer the batch can
// alter are evaluated again: those to a workload the batch changed or removed, and those whose
// candidate policies changed (a GLOBAL policy, a NAMESPACE policy of the destination's namespace,
// a WORKLOAD_SELECTOR policy the destination names). Converted PeerAuthentication policies
// (`istio_converted_static_strict`, `converted_peer_authentication_*`) are WORKLOAD_SELECTOR
// policies that workloads name, so they follow the same rule.
import type { Counter, Registry } from '../../../lib/metrics/registry.ts';
import { authorize } from '../rbac/authorize.ts';
import { touchedKeys, type StateChange } from '../state/change.ts';
import type { ProxyState } from '../state/proxy-state.ts';
import type { Policy, Workload } from '../state/types.ts';
import type { ConnectionManager } from './connection-manager.ts';

/** Which destinations a batch can change the authorization of. */
export interface RecheckScope {
  /** A GLOBAL policy changed: every destination. */
  all: boolean;
  /** Destination workloads added, changed or removed. */
  workloads: ReadonlySet<string>;
  /** Namespaces with a changed NAMESPACE-scope policy. */
  namespaces: ReadonlySet<string>;
  /** Keys of changed WORKLOAD_SELECTOR policies (they apply where a workload names them). */
  selectorPolicies: ReadonlySet<string>;
}

/** What a batch can affect; a policy counts by where it applied before and where it applies now. */
export function recheckScope(change: StateChange, currentPolicy: (key: string) => Policy | undefined): RecheckScope {
  let all = false;
  const namespaces = new Set<string>();
  const selectorPolicies = new Set<string>();
  for (const key of touchedKeys(change.policies)) {
    for (const p of [change.previous.policies.get(key), currentPolicy(key)]) {
      if (!p) continue;
      if (p.scope === 'GLOBAL') all = true;
      else if (p.scope === 'NAMESPACE') namespaces.add(p.namespace);
      else selectorPolicies.add(key);
    }
  }
  return { all, workloads: new Set(touchedKeys(change.workloads)), namespaces, selectorPolicies };
}

export function scopeIsEmpty(s: RecheckScope): boolean {
  return !s.all && s.workloads.size === 0 && s.namespaces.size === 0 && s.selectorPolicies.size === 0;
}

/** Whether connections to `destinationUid` (now `current`, if still held) must be re-evaluated. */
export function inScope(s: RecheckScope, destinationUid: string, current: Workload | undefined): boolean {
  if (s.all || s.workloads.has(destinationUid)) return true;
  if (!current) return false;
  return s.namespaces.has(current.namespace) || current.authorizationPolicies.some((k) => s.selectorPolicies.has(k));
}

/** `ztunnel_connections_rechecked_total{result}`. */
export function registerRecheckMetrics(r: Registry): Counter {
  return r.counter('ztunnel_connections_rechecked_total', 'Live connections whose authorization a state change made ztunnel evaluate again, by result (allowed kept, denied closed)', ['result']);
}

/** Subscribes to the state: after each batch, closes the live connections it makes denied. Returns the unsubscribe. */
export function recheckOnChange(state: ProxyState, connections: ConnectionManager, rechecked?: Counter): () => void {
  return state.onChange((change) => {
    const scope = recheckScope(change, (key) => state.findPolicyByKey(key));
    if (scopeIsEmpty(scope)) return;
    connections.recheck(({ conn, destinationUid }) => {
      const w = state.findWorkloadByUid(destinationUid);
      if (!inScope(scope, destinationUid, w)) return true;
      const allowed = !!w && authorize(state.policiesFor(w), conn).kind === 'allow';
      rechecked?.inc({ result: allowed ? 'allowed' : 'denied' });
      return allowed;
    });
  });
}
