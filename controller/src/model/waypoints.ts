// Which waypoint a Service or a pod uses (`istio.io/use-waypoint` on the object, else on its
// namespace) and the GatewayAddress ztunnel is told to send its traffic to (fact sheet §6, §4.6).
// Waypoints themselves (Gateways of class istio-waypoint) are looked up through a function the
// caller provides, so this module stays free of Gateway API objects.
import type { V1Namespace, V1ObjectMeta } from '@kubernetes/client-node';
import type { GatewayAddress } from '../../../lib/proto/index.ts';
import { parseIp } from './ip.ts';
import {
  GATEWAY_MANAGED_EASTWEST,
  GATEWAY_MANAGED_LABEL,
  GATEWAY_MANAGED_MESH,
  labelSelectorMatches,
  USE_WAYPOINT_LABEL,
  USE_WAYPOINT_NAMESPACE_LABEL,
  USE_WAYPOINT_NONE,
  type LabelSelector,
} from './labels.ts';

/** The HBONE port of every waypoint (Istio hard-codes it too). */
export const WAYPOINT_HBONE_PORT = 15008;

/** `istio.io/waypoint-for` of the Gateway (or its class); Istio's default is `service`. */
export type WaypointTrafficType = 'service' | 'workload' | 'all' | 'none';

/** The waypoint listener's `allowedRoutes.namespaces`; Gateway API's default is `Same`. */
export type WaypointAllowedRoutes = { from: 'Same' } | { from: 'All' } | { from: 'Selector'; selector: LabelSelector };

/** What the model needs to know about one waypoint Gateway. */
export interface WaypointInfo {
  /** A `Hostname` address from the Gateway's status (preferred, as istiod does). */
  hostname?: string;
  /** An `IPAddress` address from the Gateway's status. */
  address?: string;
  /** Default `service`. */
  trafficType?: WaypointTrafficType;
  /** Default `{ from: 'Same' }`. */
  allowedRoutes?: WaypointAllowedRoutes;
}

/**
 * The waypoint Gateway `namespace/name`, or undefined if there is none. A Gateway whose status has no
 * address yet (not ready) may be returned without `hostname` and `address`: it binds, but nothing is
 * sent until it has one.
 */
export type WaypointLookup = (namespace: string, name: string) => WaypointInfo | undefined;

export const NO_WAYPOINTS: WaypointLookup = () => undefined;

export interface BoundWaypoint {
  namespace: string;
  name: string;
  info: WaypointInfo;
}

/** The object's own `istio.io/use-waypoint` reference: none, opted out, or a namespace/name. */
function useWaypoint(labels: Readonly<Record<string, string>> | undefined, defaultNamespace: string): 'none' | { namespace: string; name: string } | undefined {
  const name = labels?.[USE_WAYPOINT_LABEL];
  if (name === undefined) return undefined;
  if (name === USE_WAYPOINT_NONE) return 'none';
  return { namespace: labels?.[USE_WAYPOINT_NAMESPACE_LABEL] ?? defaultNamespace, name };
}

function allowsAttachment(w: BoundWaypoint, fromNamespace: string, namespaceObj: V1Namespace | undefined): boolean {
  const routes = w.info.allowedRoutes ?? { from: 'Same' };
  switch (routes.from) {
    case 'All':
      return true;
    case 'Selector':
      return labelSelectorMatches(routes.selector, namespaceObj?.metadata?.labels);
    case 'Same':
      return w.namespace === fromNamespace;
  }
}

/**
 * The waypoint Gateway an object's labels (else its namespace's) name, found or not; undefined when
 * neither names one or the object opts out. The incremental model indexes objects by it, so a
 * Gateway change finds what it may bind.
 */
export function waypointReference(meta: V1ObjectMeta, namespaceObj: V1Namespace | undefined): { namespace: string; name: string } | undefined {
  const ns = meta.namespace ?? '';
  const own = useWaypoint(meta.labels, ns);
  if (own === 'none') return undefined;
  const ref = own ?? (namespaceObj ? useWaypoint(namespaceObj.metadata?.labels, ns) : undefined);
  return ref === undefined || ref === 'none' ? undefined : ref;
}

/**
 * The waypoint an object asked for: its own label wins (`none` opts out; a named waypoint that is not
 * found means no waypoint, without falling back to the namespace's), else its namespace's label.
 * The waypoint must allow attachment from the object's namespace.
 */
function waypointForTarget(meta: V1ObjectMeta, namespaceObj: V1Namespace | undefined, lookup: WaypointLookup): BoundWaypoint | undefined {
  const ns = meta.namespace ?? '';
  const ref = waypointReference(meta, namespaceObj);
  if (ref === undefined) return undefined;
  const info = lookup(ref.namespace, ref.name);
  if (!info) return undefined;
  const bound = { namespace: ref.namespace, name: ref.name, info };
  return allowsAttachment(bound, ns, namespaceObj) ? bound : undefined;
}

/** The waypoint for a Service: only one that takes service traffic; waypoint and east-west gateway Services never get one. */
export function waypointForService(meta: V1ObjectMeta, namespaceObj: V1Namespace | undefined, lookup: WaypointLookup): BoundWaypoint | undefined {
  const managed = meta.labels?.[GATEWAY_MANAGED_LABEL];
  if (managed === GATEWAY_MANAGED_MESH || managed === GATEWAY_MANAGED_EASTWEST) return undefined;
  const w = waypointForTarget(meta, namespaceObj, lookup);
  const t = w?.info.trafficType ?? 'service';
  return w && (t === 'service' || t === 'all') ? w : undefined;
}

/** The waypoint for a workload: only one that takes workload traffic. */
export function waypointForWorkload(meta: V1ObjectMeta, namespaceObj: V1Namespace | undefined, lookup: WaypointLookup): BoundWaypoint | undefined {
  const w = waypointForTarget(meta, namespaceObj, lookup);
  const t = w?.info.trafficType ?? 'service';
  return w && (t === 'workload' || t === 'all') ? w : undefined;
}

/** Where ztunnel reaches the waypoint: its hostname if the Gateway has one, else its IP. */
export function gatewayAddress(w: BoundWaypoint, network: string): GatewayAddress | undefined {
  if (w.info.hostname) {
    return { destination: { $case: 'hostname', hostname: { namespace: w.namespace, hostname: w.info.hostname } }, hboneMtlsPort: WAYPOINT_HBONE_PORT };
  }
  const ip = w.info.address === undefined ? undefined : parseIp(w.info.address);
  if (!ip) return undefined;
  return { destination: { $case: 'address', address: { network, address: ip } }, hboneMtlsPort: WAYPOINT_HBONE_PORT };
}
