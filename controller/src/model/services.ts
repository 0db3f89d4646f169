// Kubernetes Service → istio.workload.Service (fact sheet §4.6): hostname, VIPs, ports, load
// balancing, IP families and the waypoint binding. Endpoints are not here: each Workload lists the
// Services it serves (workloads.ts).
import type { V1Namespace, V1Service, V1ServicePort } from '@kubernetes/client-node';
import {
  AppProtocol,
  IPFamilies,
  LoadBalancingHealthPolicy,
  LoadBalancingMode,
  LoadBalancingScope,
  ServiceVisibility,
  type LoadBalancing,
  type Port,
  type Service,
} from '../../../lib/proto/index.ts';
import { parseIp } from './ip.ts';
import { INGRESS_USE_WAYPOINT_LABEL, matchLabelsSelect, parseGoBool, TRAFFIC_DISTRIBUTION_ANNOTATION, type Labels } from './labels.ts';
import type { ModelOptions } from './options.ts';
import { gatewayAddress, NO_WAYPOINTS, waypointForService, type WaypointLookup } from './waypoints.ts';

export interface ServiceContext {
  /** The Service's Namespace, for its waypoint and traffic-distribution defaults. */
  namespace?: V1Namespace;
  waypoints?: WaypointLookup;
}

export type ServiceResult =
  | { ok: true; service: Service }
  /** ExternalName Services are left to DNS, as istiod does; a cluster IP that does not parse drops the Service. */
  | { ok: false; reason: 'ExternalName' | 'InvalidClusterIP'; message: string };

export function serviceHostname(name: string, namespace: string, domainSuffix: string): string {
  return `${name}.${namespace}.svc.${domainSuffix}`;
}

/** `<namespace>/<hostname>`: a Service's resource name and its key in `Workload.services`. */
export function namespacedHostname(namespace: string, hostname: string): string {
  return `${namespace}/${hostname}`;
}

/** Whether a Service's selector picks a pod; a Service without a selector picks none this way. */
export function serviceSelectsPod(svc: V1Service, podLabels: Labels | undefined): boolean {
  const selector = svc.spec?.selector;
  return selector !== undefined && Object.keys(selector).length > 0 && matchLabelsSelect(selector, podLabels);
}

/** Ports on which a port with no recognised name is taken for plain TCP (SMTP, DNS, MySQL, MongoDB). */
const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

/**
 * The application protocol Istio infers for a Service port: `appProtocol` if set (with the
 * `kubernetes.io/` standard names), else the port name's prefix before the first `-`.
 */
export function appProtocolOf(port: V1ServicePort): AppProtocol {
  if (port.protocol === 'UDP') return AppProtocol.UNKNOWN;
  let name = port.name ?? '';
  if (port.appProtocol !== undefined) {
    name = port.appProtocol;
    if (name === 'kubernetes.io/h2c') return AppProtocol.HTTP2;
    if (name === 'kubernetes.io/ws') return AppProtocol.HTTP11;
    if (name === 'kubernetes.io/wss') return AppProtocol.TLS;
  }
  // grpc-web carries a dash itself and has no AppProtocol of its own.
  if (name.toLowerCase().startsWith('grpc-web')) return AppProtocol.UNKNOWN;
  const dash = name.indexOf('-');
  switch ((dash < 0 ? name : name.slice(0, dash)).toLowerCase()) {
    case 'http':
      return AppProtocol.HTTP11;
    case 'http2':
      return AppProtocol.HTTP2;
    case 'grpc':
      return AppProtocol.GRPC;
    case 'tls':
    case 'https':
      return AppProtocol.TLS;
    case 'tcp':
      return AppProtocol.TCP;
    case 'udp':
    case 'http_proxy':
    case 'mongo':
    case 'redis':
    case 'mysql':
      return AppProtocol.UNKNOWN;
    default:
      return WELL_KNOWN_TCP_PORTS.has(port.port) ? AppProtocol.TCP : AppProtocol.UNKNOWN;
  }
}

/** The numeric target port, 0 for a named one (resolved per pod in Workload.services). */
export function numericTargetPort(port: V1ServicePort): number {
  const t = port.targetPort;
  // The apiserver always defaults targetPort to port; an object that skipped defaulting means the same.
  if (t === undefined) return port.port;
  return typeof t === 'number' ? t : 0;
}

/** Cluster IPs that are VIPs: `clusterIPs`, else `clusterIP`, without `None` (headless). */
export function serviceVips(svc: V1Service): string[] {
  const ips = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : [svc.spec?.clusterIP ?? ''];
  return ips.filter((ip) => ip !== '' && ip !== 'None');
}

function ipFamilies(svc: V1Service): IPFamilies {
  const f = svc.spec?.ipFamilies ?? [];
  if (f.length === 2) return IPFamilies.DUAL;
  if (f.length === 1) return f[0] === 'IPv4' ? IPFamilies.IPV4_ONLY : IPFamilies.IPV6_ONLY;
  return IPFamilies.AUTOMATIC;
}

type TrafficDistribution = 'any' | 'zone' | 'node';

function distributionFromAnnotation(v: string): TrafficDistribution {
  switch (v.toLowerCase()) {
    case 'preferclose':
    case 'prefersamezone':
      return 'zone';
    case 'prefersamenode':
      return 'node';
    default:
      return 'any';
  }
}

/** spec.trafficDistribution, else the Service's annotation, else its namespace's. */
function trafficDistribution(svc: V1Service, namespace: V1Namespace | undefined): TrafficDistribution {
  switch (svc.spec?.trafficDistribution) {
    case 'PreferSameZone':
    case 'PreferClose':
      return 'zone';
    case 'PreferSameNode':
      return 'node';
  }
  const own = svc.metadata?.annotations?.[TRAFFIC_DISTRIBUTION_ANNOTATION];
  if (own) return distributionFromAnnotation(own);
  const inherited = namespace?.metadata?.annotations?.[TRAFFIC_DISTRIBUTION_ANNOTATION];
  return inherited ? distributionFromAnnotation(inherited) : 'any';
}

function loadBalancing(svc: V1Service, namespace: V1Namespace | undefined): LoadBalancing | undefined {
  const S = LoadBalancingScope;
  let lb: LoadBalancing | undefined;
  if (svc.spec?.internalTrafficPolicy === 'Local') {
    lb = { routingPreference: [S.NODE], mode: LoadBalancingMode.STRICT, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
  } else {
    switch (trafficDistribution(svc, namespace)) {
      case 'zone':
        lb = { routingPreference: [S.NETWORK, S.REGION, S.ZONE], mode: LoadBalancingMode.FAILOVER, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
        break;
      case 'node':
        lb = { routingPreference: [S.NETWORK, S.REGION, S.ZONE, S.SUBZONE, S.NODE], mode: LoadBalancingMode.FAILOVER, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
        break;
      case 'any':
        break;
    }
  }
  if (svc.spec?.publishNotReadyAddresses) {
    lb ??= { routingPreference: [], mode: LoadBalancingMode.UNSPECIFIED_MODE, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
    lb.healthPolicy = LoadBalancingHealthPolicy.ALLOW_ALL;
  }
  return lb;
}

export function buildService(svc: V1Service, ctx: ServiceContext, options: ModelOptions): ServiceResult {
  const name = svc.metadata?.name ?? '';
  const namespace = svc.metadata?.namespace ?? '';
  if (svc.spec?.type === 'ExternalName') return { ok: false, reason: 'ExternalName', message: 'ExternalName Services are resolved by DNS, not sent' };
  const addresses = [];
  for (const vip of serviceVips(svc)) {
    const address = parseIp(vip);
    if (!address) return { ok: false, reason: 'InvalidClusterIP', message: `clusterIP ${JSON.stringify(vip)} is not an IP address` };
    addresses.push({ network: options.network, address });
  }
  const ports: Port[] = (svc.spec?.ports ?? []).map((p) => ({ servicePort: p.port, targetPort: numericTargetPort(p), appProtocol: appProtocolOf(p) }));
  const bound = waypointForService(svc.metadata ?? {}, ctx.namespace, ctx.waypoints ?? NO_WAYPOINTS);
  const waypoint = bound ? gatewayAddress(bound, options.network) : undefined;
  let ingressUseWaypoint = false;
  if (bound) {
    const v = svc.metadata?.labels?.[INGRESS_USE_WAYPOINT_LABEL] ?? ctx.namespace?.metadata?.labels?.[INGRESS_USE_WAYPOINT_LABEL];
    ingressUseWaypoint = v !== undefined && parseGoBool(v) === true;
  }
  const lb = loadBalancing(svc, ctx.namespace);
  const service: Service = {
    name,
    namespace,
    hostname: serviceHostname(name, namespace, options.domainSuffix),
    addresses,
    ports,
    subjectAltNames: [],
    ipFamilies: ipFamilies(svc),
    extensions: [],
    // A Kubernetes Service is always the canonical owner of its hostname.
    canonical: true,
    ingressUseWaypoint,
    weightedWaypoints: [],
    visibility: ServiceVisibility.PUBLIC,
    ...(waypoint ? { waypoint } : {}),
    ...(lb ? { loadBalancing: lb } : {}),
  };
  return { ok: true, service };
}
