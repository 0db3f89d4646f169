// VirtualService / DestinationRule / HTTPRoute / GRPCRoute → a waypoint's Envoy resources, as
// table tests per field group: each case builds the waypoint's resources from objects, then looks at
// the route, cluster, listener or endpoints in Envoy's JSON (what /config_dump and Envoy would show).
import type { V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { clusterCodec, clusterLoadAssignmentCodec, listenerCodec, routeConfigurationCodec, toEnvoyJson } from '../../../lib/proto/index.ts';
import { modelOptions } from '../model/options.ts';
import { namespace, pod, service } from '../model/test-fixtures.ts';
import { buildWaypointResources, type WaypointXdsInput } from './build.ts';
import { parseDurationMs } from './durations.ts';
import { resolveHost } from './route-sources.ts';
import type { DestinationRule, GRPCRoute, HTTPRoute, VirtualService } from './traffic-types.ts';

const options = modelOptions();
const HOST = 'reviews.bookinfo.svc.cluster.local';
const C = (subset?: string, port = 9080) => `inbound-vip|${port}|http${subset ? `/${subset}` : ''}|${HOST}`;

type Json = Record<string, unknown>;

const reviews = (ports = [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }]): V1Service =>
  service({ name: 'reviews', namespace: 'bookinfo', clusterIP: '10.96.0.20', selector: { app: 'reviews' }, ports });
const reviewsPod = (version: string, ip: string) =>
  pod({ name: `reviews-${version}`, namespace: 'bookinfo', ips: [ip], labels: { app: 'reviews', version }, annotations: { 'ambient.istio.io/redirection': 'enabled' }, serviceAccount: 'reviews', containers: [{ name: 'app', ports: [{ containerPort: 9080 }] }] });

function vs(spec: VirtualService['spec'], name = 'reviews', created = '2026-01-01T00:00:00Z', ns = 'bookinfo'): VirtualService {
  return { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name, namespace: ns, creationTimestamp: created as unknown as Date }, spec };
}
function dr(spec: DestinationRule['spec'], ns = 'bookinfo', name = 'reviews'): DestinationRule {
  return { metadata: { name, namespace: ns }, spec };
}
const SUBSETS = [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }, { name: 'v3', labels: { version: 'v3' } }];

function input(over: Partial<WaypointXdsInput> = {}): WaypointXdsInput {
  return {
    waypoint: { namespace: 'bookinfo', name: 'waypoint' },
    pods: [reviewsPod('v1', '10.244.1.1'), reviewsPod('v2', '10.244.1.2'), reviewsPod('v3', '10.244.1.3')],
    services: [reviews(), service({ name: 'ratings', namespace: 'bookinfo', clusterIP: '10.96.0.21', ports: [{ name: 'http', port: 9080, targetPort: 9080 }] })],
    namespaces: [namespace('bookinfo', { 'istio.io/use-waypoint': 'waypoint' }), namespace('istio-system')],
    waypoints: (ns, name) => (ns === 'bookinfo' && name === 'waypoint' ? {} : undefined),
    ...over,
  };
}

function build(over: Partial<WaypointXdsInput> = {}) {
  const r = buildWaypointResources(input(over), options);
  const routes = (port = 9080): Json[] => {
    const rc = r.routes.get(`inbound-vip|${port}|http|${HOST}`);
    return (toEnvoyJson(routeConfigurationCodec, rc!) as { virtual_hosts: { routes: Json[] }[] }).virtual_hosts[0]!.routes;
  };
  const cluster = (name: string): Json => toEnvoyJson(clusterCodec, r.clusters.get(name)!);
  const endpoints = (name: string): string[] =>
    ((toEnvoyJson(clusterLoadAssignmentCodec, r.endpoints.get(name)!) as { endpoints?: { lb_endpoints: { endpoint: { address: { envoy_internal_address: { endpoint_id: string } } } }[] }[] }).endpoints?.[0]?.lb_endpoints ?? []).map(
      (e) => e.endpoint.address.envoy_internal_address.endpoint_id,
    );
  return { r, routes, cluster, endpoints, diagnostics: r.trafficDiagnostics };
}

describe('durations and hosts', () => {
  it.each<[string, number | undefined]>([['1.5s', 1500], ['0.250s', 250], ['10s', 10_000], ['1h30m', 5_400_000], ['500ms', 500], ['0s', 0], ['x', undefined], ['10', undefined]])('%s', (t, ms) => {
    expect(parseDurationMs(t)).toBe(ms);
  });
  it.each<[string, string]>([['reviews', HOST], ['reviews.bookinfo', HOST], ['reviews.bookinfo.svc', HOST], [HOST, HOST], ['*.bookinfo.svc.cluster.local', '*.bookinfo.svc.cluster.local'], ['example.com.x', 'example.com.x']])('host %s', (h, want) => {
    expect(resolveHost(h, 'bookinfo', 'cluster.local')).toBe(want);
  });
});

describe('VirtualService http routes', () => {
  it('without any routing object: the default route', () => {
    expect(build().routes()).toMatchObject([{ name: 'default', match: { prefix: '/' }, route: { cluster: C(), retry_policy: { retry_on: 'reset-before-request', num_retries: 2 } } }]);
  });

  it('matches: uri exact/prefix/regex, ignoreUriCase, headers, withoutHeaders, query, method, authority, scheme; blocks are routes', () => {
    const { routes } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            {
              name: 'm',
              match: [
                { name: 'a', uri: { exact: '/exact' }, headers: { 'End-User': { exact: 'jason' }, 'x-p': { prefix: 'p' }, 'x-r': { regex: 'a+' }, 'x-any': {} } },
                { uri: { prefix: '/pre' }, ignoreUriCase: true, withoutHeaders: { 'x-no': { exact: 'v' } }, queryParams: { q: { exact: '1' }, r: { regex: '\\d+' }, s: {} } },
                { uri: { regex: '/re/[0-9]+' }, method: { exact: 'GET' }, authority: { prefix: 'reviews' }, scheme: { exact: 'http' } },
              ],
              route: [{ destination: { host: 'reviews' } }],
            },
          ],
        }),
      ],
    });
    const r = routes();
    expect(r.map((x) => x['name'])).toEqual(['m.a', 'm', 'm']);
    expect(r[0]!['match']).toEqual({
      path: '/exact',
      headers: [
        { name: 'end-user', string_match: { exact: 'jason' } },
        { name: 'x-p', string_match: { prefix: 'p' } },
        { name: 'x-r', string_match: { safe_regex: { regex: 'a+' } } },
        { name: 'x-any', present_match: true },
      ],
    });
    expect(r[1]!['match']).toEqual({
      prefix: '/pre',
      case_sensitive: false,
      headers: [{ name: 'x-no', string_match: { exact: 'v' }, invert_match: true, treat_missing_header_as_empty: true }],
      query_parameters: [{ name: 'q', string_match: { exact: '1' } }, { name: 'r', string_match: { safe_regex: { regex: '\\d+' } } }, { name: 's', present_match: true }],
    });
    expect(r[2]!['match']).toEqual({
      safe_regex: { regex: '/re/[0-9]+' },
      headers: [
        { name: ':method', string_match: { exact: 'GET' } },
        { name: ':authority', string_match: { prefix: 'reviews' } },
        { name: ':scheme', string_match: { exact: 'http' } },
      ],
    });
  });

  it('weighted subsets, timeout, Istio’s default retry policy, and a catch-all that ends the list', () => {
    const { routes, diagnostics } = build({
      virtualServices: [
        vs({
          hosts: ['reviews.bookinfo.svc.cluster.local'],
          http: [
            { match: [{ headers: { 'end-user': { exact: 'jason' } } }], route: [{ destination: { host: 'reviews', subset: 'v2' } }], timeout: '0.5s' },
            { route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 50 }, { destination: { host: 'reviews', subset: 'v3' }, weight: 50 }] },
            { route: [{ destination: { host: 'reviews', subset: 'v2' } }] },
          ],
        }),
      ],
      destinationRules: [dr({ host: 'reviews', subsets: SUBSETS })],
    });
    const r = routes();
    expect(r).toHaveLength(2);
    expect(r[0]).toMatchObject({
      route: {
        cluster: C('v2'),
        timeout: '0.500s',
        retry_policy: {
          retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
          num_retries: 2,
          retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
          host_selection_retry_max_attempts: '5',
        },
      },
    });
    expect(r[1]).toMatchObject({ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: C('v1'), weight: 50 }, { name: C('v3'), weight: 50 }] }, timeout: '0s' } });
    expect(diagnostics).toEqual([]);
  });

  it('retries: attempts, perTryTimeout, retryOn with bare status codes; attempts 0 disables', () => {
    const { routes } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            { match: [{ uri: { prefix: '/a' } }], route: [{ destination: { host: 'reviews' } }], retries: { attempts: 3, perTryTimeout: '2s', retryOn: 'gateway-error,503,connect-failure' } },
            { route: [{ destination: { host: 'reviews' } }], retries: { attempts: 0 } },
          ],
        }),
      ],
    });
    const [a, b] = routes();
    expect(a).toMatchObject({ route: { retry_policy: { retry_on: 'gateway-error,connect-failure,retriable-status-codes', num_retries: 3, per_try_timeout: '2s', retriable_status_codes: [503] } } });
    expect((b!['route'] as Json)['retry_policy']).toBeUndefined();
  });

  it('fault: delay and abort as per-route HTTPFault; the fault filter is on the chain (only where used)', () => {
    const { routes, r } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            { match: [{ uri: { prefix: '/d' } }], route: [{ destination: { host: 'reviews' } }], fault: { delay: { fixedDelay: '7s', percentage: { value: 100 } } } },
            { match: [{ uri: { prefix: '/a' } }], route: [{ destination: { host: 'reviews' } }], fault: { abort: { httpStatus: 500, percentage: { value: 12.5 } } } },
            { route: [{ destination: { host: 'reviews' } }], fault: { abort: { grpcStatus: 'UNAVAILABLE' } } },
          ],
        }),
      ],
    });
    const [d, a, g] = routes();
    expect(d!['typed_per_filter_config']).toEqual({
      'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault', delay: { fixed_delay: '7s', percentage: { numerator: 1000000, denominator: 'MILLION' } } },
    });
    expect(a!['typed_per_filter_config']).toMatchObject({ 'envoy.filters.http.fault': { abort: { http_status: 500, percentage: { numerator: 125000, denominator: 'MILLION' } } } });
    // No percentage: the abort never fires (Istio's proto), but it is configured.
    expect(g!['typed_per_filter_config']).toMatchObject({ 'envoy.filters.http.fault': { abort: { grpc_status: 14, percentage: { denominator: 'MILLION' } } } });
    const main = toEnvoyJson(listenerCodec, r.listeners.get('main_internal')!) as { filter_chains: { name: string; filters: { typed_config: { http_filters?: { name: string }[] } }[] }[] };
    const chain = main.filter_chains.find((c) => c.name === C())!;
    expect(chain.filters[0]!.typed_config.http_filters!.map((f) => f.name)).toEqual(['envoy.filters.http.fault', 'envoy.filters.http.router']);
  });

  it('mirror/mirrors with percentages, rewrite (uri, uriRegexRewrite, authority), headers, per-destination headers', () => {
    const { routes } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            {
              match: [{ uri: { prefix: '/m' } }],
              route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 90, headers: { request: { set: { 'x-dest': 'v1' } } } }, { destination: { host: 'reviews', subset: 'v2' }, weight: 10 }],
              mirror: { host: 'reviews', subset: 'v3' },
              mirrorPercentage: { value: 50 },
              mirrors: [{ destination: { host: 'reviews', subset: 'v2' } }],
              rewrite: { uri: '/new', authority: 'new-authority' },
              headers: { request: { set: { 'x-set': 'a' }, add: { 'x-add': 'b' }, remove: ['x-rm'] }, response: { set: { 'x-resp': 'c' }, remove: ['server-timing'] } },
            },
            { route: [{ destination: { host: 'reviews' } }], rewrite: { uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } } },
          ],
        }),
      ],
      destinationRules: [dr({ host: 'reviews', subsets: SUBSETS })],
    });
    const [m, x] = routes();
    expect(m).toMatchObject({
      request_headers_to_add: [
        { header: { key: 'x-set', value: 'a' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
        { header: { key: 'x-add', value: 'b' } },
      ],
      request_headers_to_remove: ['x-rm'],
      response_headers_to_add: [{ header: { key: 'x-resp', value: 'c' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      response_headers_to_remove: ['server-timing'],
      route: {
        weighted_clusters: { clusters: [{ name: C('v1'), weight: 90, request_headers_to_add: [{ header: { key: 'x-dest', value: 'v1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }] }, { name: C('v2'), weight: 10 }] },
        prefix_rewrite: '/new',
        host_rewrite_literal: 'new-authority',
        request_mirror_policies: [
          { cluster: C('v3'), runtime_fraction: { default_value: { numerator: 500000, denominator: 'MILLION' } }, trace_sampled: false },
          { cluster: C('v2'), runtime_fraction: { default_value: { numerator: 1000000, denominator: 'MILLION' } }, trace_sampled: false },
        ],
      },
    });
    expect(x).toMatchObject({ route: { regex_rewrite: { pattern: { regex: '^/service/([^/]+)(/.*)$' }, substitution: '\\2/instance/\\1' } } });
  });

  it('redirect (uri, authority, scheme, port, derivePort, code), directResponse, corsPolicy', () => {
    const { routes } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            { match: [{ uri: { exact: '/r1' } }], redirect: { uri: '/new', authority: 'b', scheme: 'https', port: 8443, redirectCode: 308 } },
            { match: [{ uri: { exact: '/r2' } }], redirect: { uri: '/foo', derivePort: 'FROM_REQUEST_PORT' } },
            { match: [{ uri: { exact: '/d' } }], directResponse: { status: 418, body: { string: 'teapot' } } },
            { route: [{ destination: { host: 'reviews' } }], corsPolicy: { allowOrigins: [{ exact: 'cors.com' }], allowMethods: ['POST', 'GET'], allowHeaders: ['X-Foo-Bar', 'X-Foo-Baz'], maxAge: '24h', allowCredentials: true } },
          ],
        }),
      ],
    });
    const [r1, r2, d, c] = routes();
    expect(r1).toMatchObject({ redirect: { path_redirect: '/new', host_redirect: 'b', scheme_redirect: 'https', port_redirect: 8443, response_code: 'PERMANENT_REDIRECT' } });
    expect(r2).toMatchObject({ redirect: { path_redirect: '/foo', port_redirect: 9080 } });
    expect((r2!['redirect'] as Json)['response_code']).toBeUndefined(); // MOVED_PERMANENTLY is the default (0)
    expect(d).toMatchObject({ direct_response: { status: 418, body: { inline_string: 'teapot' } } });
    expect(c!['typed_per_filter_config']).toEqual({
      'envoy.filters.http.cors': {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
        allow_origin_string_match: [{ exact: 'cors.com' }],
        allow_methods: 'POST,GET',
        allow_headers: 'X-Foo-Bar,X-Foo-Baz',
        max_age: '86400',
        allow_credentials: true,
        filter_enabled: { default_value: { numerator: 100 } },
        forward_not_matching_preflights: true,
      },
    });
  });

  it('binding: the service’s or the waypoint’s namespace, the oldest VirtualService with http routes wins; gateway-only ones do not apply', () => {
    const older = vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] }, 'older', '2026-01-01T00:00:00Z');
    const newer = vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v2' } }] }] }, 'newer', '2026-02-01T00:00:00Z');
    const gwOnly = vs({ hosts: ['reviews'], gateways: ['bookinfo-gateway'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v3' } }] }] }, 'gw', '2025-01-01T00:00:00Z');
    const elsewhere = vs({ hosts: ['reviews.bookinfo.svc.cluster.local'], http: [{ route: [{ destination: { host: 'reviews.bookinfo.svc.cluster.local', subset: 'v3' } }] }] }, 'else', '2025-01-01T00:00:00Z', 'other');
    const drs = [dr({ host: 'reviews', subsets: SUBSETS })];
    expect(build({ virtualServices: [newer, older, gwOnly, elsewhere], destinationRules: drs }).routes()[0]).toMatchObject({ route: { cluster: C('v1') } });
  });

  it('drops sourceLabels/gateways matchers with a diagnostic, and port matches select the port', () => {
    const { routes, diagnostics } = build({
      services: [reviews([{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }, { name: 'http-alt', port: 9081, targetPort: 9080, protocol: 'TCP' }])],
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            { match: [{ port: 9081, uri: { prefix: '/only81' } }], route: [{ destination: { host: 'reviews', port: { number: 9081 } } }] },
            { match: [{ sourceLabels: { app: 'productpage' }, uri: { prefix: '/x' } }], route: [{ destination: { host: 'reviews', port: { number: 9080 } } }] },
          ],
        }),
      ],
    });
    expect(routes(9080).map((r) => r['match'])).toEqual([{ prefix: '/x' }]);
    expect(routes(9081).map((r) => r['match'])).toEqual([{ prefix: '/only81' }, { prefix: '/x' }]);
    expect(diagnostics).toContainEqual(expect.objectContaining({ kind: 'VirtualService', name: 'reviews', reason: 'unsupported-field', message: 'http[1].match[0].sourceLabels is not used by waypoints (Istio drops it); ignored' }));
  });

  it('bad input is reported and the rest kept: invalid regex, weights not summing to 100, unknown subset, missing service', () => {
    const { routes, diagnostics } = build({
      virtualServices: [
        vs({
          hosts: ['reviews'],
          http: [
            { match: [{ uri: { regex: '(?=look)ahead' } }, { uri: { prefix: '/ok' } }], route: [{ destination: { host: 'reviews' } }] },
            { match: [{ uri: { prefix: '/w' } }], route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 30 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 30 }] },
            { match: [{ uri: { prefix: '/nosubset' } }], route: [{ destination: { host: 'reviews', subset: 'v9' } }] },
            { route: [{ destination: { host: 'nowhere' } }] },
          ],
        }),
      ],
      destinationRules: [dr({ host: 'reviews', subsets: SUBSETS })],
    });
    const r = routes();
    expect(r.map((x) => x['match'])).toEqual([{ prefix: '/ok' }, { prefix: '/w' }, { prefix: '/nosubset' }, { prefix: '/' }]);
    expect(r[1]).toMatchObject({ route: { weighted_clusters: { clusters: [{ weight: 30 }, { weight: 30 }] } } });
    expect(r[2]).toMatchObject({ route: { cluster: C('v9') } });
    expect(r[3]).toMatchObject({ route: { cluster: 'outbound|9080||nowhere.bookinfo.svc.cluster.local' } });
    expect((r[3]!['route'] as Json)['cluster_not_found_response_code']).toBeUndefined();
    expect(diagnostics.map((d) => d.reason).sort()).toEqual(['invalid-regex', 'invalid-weights', 'missing-service', 'unknown-subset']);
  });
});

describe('outbound destinations', () => {
  it('a destination this waypoint does not serve gets an outbound cluster of its pods, with its DestinationRule subset', () => {
    const ratingsPods = ['v1', 'v2'].map((v, i) =>
      pod({ name: `ratings-${v}`, namespace: 'bookinfo', ips: [`10.244.2.${i + 1}`], labels: { app: 'ratings', version: v }, annotations: { 'ambient.istio.io/redirection': 'enabled' }, serviceAccount: 'ratings', containers: [{ name: 'app', ports: [{ containerPort: 9080 }] }] }),
    );
    const { routes, cluster, endpoints, diagnostics } = build({
      pods: [reviewsPod('v1', '10.244.1.1'), ...ratingsPods],
      services: [reviews(), service({ name: 'ratings', namespace: 'bookinfo', clusterIP: '10.96.0.21', selector: { app: 'ratings' }, labels: { 'istio.io/use-waypoint': 'none' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] })],
      virtualServices: [vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'ratings', subset: 'v2' } }] }] })],
      destinationRules: [dr({ host: 'ratings', subsets: [{ name: 'v2', labels: { version: 'v2' } }], trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, 'bookinfo', 'ratings')],
    });
    const name = 'outbound|9080|v2|ratings.bookinfo.svc.cluster.local';
    expect(routes()[0]).toMatchObject({ route: { cluster: name } });
    expect(cluster(name)).toMatchObject({ name, type: 'EDS', lb_policy: 'RANDOM', eds_cluster_config: { service_name: name } });
    expect(endpoints(name)).toEqual(['10.244.2.2:9080']);
    expect(diagnostics).toEqual([]);
  });
});

describe('VirtualService tcp routes', () => {
  it('weighted tcp destinations → the TCP chain’s tcp_proxy weighted_clusters', () => {
    const { r } = build({
      services: [service({ name: 'reviews', namespace: 'bookinfo', clusterIP: '10.96.0.20', selector: { app: 'reviews' }, ports: [{ name: 'tcp', port: 9000, targetPort: 9000, protocol: 'TCP' }] })],
      virtualServices: [vs({ hosts: ['reviews'], tcp: [{ match: [{ port: 9000 }], route: [{ destination: { host: 'reviews', subset: 'v1' }, weight: 80 }, { destination: { host: 'reviews', subset: 'v2' }, weight: 20 }] }] })],
      destinationRules: [dr({ host: 'reviews', subsets: SUBSETS, trafficPolicy: { connectionPool: { tcp: { idleTimeout: '5m' } } } })],
    });
    const main = toEnvoyJson(listenerCodec, r.listeners.get('main_internal')!) as { filter_chains: { name: string; filters: { typed_config: Json }[] }[] };
    const tcp = main.filter_chains.find((c) => c.name === `inbound-vip|9000|tcp|${HOST}`)!;
    expect(tcp.filters[0]!.typed_config).toMatchObject({ idle_timeout: '300s', weighted_clusters: { clusters: [{ name: `inbound-vip|9000|tcp/v1|${HOST}`, weight: 80 }, { name: `inbound-vip|9000|tcp/v2|${HOST}`, weight: 20 }] } });
    expect(r.clusters.has(`inbound-vip|9000|tcp/v1|${HOST}`)).toBe(true);
  });
});

describe('DestinationRule', () => {
  it('subsets: their own clusters whose endpoints are the matching pods', () => {
    const { endpoints, r } = build({ destinationRules: [dr({ host: 'reviews', subsets: SUBSETS })] });
    expect(endpoints(C())).toEqual(['10.244.1.1:9080', '10.244.1.2:9080', '10.244.1.3:9080']);
    expect(endpoints(C('v2'))).toEqual(['10.244.1.2:9080']);
    expect([...r.clusters.keys()].filter((k) => k.includes('/'))).toEqual([C('v1'), C('v2'), C('v3')]);
  });

  it('loadBalancer, connectionPool, outlierDetection on the cluster; a subset policy replaces sections', () => {
    const { cluster } = build({
      destinationRules: [
        dr({
          host: 'reviews.bookinfo.svc.cluster.local',
          trafficPolicy: {
            loadBalancer: { simple: 'ROUND_ROBIN' },
            connectionPool: { tcp: { maxConnections: 1, connectTimeout: '2s' }, http: { http1MaxPendingRequests: 1, http2MaxRequests: 10, maxRequestsPerConnection: 1, maxRetries: 3, idleTimeout: '30s' } },
            outlierDetection: { consecutive5xxErrors: 1, consecutiveGatewayErrors: 2, interval: '1s', baseEjectionTime: '3m', maxEjectionPercent: 100 },
          },
          subsets: [{ name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }],
        }),
      ],
    });
    const c = cluster(C());
    // ROUND_ROBIN is lb_policy's zero value: absent from the JSON.
    expect(c['lb_policy']).toBeUndefined();
    expect(c).toMatchObject({
      connect_timeout: '2s',
      circuit_breakers: { thresholds: [{ max_connections: 1, max_pending_requests: 1, max_requests: 10, max_retries: 3, track_remaining: true }] },
      outlier_detection: { consecutive_5xx: 1, enforcing_consecutive_5xx: 100, consecutive_gateway_failure: 2, enforcing_consecutive_gateway_failure: 100, interval: '1s', base_ejection_time: '180s', max_ejection_percent: 100, enforcing_success_rate: 0 },
      common_lb_config: { healthy_panic_threshold: {} },
      typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { common_http_protocol_options: { idle_timeout: '30s', max_requests_per_connection: 1 } } },
    });
    const v2 = cluster(C('v2'));
    expect(v2).toMatchObject({ lb_policy: 'RANDOM', circuit_breakers: { thresholds: [{ max_connections: 1 }] }, outlier_detection: { consecutive_5xx: 1 } });
    // Without a rule: Istio's LEAST_REQUEST and unlimited thresholds.
    expect(build().cluster(C())).toMatchObject({ lb_policy: 'LEAST_REQUEST', circuit_breakers: { thresholds: [{ max_connections: 4294967295 }] } });
  });

  it('consistentHash → RING_HASH or MAGLEV on the cluster, the hash policy on the routes, no previous_hosts retry predicate', () => {
    const header = build({
      destinationRules: [dr({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'X-User' } } } })],
      virtualServices: [vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })],
    });
    expect(header.cluster(C())).toMatchObject({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: '1024' } });
    const rt = header.routes()[0]!['route'] as Json;
    expect(rt['hash_policy']).toEqual([{ header: { header_name: 'x-user' } }]);
    expect((rt['retry_policy'] as Json)['retry_host_predicate']).toBeUndefined();
    const maglev = build({ destinationRules: [dr({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 1009 } } } } })], virtualServices: [vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })] });
    expect(maglev.cluster(C())).toMatchObject({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: '1009' } });
    expect((maglev.routes()[0]!['route'] as Json)['hash_policy']).toEqual([{ connection_properties: { source_ip: true } }]);
    const cookie = build({ destinationRules: [dr({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'user', ttl: '10s', path: '/' } } } } })], virtualServices: [vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] })] });
    expect((cookie.routes()[0]!['route'] as Json)['hash_policy']).toEqual([{ cookie: { name: 'user', ttl: '10s', path: '/' } }]);
  });

  it('lookup: the service’s namespace wins over the root namespace', () => {
    const root = dr({ host: 'reviews.bookinfo.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, 'istio-system', 'root');
    expect(build({ destinationRules: [root] }).cluster(C())).toMatchObject({ lb_policy: 'RANDOM' });
    expect(build({ destinationRules: [root, dr({ host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } })] }).cluster(C())['lb_policy']).toBeUndefined();
  });
});

describe('HTTPRoute and GRPCRoute (GAMMA)', () => {
  const parent = { group: '', kind: 'Service', name: 'reviews' };
  const httpRoute = (spec: HTTPRoute['spec'], name = 'r'): HTTPRoute => ({ metadata: { name, namespace: 'bookinfo', creationTimestamp: '2026-01-01T00:00:00Z' as unknown as Date }, spec });

  it('paths (PathPrefix → path_separated_prefix), headers, query, method, weighted backendRefs, header filters, timeouts', () => {
    const { routes } = build({
      services: [reviews(), service({ name: 'reviews-v2', namespace: 'bookinfo', clusterIP: '10.96.0.30', selector: { app: 'reviews', version: 'v2' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] })],
      httpRoutes: [
        httpRoute({
          parentRefs: [parent],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/v2/' }, headers: [{ name: 'X-Version', value: 'two' }], queryParams: [{ type: 'RegularExpression', name: 'q', value: 'a.*' }], method: 'GET' }],
              filters: [{ type: 'RequestHeaderModifier', requestHeaderModifier: { set: [{ name: 'x-set', value: '1' }], add: [{ name: 'x-add', value: '2' }], remove: ['x-rm'] } }, { type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: 'X-Header-Set', value: 'set' }] } }],
              backendRefs: [{ name: 'reviews', port: 9080, weight: 70 }, { name: 'reviews-v2', port: 9080, weight: 30 }],
              timeouts: { request: '10s' },
            },
            { matches: [{ path: { type: 'Exact', value: '/exact' } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
          ],
        }),
      ],
    });
    // The Exact match goes first (Gateway API precedence), whatever the rule order.
    const [b, a] = routes();
    expect(a).toMatchObject({
      name: 'bookinfo.r.0',
      match: { path_separated_prefix: '/v2', headers: [{ name: 'x-version', string_match: { exact: 'two' } }, { name: ':method', string_match: { exact: 'GET' } }], query_parameters: [{ name: 'q', string_match: { safe_regex: { regex: 'a.*' } } }] },
      request_headers_to_add: [{ header: { key: 'x-set', value: '1' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }, { header: { key: 'x-add', value: '2' } }],
      request_headers_to_remove: ['x-rm'],
      response_headers_to_add: [{ header: { key: 'x-header-set', value: 'set' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      route: { weighted_clusters: { clusters: [{ name: C(), weight: 70 }, { name: 'inbound-vip|9080|http|reviews-v2.bookinfo.svc.cluster.local', weight: 30 }] }, timeout: '10s' },
    });
    expect(b).toMatchObject({ match: { path: '/exact' }, route: { cluster: C() } });
  });

  it('RequestRedirect, URLRewrite, RequestMirror; a missing backend answers 500; parentRef port scopes the route', () => {
    const { routes, diagnostics } = build({
      services: [reviews([{ name: 'http', port: 9080, targetPort: 9080, protocol: 'TCP' }, { name: 'http-alt', port: 9081, targetPort: 9080, protocol: 'TCP' }])],
      httpRoutes: [
        httpRoute({
          parentRefs: [{ ...parent, port: 9080 }],
          rules: [
            { matches: [{ path: { value: '/redirect' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { scheme: 'https', hostname: 'example.org', statusCode: 301 } }] },
            { matches: [{ path: { value: '/prefix/one' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/two' } } }] },
            { matches: [{ path: { value: '/strip' } }], filters: [{ type: 'URLRewrite', urlRewrite: { hostname: 'h', path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/' } } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
            { matches: [{ path: { value: '/full' } }], filters: [{ type: 'URLRewrite', urlRewrite: { path: { type: 'ReplaceFullPath', replaceFullPath: '/replaced' } } }, { type: 'RequestMirror', requestMirror: { backendRef: { name: 'reviews', port: 9080 }, percent: 20 } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
            { backendRefs: [{ name: 'missing', port: 80 }] },
          ],
        }),
      ],
    });
    // Longest prefix first: /prefix/one, /redirect, /strip, /full, then the rule without matches.
    const r = routes();
    expect(r[1]).toMatchObject({ redirect: { scheme_redirect: 'https', host_redirect: 'example.org' } });
    expect(r[0]).toMatchObject({ redirect: { prefix_rewrite: '/two', response_code: 'FOUND', port_redirect: 9080 } });
    expect(r[2]).toMatchObject({ route: { regex_rewrite: { pattern: { regex: '^/strip/*' }, substitution: '/' }, host_rewrite_literal: 'h' } });
    expect(r[3]).toMatchObject({ route: { regex_rewrite: { substitution: '/replaced' }, request_mirror_policies: [{ cluster: C(), runtime_fraction: { default_value: { numerator: 200000 } } }] } });
    expect(r[4]).toMatchObject({ match: { prefix: '/' }, route: { cluster: 'outbound|80||missing.bookinfo.svc.cluster.local', cluster_not_found_response_code: 'INTERNAL_SERVER_ERROR' } });
    expect(routes(9081)).toMatchObject([{ name: 'default' }]);
    expect(diagnostics).toContainEqual(expect.objectContaining({ kind: 'HTTPRoute', reason: 'missing-service' }));
  });

  it('rules are tried in Gateway API precedence: Exact, longest prefix (or regex), method, most headers, most query params; ties in rule order', () => {
    const to = (name: string) => [{ name, port: 9080 }];
    const { routes } = build({
      services: [reviews(), service({ name: 'v2', namespace: 'bookinfo', clusterIP: '10.96.0.31', selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] })],
      httpRoutes: [
        httpRoute({
          parentRefs: [parent],
          rules: [
            { name: 'root', matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: to('reviews') },
            { name: 'v2', matches: [{ path: { type: 'PathPrefix', value: '/v2' } }, { headers: [{ name: 'version', value: 'two' }] }], backendRefs: to('v2') },
            { name: 'whale', matches: [{ headers: [{ name: 'version', value: 'one' }], queryParams: [{ name: 'animal', value: 'whale' }] }], backendRefs: to('v2') },
            { name: 'post', matches: [{ method: 'POST' }], backendRefs: to('v2') },
            { name: 'exact', matches: [{ path: { type: 'Exact', value: '/' } }], backendRefs: to('v2') },
            { name: 'regex', matches: [{ path: { type: 'RegularExpression', value: '/r.*' } }], backendRefs: to('v2') },
            { name: 'second-root', backendRefs: to('reviews') },
          ],
        }),
      ],
    });
    expect(routes().map((r) => [String(r['name']).split('.').at(-1), r['match']])).toEqual([
      ['exact', { path: '/' }],
      ['regex', { safe_regex: { regex: '/r.*' } }],
      ['v2', { path_separated_prefix: '/v2' }],
      ['post', { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'POST' } }] }],
      ['whale', { prefix: '/', headers: [{ name: 'version', string_match: { exact: 'one' } }], query_parameters: [{ name: 'animal', string_match: { exact: 'whale' } }] }],
      ['v2', { prefix: '/', headers: [{ name: 'version', string_match: { exact: 'two' } }] }],
      // A route matching everything ends the list: the rules after it ('second-root') are unreachable.
      ['root', { prefix: '/' }],
    ]);
  });

  it('GRPCRoute method matches become paths; no backends → 500', () => {
    const grpc = (spec: GRPCRoute['spec']): GRPCRoute => ({ metadata: { name: 'g', namespace: 'bookinfo' }, spec });
    const { routes } = build({
      services: [reviews([{ name: 'grpc', port: 9080, targetPort: 9080, protocol: 'TCP' }])],
      grpcRoutes: [
        grpc({
          parentRefs: [parent],
          rules: [
            { matches: [{ method: { service: 'echo.Echo', method: 'Say' } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
            { matches: [{ method: { service: 'echo.Echo' } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
            { matches: [{ method: { type: 'RegularExpression', method: 'S.*' } }], backendRefs: [{ name: 'reviews', port: 9080 }] },
            { matches: [{ headers: [{ name: 'x', value: 'y' }] }] },
          ],
        }),
      ],
    });
    expect(routes().map((r) => [r['match'], r['direct_response']])).toEqual([
      [{ path: '/echo.Echo/Say' }, undefined],
      [{ path_separated_prefix: '/echo.Echo' }, undefined],
      [{ safe_regex: { regex: '/[^/]+/S.*' } }, undefined],
      [{ prefix: '/', headers: [{ name: 'x', string_match: { exact: 'y' } }] }, { status: 500 }],
    ]);
  });
});
