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
import type { ModelOptions } from '../model/options.ts';
import { resourceVersion, type ResourceSet, type XdsResourceEntry } from '../model/resources.ts';
import type { WaypointLookup } from '../model/waypoints.ts';
import { servicesForWaypoint, type WaypointKey } from './bindings.ts';
import { waypointClusters } from './clusters.ts';
import { indexEndpoints } from './endpoints.ts';
import { connectTerminateListener, mainInternalListener } from './listeners.ts';
import { waypointLoadAssignments } from './load-assignments.ts';
import { planServicePorts, type ServicePortPlan } from './plan.ts';
import { waypointRouteConfigurations } from './routes.ts';
import type * as envoy from '../../../lib/proto/index.ts';

/** The Envoy type URLs a waypoint is served, in the order Envoy applies them (CDS before EDS, LDS before RDS). */
export const WAYPOINT_TYPE_URLS: readonly string[] = [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, ROUTE_TYPE_URL];

/** The cluster state a waypoint's resources are built from (informer caches at one instant). */
export interface WaypointClusterState {
  pods: readonly V1Pod[];
  services: readonly V1Service[];
  namespaces: readonly V1Namespace[];
  endpointSlices?: readonly V1EndpointSlice[];
  nodes?: readonly V1Node[];
  /** Every waypoint Gateway (binding needs the others too: a Service bound elsewhere is not ours). */
  waypoints: WaypointLookup;
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
  const plans = waypointPlans(input, options);
  const td = options.trustDomain;
  return {
    listeners: new Map([
      ['connect_terminate', connectTerminateListener(td)],
      ['main_internal', mainInternalListener(plans)],
    ]),
    clusters: waypointClusters(plans, td),
    endpoints: waypointLoadAssignments(plans, options.clusterId),
    routes: waypointRouteConfigurations(plans),
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
