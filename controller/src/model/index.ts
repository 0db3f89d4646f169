// controller/src/model: pure translation of Kubernetes and Istio objects into the workload-xDS
// resources ztunnel consumes (istio.workload.Address, istio.security.Authorization).
export { DEFAULT_MODEL_OPTIONS, modelOptions, type ModelOptions } from './options.ts';
export type { AuthorizationPolicy, MtlsMode, PeerAuthentication } from './istio-types.ts';
export * from './gateway-types.ts';
export { hboneListener, waypointAllowedRoutes, waypointInfoFromGateway, waypointLookupFromGateways, waypointTrafficType } from './waypoint-gateways.ts';
export { NO_WAYPOINTS, WAYPOINT_HBONE_PORT, type WaypointAllowedRoutes, type WaypointInfo, type WaypointLookup, type WaypointTrafficType } from './waypoints.ts';
export { buildService, namespacedHostname, serviceHostname, type ServiceContext, type ServiceResult } from './services.ts';
export { buildWorkload, podUid, type PodContext } from './workloads.ts';
export {
  authorizationScope,
  convertAuthorizationPolicy,
  selectorPoliciesForWorkload,
  selectorPolicyRefs,
  selects,
  type AuthorizationConversion,
  type SelectorPolicyRef,
} from './authorization.ts';
export {
  CONVERTED_PEER_AUTHENTICATION_PREFIX,
  convertPeerAuthentication,
  peerAuthenticationPolicies,
  peerAuthenticationPoliciesForWorkload,
  STATIC_STRICT_POLICY_NAME,
  staticStrictPolicy,
} from './peer-authentication.ts';
export {
  authorizationResource,
  authorizationResourceName,
  buildResourceSet,
  resourceVersion,
  serviceResource,
  serviceResourceName,
  workloadResource,
  workloadResourceName,
  type ModelDiagnostic,
  type ModelSnapshot,
  type ResourceSet,
  type ResourceSetBuild,
  type XdsResourceEntry,
} from './resources.ts';
export {
  IncrementalModel,
  modelObjectKey,
  type BuildCounts,
  type ModelChange,
  type ModelObjectKind,
  type ModelObjects,
  type ModelUpdate,
  type ResourceChanges,
  type TypeChanges,
} from './incremental.ts';
