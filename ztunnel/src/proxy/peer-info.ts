// Metric/log peer fields of a workload (canonical names and app/version as Istio reports them).
import type { PeerInfo } from '../../../lib/metrics/istio-tcp.ts';
import type { Workload } from '../state/types.ts';

export function peerInfo(w: Workload | undefined): PeerInfo {
  if (!w) return {};
  return {
    workload: w.workloadName || w.name,
    canonicalService: w.canonicalName,
    canonicalRevision: w.canonicalRevision,
    namespace: w.namespace,
    app: w.canonicalName,
    version: w.canonicalRevision,
    cluster: w.clusterId,
  };
}
