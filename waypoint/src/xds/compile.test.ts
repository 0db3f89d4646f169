// Envoy resources → WaypointConfig: each resource compiles on its own (table tests of what is taken
// and what is refused, with the path of the problem), and the accepted set assembles into one config.
import { describe, expect, it } from 'vitest';
import {
  clusterCodec,
  clusterLoadAssignmentCodec,
  downstreamTlsContextCodec,
  httpConnectionManagerCodec,
  httpProtocolOptionsCodec,
  listenerCodec,
  packAny,
  routeConfigurationCodec,
  routerCodec,
  tcpProxyCodec,
  type Cluster,
  type ClusterLoadAssignment,
  type HttpConnectionManager,
  type Listener,
  type MessageCodec,
  type MessageInput,
  type RouteConfiguration,
  type TcpProxy,
} from '../../../lib/proto/index.ts';
import type { HttpFilterChain, TcpFilterChain } from '../config/types.ts';
import { assembleConfig, compileCluster, compileListener, compileLoadAssignment, compileResource, compileRouteConfiguration } from './compile.ts';

/** What a peer decodes from `value`'s bytes (defaults filled in). */
function wire<T>(codec: MessageCodec<T>, value: MessageInput<T>): T {
  const r = codec.decode(codec.encode(value));
  if (!r.ok) throw r.error;
  return r.value;
}

const ADS = { configSourceSpecifier: { $case: 'ads' as const, ads: {} } };
const router = { name: 'envoy.filters.http.router', configType: { $case: 'typedConfig' as const, typedConfig: packAny(routerCodec, {}) } };

function hcm(over: MessageInput<HttpConnectionManager> = {}) {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    configType: { $case: 'typedConfig' as const, typedConfig: packAny(httpConnectionManagerCodec, { statPrefix: 'p', routeSpecifier: { $case: 'rds', rds: { routeConfigName: 'r1', configSource: ADS } }, httpFilters: [router], ...over }) },
  };
}

function tcp(over: MessageInput<TcpProxy> = {}) {
  return { name: 'envoy.filters.network.tcp_proxy', configType: { $case: 'typedConfig' as const, typedConfig: packAny(tcpProxyCodec, { statPrefix: 't', clusterSpecifier: { $case: 'cluster', cluster: 'c1' }, ...over }) } };
}

function mainInternal(chains: MessageInput<Listener>['filterChains'], over: MessageInput<Listener> = {}): Listener {
  return wire(listenerCodec, { name: 'main_internal', listenerSpecifier: { $case: 'internalListener', internalListener: {} }, filterChains: chains, ...over });
}

const match = (port: number, ip = '10.96.0.10', len = 32) => ({ destinationPort: port, prefixRanges: [{ addressPrefix: ip, prefixLen: len }] });

describe('compileListener', () => {
  it('takes main_internal chains with their matches, HCM settings and tcp_proxy clusters', () => {
    const r = compileListener(
      'main_internal',
      mainInternal([
        { name: 'h', filterChainMatch: match(80), filters: [hcm({ codecType: 2, streamIdleTimeout: { seconds: 0, nanos: 0 }, serverName: 'istio-envoy', generateRequestId: false, maxRequestHeadersKb: 96, requestHeadersTimeout: { seconds: 1, nanos: 500_000_000 } })] },
        { name: 's', filterChainMatch: { ...match(90, 'fd00::1', 128), applicationProtocols: ['http/1.1', 'h2c'] }, filters: [hcm()] },
        { name: 't', filterChainMatch: match(90, 'fd00::1', 128), filters: [tcp({ idleTimeout: { seconds: 0, nanos: 0 } })] },
        { name: 'w', filterChainMatch: match(91), filters: [tcp({ clusterSpecifier: { $case: 'weightedClusters', weightedClusters: { clusters: [{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }] } } })] },
      ]),
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    if (r.value.kind !== 'main_internal') throw new Error(r.value.kind);
    const [h, s, t, w] = r.value.chains as [HttpFilterChain, HttpFilterChain, TcpFilterChain, TcpFilterChain];
    expect(h).toEqual({
      kind: 'http',
      name: 'h',
      match: { destinationIps: [{ address: '10.96.0.10', prefixLen: 32 }], destinationPort: 80 },
      statPrefix: 'p',
      codec: 'http2',
      routeConfigName: 'r1',
      httpFilters: [{ kind: 'router', name: 'envoy.filters.http.router' }],
      streamIdleTimeoutMs: 0,
      requestHeadersTimeoutMs: 1500,
      maxRequestHeadersBytes: 96 * 1024,
      generateRequestId: false,
      serverName: 'istio-envoy',
    });
    // Envoy's defaults where unset: 5 min stream idle, 60 KiB headers, request ids on, server "envoy".
    expect(s).toMatchObject({ codec: 'auto', streamIdleTimeoutMs: 300_000, maxRequestHeadersBytes: 61_440, generateRequestId: true, serverName: 'envoy', match: { applicationProtocols: ['http/1.1', 'h2c'] } });
    expect(t).toEqual({ kind: 'tcp', name: 't', match: { destinationIps: [{ address: 'fd00::1', prefixLen: 128 }], destinationPort: 90 }, statPrefix: 't', clusters: [{ name: 'c1', weight: 1 }], idleTimeoutMs: 0 });
    expect(w.clusters).toEqual([{ name: 'a', weight: 3 }, { name: 'b', weight: 1 }]);
    expect(w.idleTimeoutMs).toBe(3_600_000);
  });

  it('skips an optional unknown HTTP filter with a warning', () => {
    const r = compileListener('main_internal', mainInternal([{ name: 'h', filters: [hcm({ httpFilters: [{ name: 'x.wasm', isOptional: true, configType: { $case: 'typedConfig', typedConfig: { typeUrl: 'type.googleapis.com/x.Wasm', value: new Uint8Array() } } }, router] })] }]));
    expect(r.ok && r.warnings).toEqual(['main_internal.filter_chains[0].filters[0].typed_config.http_filters[0]: optional HTTP filter "x.wasm" (type.googleapis.com/x.Wasm) not supported; skipped']);
  });

  it.each<[string, Listener, string]>([
    ['a bad CIDR', mainInternal([{ name: 'h', filterChainMatch: match(80, '10.96.0.300'), filters: [hcm()] }]), 'main_internal.filter_chains[0].filter_chain_match.prefix_ranges[0].address_prefix: not an IP address: "10.96.0.300"'],
    ['a prefix too long', mainInternal([{ name: 'h', filterChainMatch: match(80, '10.0.0.0', 33), filters: [hcm()] }]), 'main_internal.filter_chains[0].filter_chain_match.prefix_ranges[0].prefix_len: must be 0–32 for an IPv4 prefix, got 33'],
    ['port 0', mainInternal([{ name: 'h', filterChainMatch: { destinationPort: 0 }, filters: [hcm()] }]), 'main_internal.filter_chains[0].filter_chain_match.destination_port: not a port: 0'],
    ['SNI matching', mainInternal([{ name: 'h', filterChainMatch: { serverNames: ['a.example'] }, filters: [hcm()] }]), 'main_internal.filter_chains[0].filter_chain_match.server_names: not supported'],
    ['an unknown network filter', mainInternal([{ name: 'h', filters: [{ name: 'envoy.filters.network.redis_proxy', configType: { $case: 'typedConfig', typedConfig: { typeUrl: 'type.googleapis.com/envoy.extensions.filters.network.redis_proxy.v3.RedisProxy', value: new Uint8Array() } } }] }]), 'main_internal.filter_chains[0].filters[0]: unknown network filter "envoy.filters.network.redis_proxy"'],
    ['a typed_config that does not decode', mainInternal([{ name: 'h', filters: [{ name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', typedConfig: { typeUrl: httpConnectionManagerCodec.typeUrl, value: Buffer.from([0x0a, 0x05, 0x61]) } } }] }]), 'main_internal.filter_chains[0].filters[0].typed_config: '],
    // Envoy picks the extension by the type URL, not the name.
    ['a typed_config no network filter has', mainInternal([{ name: 'h', filters: [{ name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', typedConfig: packAny(routerCodec, {}) } }] }]), 'main_internal.filter_chains[0].filters[0]: unknown network filter "envoy.filters.network.http_connection_manager" (type.googleapis.com/envoy.extensions.filters.http.router.v3.Router)'],
    ['an unknown required HTTP filter', mainInternal([{ name: 'h', filters: [hcm({ httpFilters: [{ name: 'envoy.filters.http.lua', configType: { $case: 'typedConfig', typedConfig: { typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua', value: new Uint8Array() } } }, router] })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.http_filters[0]: unknown HTTP filter "envoy.filters.http.lua"'],
    ['no router', mainInternal([{ name: 'h', filters: [hcm({ httpFilters: [] })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.http_filters: the last HTTP filter must be envoy.filters.http.router'],
    ['an inline route config', mainInternal([{ name: 'h', filters: [hcm({ routeSpecifier: { $case: 'routeConfig', routeConfig: { name: 'x' } } })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.route_config: not supported'],
    ['RDS without a name', mainInternal([{ name: 'h', filters: [hcm({ routeSpecifier: { $case: 'rds', rds: { routeConfigName: '', configSource: ADS } } })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.rds.route_config_name: required'],
    ['HTTP/3', mainInternal([{ name: 'h', filters: [hcm({ codecType: 3 })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.codec_type: codec_type 3 not supported'],
    ['a filter after the terminal one', mainInternal([{ name: 'h', filters: [tcp(), hcm()] }]), 'main_internal.filter_chains[0].filters[0]: tcp_proxy is a terminal filter and must be last'],
    ['a zero weight', mainInternal([{ name: 'h', filters: [tcp({ clusterSpecifier: { $case: 'weightedClusters', weightedClusters: { clusters: [{ name: 'a', weight: 0 }] } } })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.weighted_clusters.clusters[0].weight: must be at least 1, got 0'],
    ['two chains with one match', mainInternal([{ name: 'a', filterChainMatch: match(80), filters: [hcm()] }, { name: 'b', filterChainMatch: match(80), filters: [tcp()] }]), 'main_internal.filter_chains[1].filter_chain_match: the same match as filter_chains[0]'],
    ['a negative duration', mainInternal([{ name: 'h', filters: [hcm({ streamIdleTimeout: { seconds: -1, nanos: 0 } })] }]), 'main_internal.filter_chains[0].filters[0].typed_config.stream_idle_timeout: not a non-negative duration'],
    ['an unknown listener filter', mainInternal([{ name: 'h', filters: [hcm()] }], { listenerFilters: [{ name: 'envoy.filters.listener.proxy_protocol' }] }), 'main_internal.listener_filters[0]: unknown listener filter "envoy.filters.listener.proxy_protocol"'],
    ['a matcher tree', mainInternal([{ name: 'h', filters: [hcm()] }], { filterChainMatcher: {} }), 'main_internal.filter_chain_matcher: not supported'],
    ['a socket main_internal', wire(listenerCodec, { name: 'main_internal', address: { address: { $case: 'socketAddress', socketAddress: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', portValue: 1 } } } } }), 'main_internal: main_internal must be an internal listener'],
    ['connect_terminate without client certificates', wire(listenerCodec, { name: 'connect_terminate', address: { address: { $case: 'socketAddress', socketAddress: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', portValue: 15008 } } } }, filterChains: [{ filters: [hcm()], transportSocket: { name: 'envoy.transport_sockets.tls', configType: { $case: 'typedConfig', typedConfig: packAny(downstreamTlsContextCodec, {}) } } }] }), 'connect_terminate.filter_chains[0].transport_socket.typed_config.require_client_certificate: HBONE requires client certificates'],
  ])('refuses %s', (_n, l, message) => {
    const r = compileListener(l.name, l);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.some((e) => e.startsWith(message))).toBe(true);
  });

  it('refuses a resource named otherwise than its listener, and ignores listeners it has no use for', () => {
    const r = compileListener('x', mainInternal([]));
    expect(!r.ok && r.errors).toEqual(['x: resource name must be the listener name "main_internal"']);
    const other = compileListener('virtualOutbound', wire(listenerCodec, { name: 'virtualOutbound' }));
    expect(other).toEqual({ ok: true, value: { kind: 'ignored' }, warnings: ['virtualOutbound: listener not used by the waypoint; ignored'] });
  });
});

function cluster(over: MessageInput<Cluster> = {}): Cluster {
  return wire(clusterCodec, { name: 'c1', clusterDiscoveryType: { $case: 'type', type: 3 }, edsClusterConfig: { edsConfig: ADS, serviceName: 'c1' }, ...over });
}

describe('compileCluster', () => {
  it('takes an EDS cluster with its settings, Envoy defaults where unset', () => {
    expect(compileCluster('c1', cluster())).toEqual({
      ok: true,
      warnings: [],
      value: {
        kind: 'eds',
        edsServiceName: 'c1',
        cluster: { name: 'c1', lbPolicy: 'ROUND_ROBIN', connectTimeoutMs: 5000, upstreamProtocol: 'http1', idleTimeoutMs: 3_600_000, maxRequestsPerConnection: 0, services: [], circuitBreakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } },
      },
    });
    const r = compileCluster(
      'c1',
      cluster({
        lbPolicy: 1,
        connectTimeout: { seconds: 10, nanos: 0 },
        circuitBreakers: { thresholds: [{ maxConnections: 7, maxRetries: 2 }] },
        metadata: { filterMetadata: { istio: { services: [{ host: 'a.ns.svc.cluster.local', name: 'a', namespace: 'ns' }] } } },
        typedExtensionProtocolOptions: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': packAny(httpProtocolOptionsCodec, {
            upstreamProtocolOptions: { $case: 'explicitHttpConfig', explicitHttpConfig: { protocolConfig: { $case: 'http2ProtocolOptions', http2ProtocolOptions: {} } } },
            commonHttpProtocolOptions: { idleTimeout: { seconds: 30, nanos: 0 }, maxRequestsPerConnection: 100 },
          }),
        },
      }),
    );
    expect(r.ok && r.value).toEqual({
      kind: 'eds',
      edsServiceName: 'c1',
      cluster: { name: 'c1', lbPolicy: 'LEAST_REQUEST', connectTimeoutMs: 10_000, upstreamProtocol: 'http2', idleTimeoutMs: 30_000, maxRequestsPerConnection: 100, services: [{ host: 'a.ns.svc.cluster.local', name: 'a', namespace: 'ns' }], circuitBreakers: { maxConnections: 7, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 2 } },
    });
  });

  it('checks the HBONE plumbing clusters and keeps them out', () => {
    expect(compileCluster('connect_originate', wire(clusterCodec, { name: 'connect_originate', clusterDiscoveryType: { $case: 'type', type: 4 }, lbPolicy: 6 }))).toEqual({ ok: true, value: { kind: 'internal' }, warnings: [] });
    expect(compileCluster('main_internal', wire(clusterCodec, { name: 'main_internal', clusterDiscoveryType: { $case: 'type', type: 0 } })).ok).toBe(true);
  });

  it.each<[string, Cluster, string]>([
    ['a DNS cluster', cluster({ clusterDiscoveryType: { $case: 'type', type: 1 } }), 'c1.type: only EDS clusters are supported, got STRICT_DNS'],
    ['least-request lb config on a ring hash', cluster({ lbPolicy: 2, lbConfig: { $case: 'originalDstLbConfig', originalDstLbConfig: {} } }), 'c1.lb_config: originalDstLbConfig is not supported here'],
    ['EDS not over ADS', cluster({ edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'path', path: '/x' } } } }), 'c1.eds_cluster_config.eds_config: only ads is supported, got path'],
    ['bad service metadata', cluster({ metadata: { filterMetadata: { istio: { services: [{ host: 1 }] } } } }), 'c1.metadata.filter_metadata.istio.services[0]: must have string host, name and namespace'],
    ['unknown protocol options', cluster({ typedExtensionProtocolOptions: { 'x.y': { typeUrl: 'type.googleapis.com/x.Y', value: new Uint8Array() } } }), 'c1.typed_extension_protocol_options["x.y"]: unknown protocol options'],
    ['an unknown transport socket', cluster({ transportSocket: { name: 'envoy.transport_sockets.alts' } }), 'c1.transport_socket: unknown transport socket "envoy.transport_sockets.alts"'],
  ])('refuses %s', (_n, c, message) => {
    const r = compileCluster('c1', c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.some((e) => e.startsWith(message))).toBe(true);
  });
});

function cla(lbEndpoints: NonNullable<MessageInput<ClusterLoadAssignment>['endpoints']>[number]['lbEndpoints']): ClusterLoadAssignment {
  return wire(clusterLoadAssignmentCodec, { clusterName: 'c1', endpoints: [{ lbEndpoints }] });
}

const internal = (id: string) => ({ address: { $case: 'envoyInternalAddress' as const, envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName' as const, serverListenerName: 'connect_originate' }, endpointId: id } } });
const sock = (ip: string, port: number) => ({ address: { $case: 'socketAddress' as const, socketAddress: { address: ip, portSpecifier: { $case: 'portValue' as const, portValue: port } } } });

describe('compileLoadAssignment', () => {
  it('takes HBONE and plaintext endpoints with health, weight, workload and identity', () => {
    const r = compileLoadAssignment(
      'c1',
      cla([
        { hostIdentifier: { $case: 'endpoint', endpoint: { address: internal('10.244.1.5:8080') } }, healthStatus: 1, metadata: { filterMetadata: { istio: { workload: 'echo;default;echo;v1;Kubernetes', identity: 'spiffe://cluster.local/ns/default/sa/echo' } } } },
        { hostIdentifier: { $case: 'endpoint', endpoint: { address: internal('[fd00::5]:8080') } }, healthStatus: 2, loadBalancingWeight: 3 },
        { hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.244.2.6', 9000) } } },
      ]),
    );
    expect(r.ok && r.value).toEqual([
      { address: '10.244.1.5', port: 8080, tunnel: 'hbone', identity: 'spiffe://cluster.local/ns/default/sa/echo', healthy: true, weight: 1, workload: { name: 'echo', namespace: 'default', canonicalService: 'echo', canonicalRevision: 'v1', cluster: 'Kubernetes' } },
      { address: 'fd00::5', port: 8080, tunnel: 'hbone', healthy: false, weight: 3 },
      { address: '10.244.2.6', port: 9000, tunnel: 'plaintext', healthy: true, weight: 1 },
    ]);
  });

  it.each<[string, ClusterLoadAssignment, string]>([
    ['another internal listener', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: 'x' }, endpointId: '1.2.3.4:80' } } } } } }]), 'c1.endpoints[0].lb_endpoints[0].endpoint.address.envoy_internal_address.server_listener_name: only connect_originate is supported, got "x"'],
    ['a bad endpoint id', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: internal('pod-a:80') } } }]), 'c1.endpoints[0].lb_endpoints[0].endpoint.address.envoy_internal_address.endpoint_id: not an IP address: "pod-a"'],
    ['a host name', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('echo.default', 80) } } }]), 'c1.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address: not an IP address'],
    ['port 0', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.0.0.1', 0) } } }]), 'c1.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value: not a port: 0'],
    ['no address', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: {} } }]), 'c1.endpoints[0].lb_endpoints[0].endpoint.address: required'],
    ['a bad workload', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.0.0.1', 80) } }, metadata: { filterMetadata: { istio: { workload: 'a;b' } } } }]), 'c1.endpoints[0].lb_endpoints[0].metadata.filter_metadata.istio.workload: must be'],
    ['a bad identity', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.0.0.1', 80) } }, metadata: { filterMetadata: { istio: { identity: 'echo' } } } }]), 'c1.endpoints[0].lb_endpoints[0].metadata.filter_metadata.istio.identity: must be a spiffe:// URI'],
    ['weight 0', cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.0.0.1', 80) } }, loadBalancingWeight: 0 }]), 'c1.endpoints[0].lb_endpoints[0].load_balancing_weight: must be at least 1, got 0'],
  ])('refuses %s', (_n, c, message) => {
    const r = compileLoadAssignment('c1', c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.some((e) => e.startsWith(message))).toBe(true);
  });

  it('refuses a resource whose cluster_name is not its name', () => {
    const r = compileLoadAssignment('c2', cla([]));
    expect(!r.ok && r.errors).toEqual(['c2.cluster_name: must be the resource name, got "c1"']);
  });
});

type Routes = NonNullable<NonNullable<MessageInput<RouteConfiguration>['virtualHosts']>[number]['routes']>;
function rc(routes: Routes, vhosts: MessageInput<RouteConfiguration>['virtualHosts'] = []): RouteConfiguration {
  return wire(routeConfigurationCodec, { name: 'r1', virtualHosts: [{ name: 'v', domains: ['*'], routes }, ...vhosts] });
}
const toC1 = { $case: 'route' as const, route: { clusterSpecifier: { $case: 'cluster' as const, cluster: 'c1' } } };

describe('compileRouteConfiguration', () => {
  it('takes matches and actions', () => {
    const r = compileRouteConfiguration(
      'r1',
      rc([
        {
          name: 'a',
          match: {
            pathSpecifier: { $case: 'safeRegex', safeRegex: { regex: '/api/v[0-9]+' } },
            caseSensitive: false,
            headers: [
              { name: 'X-User', headerMatchSpecifier: { $case: 'stringMatch', stringMatch: { matchPattern: { $case: 'prefix', prefix: 'j' }, ignoreCase: true } } },
              { name: 'x-debug', headerMatchSpecifier: { $case: 'presentMatch', presentMatch: false } },
              { name: 'x-env', headerMatchSpecifier: { $case: 'exactMatch', exactMatch: 'prod' }, invertMatch: true },
            ],
            queryParameters: [{ name: 'q', queryParameterMatchSpecifier: { $case: 'stringMatch', stringMatch: { matchPattern: { $case: 'safeRegex', safeRegex: { regex: '[a-z]+' } } } } }, { name: 'p', queryParameterMatchSpecifier: { $case: 'presentMatch', presentMatch: true } }],
          },
          action: {
            $case: 'route',
            route: {
              clusterSpecifier: { $case: 'weightedClusters', weightedClusters: { clusters: [{ name: 'c1', weight: 90 }, { name: 'c2', weight: 10 }] } },
              timeout: { seconds: 2, nanos: 0 },
              retryPolicy: { retryOn: '5xx, connect-failure', numRetries: 3, perTryTimeout: { seconds: 0, nanos: 500_000_000 }, retriableStatusCodes: [503], retryBackOff: { baseInterval: { seconds: 0, nanos: 10_000_000 } } },
              hostRewriteSpecifier: { $case: 'hostRewriteLiteral', hostRewriteLiteral: 'b.example' },
              prefixRewrite: '/v2',
            },
          },
          decorator: { operation: 'a:80/*' },
        },
        { name: 'b', match: { pathSpecifier: { $case: 'pathSeparatedPrefix', pathSeparatedPrefix: '/foo' } }, action: { $case: 'redirect', redirect: { schemeRewriteSpecifier: { $case: 'httpsRedirect', httpsRedirect: true }, hostRedirect: 'x.example', portRedirect: 8443, pathRewriteSpecifier: { $case: 'pathRedirect', pathRedirect: '/new' }, responseCode: 4 } } },
        { name: 'c', match: { pathSpecifier: { $case: 'path', path: '/health' } }, action: { $case: 'directResponse', directResponse: { status: 200, body: { specifier: { $case: 'inlineString', inlineString: 'ok' } } } } },
        { name: 'd', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } }, action: toC1 },
      ]),
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const [a, b, c, d] = r.value.virtualHosts[0]!.routes;
    expect(a).toEqual({
      name: 'a',
      match: {
        path: { kind: 'regex', value: '/api/v[0-9]+' },
        caseSensitive: false,
        headers: [
          { name: 'x-user', match: { kind: 'prefix', value: 'j', ignoreCase: true }, invert: false },
          { name: 'x-debug', match: { kind: 'present' }, invert: true },
          { name: 'x-env', match: { kind: 'exact', value: 'prod' }, invert: true },
        ],
        queryParams: [{ name: 'q', match: { kind: 'regex', value: '[a-z]+' } }, { name: 'p', match: { kind: 'present' } }],
      },
      action: {
        kind: 'route',
        clusters: [{ name: 'c1', weight: 90 }, { name: 'c2', weight: 10 }],
        timeoutMs: 2000,
        retry: { retryOn: ['5xx', 'connect-failure'], numRetries: 3, perTryTimeoutMs: 500, retriableStatusCodes: [503], backoffBaseMs: 10 },
        hostRewrite: 'b.example',
        prefixRewrite: '/v2',
      },
      decorator: 'a:80/*',
    });
    expect(b).toEqual({ name: 'b', match: { path: { kind: 'separated-prefix', value: '/foo' }, caseSensitive: true, headers: [], queryParams: [] }, action: { kind: 'redirect', status: 308, scheme: 'https', host: 'x.example', port: 8443, path: '/new' } });
    expect(c?.action).toEqual({ kind: 'direct-response', status: 200, body: 'ok' });
    // Envoy's route timeout default is 15 s.
    expect(d?.action).toEqual({ kind: 'route', clusters: [{ name: 'c1', weight: 1 }], timeoutMs: 15_000 });
  });

  it.each<[string, RouteConfiguration, string]>([
    ['an RE2-invalid path regex', rc([{ name: 'a', match: { pathSpecifier: { $case: 'safeRegex', safeRegex: { regex: '(?<=x)y' } } }, action: toC1 }]), 'r1.virtual_hosts[0].routes[0].match.safe_regex.regex: invalid RE2 regex'],
    ['a backreference in a header regex', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' }, headers: [{ name: 'h', headerMatchSpecifier: { $case: 'safeRegexMatch', safeRegexMatch: { regex: '(a)\\1' } } }] }, action: toC1 }]), 'r1.virtual_hosts[0].routes[0].match.headers[0].safe_regex_match.regex: invalid RE2 regex'],
    ['no path specifier', rc([{ name: 'a', match: {}, action: toC1 }]), 'r1.virtual_hosts[0].routes[0].match: a path specifier'],
    ['no action', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } } }]), 'r1.virtual_hosts[0].routes[0]: an action'],
    ['a cluster header', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } }, action: { $case: 'route', route: { clusterSpecifier: { $case: 'clusterHeader', clusterHeader: 'x' } } } }]), 'r1.virtual_hosts[0].routes[0].route.cluster_header: not supported'],
    ['all-zero weights', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } }, action: { $case: 'route', route: { clusterSpecifier: { $case: 'weightedClusters', weightedClusters: { clusters: [{ name: 'c1', weight: 0 }] } } } } }]), 'r1.virtual_hosts[0].routes[0].route.weighted_clusters.clusters: the weights must not all be 0'],
    ['a route changing a pseudo-header', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } }, action: toC1, requestHeadersToAdd: [{ header: { key: ':path', value: 'y' } }] }]), 'r1.virtual_hosts[0].routes[0].request_headers_to_add[0].header.key: ":path" cannot be modified'],
    ['a direct response of 99', rc([{ name: 'a', match: { pathSpecifier: { $case: 'prefix', prefix: '/' } }, action: { $case: 'directResponse', directResponse: { status: 99 } } }]), 'r1.virtual_hosts[0].routes[0].direct_response.status: must be 200–599, got 99'],
    ['a bad domain', rc([], [{ name: 'w', domains: ['a.*.example'] }]), 'r1.virtual_hosts[1].domains[0]: invalid domain "a.*.example"'],
    ['a domain in two virtual hosts', rc([], [{ name: 'w', domains: ['*'] }]), 'r1.virtual_hosts[1].domains[0]: domain "*" is also in r1.virtual_hosts[0]'],
    ['a virtual host without domains', rc([], [{ name: 'w', domains: [] }]), 'r1.virtual_hosts[1].domains: at least one domain is required'],
  ])('refuses %s', (_n, c, message) => {
    const r = compileRouteConfiguration('r1', c);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.some((e) => e.startsWith(message))).toBe(true);
  });
});

describe('compileResource and assembleConfig', () => {
  it('refuses bytes that do not decode, with the decoder’s reason', () => {
    const r = compileResource('cluster', 'c1', { typeUrl: clusterCodec.typeUrl, value: Buffer.from([0xff, 0xff]) });
    expect(r.ok).toBe(false);
  });

  it('assembles chains with their service, clusters with their endpoints; dangling references stay dangling', () => {
    const l = compileResource('listener', 'main_internal', packAny(listenerCodec, mainInternal([{ name: 'c1', filterChainMatch: match(80), filters: [tcp()] }, { name: 'h', filterChainMatch: match(81), filters: [hcm()] }])));
    const c = compileResource('cluster', 'c1', packAny(clusterCodec, cluster({ metadata: { filterMetadata: { istio: { services: [{ host: 'a.ns.svc.cluster.local', name: 'a', namespace: 'ns' }] } } } })));
    const e = compileResource('endpoint', 'c1', packAny(clusterLoadAssignmentCodec, cla([{ hostIdentifier: { $case: 'endpoint', endpoint: { address: sock('10.0.0.1', 80) } } }])));
    if (!l.ok || !c.ok || !e.ok) throw new Error('compile failed');
    const cfg = assembleConfig('7', { listeners: new Map([['main_internal', l.compiled]]), clusters: new Map([['c1', c.compiled]]), loadAssignments: new Map([['c1', e.compiled]]), routes: new Map() });
    expect(cfg.version).toBe('7');
    expect(cfg.chains.map((ch) => [ch.name, ch.service?.host])).toEqual([['c1', 'a.ns.svc.cluster.local'], ['h', undefined]]);
    expect(cfg.clusters.get('c1')?.endpoints).toEqual([{ address: '10.0.0.1', port: 80, tunnel: 'plaintext', healthy: true, weight: 1 }]);
    expect(cfg.routes.size).toBe(0);
  });
});
