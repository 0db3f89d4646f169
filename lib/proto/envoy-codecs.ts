// Codecs and type URLs of the Envoy v3 resources and extensions a waypoint is configured with, and
// of the admin config dumps. Envoy's .proto tree is parsed at the first encode/decode through one
// of these, not at import (see loader.ts).
import { messageCodec, type MessageCodec } from './codec.ts';
import type {
  ClusterLoadAssignment,
  ClustersConfigDump,
  ConfigDump,
  Cluster,
  Cors,
  DiscoveryRequest,
  DiscoveryResponse,
  DownstreamTlsContext,
  EndpointsConfigDump,
  HTTPFault,
  HttpConnectionManager,
  HttpProtocolOptions,
  InternalListener,
  InternalUpstreamTransport,
  Listener,
  ListenersConfigDump,
  RBAC,
  RBACPerRoute,
  RouteConfiguration,
  Router,
  RoutesConfigDump,
  TcpProxy,
  UpstreamTlsContext,
} from './envoy-types.ts';

export const listenerCodec: MessageCodec<Listener> = messageCodec('envoy.config.listener.v3.Listener');
export const routeConfigurationCodec: MessageCodec<RouteConfiguration> = messageCodec('envoy.config.route.v3.RouteConfiguration');
export const clusterCodec: MessageCodec<Cluster> = messageCodec('envoy.config.cluster.v3.Cluster');
export const clusterLoadAssignmentCodec: MessageCodec<ClusterLoadAssignment> = messageCodec('envoy.config.endpoint.v3.ClusterLoadAssignment');

export const httpConnectionManagerCodec: MessageCodec<HttpConnectionManager> = messageCodec('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
export const tcpProxyCodec: MessageCodec<TcpProxy> = messageCodec('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy');
export const routerCodec: MessageCodec<Router> = messageCodec('envoy.extensions.filters.http.router.v3.Router');
export const rbacFilterCodec: MessageCodec<RBAC> = messageCodec('envoy.extensions.filters.http.rbac.v3.RBAC');
export const rbacPerRouteCodec: MessageCodec<RBACPerRoute> = messageCodec('envoy.extensions.filters.http.rbac.v3.RBACPerRoute');
export const httpFaultCodec: MessageCodec<HTTPFault> = messageCodec('envoy.extensions.filters.http.fault.v3.HTTPFault');
export const corsCodec: MessageCodec<Cors> = messageCodec('envoy.extensions.filters.http.cors.v3.Cors');
export const httpProtocolOptionsCodec: MessageCodec<HttpProtocolOptions> = messageCodec('envoy.extensions.upstreams.http.v3.HttpProtocolOptions');
export const downstreamTlsContextCodec: MessageCodec<DownstreamTlsContext> = messageCodec('envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext');
export const upstreamTlsContextCodec: MessageCodec<UpstreamTlsContext> = messageCodec('envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext');
export const internalUpstreamTransportCodec: MessageCodec<InternalUpstreamTransport> = messageCodec('envoy.extensions.transport_sockets.internal_upstream.v3.InternalUpstreamTransport');
export const internalListenerCodec: MessageCodec<InternalListener> = messageCodec('envoy.extensions.bootstrap.internal_listener.v3.InternalListener');

export const configDumpCodec: MessageCodec<ConfigDump> = messageCodec('envoy.admin.v3.ConfigDump');
export const listenersConfigDumpCodec: MessageCodec<ListenersConfigDump> = messageCodec('envoy.admin.v3.ListenersConfigDump');
export const clustersConfigDumpCodec: MessageCodec<ClustersConfigDump> = messageCodec('envoy.admin.v3.ClustersConfigDump');
export const routesConfigDumpCodec: MessageCodec<RoutesConfigDump> = messageCodec('envoy.admin.v3.RoutesConfigDump');
export const endpointsConfigDumpCodec: MessageCodec<EndpointsConfigDump> = messageCodec('envoy.admin.v3.EndpointsConfigDump');

/** State-of-the-world ADS (the delta pair is in codecs.ts). */
export const discoveryRequestCodec: MessageCodec<DiscoveryRequest> = messageCodec('envoy.service.discovery.v3.DiscoveryRequest');
export const discoveryResponseCodec: MessageCodec<DiscoveryResponse> = messageCodec('envoy.service.discovery.v3.DiscoveryResponse');

/** xDS type URLs of Envoy's four resource types (LDS, RDS, CDS, EDS). */
export const LISTENER_TYPE_URL = listenerCodec.typeUrl;
export const ROUTE_TYPE_URL = routeConfigurationCodec.typeUrl;
export const CLUSTER_TYPE_URL = clusterCodec.typeUrl;
export const ENDPOINT_TYPE_URL = clusterLoadAssignmentCodec.typeUrl;

export const HTTP_CONNECTION_MANAGER_TYPE_URL = httpConnectionManagerCodec.typeUrl;
export const TCP_PROXY_TYPE_URL = tcpProxyCodec.typeUrl;
export const ROUTER_TYPE_URL = routerCodec.typeUrl;
export const RBAC_FILTER_TYPE_URL = rbacFilterCodec.typeUrl;
export const HTTP_FAULT_TYPE_URL = httpFaultCodec.typeUrl;
export const CORS_TYPE_URL = corsCodec.typeUrl;
export const HTTP_PROTOCOL_OPTIONS_TYPE_URL = httpProtocolOptionsCodec.typeUrl;
export const DOWNSTREAM_TLS_CONTEXT_TYPE_URL = downstreamTlsContextCodec.typeUrl;
export const UPSTREAM_TLS_CONTEXT_TYPE_URL = upstreamTlsContextCodec.typeUrl;
export const INTERNAL_UPSTREAM_TRANSPORT_TYPE_URL = internalUpstreamTransportCodec.typeUrl;
export const INTERNAL_LISTENER_TYPE_URL = internalListenerCodec.typeUrl;
