// Envoy's v3 API types a waypoint and its control plane use, re-exported from the generated tree
// (./gen) under one import path. Names that collide with Istio's (Address, Locality) or between
// Envoy packages (RBAC, CorsPolicy) get a prefix; everything else is under its Envoy name. Types not
// listed here can be imported from lib/proto/gen/<proto path>.ts directly.
export type { ConfigDump } from './gen/envoy/admin/v3/config_dump.ts';
export type {
  ClustersConfigDump,
  ClustersConfigDump_DynamicCluster,
  ClustersConfigDump_StaticCluster,
  EndpointsConfigDump,
  EndpointsConfigDump_DynamicEndpointConfig,
  EndpointsConfigDump_StaticEndpointConfig,
  ListenersConfigDump,
  ListenersConfigDump_DynamicListener,
  ListenersConfigDump_DynamicListenerState,
  ListenersConfigDump_StaticListener,
  RoutesConfigDump,
  RoutesConfigDump_DynamicRouteConfig,
  RoutesConfigDump_StaticRouteConfig,
} from './gen/envoy/admin/v3/config_dump_shared.ts';
export { ClientResourceStatus } from './gen/envoy/admin/v3/config_dump_shared.ts';
export type { CircuitBreakers, CircuitBreakers_Thresholds } from './gen/envoy/config/cluster/v3/circuit_breaker.ts';
export type { Cluster, Cluster_CommonLbConfig, Cluster_TransportSocketMatch, Cluster_CustomClusterType, LoadBalancingPolicy } from './gen/envoy/config/cluster/v3/cluster.ts';
export { Cluster_DiscoveryType, Cluster_LbPolicy, Cluster_DnsLookupFamily } from './gen/envoy/config/cluster/v3/cluster.ts';
export type { OutlierDetection } from './gen/envoy/config/cluster/v3/outlier_detection.ts';
export type { Address as EnvoyAddress, SocketAddress, EnvoyInternalAddress, Pipe, CidrRange } from './gen/envoy/config/core/v3/address.ts';
export { SocketAddress_Protocol } from './gen/envoy/config/core/v3/address.ts';
export type {
  ControlPlane,
  DataSource,
  HeaderValue,
  HeaderValueOption,
  Locality as EnvoyLocality,
  Metadata,
  Node,
  RuntimeFractionalPercent,
  TransportSocket,
} from './gen/envoy/config/core/v3/base.ts';
export { HeaderValueOption_HeaderAppendAction, RequestMethod, RoutingPriority, TrafficDirection } from './gen/envoy/config/core/v3/base.ts';
export type { AggregatedConfigSource, ConfigSource, SelfConfigSource } from './gen/envoy/config/core/v3/config_source.ts';
export { ApiVersion } from './gen/envoy/config/core/v3/config_source.ts';
export type { TypedExtensionConfig } from './gen/envoy/config/core/v3/extension.ts';
export { HealthStatus } from './gen/envoy/config/core/v3/health_check.ts';
export type {
  Http1ProtocolOptions,
  Http2ProtocolOptions,
  HttpProtocolOptions as CoreHttpProtocolOptions,
  TcpProtocolOptions,
  UpstreamHttpProtocolOptions,
} from './gen/envoy/config/core/v3/protocol.ts';
export type { ClusterLoadAssignment, ClusterLoadAssignment_Policy } from './gen/envoy/config/endpoint/v3/endpoint.ts';
export type { Endpoint, LbEndpoint, LocalityLbEndpoints } from './gen/envoy/config/endpoint/v3/endpoint_components.ts';
export type { Listener } from './gen/envoy/config/listener/v3/listener.ts';
export type { Filter as ListenerNetworkFilter, FilterChain, FilterChainMatch, ListenerFilter } from './gen/envoy/config/listener/v3/listener_components.ts';
export type { Permission as RbacPermission, Policy as RbacPolicy, Principal as RbacPrincipal, RBAC as RbacConfig } from './gen/envoy/config/rbac/v3/rbac.ts';
export { RBAC_Action as RbacAction } from './gen/envoy/config/rbac/v3/rbac.ts';
export type { RouteConfiguration } from './gen/envoy/config/route/v3/route.ts';
export type {
  CorsPolicy,
  Decorator,
  DirectResponseAction,
  FilterAction,
  HeaderMatcher,
  QueryParameterMatcher,
  RedirectAction,
  RetryPolicy,
  RetryPolicy_RetryBackOff,
  Route,
  RouteAction,
  RouteAction_HashPolicy,
  RouteAction_RequestMirrorPolicy,
  RouteMatch,
  VirtualHost,
  WeightedCluster,
  WeightedCluster_ClusterWeight,
} from './gen/envoy/config/route/v3/route_components.ts';
export { RedirectAction_RedirectResponseCode, RouteAction_ClusterNotFoundResponseCode, VirtualHost_TlsRequirementType } from './gen/envoy/config/route/v3/route_components.ts';
export type { InternalListener } from './gen/envoy/extensions/bootstrap/internal_listener/v3/internal_listener.ts';
export type { Cors, CorsPolicy as CorsFilterPolicy } from './gen/envoy/extensions/filters/http/cors/v3/cors.ts';
export type { FaultAbort, HTTPFault } from './gen/envoy/extensions/filters/http/fault/v3/fault.ts';
export type { FaultDelay } from './gen/envoy/extensions/filters/common/fault/v3/fault.ts';
export type { RBAC, RBACPerRoute } from './gen/envoy/extensions/filters/http/rbac/v3/rbac.ts';
export type { Router } from './gen/envoy/extensions/filters/http/router/v3/router.ts';
export type { HttpConnectionManager, HttpFilter, Rds } from './gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
export { HttpConnectionManager_CodecType, HttpConnectionManager_ForwardClientCertDetails } from './gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.ts';
export type { TcpProxy, TcpProxy_WeightedCluster } from './gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.ts';
export type { InternalUpstreamTransport, InternalUpstreamTransport_MetadataValueSource } from './gen/envoy/extensions/transport_sockets/internal_upstream/v3/internal_upstream.ts';
export type { CertificateValidationContext, TlsCertificate, TlsParameters } from './gen/envoy/extensions/transport_sockets/tls/v3/common.ts';
export type { SdsSecretConfig } from './gen/envoy/extensions/transport_sockets/tls/v3/secret.ts';
export type { CommonTlsContext, DownstreamTlsContext, UpstreamTlsContext } from './gen/envoy/extensions/transport_sockets/tls/v3/tls.ts';
export type { HttpProtocolOptions } from './gen/envoy/extensions/upstreams/http/v3/http_protocol_options.ts';
export type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource, Resource_CacheControl } from './gen/envoy/service/discovery/v3/discovery.ts';
export type { RegexMatcher } from './gen/envoy/type/matcher/v3/regex.ts';
export type { StringMatcher, ListStringMatcher } from './gen/envoy/type/matcher/v3/string.ts';
export type { FractionalPercent, Percent } from './gen/envoy/type/v3/percent.ts';
export { FractionalPercent_DenominatorType } from './gen/envoy/type/v3/percent.ts';
