// Waypoint Gateways (class istio-waypoint) → the WaypointInfo the binding rules in waypoints.ts
// consume (fact sheet §4.6 "Waypoint → GatewayAddress", §6): the addresses from the Gateway's
// status, the traffic type from `istio.io/waypoint-for`, the HBONE listener's allowedRoutes.
import { HBONE_PROTOCOL, WAYPOINT_GATEWAY_CLASS, WAYPOINT_LISTENER_NAME, type Gateway, type GatewayClass, type GatewayListener } from './gateway-types.ts';
import { WAYPOINT_FOR_LABEL } from './labels.ts';
import type { WaypointAllowedRoutes, WaypointInfo, WaypointLookup, WaypointTrafficType } from './waypoints.ts';

const TRAFFIC_TYPES: readonly string[] = ['service', 'workload', 'all', 'none'];

/**
 * The Gateway's label, else its class's, else `service`. A value Istio does not know binds nothing
 * there (only `service|all` and `workload|all` bind), so it is taken as `none`.
 */
export function waypointTrafficType(gw: Gateway, gatewayClass: GatewayClass | undefined): WaypointTrafficType {
  const v = gw.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? gatewayClass?.metadata.labels?.[WAYPOINT_FOR_LABEL] ?? 'service';
  return TRAFFIC_TYPES.includes(v) ? (v as WaypointTrafficType) : 'none';
}

/** The listener traffic arrives on: the HBONE one, else the one named `mesh`. */
export function hboneListener(gw: Gateway): GatewayListener | undefined {
  const listeners = gw.spec?.listeners ?? [];
  return listeners.find((l) => l.protocol === HBONE_PROTOCOL) ?? listeners.find((l) => l.name === WAYPOINT_LISTENER_NAME);
}

/**
 * `allowedRoutes.namespaces` of the HBONE listener; Gateway API's default is `Same`. `Selector` without
 * a selector is invalid API input: taken as `Same` rather than as "everyone".
 */
export function waypointAllowedRoutes(gw: Gateway): WaypointAllowedRoutes {
  const ns = hboneListener(gw)?.allowedRoutes?.namespaces;
  switch (ns?.from) {
    case 'All':
      return { from: 'All' };
    case 'Selector':
      return ns.selector ? { from: 'Selector', selector: ns.selector } : { from: 'Same' };
    default:
      return { from: 'Same' };
  }
}

/**
 * What the model knows about a waypoint Gateway; undefined for other classes and for Gateways being
 * deleted. A Gateway whose status has no address yet (not programmed) is still a waypoint (so its
 * own pods are recognised) but has neither hostname nor address, so nothing binds to it (Istio:
 * WaypointIsNotReady).
 */
export function waypointInfoFromGateway(gw: Gateway, gatewayClass?: GatewayClass): WaypointInfo | undefined {
  if (gw.spec?.gatewayClassName !== WAYPOINT_GATEWAY_CLASS || gw.metadata.deletionTimestamp) return undefined;
  const addresses = gw.status?.addresses ?? [];
  const hostname = addresses.find((a) => a.type === 'Hostname' && a.value)?.value;
  // The status address type defaults to IPAddress.
  const address = addresses.find((a) => (a.type ?? 'IPAddress') === 'IPAddress' && a.value)?.value;
  return {
    ...(hostname ? { hostname } : {}),
    ...(address ? { address } : {}),
    trafficType: waypointTrafficType(gw, gatewayClass),
    allowedRoutes: waypointAllowedRoutes(gw),
  };
}

/** A WaypointLookup over the Gateways and GatewayClasses of one snapshot. */
export function waypointLookupFromGateways(gateways: readonly Gateway[], gatewayClasses: readonly GatewayClass[] = []): WaypointLookup {
  const classes = new Map(gatewayClasses.map((c) => [c.metadata.name ?? '', c]));
  const byKey = new Map<string, WaypointInfo>();
  for (const gw of gateways) {
    const info = waypointInfoFromGateway(gw, classes.get(gw.spec?.gatewayClassName ?? ''));
    if (info) byKey.set(`${gw.metadata.namespace ?? ''}/${gw.metadata.name ?? ''}`, info);
  }
  return (namespace, name) => byKey.get(`${namespace}/${name}`);
}
