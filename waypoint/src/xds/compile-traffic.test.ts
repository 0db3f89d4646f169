// The traffic-management contract end to end without sockets: what the controller emits for
// VirtualServices, DestinationRules and HTTPRoutes (test-only import of the controller, as
// client.test.ts) decodes and compiles into WaypointConfig with every field the data path needs;
// and the compile rules of each new field group as table tests.
import { describe, expect, it } from 'vitest';
import { buildWaypointResources, encodeWaypointResources } from '../../../controller/src/waypoint-xds/build.ts';
import { modelOptions } from '../../../controller/src/model/options.ts';
import { namespace, pod, service } from '../../../controller/src/model/test-fixtures.ts';
import type { DestinationRule, HTTPRoute, VirtualService } from '../../../controller/src/waypoint-xds/traffic-types.ts';
import { clusterCodec, httpFaultCodec, packAny, routeConfigurationCodec, type Cluster as EnvoyCluster, type MessageInput, type RouteConfiguration, type VirtualHost } from '../../../lib/proto/index.ts';
import type { Cluster, HttpFilterChain, Route, RouteTable } from '../config/types.ts';
import { assembleConfig, compileCluster, compileResource, compileRouteConfiguration, ENVOY_KINDS, TYPE_URL_OF, type AcceptedSet, type CompiledByKind } from './compile.ts';

const HOST = 'reviews.bookinfo.svc.cluster.local';
const C = (subset?: string) => `inbound-vip|9080|http${subset ? `/${subset}` : ''}|${HOST}`;
const reviewsPod = (version: string, ip: string) =>
  pod({ name: `reviews-${version}`, namespace: 'bookinfo', ips: [ip], labels: { app: 'reviews', version }, annotations: { 'ambient.istio.io/redirection': 'enabled' }, serviceAccount: 'reviews', containers: [{ name: 'app', ports: [{ containerPort: 9080 }] }] });

const VS: VirtualService = {
  metadata: { name: 'reviews', namespace: 'bookinfo' },
  spec: {
    hosts: ['reviews'],
    http: [
      {
        name: 'jason',
        match: [{ headers: { 'end-user': { exact: 'jason' } }, withoutHeaders: { 'x-skip': { exact: '1' } } }],
        route: [{ destination: { host: 'reviews', subset: 'v2' }, weight: 80, headers: { response: { set: { 'x-v': '2' } } } }, { destination: { host: 'reviews', subset: 'v3' }, weight: 20 }],
        fault: { delay: { fixedDelay: '7s', percentage: { value: 100 } }, abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 50 } } },
        mirror: { host: 'reviews', subset: 'v1' },
        mirrorPercentage: { value: 25 },
        rewrite: { uriRegexRewrite: { match: '^/a/(.*)$', rewrite: '/b/\\1' } },
        headers: { request: { set: { 'x-set': 'a' }, add: { 'x-add': 'b' }, remove: ['x-rm'] } },
        corsPolicy: { allowOrigins: [{ prefix: 'https://' }], allowMethods: ['GET'], maxAge: '60s' },
        retries: { attempts: 3, retryOn: '5xx,503' },
      },
      { route: [{ destination: { host: 'reviews', subset: 'v1' } }] },
    ],
  },
};
const DR: DestinationRule = {
  metadata: { name: 'reviews', namespace: 'bookinfo' },
  spec: {
    host: 'reviews',
    trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: 'u', ttl: '5s' } } }, outlierDetection: { consecutive5xxErrors: 2, interval: '1s', baseEjectionTime: '10s', maxEjectionPercent: 50 } },
    subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { consistentHash: { maglev: {}, useSourceIp: true } } } }, { name: 'v3', labels: { version: 'v3' } }],
  },
};
const ROUTE: HTTPRoute = {
  metadata: { name: 'ratings', namespace: 'bookinfo' },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: 'ratings' }], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { path: { type: 'ReplacePrefixMatch', replacePrefixMatch: '/v2' } } }] }, { backendRefs: [{ name: 'gone', port: 80 }] }] },
};

function compileAll(): { config: ReturnType<typeof assembleConfig>; errors: string[] } {
  const r = buildWaypointResources(
    {
      waypoint: { namespace: 'bookinfo', name: 'waypoint' },
      pods: [reviewsPod('v1', '10.244.1.1'), reviewsPod('v2', '10.244.1.2'), reviewsPod('v3', '10.244.1.3')],
      services: [
        service({ name: 'reviews', namespace: 'bookinfo', clusterIP: '10.96.0.20', selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] }),
        service({ name: 'ratings', namespace: 'bookinfo', clusterIP: '10.96.0.21', selector: { app: 'ratings' }, ports: [{ name: 'http', port: 9080, targetPort: 9080 }] }),
      ],
      namespaces: [namespace('bookinfo', { 'istio.io/use-waypoint': 'waypoint' })],
      waypoints: (ns, name) => (ns === 'bookinfo' && name === 'waypoint' ? {} : undefined),
      virtualServices: [VS],
      destinationRules: [DR],
      httpRoutes: [ROUTE],
    },
    modelOptions(),
  );
  const encoded = encodeWaypointResources(r);
  const errors: string[] = [];
  const accepted = { listeners: new Map(), clusters: new Map(), loadAssignments: new Map(), routes: new Map() };
  for (const kind of ENVOY_KINDS) {
    for (const [name, e] of encoded.get(TYPE_URL_OF[kind]) ?? []) {
      const c = compileResource(kind, name, e.resource);
      if (!c.ok) {
        errors.push(...c.errors);
        continue;
      }
      const compiled = c.compiled as CompiledByKind[typeof kind];
      if (kind === 'listener') accepted.listeners.set(name, compiled);
      else if (kind === 'cluster') accepted.clusters.set(name, compiled);
      else if (kind === 'endpoint') accepted.loadAssignments.set(name, compiled);
      else accepted.routes.set(name, compiled);
    }
  }
  return { config: assembleConfig('1', accepted as AcceptedSet), errors };
}

describe('controller traffic management → WaypointConfig', () => {
  const { config, errors } = compileAll();
  const routes = (host: string): readonly Route[] => config.routes.get(`inbound-vip|9080|http|${host}`)!.virtualHosts[0]!.routes;

  it('every resource the controller emits is accepted', () => {
    expect(errors).toEqual([]);
  });

  it('HTTP chains carry the fault and cors filters before the router', () => {
    const chain = config.chains.find((c) => c.name === C()) as HttpFilterChain;
    expect(chain.httpFilters.map((f) => f.kind)).toEqual(['fault', 'cors', 'router']);
  });

  it('a VirtualService route compiles with every field group', () => {
    const [jason, rest] = routes(HOST);
    expect(jason).toEqual({
      name: 'jason',
      match: {
        path: { kind: 'prefix', value: '/' },
        caseSensitive: true,
        headers: [
          { name: 'end-user', match: { kind: 'exact', value: 'jason' }, invert: false },
          { name: 'x-skip', match: { kind: 'exact', value: '1' }, invert: true, treatMissingAsEmpty: true },
        ],
        queryParams: [],
      },
      action: {
        kind: 'route',
        clusters: [
          { name: C('v2'), weight: 80, responseHeaders: { remove: [], add: [{ name: 'x-v', value: '2', action: 'overwrite' }] } },
          { name: C('v3'), weight: 20 },
        ],
        timeoutMs: 0,
        retry: { retryOn: ['5xx', 'retriable-status-codes'], numRetries: 3, perTryTimeoutMs: 0, retriableStatusCodes: [503], backoffBaseMs: 25, hostSelectionMaxAttempts: 5 },
        regexRewrite: { pattern: '^/a/(.*)$', substitution: '/b/\\1' },
        mirrors: [{ cluster: C('v1'), perMillion: 250_000, traceSampled: false, disableShadowHostSuffix: false }],
        // The first destination's DestinationRule (subset v2: maglev on the source IP).
        hashPolicy: [{ kind: 'source-ip', terminal: false }],
      },
      decorator: `${HOST}:9080/*`,
      requestHeaders: { remove: ['x-rm'], add: [{ name: 'x-set', value: 'a', action: 'overwrite' }, { name: 'x-add', value: 'b', action: 'append' }] },
      fault: { delay: { fixedDelayMs: 7000, perMillion: 1_000_000 }, abort: { kind: 'grpc', status: 14, perMillion: 500_000 } },
      cors: { allowOrigins: [{ kind: 'prefix', value: 'https://' }], allowMethods: 'GET', allowHeaders: '', exposeHeaders: '', maxAge: '60', allowCredentials: false, forwardNotMatchingPreflights: true, enabledPerMillion: 1_000_000 },
    });
    // The top-level cookie hash: no previous_hosts predicate (consistent hashing), cookie with TTL.
    expect(rest!.action).toMatchObject({ kind: 'route', clusters: [{ name: C('v1'), weight: 1 }], hashPolicy: [{ kind: 'cookie', name: 'u', ttlMs: 5000, terminal: false }], retry: { numRetries: 2 } });
    expect((rest!.action as { retry: { retryHostPredicates?: unknown } }).retry.retryHostPredicates).toBeUndefined();
  });

  it('clusters: ring hash / maglev, outlier detection with Envoy defaults filled, subset endpoints', () => {
    const main = config.clusters.get(C())!;
    expect(main).toMatchObject({
      lbPolicy: 'RING_HASH',
      ringHash: { minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 },
      outlierDetection: { consecutive5xx: 2, enforcingConsecutive5xxPercent: 100, consecutiveGatewayFailure: 5, enforcingConsecutiveGatewayFailurePercent: 0, intervalMs: 1000, baseEjectionTimeMs: 10_000, maxEjectionTimeMs: 300_000, maxEjectionPercent: 50 },
      healthyPanicThresholdPercent: 0,
    });
    expect(config.clusters.get(C('v2'))).toMatchObject({ lbPolicy: 'MAGLEV', maglev: { tableSize: 65537 } });
    expect(config.clusters.get(C('v2'))!.endpoints.map((e) => e.address)).toEqual(['10.244.1.2']);
  });

  it('an HTTPRoute: redirect prefix rewrite, and a missing backend answers 500', () => {
    const [redirect, missing] = routes('ratings.bookinfo.svc.cluster.local');
    expect(redirect!.match.path).toEqual({ kind: 'separated-prefix', value: '/api' });
    expect(redirect!.action).toEqual({ kind: 'redirect', status: 302, port: 9080, prefixRewrite: '/v2' });
    expect(missing!.action).toMatchObject({ kind: 'route', clusters: [{ name: 'outbound|80||gone.bookinfo.svc.cluster.local' }], clusterNotFoundStatus: 500 });
    expect(config.clusters.has('outbound|80||gone.bookinfo.svc.cluster.local')).toBe(false);
  });
});

type Routes = NonNullable<MessageInput<VirtualHost>['routes']>;

const rc = (routes: Routes): RouteConfiguration => {
  const r = routeConfigurationCodec.decode(routeConfigurationCodec.encode({ name: 'r1', virtualHosts: [{ name: 'v', domains: ['*'], routes }] }));
  if (!r.ok) throw r.error;
  return r.value;
};
const prefix = { pathSpecifier: { $case: 'prefix' as const, prefix: '/' } };
const toC1 = { $case: 'route' as const, route: { clusterSpecifier: { $case: 'cluster' as const, cluster: 'c1' } } };

function firstRoute(t: RouteTable): Route {
  return t.virtualHosts[0]!.routes[0]!;
}

describe('compile rules of the traffic fields', () => {
  it.each<[string, Routes, string]>([
    ['a fault selected by headers', [{ name: 'a', match: prefix, action: toC1, typedPerFilterConfig: { 'envoy.filters.http.fault': packAny(httpFaultCodec, { headers: [{ name: 'x' }], abort: { errorType: { $case: 'httpStatus', httpStatus: 503 } } }) } }], 'typed_per_filter_config["envoy.filters.http.fault"].headers: not supported'],
    ['an abort of status 99', [{ name: 'a', match: prefix, action: toC1, typedPerFilterConfig: { 'envoy.filters.http.fault': packAny(httpFaultCodec, { abort: { errorType: { $case: 'httpStatus', httpStatus: 99 } } }) } }], 'abort.http_status: must be 200–599, got 99'],
    ['an unknown per-route config', [{ name: 'a', match: prefix, action: toC1, typedPerFilterConfig: { x: { typeUrl: 'type.googleapis.com/x.Y', value: new Uint8Array() } } }], 'per-route config type.googleapis.com/x.Y is not supported'],
    ['an invalid regex rewrite', [{ name: 'a', match: prefix, action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: 'c1' }, regexRewrite: { pattern: { regex: '(?<=x)' }, substitution: '' } } } }], 'regex_rewrite.pattern.regex: invalid RE2 regex'],
    ['a mirror by header', [{ name: 'a', match: prefix, action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: 'c1' }, requestMirrorPolicies: [{ clusterHeader: 'x' }] } } }], 'request_mirror_policies[0].cluster_header: not supported'],
    ['an unknown retry host predicate', [{ name: 'a', match: prefix, action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: 'c1' }, retryPolicy: { retryHostPredicate: [{ name: 'envoy.retry_host_predicates.omit_canary_hosts' }] } } } }], 'retry_host_predicate[0]: not supported'],
    ['removing host', [{ name: 'a', match: prefix, action: toC1, requestHeadersToRemove: ['Host'] }], 'request_headers_to_remove[0]: "Host" cannot be removed'],
    ['append and append_action', [{ name: 'a', match: prefix, action: toC1, responseHeadersToAdd: [{ header: { key: 'x', value: 'y' }, append: true, appendAction: 2 }] }], 'append and append_action are exclusive'],
  ])('refuses %s', (_n, routes, want) => {
    const r = compileRouteConfiguration('r1', rc(routes));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors.join('\n')).toContain(want);
  });

  it('takes header append actions, the deprecated append flag, keep_empty_value and a 404 for missing clusters', () => {
    const r = compileRouteConfiguration(
      'r1',
      rc([
        {
          name: 'a',
          match: prefix,
          action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: 'c1' }, clusterNotFoundResponseCode: 1 } },
          requestHeadersToAdd: [{ header: { key: 'X-A', value: '1' }, appendAction: 1 }, { header: { key: 'x-b', value: '' }, appendAction: 3, keepEmptyValue: true }, { header: { key: 'x-c', value: '3' }, append: false }],
        },
      ]),
    );
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const route = firstRoute(r.value);
    expect(route.requestHeaders).toEqual({ remove: [], add: [{ name: 'x-a', value: '1', action: 'add-if-absent' }, { name: 'x-b', value: '', action: 'overwrite-if-exists', keepEmpty: true }, { name: 'x-c', value: '3', action: 'overwrite' }] });
    expect(route.action).toMatchObject({ clusterNotFoundStatus: 404 });
  });

  const cluster = (over: MessageInput<EnvoyCluster>): EnvoyCluster => {
    const r = clusterCodec.decode(clusterCodec.encode({ name: 'c1', clusterDiscoveryType: { $case: 'type', type: 3 }, edsClusterConfig: { edsConfig: { configSourceSpecifier: { $case: 'ads', ads: {} } } }, ...over }));
    if (!r.ok) throw r.error;
    return r.value;
  };

  it.each<[string, MessageInput<EnvoyCluster>, string]>([
    ['success-rate ejection', { outlierDetection: { enforcingSuccessRate: 100 } }, 'c1.outlier_detection.enforcing_success_rate: success-rate ejection is not supported; set it to 0'],
    ['a max ejection percent of 101', { outlierDetection: { enforcingSuccessRate: 0, maxEjectionPercent: 101 } }, 'c1.outlier_detection.max_ejection_percent: must be 0–100, got 101'],
    ['a ring smaller than 1', { lbPolicy: 2, lbConfig: { $case: 'ringHashLbConfig', ringHashLbConfig: { minimumRingSize: 0 } } }, 'c1.ring_hash_lb_config: ring size 0–8388608 is not valid'],
  ])('refuses %s', (_n, over, want) => {
    const r = compileCluster('c1', cluster(over));
    expect(r.ok ? [] : r.errors).toContain(want);
  });

  it('outlier detection without enforcing_success_rate is taken with a warning (consecutive errors only)', () => {
    const r = compileCluster('c1', cluster({ outlierDetection: { consecutive5xx: 3 } }));
    if (!r.ok) throw new Error(r.errors.join('\n'));
    expect(r.warnings.join()).toContain('success-rate ejection is not implemented');
    const c = (r.value as { cluster: Omit<Cluster, 'endpoints'> }).cluster;
    expect(c.outlierDetection).toMatchObject({ consecutive5xx: 3, intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 10 });
  });
});
