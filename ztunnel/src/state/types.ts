// ztunnel's own model of the mesh, converted from workload xDS (or the local config file): what the
// proxy paths query. Plain data; conversion from the wire types lives in ../xds.

export type TunnelProtocol = 'NONE' | 'HBONE';
export type WorkloadStatus = 'HEALTHY' | 'UNHEALTHY';

/** `<network>/<ip>`: Istio's address key (default network is the empty string). */
export type NetworkAddress = { network: string; address: string };

export type GatewayAddress =
  | { kind: 'address'; network: string; address: string; hboneMtlsPort: number }
  | { kind: 'hostname'; namespace: string; hostname: string; hboneMtlsPort: number };

export interface Workload {
  uid: string;
  name: string;
  namespace: string;
  addresses: string[];
  network: string;
  node: string;
  tunnelProtocol: TunnelProtocol;
  trustDomain: string;
  serviceAccount: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadName: string;
  workloadType: string;
  clusterId: string;
  status: WorkloadStatus;
  waypoint?: GatewayAddress;
  /** Service key (`ns/hostname`) → service port → target port. */
  services: Record<string, Record<number, number>>;
  /** `ns/name` of WORKLOAD_SELECTOR policies that select this workload. */
  authorizationPolicies: string[];
  capacity: number;
}

export interface ServicePort {
  servicePort: number;
  /** 0 when the Service names its target port: then only the workload's own mapping applies. */
  targetPort: number;
}

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  vips: NetworkAddress[];
  ports: ServicePort[];
  subjectAltNames: string[];
  waypoint?: GatewayAddress;
  loadBalancing?: { mode: 'UNSPECIFIED_MODE' | 'STRICT' | 'FAILOVER' | 'PASSTHROUGH'; healthPolicy: 'ONLY_HEALTHY' | 'ALLOW_ALL' };
}

export type StringMatch =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'suffix'; value: string }
  | { kind: 'presence' };

export interface CidrMatch {
  address: string;
  prefixLength: number;
}

/** One Match: kinds AND-ed, values within a kind OR-ed; empty lists do not constrain. */
export interface PolicyMatch {
  namespaces: StringMatch[];
  notNamespaces: StringMatch[];
  principals: StringMatch[];
  notPrincipals: StringMatch[];
  sourceIps: CidrMatch[];
  notSourceIps: CidrMatch[];
  destinationIps: CidrMatch[];
  notDestinationIps: CidrMatch[];
  destinationPorts: number[];
  notDestinationPorts: number[];
}

export interface Policy {
  name: string;
  namespace: string;
  scope: 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
  action: 'ALLOW' | 'DENY';
  /** OR of rules; each rule an AND of clauses; each clause an OR of matches. */
  rules: PolicyMatch[][][];
  dryRun: boolean;
}

export function workloadIdentity(w: Pick<Workload, 'trustDomain' | 'namespace' | 'serviceAccount'>): string {
  return `spiffe://${w.trustDomain || 'cluster.local'}/ns/${w.namespace}/sa/${w.serviceAccount || 'default'}`;
}

export function serviceKey(s: Pick<Service, 'namespace' | 'hostname'>): string {
  return `${s.namespace}/${s.hostname}`;
}

export function policyKey(p: Pick<Policy, 'namespace' | 'name'>): string {
  return `${p.namespace}/${p.name}`;
}
