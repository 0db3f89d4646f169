// The `baggage` header describing the source workload on an outbound CONNECT (fact sheet §1.2):
// comma-joined `key=value` pairs, each only when its value is known.
import type { Workload } from '../state/types.ts';

export function sourceBaggage(w: Workload): string {
  const pairs: [string, string][] = [
    ['k8s.cluster.name', w.clusterId],
    ['k8s.namespace.name', w.namespace],
    [`k8s.${(w.workloadType || 'pod').toLowerCase()}.name`, w.workloadName || w.name],
    ['service.name', w.canonicalName],
    ['service.version', w.canonicalRevision],
  ];
  return pairs.filter(([, v]) => v).map(([k, v]) => `${k}=${v}`).join(',');
}
