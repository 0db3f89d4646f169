// Writes to the ProxyState: a whole snapshot (local config file) replaces what it does not name, in
// one batch (listeners hear once per file load); xDS deltas batch per response in ../xds/handlers.ts.
import type { ProxyState } from './proxy-state.ts';
import { policyKey, serviceKey, type Policy, type Service, type Workload } from './types.ts';

export interface StateSnapshot {
  workloads: Workload[];
  services: Service[];
  policies: Policy[];
}

export function applySnapshot(state: ProxyState, snap: StateSnapshot): { workloads: number; services: number; policies: number } {
  const wanted = {
    workloads: new Set(snap.workloads.map((w) => w.uid)),
    services: new Set(snap.services.map(serviceKey)),
    policies: new Set(snap.policies.map(policyKey)),
  };
  state.batch(() => {
    for (const w of state.workloads()) if (!wanted.workloads.has(w.uid)) state.removeWorkload(w.uid);
    for (const s of state.services()) if (!wanted.services.has(serviceKey(s))) state.removeService(serviceKey(s));
    for (const p of state.policies()) if (!wanted.policies.has(policyKey(p))) state.removePolicy(policyKey(p));
    for (const s of snap.services) state.upsertService(s);
    for (const w of snap.workloads) state.upsertWorkload(w);
    for (const p of snap.policies) state.upsertPolicy(p);
  });
  return { workloads: wanted.workloads.size, services: wanted.services.size, policies: wanted.policies.size };
}
