// The endpoints behind each Service a waypoint serves, resolved exactly as the workload model does
// for ztunnel: every pod becomes its Workload (model/workloads.ts: selector or EndpointSlice
// membership, named target ports resolved per pod, readiness, tunnel protocol, canonical names),
// then each Service port lists the workloads that serve it, on their target port.
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import { ipFromBytes } from '../../../lib/net/ip-bytes.ts';
import { TunnelProtocol, WorkloadStatus, type Workload } from '../../../lib/proto/index.ts';
import type { ModelOptions } from '../model/options.ts';
import { namespacedHostname, serviceHostname } from '../model/services.ts';
import { buildWorkload } from '../model/workloads.ts';
import { spiffeIdentity } from './names.ts';

/** One pod behind one Service port. */
export interface PortEndpoint {
  /** The pod IP (the first of its IPs) and the target port it serves the Service port on. */
  ip: string;
  port: number;
  /** HBONE when the pod is in the mesh (captured by the CNI, or native HBONE). */
  hbone: boolean;
  healthy: boolean;
  /** spiffe://<trust domain>/ns/<ns>/sa/<sa>. */
  identity: string;
  workload: Workload;
}

/** `<namespace>/<hostname>` → service port → endpoints, sorted by IP then port. */
export type EndpointIndex = ReadonlyMap<string, ReadonlyMap<number, readonly PortEndpoint[]>>;

export interface EndpointInputs {
  pods: readonly V1Pod[];
  services: readonly V1Service[];
  namespaces: ReadonlyMap<string, V1Namespace>;
  endpointSlices?: readonly V1EndpointSlice[];
  nodes?: ReadonlyMap<string, V1Node>;
}

function byNamespace<T extends { metadata?: { namespace?: string } }>(items: readonly T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const it of items) {
    const ns = it.metadata?.namespace ?? '';
    let l = out.get(ns);
    if (!l) out.set(ns, (l = []));
    l.push(it);
  }
  return out;
}

/**
 * The endpoints of `forServices` (the Services some waypoint serves). Only pods of those Services'
 * namespaces are looked at; waypoint and authorization fields of the Workload are irrelevant here.
 */
export function indexEndpoints(inputs: EndpointInputs, forServices: readonly V1Service[], options: ModelOptions): EndpointIndex {
  const wanted = new Set(forServices.map((s) => namespacedHostname(s.metadata?.namespace ?? '', serviceHostname(s.metadata?.name ?? '', s.metadata?.namespace ?? '', options.domainSuffix))));
  const namespaces = new Set(forServices.map((s) => s.metadata?.namespace ?? ''));
  const servicesByNs = byNamespace(inputs.services.filter((s) => namespaces.has(s.metadata?.namespace ?? '')));
  const slicesByNs = byNamespace((inputs.endpointSlices ?? []).filter((s) => namespaces.has(s.metadata?.namespace ?? '')));
  const index = new Map<string, Map<number, PortEndpoint[]>>();
  const trustDomain = options.trustDomain;
  for (const pod of inputs.pods) {
    const ns = pod.metadata?.namespace ?? '';
    if (!namespaces.has(ns)) continue;
    const w = buildWorkload(
      pod,
      {
        namespace: inputs.namespaces.get(ns),
        services: servicesByNs.get(ns) ?? [],
        endpointSlices: slicesByNs.get(ns) ?? [],
        node: inputs.nodes?.get(pod.spec?.nodeName ?? ''),
      },
      options,
    );
    if (!w) continue;
    const ip = w.addresses[0] && ipFromBytes(w.addresses[0]);
    if (!ip) continue;
    for (const [key, list] of Object.entries(w.services)) {
      if (!wanted.has(key)) continue;
      let ports = index.get(key);
      if (!ports) index.set(key, (ports = new Map()));
      for (const p of list.ports) {
        let eps = ports.get(p.servicePort);
        if (!eps) ports.set(p.servicePort, (eps = []));
        eps.push({
          ip,
          port: p.targetPort,
          hbone: w.tunnelProtocol === TunnelProtocol.HBONE,
          healthy: w.status === WorkloadStatus.HEALTHY,
          identity: spiffeIdentity(trustDomain, w.namespace, w.serviceAccount),
          workload: w,
        });
      }
    }
  }
  for (const ports of index.values()) for (const eps of ports.values()) eps.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
  return index;
}
