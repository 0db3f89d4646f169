// waypoint/src/xds: the waypoint's side of xDS: the delta ADS client (Envoy CDS/EDS/LDS/RDS and
// istio.workload.Address), the pure compilation of Envoy resources into WaypointConfig, the peer
// table telemetry queries, and the Envoy-shaped config dump.
export { startWaypointXds, type WaypointXds, type WaypointXdsOptions } from './client.ts';
export { assembleConfig, compileResource, ENVOY_KINDS, TYPE_URL_OF, type AcceptedSet, type EnvoyKind } from './compile.ts';
export { configDump } from './config-dump.ts';
export { decodePeer, PeerTable } from './peers.ts';
