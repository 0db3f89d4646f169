// TypeScript shapes of the istio.workload messages (protos/istio/workload/workload.proto) in decoded
// form, and their enums as const objects. Hand-written to match the .proto; codec tests check the two
// agree on the wire.
import type { Any, UInt32Value } from './well-known-types.ts';

export const IPFamilies = { AUTOMATIC: 0, IPV4_ONLY: 1, IPV6_ONLY: 2, DUAL: 3 } as const;
export type IPFamilies = (typeof IPFamilies)[keyof typeof IPFamilies];

export const NetworkMode = { STANDARD: 0, HOST_NETWORK: 1 } as const;
export type NetworkMode = (typeof NetworkMode)[keyof typeof NetworkMode];

export const LoadBalancingScope = { UNSPECIFIED_SCOPE: 0, REGION: 1, ZONE: 2, SUBZONE: 3, NODE: 4, CLUSTER: 5, NETWORK: 6 } as const;
export type LoadBalancingScope = (typeof LoadBalancingScope)[keyof typeof LoadBalancingScope];

export const LoadBalancingMode = { UNSPECIFIED_MODE: 0, STRICT: 1, FAILOVER: 2, PASSTHROUGH: 3 } as const;
export type LoadBalancingMode = (typeof LoadBalancingMode)[keyof typeof LoadBalancingMode];

export const LoadBalancingHealthPolicy = { ONLY_HEALTHY: 0, ALLOW_ALL: 1 } as const;
export type LoadBalancingHealthPolicy = (typeof LoadBalancingHealthPolicy)[keyof typeof LoadBalancingHealthPolicy];

export const WorkloadStatus = { HEALTHY: 0, UNHEALTHY: 1 } as const;
export type WorkloadStatus = (typeof WorkloadStatus)[keyof typeof WorkloadStatus];

export const WorkloadType = { DEPLOYMENT: 0, CRONJOB: 1, POD: 2, JOB: 3 } as const;
export type WorkloadType = (typeof WorkloadType)[keyof typeof WorkloadType];

/** Newer than the 1.30 releases: older ztunnels do not know this field at all. */
export const AppProtocol = { UNKNOWN: 0, HTTP11: 1, HTTP2: 2, GRPC: 3, TCP: 4, TLS: 5 } as const;
export type AppProtocol = (typeof AppProtocol)[keyof typeof AppProtocol];

/** LEGACY_ISTIO_MTLS decodes, but current ztunnel refuses it: never send it. */
export const TunnelProtocol = { NONE: 0, HBONE: 1, LEGACY_ISTIO_MTLS: 2 } as const;
export type TunnelProtocol = (typeof TunnelProtocol)[keyof typeof TunnelProtocol];

export const ApplicationTunnelProtocol = { NONE: 0, PROXY: 1 } as const;
export type ApplicationTunnelProtocol = (typeof ApplicationTunnelProtocol)[keyof typeof ApplicationTunnelProtocol];

export const ServiceVisibility = { PUBLIC: 0, NAMESPACE: 1 } as const;
export type ServiceVisibility = (typeof ServiceVisibility)[keyof typeof ServiceVisibility];

/** One WDS resource (type URL type.googleapis.com/istio.workload.Address). */
export interface Address {
  type?: { $case: 'workload'; workload: Workload } | { $case: 'service'; service: Service };
}

export interface Service {
  name: string;
  namespace: string;
  hostname: string;
  addresses: NetworkAddress[];
  ports: Port[];
  subjectAltNames: string[];
  waypoint?: GatewayAddress;
  loadBalancing?: LoadBalancing;
  ipFamilies: IPFamilies;
  extensions: Extension[];
  canonical: boolean;
  ingressUseWaypoint: boolean;
  weightedWaypoints: WeightedWaypoint[];
  visibility: ServiceVisibility;
}

export interface LoadBalancing {
  routingPreference: LoadBalancingScope[];
  mode: LoadBalancingMode;
  healthPolicy: LoadBalancingHealthPolicy;
}

export interface Workload {
  /** The xDS resource name. */
  uid: string;
  name: string;
  namespace: string;
  /** Raw 4- or 16-byte IPs. */
  addresses: Uint8Array[];
  hostname: string;
  network: string;
  tunnelProtocol: TunnelProtocol;
  trustDomain: string;
  serviceAccount: string;
  waypoint?: GatewayAddress;
  networkGateway?: GatewayAddress;
  node: string;
  canonicalName: string;
  canonicalRevision: string;
  workloadType: WorkloadType;
  workloadName: string;
  nativeTunnel: boolean;
  applicationTunnel?: ApplicationTunnel;
  /** Key "<namespace>/<hostname>" of each Service this workload is an endpoint of. */
  services: Record<string, PortList>;
  authorizationPolicies: string[];
  status: WorkloadStatus;
  clusterId: string;
  locality?: Locality;
  networkMode: NetworkMode;
  extensions: Extension[];
  capacity?: UInt32Value;
}

export interface Locality {
  region: string;
  zone: string;
  subzone: string;
}

export interface PortList {
  ports: Port[];
}

export interface Port {
  servicePort: number;
  targetPort: number;
  appProtocol: AppProtocol;
}

export interface ApplicationTunnel {
  protocol: ApplicationTunnelProtocol;
  port: number;
}

export interface GatewayAddress {
  destination?: { $case: 'hostname'; hostname: NamespacedHostname } | { $case: 'address'; address: NetworkAddress };
  hboneMtlsPort: number;
}

export interface WeightedWaypoint {
  destination?: GatewayAddress;
  weight: number;
}

export interface NetworkAddress {
  network: string;
  address: Uint8Array;
  /** CIDR prefix length; undefined means a single address. */
  length?: number;
}

export interface NamespacedHostname {
  namespace: string;
  hostname: string;
}

export interface Extension {
  name: string;
  config?: Any;
}
