// One waypoint's complete Envoy configuration from one snapshot of cluster state: the Services
// bound to it, their ports and the pods behind them, as LDS/CDS/EDS/RDS resources under Istio's
// names (docs/waypoint-xds.md), each encoded once with a content-hash version so a rebuild leaves
// unchanged resources at their version and the delta server pushes only what changed.
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import {
  CLUSTER_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  ENDPOINT_TYPE_URL,
  LISTENER_TYPE_URL,
  listenerCodec,
  packAny,
  ROUTE_TYPE_URL,
  routeConfigurationCodec,
  type MessageInput,
} from '../../../lib/proto/index.ts';
import type { AuthorizationPolicy } from '../model/istio-types.ts';
import type { ModelOptions } from '../model/options.ts';
import { resourceVersion, type ResourceSet, type XdsResourceEntry } from '../model/resources.ts';
import type { WaypointLookup } from '../model/waypoints.ts';
import { servicesForWaypoint, type WaypointKey } from './bindings.ts';
import { inboundVipCluster, waypointClusters } from './clusters.ts';
import { indexEndpoints } from './endpoints.ts';
import { connectTerminateListener, mainInternalListener } from './listeners.ts';
import { loadAssignment, waypointLoadAssignments } from './load-assignments.ts';
import { planServicePorts, type ServicePortPlan } from './plan.ts';
import { WaypointAuthorization, type RbacDiagnostic } from './rbac.ts';
import type { TrafficDiagnostic } from './diagnostics.ts';
import { corsFilterConfig, CORS_FILTER, FAULT_FILTER, faultFilterConfig } from './http-routes.ts';
import { outboundPlans, planTraffic, podLabelIndex } from './traffic.ts';
import type { TrafficObjects } from './traffic-types.ts';
import { waypointRouteConfigurations } from './routes.ts';
import type * as envoy from '../../../lib/proto/index.ts';

/** The Envoy type URLs a waypoint is served, in the order Envoy applies them (CDS before EDS, LDS before RDS). */
export const WAYPOINT_TYPE_URLS: readonly string[] = [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_TYPE_URL];

/** The cluster state a waypoint's resources are built from (informer caches at one instant); traffic objects (VirtualService, DestinationRule, HTTPRoute, GRPCRoute) are optional. */
export interface WaypointClusterState extends TrafficObjects {
  pods: readonly V1Pod[];
  services: readonly V1Service[];
  namespaces: readonly V1Namespace[];
  endpointSlices?: readonly V1EndpointSlice[];
  nodes?: readonly V1Node[];
  /** Every waypoint Gateway (binding needs the others too: a Service bound elsewhere is not ours). */
  waypoints: WaypointLookup;
  /** AuthorizationPolicies; those with targetRefs to the waypoint or its Services become RBAC filters. */
  authorizationPolicies?: readonly AuthorizationPolicy[];
}

export interface WaypointXdsInput extends WaypointClusterState {
  waypoint: WaypointKey;
}

/** Resource name → message, per Envoy type. */
export interface WaypointResources {
  listeners: Map<string, MessageInput<envoy.Listener>>;
  clusters: Map<string, MessageInput<envoy.Cluster>>;
  endpoints: Map<string, MessageInput<envoy.ClusterLoadAssignment>>;
  routes: Map<string, MessageInput<envoy.RouteConfiguration>>;
  /** What the attached AuthorizationPolicies could not carry (each policy's once). */
  rbacDiagnostics: RbacDiagnostic[];
  /** What translating VirtualServices, DestinationRules and Gateway API routes had to report. */
  trafficDiagnostics: TrafficDiagnostic[];
}

/** Whether some route of the port has per-route config for `filter`. */
function usesFilter(p: ServicePortPlan, filter: string): boolean {
  return (p.traffic?.httpRoutes ?? []).some((r) => r.typedPerFilterConfig?.[filter] !== undefined);
}

/** The port plans of one Service, whatever waypoint it uses (outbound destinations). */
function servicePortPlans(input: WaypointXdsInput, svc: V1Service, options: ModelOptions): ServicePortPlan[] {
  const namespaces = new Map(input.namespaces.map((n) => [n.metadata?.name ?? '', n]));
  const nodes = new Map((input.nodes ?? []).map((n) => [n.metadata?.name ?? '', n]));
  const endpoints = indexEndpoints({ pods: input.pods, services: input.services, namespaces, endpointSlices: input.endpointSlices ?? [], nodes }, [svc], options);
  return planServicePorts([svc], endpoints, options);
}

/** The plans of every service port `input.waypoint` serves. */
export function waypointPlans(input: WaypointXdsInput, options: ModelOptions): ServicePortPlan[] {
  const namespaces = new Map(input.namespaces.map((n) => [n.metadata?.name ?? '', n]));
  const bound = servicesForWaypoint(input.waypoint, input.services, namespaces, input.waypoints);
  const nodes = new Map((input.nodes ?? []).map((n) => [n.metadata?.name ?? '', n]));
  const endpoints = indexEndpoints({ pods: input.pods, services: input.services, namespaces, endpointSlices: input.endpointSlices ?? [], nodes }, bound, options);
  return planServicePorts(bound, endpoints, options);
}

export function buildWaypointResources(input: WaypointXdsInput, options: ModelOptions): WaypointResources {
  const traffic = planTraffic(waypointPlans(input, options), input, input.waypoint, options);
  const plans = traffic.plans;
  const td = options.trustDomain;
  const authz = new WaypointAuthorization(input.authorizationPolicies ?? [], options.rootNamespace);
  const mainInternal = mainInternalListener(plans, (p) => ({
    rbac: authz.forChain({ waypoint: input.waypoint, service: { name: p.name, namespace: p.namespace } }),
    // istiod puts both on every waypoint chain; we add each only where a route of the port uses it,
    // so chains without faults or CORS do not depend on the waypoint implementing those filters.
    fault: usesFilter(p, FAULT_FILTER) ? [{ name: FAULT_FILTER, configType: { $case: 'typedConfig', typedConfig: faultFilterConfig() } }] : [],
    cors: usesFilter(p, CORS_FILTER) ? [{ name: CORS_FILTER, configType: { $case: 'typedConfig', typedConfig: corsFilterConfig() } }] : [],
  }));
  const clusters = waypointClusters(plans, td);
  const endpoints = waypointLoadAssignments(plans, options.clusterId);
  // Destinations of routes that this waypoint does not serve: `outbound|…` clusters of their pods.
  for (const o of outboundPlans(traffic.outbound, (svc) => servicePortPlans(input, svc, options), podLabelIndex(input.pods))) {
    if (clusters.has(o.name)) continue;
    clusters.set(o.name, inboundVipCluster(o.plan, o.chain, o.subset, o.name));
    endpoints.set(o.name, loadAssignment(o.plan, o.chain, options.clusterId, o.subset, o.name));
  }
  return {
    listeners: new Map([
      ['connect_terminate', connectTerminateListener(td)],
      ['main_internal', mainInternal],
    ]),
    clusters,
    endpoints,
    routes: waypointRouteConfigurations(plans),
    rbacDiagnostics: authz.diagnostics,
    trafficDiagnostics: traffic.diagnostics,
  };
}

function encodeAll<T>(m: Map<string, MessageInput<T>>, encode: (v: MessageInput<T>) => ReturnType<typeof packAny>): Map<string, XdsResourceEntry> {
  const out = new Map<string, XdsResourceEntry>();
  for (const [name, v] of m) {
    const resource = encode(v);
    out.set(name, { version: resourceVersion(resource), resource, aliases: [] });
  }
  return out;
}

/** The resources encoded as `Any`s with content-hash versions, by type URL. */
export function encodeWaypointResources(r: WaypointResources): ResourceSet {
  return new Map([
    [LISTENER_TYPE_URL, encodeAll(r.listeners, (v) => packAny(listenerCodec, v))],
    [CLUSTER_TYPE_URL, encodeAll(r.clusters, (v) => packAny(clusterCodec, v))],
    [ENDPOINT_TYPE_URL, encodeAll(r.endpoints, (v) => packAny(clusterLoadAssignmentCodec, v))],
    [ROUTE_TYPE_URL, encodeAll(r.routes, (v) => packAny(routeConfigurationCodec, v))],
  ]);
}
