// The waypoint's clusters (fact sheet §2.3): per service port an EDS cluster for each chain it has
// (`inbound-vip|<port>|http|<host>`, `…|tcp|…`, and `…|http/<subset>|…` per DestinationRule subset)
// with the DestinationRule's policy or Istio's defaults (LEAST_REQUEST, 10 s connect
// timeout, circuit breakers at MaxUint32, `istio.services` metadata for telemetry), and the two
// static clusters of the HBONE plumbing, `main_internal` and `connect_originate`.
import { Cluster_DiscoveryType as DiscoveryType, Cluster_LbPolicy as LbPolicy, httpProtocolOptionsCodec, packAny, upstreamTlsContextCodec, type MessageInput } from '../../../lib/proto/index.ts';
import { CONNECT_ORIGINATE, HBONE_PORT, inboundVipName, MAIN_INTERNAL, type ChainProtocol } from './names.ts';
import { ADS, hboneCommonTlsContext } from './hbone-tls.ts';
import type { ServicePortPlan, SubsetPlan } from './plan.ts';
import { clusterSettings, type ClusterSettings } from './destination-rule.ts';
import { inboundVipSubsetName } from './traffic.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type Cluster = MessageInput<envoy.Cluster>;

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const MAX_UINT32 = 4294967295;
const CONNECT_TIMEOUT = { seconds: 10, nanos: 0 };

function defaultCircuitBreakers(): MessageInput<envoy.CircuitBreakers> {
  return { thresholds: [{ maxConnections: MAX_UINT32, maxPendingRequests: MAX_UINT32, maxRequests: MAX_UINT32, maxRetries: MAX_UINT32, trackRemaining: true }] };
}

function http2Options(): MessageInput<envoy.HttpProtocolOptions> {
  return { upstreamProtocolOptions: { $case: 'explicitHttpConfig', explicitHttpConfig: { protocolConfig: { $case: 'http2ProtocolOptions', http2ProtocolOptions: {} } } } };
}

/** Istio's cluster settings without a DestinationRule. */
const DEFAULT_SETTINGS: ClusterSettings = clusterSettings(undefined);

/**
 * One EDS cluster of a service port (`subset` given: the subset's cluster), with the DestinationRule
 * policy in `settings` (load balancer, circuit breakers, connect timeout, HTTP protocol options,
 * outlier detection).
 */
export function inboundVipCluster(p: ServicePortPlan, protocol: ChainProtocol, subset?: SubsetPlan, clusterName?: string): Cluster {
  const name = clusterName ?? inboundVipSubsetName(p.port, protocol, subset?.name, p.host);
  const s = subset?.settings ?? p.traffic?.settings ?? DEFAULT_SETTINGS;
  const cluster: Cluster = {
    name,
    clusterDiscoveryType: { $case: 'type', type: DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: ADS, serviceName: name },
    connectTimeout: s.connectTimeout ?? CONNECT_TIMEOUT,
    lbPolicy: s.lbPolicy,
    ...(s.lbConfig ? { lbConfig: s.lbConfig } : {}),
    circuitBreakers: { thresholds: [{ ...s.thresholds, trackRemaining: true }] },
    ...(s.outlierDetection ? { outlierDetection: s.outlierDetection } : {}),
    ...(s.commonLbConfig ? { commonLbConfig: s.commonLbConfig } : {}),
    metadata: { filterMetadata: { istio: { services: [{ host: p.host, name: p.name, namespace: p.namespace }] } } },
  };
  if (protocol === 'http') {
    const base: MessageInput<envoy.HttpProtocolOptions> = p.protocol.http2 || s.http2Upgrade
      ? http2Options()
      : { upstreamProtocolOptions: { $case: 'useDownstreamProtocolConfig', useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } } };
    const common = { ...(s.idleTimeout ? { idleTimeout: s.idleTimeout } : {}), ...(s.maxRequestsPerConnection ? { maxRequestsPerConnection: s.maxRequestsPerConnection } : {}) };
    const options = Object.keys(common).length ? { ...base, commonHttpProtocolOptions: common } : base;
    cluster.typedExtensionProtocolOptions = { [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(httpProtocolOptionsCodec, options) };
  }
  return cluster;
}

/** `main_internal`: the CONNECT from connect_terminate into the internal listener of the same name. */
export function mainInternalCluster(): Cluster {
  return {
    name: MAIN_INTERNAL,
    clusterDiscoveryType: { $case: 'type', type: DiscoveryType.STATIC },
    connectTimeout: CONNECT_TIMEOUT,
    lbPolicy: LbPolicy.ROUND_ROBIN,
    loadAssignment: {
      clusterName: MAIN_INTERNAL,
      endpoints: [{ lbEndpoints: [{ hostIdentifier: { $case: 'endpoint', endpoint: { address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: MAIN_INTERNAL } } } } } } }] }],
    },
    typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(httpProtocolOptionsCodec, http2Options()) },
  };
}

/**
 * `connect_originate`: HBONE out, to the original destination's port 15008 (the endpoint id the EDS
 * endpoint names), TLS 1.3 with ALPN h2 and the waypoint's own certificate, peers of the trust domain.
 */
export function connectOriginateCluster(trustDomain: string): Cluster {
  const tls = packAny(upstreamTlsContextCodec, {
    commonTlsContext: hboneCommonTlsContext(trustDomain),
  });
  return {
    name: CONNECT_ORIGINATE,
    clusterDiscoveryType: { $case: 'type', type: DiscoveryType.ORIGINAL_DST },
    lbPolicy: LbPolicy.CLUSTER_PROVIDED,
    connectTimeout: CONNECT_TIMEOUT,
    cleanupInterval: { seconds: 60, nanos: 0 },
    lbConfig: { $case: 'originalDstLbConfig', originalDstLbConfig: { upstreamPortOverride: HBONE_PORT, metadataKey: { key: 'envoy.filters.listener.original_dst', path: [{ segment: { $case: 'key', key: 'waypoint' } }] } } },
    circuitBreakers: defaultCircuitBreakers(),
    transportSocket: { name: 'envoy.transport_sockets.tls', configType: { $case: 'typedConfig', typedConfig: tls } },
    typedExtensionProtocolOptions: { [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(httpProtocolOptionsCodec, http2Options()) },
  };
}

/** Every cluster of the waypoint, by name. */
export function waypointClusters(ports: readonly ServicePortPlan[], trustDomain: string): Map<string, Cluster> {
  const out = new Map<string, Cluster>();
  out.set(MAIN_INTERNAL, mainInternalCluster());
  out.set(CONNECT_ORIGINATE, connectOriginateCluster(trustDomain));
  for (const p of ports) {
    for (const protocol of ['http', 'tcp'] as const) {
      if (!p.chains[protocol]) continue;
      out.set(inboundVipName(p.port, protocol, p.host), inboundVipCluster(p, protocol));
      // DestinationRule subsets: `inbound-vip|<port>|<proto>/<subset>|<host>`, only the subset's pods.
      for (const sub of p.traffic?.subsets ?? []) out.set(inboundVipSubsetName(p.port, protocol, sub.name, p.host), inboundVipCluster(p, protocol, sub));
    }
  }
  return out;
}
