// Builders for state in unit tests: a workload or service with sensible defaults.
import type { Policy, PolicyMatch, Service, Workload } from './types.ts';

export function workload(p: Partial<Workload> & { name: string; ip?: string }): Workload {
  const ns = p.namespace ?? 'default';
  return {
    uid: p.uid ?? `Kubernetes//Pod/${ns}/${p.name}`,
    name: p.name,
    namespace: ns,
    addresses: p.addresses ?? (p.ip ? [p.ip] : []),
    network: p.network ?? '',
    node: p.node ?? 'node1',
    tunnelProtocol: p.tunnelProtocol ?? 'HBONE',
    trustDomain: p.trustDomain ?? 'cluster.local',
    serviceAccount: p.serviceAccount ?? p.name,
    canonicalName: p.canonicalName ?? p.name,
    canonicalRevision: p.canonicalRevision ?? 'latest',
    workloadName: p.workloadName ?? p.name,
    workloadType: p.workloadType ?? 'pod',
    clusterId: p.clusterId ?? 'Kubernetes',
    status: p.status ?? 'HEALTHY',
    services: p.services ?? {},
    authorizationPolicies: p.authorizationPolicies ?? [],
    capacity: p.capacity ?? 1,
    ...(p.waypoint ? { waypoint: p.waypoint } : {}),
  };
}

export function service(p: Partial<Service> & { name: string; vip?: string }): Service {
  const ns = p.namespace ?? 'default';
  return {
    name: p.name,
    namespace: ns,
    hostname: p.hostname ?? `${p.name}.${ns}.svc.cluster.local`,
    vips: p.vips ?? (p.vip ? [{ network: '', address: p.vip }] : []),
    ports: p.ports ?? [{ servicePort: 80, targetPort: 8080 }],
    subjectAltNames: p.subjectAltNames ?? [],
    ...(p.waypoint ? { waypoint: p.waypoint } : {}),
    ...(p.loadBalancing ? { loadBalancing: p.loadBalancing } : {}),
  };
}

export function match(p: Partial<PolicyMatch>): PolicyMatch {
  return {
    namespaces: [], notNamespaces: [], principals: [], notPrincipals: [], sourceIps: [], notSourceIps: [],
    destinationIps: [], notDestinationIps: [], destinationPorts: [], notDestinationPorts: [], ...p,
  };
}

/** A policy of one rule with one clause per given match list. */
export function policy(p: Partial<Policy> & { name: string; clauses?: PolicyMatch[][] }): Policy {
  return {
    name: p.name,
    namespace: p.namespace ?? 'default',
    scope: p.scope ?? 'NAMESPACE',
    action: p.action ?? 'ALLOW',
    rules: p.rules ?? (p.clauses ? [p.clauses] : []),
    dryRun: p.dryRun ?? false,
  };
}
