// The waypoint's Envoy resources from cluster state: port protocols, which Services bind, which
// proxy is which waypoint, the shape of every resource (decoded back from its bytes, as a waypoint
// or an Envoy reads it), and content-hash versions that move only with content.
import type { V1Service, V1ServicePort } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  CLUSTER_TYPE_URL,
  clusterCodec,
  clusterLoadAssignmentCodec,
  ENDPOINT_TYPE_URL,
  httpConnectionManagerCodec,
  httpProtocolOptionsCodec,
  LISTENER_TYPE_URL,
  listenerCodec,
  ROUTE_TYPE_URL,
  routeConfigurationCodec,
  tcpProxyCodec,
  unpackAny,
  type Any,
  type MessageCodec,
} from '../../../lib/proto/index.ts';
import { modelOptions } from '../model/options.ts';
import { namespace, pod, service, type PodFixture } from '../model/test-fixtures.ts';
import type { WaypointInfo, WaypointLookup } from '../model/waypoints.ts';
import { servicesForWaypoint, waypointOfProxy } from './bindings.ts';
import { buildWaypointResources, encodeWaypointResources, type WaypointXdsInput } from './build.ts';
import { portProtocol } from './protocol.ts';

const options = modelOptions();
const HOST = 'echo.default.svc.cluster.local';

function decode<T>(codec: MessageCodec<T>, bytes: Uint8Array): T {
  const r = codec.decode(bytes);
  if (!r.ok) throw r.error;
  return r.value;
}

function unpack<T>(codec: MessageCodec<T>, any: Any | undefined): T {
  const r = unpackAny(codec, any!);
  if (!r.ok) throw r.error;
  return r.value;
}

function lookupOf(table: Record<string, WaypointInfo>): WaypointLookup {
  return (ns, name) => table[`${ns}/${name}`];
}

const WAYPOINTS = lookupOf({ 'default/waypoint': {}, 'default/other-wp': {}, 'shared/wp': { allowedRoutes: { from: 'All' } }, 'default/wl-only': { trafficType: 'workload' }, 'default/all': { trafficType: 'all' } });

const meshPod = (f: PodFixture = {}) => pod({ labels: { app: 'echo' }, annotations: { 'ambient.istio.io/redirection': 'enabled' }, serviceAccount: 'echo', ...f });

function input(over: Partial<WaypointXdsInput> = {}): WaypointXdsInput {
  return {
    waypoint: { namespace: 'default', name: 'waypoint' },
    pods: [meshPod()],
    services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' } })],
    namespaces: [namespace('default'), namespace('shared')],
    waypoints: WAYPOINTS,
    ...over,
  };
}

describe('portProtocol', () => {
  it.each<[string, V1ServicePort, string, boolean]>([
    ['http name', { port: 80, name: 'http' }, 'http', false],
    ['http- prefix', { port: 80, name: 'http-web' }, 'http', false],
    ['http2', { port: 80, name: 'http2' }, 'http', true],
    ['grpc', { port: 80, name: 'grpc-api' }, 'http', true],
    ['grpc-web', { port: 80, name: 'grpc-web' }, 'http', true],
    ['appProtocol wins over the name', { port: 80, name: 'tcp', appProtocol: 'http' }, 'http', false],
    ['kubernetes.io/h2c', { port: 80, appProtocol: 'kubernetes.io/h2c' }, 'http', true],
    ['tcp', { port: 80, name: 'tcp-echo' }, 'tcp', false],
    ['tls', { port: 443, name: 'tls' }, 'tcp', false],
    ['https', { port: 443, name: 'https' }, 'tcp', false],
    ['mongo', { port: 27018, name: 'mongo' }, 'tcp', false],
    ['redis', { port: 6379, name: 'redis' }, 'tcp', false],
    ['mysql well-known port without a name', { port: 3306 }, 'tcp', false],
    ['unnamed', { port: 8080 }, 'unknown', false],
    ['unrecognised name', { port: 8080, name: 'web' }, 'unknown', false],
    ['UDP', { port: 53, name: 'dns', protocol: 'UDP' }, 'udp', false],
  ])('%s', (_n, port, kind, http2) => {
    expect(portProtocol(port)).toMatchObject({ kind, http2 });
  });
});

describe('waypointOfProxy', () => {
  it.each<[string, string, Record<string, unknown>, string | undefined]>([
    ['gateway-name label', 'router~10.0.0.9~wp-1.default~default.svc.cluster.local', { NAMESPACE: 'default', LABELS: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } }, 'default/waypoint'],
    ['GATEWAY_NAME metadata', 'router~10.0.0.9~wp-1.ns1~ns1.svc.cluster.local', { NAMESPACE: 'ns1', GATEWAY_NAME: 'wp' }, 'ns1/wp'],
    ['namespace from the node id', 'router~10.0.0.9~wp-1.ns2~ns2.svc.cluster.local', { GATEWAY_NAME: 'wp' }, 'ns2/wp'],
    ['a ztunnel', 'ztunnel~10.0.0.5~zt.istio-system~istio-system.svc.cluster.local', { NAMESPACE: 'istio-system', GATEWAY_NAME: 'wp' }, undefined],
    ['a router naming no gateway', 'router~10.0.0.9~gw.default~default.svc.cluster.local', { NAMESPACE: 'default' }, undefined],
    ['a malformed id', 'router~x', { NAMESPACE: 'default', GATEWAY_NAME: 'wp' }, undefined],
  ])('%s', (_n, id, metadata, want) => {
    const k = waypointOfProxy({ id, metadata: metadata as never });
    expect(k ? `${k.namespace}/${k.name}` : undefined).toBe(want);
  });
});

describe('servicesForWaypoint', () => {
  const ns = new Map([
    ['default', namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
    ['other', namespace('other')],
  ]);
  const names = (svcs: V1Service[], w = { namespace: 'default', name: 'waypoint' }) => servicesForWaypoint(w, svcs, ns, WAYPOINTS).map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`);

  it('takes the Service label, else the namespace label; none opts out', () => {
    const svcs = [
      service({ name: 'b-inherits' }),
      service({ name: 'a-own', labels: { 'istio.io/use-waypoint': 'waypoint' } }),
      service({ name: 'optout', labels: { 'istio.io/use-waypoint': 'none' } }),
      service({ name: 'elsewhere', labels: { 'istio.io/use-waypoint': 'other-wp' } }),
      service({ name: 'ext', type: 'ExternalName' }),
    ];
    expect(names(svcs)).toEqual(['default/a-own', 'default/b-inherits']);
    expect(names(svcs, { namespace: 'default', name: 'other-wp' })).toEqual(['default/elsewhere']);
  });

  it('never binds the waypoint’s own Service, and only waypoints for service traffic', () => {
    const svcs = [
      service({ name: 'waypoint', labels: { 'gateway.istio.io/managed': 'istio.io-mesh-controller', 'istio.io/use-waypoint': 'waypoint' } }),
      service({ name: 'to-wl', labels: { 'istio.io/use-waypoint': 'wl-only' } }),
      service({ name: 'to-all', labels: { 'istio.io/use-waypoint': 'all' } }),
    ];
    expect(names(svcs)).toEqual([]);
    expect(names(svcs, { namespace: 'default', name: 'wl-only' })).toEqual([]);
    expect(names(svcs, { namespace: 'default', name: 'all' })).toEqual(['default/to-all']);
  });

  it('follows istio.io/use-waypoint-namespace to a waypoint that allows the namespace', () => {
    const svcs = [service({ name: 'x', namespace: 'other', labels: { 'istio.io/use-waypoint': 'wp', 'istio.io/use-waypoint-namespace': 'shared' } })];
    expect(names(svcs, { namespace: 'shared', name: 'wp' })).toEqual(['other/x']);
  });
});

describe('buildWaypointResources', () => {
  it('names every resource as istiod does', () => {
    const r = buildWaypointResources(input({ services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'tcp', port: 9000 }, { port: 7070 }, { name: 'dns', port: 53, protocol: 'UDP' }] })] }), options);
    expect([...r.listeners.keys()]).toEqual(['connect_terminate', 'main_internal']);
    expect([...r.clusters.keys()]).toEqual([
      'main_internal',
      'connect_originate',
      `inbound-vip|80|http|${HOST}`,
      `inbound-vip|9000|tcp|${HOST}`,
      `inbound-vip|7070|http|${HOST}`,
      `inbound-vip|7070|tcp|${HOST}`,
    ]);
    expect([...r.endpoints.keys()]).toEqual([`inbound-vip|80|http|${HOST}`, `inbound-vip|9000|tcp|${HOST}`, `inbound-vip|7070|http|${HOST}`, `inbound-vip|7070|tcp|${HOST}`]);
    expect([...r.routes.keys()]).toEqual([`inbound-vip|80|http|${HOST}`, `inbound-vip|7070|http|${HOST}`]);
  });

  it('a waypoint with nothing bound still has its listeners and static clusters', () => {
    const r = buildWaypointResources(input({ services: [service()] }), options);
    expect([...r.listeners.keys()]).toEqual(['connect_terminate', 'main_internal']);
    expect([...r.clusters.keys()]).toEqual(['main_internal', 'connect_originate']);
    expect(r.endpoints.size + r.routes.size).toBe(0);
  });

  it('main_internal: one chain per protocol, matched on VIPs and port, HCM with RDS or tcp_proxy', () => {
    const set = encodeWaypointResources(
      buildWaypointResources(input({ services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' }, clusterIPs: ['10.96.0.10', 'fd00::10'], ports: [{ name: 'grpc', port: 80, targetPort: 8080 }, { port: 7070 }] })] }), options),
    );
    const l = decode(listenerCodec, set.get(LISTENER_TYPE_URL)!.get('main_internal')!.resource.value);
    expect(l.listenerSpecifier?.$case).toBe('internalListener');
    expect(l.listenerFilters.map((f) => f.name)).toEqual(['envoy.filters.listener.original_dst', 'envoy.filters.listener.http_inspector']);
    expect(l.filterChains.map((c) => c.name)).toEqual([`inbound-vip|80|http|${HOST}`, `inbound-vip|7070|http|${HOST}`, `inbound-vip|7070|tcp|${HOST}`]);
    const [grpc, sniffed, tcp] = l.filterChains;
    expect(grpc!.filterChainMatch).toMatchObject({ destinationPort: 80, prefixRanges: [{ addressPrefix: '10.96.0.10', prefixLen: 32 }, { addressPrefix: 'fd00::10', prefixLen: 128 }], applicationProtocols: [] });
    expect(sniffed!.filterChainMatch?.applicationProtocols).toEqual(['http/1.1', 'h2c']);
    expect(tcp!.filterChainMatch?.applicationProtocols).toEqual([]);
    const f = grpc!.filters[0]!;
    expect(f.name).toBe('envoy.filters.network.http_connection_manager');
    const hcm = unpack(httpConnectionManagerCodec, f.configType?.$case === 'typedConfig' ? f.configType.typedConfig : undefined);
    expect(hcm).toMatchObject({
      codecType: 2,
      statPrefix: `inbound-vip|80|http|${HOST}`,
      routeSpecifier: { $case: 'rds', rds: { routeConfigName: `inbound-vip|80|http|${HOST}`, configSource: { configSourceSpecifier: { $case: 'ads', ads: {} } } } },
      serverName: 'istio-envoy',
      serverHeaderTransformation: 0,
      useRemoteAddress: false,
      generateRequestId: true,
      streamIdleTimeout: { seconds: 0, nanos: 0 },
    });
    expect(hcm.httpFilters.map((h) => h.name)).toEqual(['envoy.filters.http.router']);
    const sniffedHcm = unpack(httpConnectionManagerCodec, sniffed!.filters[0]!.configType?.$case === 'typedConfig' ? sniffed!.filters[0]!.configType.typedConfig : undefined);
    expect(sniffedHcm.codecType).toBe(0);
    const tp = unpack(tcpProxyCodec, tcp!.filters[0]!.configType?.$case === 'typedConfig' ? tcp!.filters[0]!.configType.typedConfig : undefined);
    expect(tp).toMatchObject({ statPrefix: `inbound-vip|7070|tcp|${HOST}`, clusterSpecifier: { $case: 'cluster', cluster: `inbound-vip|7070|tcp|${HOST}` } });
  });

  it('clusters: EDS with Istio’s defaults, service metadata, and the HTTP version of the port', () => {
    const set = encodeWaypointResources(buildWaypointResources(input({ services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' }, ports: [{ name: 'http2', port: 80 }, { name: 'http', port: 81 }, { name: 'tcp', port: 82 }] })] }), options));
    const get = (n: string) => decode(clusterCodec, set.get(CLUSTER_TYPE_URL)!.get(n)!.resource.value);
    const h2 = get(`inbound-vip|80|http|${HOST}`);
    expect(h2).toMatchObject({
      clusterDiscoveryType: { $case: 'type', type: 3 },
      edsClusterConfig: { serviceName: `inbound-vip|80|http|${HOST}`, edsConfig: { configSourceSpecifier: { $case: 'ads', ads: {} } } },
      lbPolicy: 1,
      connectTimeout: { seconds: 10, nanos: 0 },
      circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true }] },
      metadata: { filterMetadata: { istio: { services: [{ host: HOST, name: 'echo', namespace: 'default' }] } } },
    });
    const opts = (c: typeof h2) => unpack(httpProtocolOptionsCodec, c.typedExtensionProtocolOptions['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']).upstreamProtocolOptions?.$case;
    expect(opts(h2)).toBe('explicitHttpConfig');
    expect(opts(get(`inbound-vip|81|http|${HOST}`))).toBe('useDownstreamProtocolConfig');
    expect(get(`inbound-vip|82|tcp|${HOST}`).typedExtensionProtocolOptions).toEqual({});
    const co = get('connect_originate');
    expect(co).toMatchObject({ clusterDiscoveryType: { $case: 'type', type: 4 }, lbPolicy: 6, lbConfig: { $case: 'originalDstLbConfig', originalDstLbConfig: { upstreamPortOverride: 15008 } } });
  });

  it('endpoints: HBONE pods as connect_originate internal addresses, others as sockets, with workload and identity', () => {
    const pods = [
      meshPod({ name: 'echo-1', ips: ['10.244.1.5'], labels: { app: 'echo', version: 'v2' } }),
      pod({ name: 'plain', ips: ['10.244.2.6'], labels: { app: 'echo' }, ready: false }),
      pod({ name: 'done', ips: ['10.244.2.7'], labels: { app: 'echo' }, phase: 'Succeeded' }),
      pod({ name: 'unrelated', ips: ['10.244.2.8'], labels: { app: 'web' } }),
    ];
    const set = encodeWaypointResources(buildWaypointResources(input({ pods }), options));
    const cla = decode(clusterLoadAssignmentCodec, set.get(ENDPOINT_TYPE_URL)!.get(`inbound-vip|80|http|${HOST}`)!.resource.value);
    expect(cla.clusterName).toBe(`inbound-vip|80|http|${HOST}`);
    const eps = cla.endpoints[0]!.lbEndpoints;
    expect(eps).toHaveLength(2);
    expect(eps[0]).toMatchObject({
      hostIdentifier: { $case: 'endpoint', endpoint: { address: { address: { $case: 'envoyInternalAddress', envoyInternalAddress: { addressNameSpecifier: { $case: 'serverListenerName', serverListenerName: 'connect_originate' }, endpointId: '10.244.1.5:8080' } } } } },
      healthStatus: 1,
      loadBalancingWeight: 1,
      metadata: {
        filterMetadata: {
          'envoy.filters.listener.original_dst': { local: '10.244.1.5:8080' },
          istio: { workload: 'echo-1;default;echo;v2;Kubernetes', identity: 'spiffe://cluster.local/ns/default/sa/echo' },
        },
      },
    });
    expect(eps[1]).toMatchObject({
      hostIdentifier: { $case: 'endpoint', endpoint: { address: { address: { $case: 'socketAddress', socketAddress: { address: '10.244.2.6', portSpecifier: { $case: 'portValue', portValue: 8080 } } } } } },
      healthStatus: 2,
      metadata: { filterMetadata: { istio: { workload: 'plain;default;echo;latest;Kubernetes', identity: 'spiffe://cluster.local/ns/default/sa/default' } } },
    });
  });

  it('routes: the default route of the port; gRPC ports without the retry', () => {
    const set = encodeWaypointResources(buildWaypointResources(input({ services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint' }, ports: [{ name: 'http', port: 80 }, { name: 'grpc', port: 90 }] })] }), options));
    const rc = decode(routeConfigurationCodec, set.get(ROUTE_TYPE_URL)!.get(`inbound-vip|80|http|${HOST}`)!.resource.value);
    expect(rc).toMatchObject({
      name: `inbound-vip|80|http|${HOST}`,
      validateClusters: false,
      virtualHosts: [
        {
          name: 'inbound|http|80',
          domains: ['*'],
          routes: [
            {
              name: 'default',
              match: { pathSpecifier: { $case: 'prefix', prefix: '/' } },
              action: { $case: 'route', route: { clusterSpecifier: { $case: 'cluster', cluster: `inbound-vip|80|http|${HOST}` }, timeout: { seconds: 0, nanos: 0 }, retryPolicy: { retryOn: 'reset-before-request', numRetries: 2 } } },
              decorator: { operation: `${HOST}:80/*` },
            },
          ],
        },
      ],
    });
    const grpc = decode(routeConfigurationCodec, set.get(ROUTE_TYPE_URL)!.get(`inbound-vip|90|http|${HOST}`)!.resource.value);
    const action = grpc.virtualHosts[0]!.routes[0]!.action;
    expect(action?.$case === 'route' && action.route.retryPolicy).toBeFalsy();
  });

  it('versions are content hashes: a new pod changes only its EDS resources', () => {
    const a = encodeWaypointResources(buildWaypointResources(input(), options));
    const b = encodeWaypointResources(buildWaypointResources(input(), options));
    const c = encodeWaypointResources(buildWaypointResources(input({ pods: [meshPod(), meshPod({ name: 'echo-2', ips: ['10.244.1.6'] })] }), options));
    const versions = (s: typeof a) => Object.fromEntries([...s].map(([t, m]) => [t, Object.fromEntries([...m].map(([n, e]) => [n, e.version]))]));
    expect(versions(b)).toEqual(versions(a));
    expect(versions(c)[LISTENER_TYPE_URL]).toEqual(versions(a)[LISTENER_TYPE_URL]);
    expect(versions(c)[CLUSTER_TYPE_URL]).toEqual(versions(a)[CLUSTER_TYPE_URL]);
    expect(versions(c)[ROUTE_TYPE_URL]).toEqual(versions(a)[ROUTE_TYPE_URL]);
    expect(versions(c)[ENDPOINT_TYPE_URL]).not.toEqual(versions(a)[ENDPOINT_TYPE_URL]);
  });
});
