// Envoy v3 resources through the codecs: round trips of the shapes a waypoint's control plane
// builds (HCM in an Any, Duration, circuit breakers, Struct metadata, internal addresses, weighted
// clusters, retry policies), wire numbers checked against hand-written bytes, Any packing, and the
// snake_case JSON /config_dump shows.
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_TYPE_URL,
  ENDPOINT_TYPE_URL,
  HTTP_CONNECTION_MANAGER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  httpConnectionManagerCodec,
  listenerCodec,
  listenersConfigDumpCodec,
  packAny,
  routeConfigurationCodec,
  routerCodec,
  toEnvoyJson,
  unpackAny,
  type Cluster,
  type ClusterLoadAssignment,
  type DecodeResult,
  type Listener,
  type MessageInput,
  type RouteConfiguration,
} from './index.ts';
import { hex, lenField, varintField, cat } from './test-wire.ts';

function value<T>(r: DecodeResult<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

describe('type URLs', () => {
  it('are Envoy\'s resource types', () => {
    expect(LISTENER_TYPE_URL).toBe('type.googleapis.com/envoy.config.listener.v3.Listener');
    expect(ROUTE_TYPE_URL).toBe('type.googleapis.com/envoy.config.route.v3.RouteConfiguration');
    expect(CLUSTER_TYPE_URL).toBe('type.googleapis.com/envoy.config.cluster.v3.Cluster');
    expect(ENDPOINT_TYPE_URL).toBe('type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment');
    expect(HTTP_CONNECTION_MANAGER_TYPE_URL).toBe('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  });
});

const hcm = packAny(httpConnectionManagerCodec, {
  statPrefix: 'inbound_0.0.0.0_15008',
  routeSpecifier: { $case: 'rds', rds: { routeConfigName: 'default/echo', configSource: { configSourceSpecifier: { $case: 'ads', ads: {} }, resourceApiVersion: 2 } } },
  httpFilters: [{ name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', typedConfig: packAny(routerCodec, {}) } }],
});

const listener: MessageInput<Listener> = {
  name: 'main_internal',
  address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: 'main_internal' } } } },
  filterChains: [{ name: 'http', filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [{ name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', typedConfig: hcm } }] }],
  useOriginalDst: false,
  trafficDirection: 1,
};

describe('Listener', () => {
  it('round-trips with an HttpConnectionManager in an Any, and the Any unpacks', () => {
    const l = value(listenerCodec.decode(listenerCodec.encode(listener)));
    expect(l).toMatchObject(listener);
    // A wrapper (BoolValue) set to false is present, not absent.
    expect(l.useOriginalDst).toBe(false);
    expect(l.transparent).toBeUndefined();
    const filter = l.filterChains[0]?.filters[0];
    expect(filter?.configType?.$case).toBe('typedConfig');
    const any = filter?.configType?.$case === 'typedConfig' ? filter.configType.typedConfig : undefined;
    const m = value(unpackAny(httpConnectionManagerCodec, any!));
    expect(m.statPrefix).toBe('inbound_0.0.0.0_15008');
    expect(m.routeSpecifier).toEqual({ $case: 'rds', rds: { routeConfigName: 'default/echo', configSource: { configSourceSpecifier: { $case: 'ads', ads: {} }, resourceApiVersion: 2, authorities: [] } } });
  });

  it('name is field 1 and stat_prefix field 28 (Envoy\'s numbers)', () => {
    expect(hex(listenerCodec.encode({ name: 'a', statPrefix: 'b' }))).toBe(hex(cat(lenField(1, 'a'), lenField(28, 'b'))));
  });

  it('unpackAny refuses an Any of another type', () => {
    const r = unpackAny(clusterCodec, hcm);
    expect(r.ok).toBe(false);
  });
});

const cluster: MessageInput<Cluster> = {
  name: 'outbound|80||echo.default.svc.cluster.local',
  clusterDiscoveryType: { $case: 'type', type: 3 },
  connectTimeout: { seconds: 10, nanos: 500_000_000 },
  circuitBreakers: { thresholds: [{ priority: 0, maxConnections: 1024, maxRequests: 0, maxRetries: 3 }] },
  metadata: { filterMetadata: { istio: { services: [{ host: 'echo.default.svc.cluster.local', name: 'echo', namespace: 'default' }], default_original_port: 80 } } },
};

describe('Cluster', () => {
  it('round-trips a Duration, circuit breakers (UInt32Value wrappers, 0 kept) and Struct metadata as plain JSON', () => {
    const c = value(clusterCodec.decode(clusterCodec.encode(cluster)));
    expect(c).toMatchObject(cluster);
    expect(c.circuitBreakers?.thresholds[0]?.maxRequests).toBe(0);
    expect(c.circuitBreakers?.thresholds[0]?.maxPendingRequests).toBeUndefined();
    expect(c.metadata?.filterMetadata['istio']).toEqual({ services: [{ host: 'echo.default.svc.cluster.local', name: 'echo', namespace: 'default' }], default_original_port: 80 });
  });

  it('renders as Envoy\'s snake_case JSON', () => {
    expect(toEnvoyJson(clusterCodec, cluster)).toEqual({
      name: 'outbound|80||echo.default.svc.cluster.local',
      type: 'EDS',
      connect_timeout: '10.500s',
      circuit_breakers: { thresholds: [{ max_connections: 1024, max_requests: 0, max_retries: 3 }] },
      metadata: { filter_metadata: { istio: { services: [{ host: 'echo.default.svc.cluster.local', name: 'echo', namespace: 'default' }], default_original_port: 80 } } },
    });
  });
});

describe('ClusterLoadAssignment', () => {
  it('round-trips an lb endpoint at an envoy_internal_address with an endpoint id', () => {
    const cla: MessageInput<ClusterLoadAssignment> = {
      clusterName: 'inbound-vip|80|http|echo.default.svc.cluster.local',
      endpoints: [
        {
          lbEndpoints: [
            {
              hostIdentifier: {
                $case: 'endpoint',
                endpoint: { address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: 'connect_originate' }, endpointId: '10.0.0.7:8080' } } } },
              },
              healthStatus: 1,
              loadBalancingWeight: 1,
            },
          ],
        },
      ],
    };
    const d = value(clusterLoadAssignmentCodec.decode(clusterLoadAssignmentCodec.encode(cla)));
    expect(d).toMatchObject(cla);
    expect(d.endpoints[0]?.lbEndpoints[0]?.loadBalancingWeight).toBe(1);
  });
});

describe('RouteConfiguration', () => {
  const rc: MessageInput<RouteConfiguration> = {
    name: 'default/echo',
    validateClusters: false,
    virtualHosts: [
      {
        name: 'echo.default.svc.cluster.local:80',
        domains: ['echo.default.svc.cluster.local', '*'],
        routes: [
          {
            name: 'canary',
            match: { pathSpecifier: { $case: 'prefix', prefix: '/' }, headers: [{ name: 'x-canary', headerMatchSpecifier: { $case: 'stringMatch', stringMatch: { matchPattern: { $case: 'exact', exact: 'yes' } } } }] },
            action: {
              $case: 'route',
              route: {
                clusterSpecifier: {
                  $case: 'weightedClusters',
                  weightedClusters: { clusters: [{ name: 'outbound|80|v1|echo', weight: 90 }, { name: 'outbound|80|v2|echo', weight: 10 }] },
                },
                timeout: { seconds: 0, nanos: 0 },
                retryPolicy: { retryOn: 'connect-failure,refused-stream,unavailable', numRetries: 2, perTryTimeout: { seconds: 1, nanos: 0 }, retryHostPredicate: [] },
              },
            },
          },
        ],
      },
    ],
  };

  it('round-trips weighted clusters and a retry policy', () => {
    const d = value(routeConfigurationCodec.decode(routeConfigurationCodec.encode(rc)));
    expect(d).toMatchObject(rc);
    const action = d.virtualHosts[0]?.routes[0]?.action;
    expect(action?.$case === 'route' && action.route.retryPolicy?.numRetries).toBe(2);
  });

  it('renders the route in snake_case with oneof members by their names', () => {
    const j = toEnvoyJson(routeConfigurationCodec, rc) as { virtual_hosts: { routes: Record<string, unknown>[] }[] };
    expect(j['validate_clusters' as never]).toBe(false);
    expect(j.virtual_hosts[0]?.routes[0]).toEqual({
      name: 'canary',
      match: { prefix: '/', headers: [{ name: 'x-canary', string_match: { exact: 'yes' } }] },
      route: {
        weighted_clusters: { clusters: [{ name: 'outbound|80|v1|echo', weight: 90 }, { name: 'outbound|80|v2|echo', weight: 10 }] },
        timeout: '0s',
        retry_policy: { retry_on: 'connect-failure,refused-stream,unavailable', num_retries: 2, per_try_timeout: '1s' },
      },
    });
  });
});

describe('toEnvoyJson', () => {
  it('unpacks Anys recursively with "@type", as in a listeners config dump', () => {
    const dump = { dynamicListeners: [{ name: 'main_internal', activeState: { versionInfo: '1', listener: packAny(listenerCodec, listener) } }] };
    const j = toEnvoyJson(listenersConfigDumpCodec, dump) as { dynamic_listeners: { active_state: { listener: Record<string, unknown> } }[] };
    const l = j.dynamic_listeners[0]?.active_state.listener;
    expect(l).toMatchObject({
      '@type': LISTENER_TYPE_URL,
      name: 'main_internal',
      address: { envoy_internal_address: { server_listener_name: 'main_internal' } },
      traffic_direction: 'INBOUND',
      use_original_dst: false,
    });
    const f = (l as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] }).filter_chains[0]?.filters[0]?.typed_config;
    expect(f).toMatchObject({ '@type': HTTP_CONNECTION_MANAGER_TYPE_URL, stat_prefix: 'inbound_0.0.0.0_15008', rds: { route_config_name: 'default/echo', config_source: { ads: {}, resource_api_version: 'V3' } } });
    expect((f as { http_filters: unknown[] }).http_filters).toEqual([{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }]);
  });

  it('keeps an Any of a type we do not load as base64', () => {
    const j = toEnvoyJson(listenersConfigDumpCodec, { dynamicListeners: [{ name: 'x', activeState: { listener: { typeUrl: 'type.googleapis.com/example.Unknown', value: Buffer.from([1, 2]) } } }] });
    expect(j).toEqual({ dynamic_listeners: [{ name: 'x', active_state: { listener: { '@type': 'type.googleapis.com/example.Unknown', value: 'AQI=' } } }] });
  });

  it('writes a BoolValue wrapper by its field name, not as a message', () => {
    expect(hex(listenerCodec.encode({ useOriginalDst: true }))).toBe(hex(lenField(4, varintField(1, 1))));
  });
});
