// The endpoints of each EDS cluster (fact sheet §2.3): mesh pods are reached through HBONE, written
// as Envoy internal addresses of `connect_originate` with the pod's `<ip>:<targetPort>` as endpoint
// id (and original_dst metadata, so a real Envoy tunnels to <ip>:15008); pods outside the mesh are
// plain socket addresses. Each endpoint carries `istio.workload` (telemetry) and `istio.identity`.
import { HealthStatus, type MessageInput } from '../../../lib/proto/index.ts';
import type { PortEndpoint } from './endpoints.ts';
import { CONNECT_ORIGINATE, inboundVipName, workloadMetadata, type ChainProtocol } from './names.ts';
import type { ServicePortPlan, SubsetPlan } from './plan.ts';
import { inboundVipSubsetName } from './traffic.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type ClusterLoadAssignment = MessageInput<envoy.ClusterLoadAssignment>;
type LbEndpoint = MessageInput<envoy.LbEndpoint>;

/** `ip:port`, bracketed for IPv6 (the CONNECT authority form). */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function lbEndpoint(e: PortEndpoint, clusterId: string): LbEndpoint {
  const target = hostPort(e.ip, e.port);
  const istio = { workload: workloadMetadata({ ...e.workload, clusterId: e.workload.clusterId || clusterId }), identity: e.identity };
  const address: MessageInput<envoy.EnvoyAddress> = e.hbone
    ? { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: CONNECT_ORIGINATE }, endpointId: target } } }
    : { address: { $case: 'socketAddress', socketAddress: { address: e.ip, portSpecifier: { $case: 'portValue', portValue: e.port } } } };
  return {
    hostIdentifier: { $case: 'endpoint', endpoint: { address } },
    healthStatus: e.healthy ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY,
    metadata: { filterMetadata: e.hbone ? { 'envoy.filters.listener.original_dst': { local: target }, istio } : { istio } },
    loadBalancingWeight: 1,
  };
}

/** A port's endpoints, or (subset given) those of one DestinationRule subset. */
export function loadAssignment(p: ServicePortPlan, protocol: ChainProtocol, clusterId: string, subset?: SubsetPlan, clusterName?: string): ClusterLoadAssignment {
  const name = clusterName ?? inboundVipSubsetName(p.port, protocol, subset?.name, p.host);
  const eps = subset?.endpoints ?? p.endpoints;
  // One locality for all: ztunnel-style locality preferences are not applied by waypoints' defaults.
  return { clusterName: name, endpoints: eps.length ? [{ lbEndpoints: eps.map((e) => lbEndpoint(e, clusterId)) }] : [] };
}

export function waypointLoadAssignments(ports: readonly ServicePortPlan[], clusterId: string): Map<string, ClusterLoadAssignment> {
  const out = new Map<string, ClusterLoadAssignment>();
  for (const p of ports) {
    for (const protocol of ['http', 'tcp'] as const) {
      if (!p.chains[protocol]) continue;
      out.set(inboundVipName(p.port, protocol, p.host), loadAssignment(p, protocol, clusterId));
      for (const sub of p.traffic?.subsets ?? []) out.set(inboundVipSubsetName(p.port, protocol, sub.name, p.host), loadAssignment(p, protocol, clusterId, sub));
    }
  }
  return out;
}
