// What a waypoint serves, before it is written as Envoy resources: one plan per port of each Service
// bound to it, with the VIPs, the protocol (which chains), and the endpoints behind it. Listeners,
// clusters, routes and load assignments are each a function of these plans.
import type { V1Service } from '@kubernetes/client-node';
import type { ModelOptions } from '../model/options.ts';
import { namespacedHostname, serviceHostname, serviceVips } from '../model/services.ts';
import type { EndpointIndex, PortEndpoint } from './endpoints.ts';
import { portProtocol, type PortProtocol } from './protocol.ts';
import type { MessageInput } from '../../../lib/proto/index.ts';
import type { ClusterSettings } from './destination-rule.ts';
import type * as envoy from '../../../lib/proto/index.ts';

export interface SubsetPlan {
  name: string;
  /** The port's endpoints whose pods carry the subset's labels. */
  endpoints: readonly PortEndpoint[];
  settings: ClusterSettings;
}

/** What traffic management adds to a service port. */
export interface PortTraffic {
  /** The port's Envoy routes; undefined → Istio's default route. */
  httpRoutes?: MessageInput<envoy.Route>[];
  /** DestinationRule connectionPool.tcp.idleTimeout: the TCP chain's tcp_proxy idle_timeout (default 1 h). */
  tcpIdleTimeout?: { seconds: number; nanos: number };
  /** The TCP chain's weighted clusters; undefined → its own cluster. */
  tcpClusters?: { name: string; weight: number }[];
  /** The port's DestinationRule policy as cluster settings (defaults without one). */
  settings: ClusterSettings;
  subsets: readonly SubsetPlan[];
}

export interface ServicePortPlan {
  /** The Service's FQDN. */
  host: string;
  name: string;
  namespace: string;
  /** The Service port (what the CONNECT target carries with a VIP). */
  port: number;
  /** The port's name, for diagnostics. */
  portName: string;
  vips: readonly string[];
  protocol: PortProtocol;
  chains: { http: boolean; tcp: boolean };
  endpoints: readonly PortEndpoint[];
  /** VirtualService/HTTPRoute routes and DestinationRule policy (traffic.ts); absent = Istio's defaults. */
  traffic?: PortTraffic;
}

/** Plans of `services` (already bound to the waypoint), in service order then port order; UDP ports and VIP-less Services have none. */
export function planServicePorts(services: readonly V1Service[], endpoints: EndpointIndex, options: ModelOptions): ServicePortPlan[] {
  const out: ServicePortPlan[] = [];
  for (const svc of services) {
    const name = svc.metadata?.name ?? '';
    const namespace = svc.metadata?.namespace ?? '';
    // A headless Service has no VIP to match a CONNECT target on (istiod skips those too).
    const vips = serviceVips(svc);
    if (vips.length === 0) continue;
    const host = serviceHostname(name, namespace, options.domainSuffix);
    const byPort = endpoints.get(namespacedHostname(namespace, host));
    const seen = new Set<number>();
    for (const p of svc.spec?.ports ?? []) {
      const protocol = portProtocol(p);
      if (protocol.kind === 'udp' || seen.has(p.port)) continue;
      seen.add(p.port);
      out.push({
        host,
        name,
        namespace,
        port: p.port,
        portName: p.name ?? '',
        vips,
        protocol,
        chains: { http: protocol.kind !== 'tcp', tcp: protocol.kind !== 'http' },
        endpoints: byPort?.get(p.port) ?? [],
      });
    }
  }
  return out;
}
