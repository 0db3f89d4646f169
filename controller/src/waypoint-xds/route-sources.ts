// Which routing object configures a service port of a waypoint (fact sheet §2.4): VirtualServices
// bound by `hosts` (short names resolved in the VirtualService's namespace) and HTTPRoute/GRPCRoute
// converted to the same shape (gateway-api.ts), living in the Service's namespace or the
// waypoint's. Istio's rule is "the first with http wins, no merging" (oldest first); we take the
// first whose http routes apply on the port, so port-scoped HTTPRoutes (parentRef.port) of one
// Service each keep their port.
import type { TrafficObjectKind } from './diagnostics.ts';
import type { HttpRoute, TcpRoute } from './traffic-types.ts';

/** A VirtualService, or a Gateway API route converted to one, ready to be bound. */
export interface RouteSource {
  kind: Exclude<TrafficObjectKind, 'DestinationRule'>;
  namespace: string;
  name: string;
  /** Resolved hosts (FQDNs or wildcards) it applies to. */
  hosts: string[];
  http: HttpRoute[];
  tcp: TcpRoute[];
  /** Gateway API semantics: PathPrefix is path-separated, a missing backend answers 500. */
  gatewayApi: boolean;
}

/**
 * A VirtualService host as Istio resolves it in namespace `ns`: a short name is `<name>.<ns>.svc.<suffix>`;
 * `<name>.<namespace>` (and `….svc`) also get the suffix (our convenience, Istio leaves those literal);
 * anything else (FQDNs, wildcards) stays as written.
 */
export function resolveHost(host: string, ns: string, domainSuffix: string): string {
  const h = host.toLowerCase();
  if (h === '*' || h.startsWith('*.')) return h;
  const parts = h.split('.');
  if (parts.length === 1) return `${h}.${ns}.svc.${domainSuffix}`;
  if (parts.length === 2) return `${h}.svc.${domainSuffix}`;
  if (parts.length === 3 && parts[2] === 'svc') return `${h}.${domainSuffix}`;
  return h;
}

/** Whether a resolved VirtualService host (maybe a wildcard) names `fqdn`. */
export function hostMatches(pattern: string, fqdn: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return fqdn.endsWith(pattern.slice(1));
  return pattern === fqdn;
}

/** Whether an http route could apply on `port` (a match without a port, or with this one). */
export function httpRouteOnPort(r: HttpRoute, port: number): boolean {
  return !r.match?.length || r.match.some((m) => m.port === undefined || m.port === port);
}

/**
 * The source whose http routes configure `host:port` of a Service in `serviceNamespace`, for a
 * waypoint in `waypointNamespace`. `sources` are in Istio's order (oldest first).
 */
export function httpSourceFor(sources: readonly RouteSource[], host: string, port: number, serviceNamespace: string, waypointNamespace: string): RouteSource | undefined {
  return sources.find(
    (s) => (s.namespace === serviceNamespace || s.namespace === waypointNamespace) && s.hosts.some((h) => hostMatches(h, host)) && s.http.some((r) => httpRouteOnPort(r, port)),
  );
}

/** The same for the TCP chain: the first source with a tcp route applying on `port`. */
export function tcpSourceFor(sources: readonly RouteSource[], host: string, port: number, serviceNamespace: string, waypointNamespace: string): { source: RouteSource; route: TcpRoute } | undefined {
  for (const s of sources) {
    if (s.namespace !== serviceNamespace && s.namespace !== waypointNamespace) continue;
    if (!s.hosts.some((h) => hostMatches(h, host))) continue;
    const route = s.tcp.find((r) => !r.match?.length || r.match.some((m) => m.port === undefined || m.port === port));
    if (route) return { source: s, route };
  }
  return undefined;
}
