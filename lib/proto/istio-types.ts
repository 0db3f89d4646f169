// Istio's workload API (WDS), L4 authorization, ZDS and CA messages, re-exported from the generated
// tree (./gen, from ./protos) under the names the rest of the project uses: the generator's
// nested names (LoadBalancing_Scope) and clashing ones (istio.security.Address) get flat aliases.
export type {
  Address,
  ApplicationTunnel,
  Extension,
  GatewayAddress,
  LoadBalancing,
  Locality,
  NamespacedHostname,
  NetworkAddress,
  Port,
  PortList,
  Service,
  WeightedWaypoint,
  Workload,
} from './gen/istio/workload/workload.ts';
export {
  AppProtocol,
  ApplicationTunnel_Protocol as ApplicationTunnelProtocol,
  IPFamilies,
  LoadBalancing_HealthPolicy as LoadBalancingHealthPolicy,
  LoadBalancing_Mode as LoadBalancingMode,
  LoadBalancing_Scope as LoadBalancingScope,
  NetworkMode,
  Service_Visibility as ServiceVisibility,
  TunnelProtocol,
  WorkloadStatus,
  WorkloadType,
} from './gen/istio/workload/workload.ts';

export type {
  Address as IpPrefix,
  Authorization,
  Clause as AuthorizationClause,
  Match as AuthorizationMatch,
  Rule as AuthorizationRule,
  ServiceAccountMatch,
  StringMatch,
} from './gen/istio/security/authorization.ts';
export { Action as AuthorizationAction, Scope as AuthorizationScope } from './gen/istio/security/authorization.ts';

export type {
  Ack as ZdsAck,
  AddWorkload,
  DelWorkload,
  KeepWorkload,
  SnapshotSent,
  WorkloadInfo as ZdsWorkloadInfo,
  WorkloadRequest,
  WorkloadResponse,
  ZdsHello,
} from './gen/istio/workload/zds/zds.ts';
export { Version as ZdsVersion } from './gen/istio/workload/zds/zds.ts';

export type { IstioCertificateRequest, IstioCertificateResponse } from './gen/istio/v1/auth/ca.ts';

/** Metadata key a node proxy sets to ask for a certificate of one of its pods' identities. */
export const IMPERSONATED_IDENTITY = 'ImpersonatedIdentity';
