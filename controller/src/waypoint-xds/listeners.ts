// The waypoint's two listeners (fact sheet §2.2): `connect_terminate`, the HBONE socket on :15008
// that terminates mTLS and hands each CONNECT to the internal listener `main_internal`, whose filter
// chains (one HTTP and/or one TCP per service port) are chosen by the CONNECT target (VIP:port).
// Departures from istiod, documented in docs/waypoint-xds.md: classic filter_chain_match instead of
// the xDS matcher tree, and RDS instead of inline route configurations.
import {
  downstreamTlsContextCodec,
  HttpConnectionManager_CodecType as CodecType,
  httpConnectionManagerCodec,
  packAny,
  routerCodec,
  tcpProxyCodec,
  TrafficDirection,
  type Any,
  type MessageInput,
} from '../../../lib/proto/index.ts';
import { CONNECT_TERMINATE, HBONE_PORT, inboundVipName, MAIN_INTERNAL } from './names.ts';
import { ADS, hboneCommonTlsContext } from './hbone-tls.ts';
import type { ServicePortPlan } from './plan.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type Listener = MessageInput<envoy.Listener>;
type FilterChain = MessageInput<envoy.FilterChain>;
type HttpConnectionManager = MessageInput<envoy.HttpConnectionManager>;

export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const TLS_TRANSPORT_SOCKET = 'envoy.transport_sockets.tls';
export const ORIGINAL_DST_FILTER = 'envoy.filters.listener.original_dst';
export const HTTP_INSPECTOR_FILTER = 'envoy.filters.listener.http_inspector';
export const ORIGINAL_DST_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
export const HTTP_INSPECTOR_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector';
/** What an http_inspector reports for sniffed HTTP, and what an HTTP chain of an undeclared port requires. */
export const SNIFFED_HTTP_PROTOCOLS = ['http/1.1', 'h2c'] as const;

const ZERO = { seconds: 0, nanos: 0 };

function typed(name: string, any: Any): { name: string; configType: { $case: 'typedConfig'; typedConfig: Any } } {
  return { name, configType: { $case: 'typedConfig', typedConfig: any } };
}

/** These listener filters take no settings: an empty message is zero bytes. */
function emptyAny(typeUrl: string): Any {
  return { typeUrl, value: new Uint8Array(0) };
}

const routerFilter = () => typed(ROUTER_FILTER, packAny(routerCodec, {}));

function socketAddress(address: string, port: number): MessageInput<envoy.EnvoyAddress> {
  return { address: { $case: 'socketAddress', socketAddress: { address, portSpecifier: { $case: 'portValue', portValue: port } } } };
}

/** `connect_terminate`: HBONE in (TLS 1.3, client certificate required, ALPN h2, CONNECT → main_internal). */
export function connectTerminateListener(trustDomain: string): Listener {
  const tls = packAny(downstreamTlsContextCodec, {
    requireClientCertificate: true,
    commonTlsContext: hboneCommonTlsContext(trustDomain),
  });
  const hcm: HttpConnectionManager = {
    codecType: CodecType.HTTP2,
    statPrefix: CONNECT_TERMINATE,
    routeSpecifier: {
      $case: 'routeConfig',
      routeConfig: {
        name: 'default',
        virtualHosts: [
          {
            name: 'default',
            domains: ['*'],
            routes: [
              {
                name: 'default',
                match: { pathSpecifier: { $case: 'connectMatcher', connectMatcher: {} } },
                action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: MAIN_INTERNAL }, upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] } },
              },
            ],
          },
        ],
      },
    },
    httpFilters: [routerFilter()],
    http2ProtocolOptions: { allowConnect: true, maxConcurrentStreams: 100, connectionKeepalive: { interval: { seconds: 10, nanos: 0 }, timeout: { seconds: 20, nanos: 0 } } },
    upgradeConfigs: [{ upgradeType: 'CONNECT' }],
    streamIdleTimeout: ZERO,
    useRemoteAddress: false,
    serverName: 'istio-envoy',
  };
  return {
    name: CONNECT_TERMINATE,
    address: socketAddress('0.0.0.0', HBONE_PORT),
    filterChains: [{ name: 'default', filters: [typed(HCM_FILTER, packAny(httpConnectionManagerCodec, hcm))], transportSocket: typed(TLS_TRANSPORT_SOCKET, tls) }],
    connectionBalanceConfig: { balanceType: { $case: 'exactBalance', exactBalance: {} } },
  };
}

function prefixRanges(vips: readonly string[]): MessageInput<envoy.CidrRange>[] {
  return vips.map((ip) => ({ addressPrefix: ip, prefixLen: ip.includes(':') ? 128 : 32 }));
}

/**
 * A service chain's HTTP filters before the router, by kind; they are written in Istio's order
 * (rbac, fault, cors, then the router) whatever order they are given in.
 */
export interface ChainHttpFilters {
  rbac?: readonly MessageInput<envoy.HttpFilter>[];
  fault?: readonly MessageInput<envoy.HttpFilter>[];
  cors?: readonly MessageInput<envoy.HttpFilter>[];
}

export type ChainHttpFiltersFor = (p: ServicePortPlan) => ChainHttpFilters;

function httpChain(p: ServicePortPlan, filters: ChainHttpFilters): FilterChain {
  const name = inboundVipName(p.port, 'http', p.host);
  const hcm: HttpConnectionManager = {
    // Declared HTTP/2 (http2, grpc) is spoken as such; everything else is detected per connection.
    codecType: p.protocol.http2 ? CodecType.HTTP2 : CodecType.AUTO,
    statPrefix: name,
    routeSpecifier: { $case: 'rds', rds: { routeConfigName: name, configSource: ADS } },
    httpFilters: [...(filters.rbac ?? []), ...(filters.fault ?? []), ...(filters.cors ?? []), routerFilter()],
    serverName: 'istio-envoy',
    serverHeaderTransformation: 0 /* OVERWRITE */,
    useRemoteAddress: false,
    streamIdleTimeout: ZERO,
    generateRequestId: true,
    upgradeConfigs: [{ upgradeType: 'websocket' }],
    ...(p.protocol.http2 ? { http2ProtocolOptions: {} } : {}),
  };
  return {
    name,
    filterChainMatch: {
      prefixRanges: prefixRanges(p.vips),
      destinationPort: p.port,
      ...(p.protocol.kind === 'unknown' ? { applicationProtocols: [...SNIFFED_HTTP_PROTOCOLS] } : {}),
    },
    filters: [typed(HCM_FILTER, packAny(httpConnectionManagerCodec, hcm))],
  };
}

/** The chain's own cluster, or a VirtualService tcp route's destinations (traffic.ts) as weighted clusters. */
function tcpClusters(p: ServicePortPlan, own: string): MessageInput<envoy.TcpProxy>['clusterSpecifier'] {
  const w = p.traffic?.tcpClusters;
  if (!w?.length) return { $case: 'cluster', cluster: own };
  if (w.length === 1) return { $case: 'cluster', cluster: w[0]!.name };
  return { $case: 'weightedClusters', weightedClusters: { clusters: w.map((c) => ({ name: c.name, weight: c.weight })) } };
}

function tcpChain(p: ServicePortPlan): FilterChain {
  const name = inboundVipName(p.port, 'tcp', p.host);
  return {
    name,
    filterChainMatch: { prefixRanges: prefixRanges(p.vips), destinationPort: p.port },
    filters: [typed(TCP_PROXY_FILTER, packAny(tcpProxyCodec, { statPrefix: name, clusterSpecifier: tcpClusters(p, name), idleTimeout: p.traffic?.tcpIdleTimeout ?? { seconds: 3600, nanos: 0 } }))],
  };
}

/**
 * `main_internal`: per service port, the HTTP chain before the TCP one, so on an undeclared port a
 * sniffed HTTP connection takes the HTTP chain (its application_protocols match) and anything else
 * falls to the TCP chain.
 */
export function mainInternalListener(ports: readonly ServicePortPlan[], httpFiltersFor: ChainHttpFiltersFor = () => ({})): Listener {
  const chains: FilterChain[] = [];
  for (const p of ports) {
    if (p.chains.http) chains.push(httpChain(p, httpFiltersFor(p)));
    if (p.chains.tcp) chains.push(tcpChain(p));
  }
  // original_dst restores the CONNECT target as the local address (what filter_chain_match sees);
  // http_inspector sets application_protocols, needed only where a port's protocol is undeclared.
  const listenerFilters = [typed(ORIGINAL_DST_FILTER, emptyAny(ORIGINAL_DST_TYPE_URL))];
  if (ports.some((p) => p.protocol.kind === 'unknown')) listenerFilters.push(typed(HTTP_INSPECTOR_FILTER, emptyAny(HTTP_INSPECTOR_TYPE_URL)));
  return {
    name: MAIN_INTERNAL,
    listenerSpecifier: { $case: 'internalListener', internalListener: {} },
    trafficDirection: TrafficDirection.INBOUND,
    listenerFilters,
    filterChains: chains,
  };
}
