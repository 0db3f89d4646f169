// controller/src/waypoint-xds: Envoy v3 xDS for waypoints (docs/waypoint-xds.md): the pure
// translation of one waypoint's Services, ports and endpoints into LDS/CDS/EDS/RDS resources, and
// the per-proxy store the delta xDS server serves them from.
export { servicesForWaypoint, waypointOfProxy, type ProxyNode, type WaypointKey } from './bindings.ts';
export { buildWaypointResources, encodeWaypointResources, waypointPlans, WAYPOINT_TYPE_URLS, type WaypointClusterState, type WaypointResources, type WaypointXdsInput } from './build.ts';
export { CONNECT_ORIGINATE, CONNECT_TERMINATE, inboundVipName, MAIN_INTERNAL } from './names.ts';
export type { PortTraffic, ServicePortPlan, SubsetPlan } from './plan.ts';
export { portProtocol, type PortProtocol } from './protocol.ts';
export { routesForServicePort } from './routes.ts';
export { WaypointXdsStore, type WaypointRebuildResult } from './store.ts';
export { planTraffic, routeSources } from './traffic.ts';
export type { TrafficDiagnostic } from './diagnostics.ts';
export type { DestinationRule, GRPCRoute, HTTPRoute, TrafficObjects, VirtualService } from './traffic-types.ts';
