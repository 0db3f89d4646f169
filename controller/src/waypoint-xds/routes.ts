// The route configuration of each HTTP chain (fact sheet §2.4), served over RDS under the chain's
// name: one virtual host `inbound|http|<port>` for every authority. `routesForServicePort` is the
// seam where VirtualService / HTTPRoute translation plugs in; without any, Istio's default route:
// everything to the port's HTTP cluster, no timeout, two retries of resets before the request.
import type { MessageInput } from '../../../lib/proto/index.ts';
import { inboundVipName, inboundVirtualHostName } from './names.ts';
import type { ServicePortPlan } from './plan.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type RouteConfiguration = MessageInput<envoy.RouteConfiguration>;
type Route = MessageInput<envoy.Route>;

/** Istio's default inbound route of a service port. */
export function defaultRoute(p: ServicePortPlan): Route {
  return {
    name: 'default',
    match: { pathSpecifier: { $case: 'prefix', prefix: '/' } },
    action: {
      $case: 'route',
      route: {
        clusterSpecifier: { $case: 'cluster', cluster: inboundVipName(p.port, 'http', p.host) },
        timeout: { seconds: 0, nanos: 0 },
        maxStreamDuration: { maxStreamDuration: { seconds: 0, nanos: 0 } },
        // istiod leaves gRPC ports without the default retry.
        ...(p.protocol.grpc ? {} : { retryPolicy: { retryOn: 'reset-before-request', numRetries: 2 } }),
      },
    },
    decorator: { operation: `${p.host}:${p.port}/*` },
  };
}

/**
 * The routes of one service port, in match order: those translated from its VirtualService or
 * HTTPRoute/GRPCRoute (traffic.ts; none matching → Envoy's 404), else the default route.
 */
export function routesForServicePort(p: ServicePortPlan): Route[] {
  return p.traffic?.httpRoutes ?? [defaultRoute(p)];
}

export function routeConfiguration(p: ServicePortPlan): RouteConfiguration {
  const name = inboundVipName(p.port, 'http', p.host);
  return {
    name,
    virtualHosts: [{ name: inboundVirtualHostName(p.port), domains: ['*'], routes: routesForServicePort(p) }],
    validateClusters: false,
  };
}

export function waypointRouteConfigurations(ports: readonly ServicePortPlan[]): Map<string, RouteConfiguration> {
  const out = new Map<string, RouteConfiguration>();
  for (const p of ports) if (p.chains.http) out.set(inboundVipName(p.port, 'http', p.host), routeConfiguration(p));
  return out;
}
