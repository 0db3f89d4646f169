// Service → istio.workload.Service (fact sheet §4.6) and waypoint binding (§6).
import { describe, expect, it } from 'vitest';
import {
  AppProtocol,
  IPFamilies,
  LoadBalancingHealthPolicy,
  LoadBalancingMode,
  LoadBalancingScope as S,
  ServiceVisibility,
  type GatewayAddress,
  type LoadBalancing,
  type Service,
} from '../../../lib/proto/index.ts';
import { modelOptions } from './options.ts';
import { appProtocolOf, buildService, serviceSelectsPod, type ServiceContext } from './services.ts';
import { ip4, namespace, service, wireService, type ServiceFixture } from './test-fixtures.ts';
import type { WaypointInfo, WaypointLookup } from './waypoints.ts';

const options = modelOptions();

function build(f: ServiceFixture, ctx: ServiceContext = {}, opts = options): Service {
  const r = buildService(service(f), ctx, opts);
  if (!r.ok) throw new Error(r.message);
  return r.service;
}

function lookupOf(table: Record<string, WaypointInfo>): WaypointLookup {
  return (ns, name) => table[`${ns}/${name}`];
}

describe('buildService', () => {
  it('translates a ClusterIP Service', () => {
    const s = build({});
    const expected: Service = {
      name: 'echo',
      namespace: 'default',
      hostname: 'echo.default.svc.cluster.local',
      addresses: [{ network: '', address: ip4(10, 96, 0, 10) }],
      ports: [{ servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP11 }],
      subjectAltNames: [],
      ipFamilies: IPFamilies.AUTOMATIC,
      extensions: [],
      canonical: true,
      ingressUseWaypoint: false,
      weightedWaypoints: [],
      visibility: ServiceVisibility.PUBLIC,
    };
    expect(s).toEqual(expected);
    expect(wireService(s)).toEqual(expected);
  });

  it('uses the configured domain suffix and network', () => {
    const s = build({ name: 'web', namespace: 'shop' }, {}, modelOptions({ domainSuffix: 'corp.example', network: 'net1' }));
    expect(s.hostname).toBe('web.shop.svc.corp.example');
    expect(s.addresses).toEqual([{ network: 'net1', address: ip4(10, 96, 0, 10) }]);
  });

  it.each<[string, ServiceFixture, string[]]>([
    ['single stack', { clusterIP: '10.96.0.1' }, ['0a600001']],
    ['dual stack, in clusterIPs order', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1', 'fd00:10:96::1'] }, ['0a600001', 'fd000010009600000000000000000001']],
    ['headless: no VIPs', { clusterIP: 'None', clusterIPs: ['None'] }, []],
    ['no clusterIPs list: clusterIP', { clusterIP: '10.96.0.2', clusterIPs: [] }, ['0a600002']],
    ['not allocated yet', { clusterIP: '', clusterIPs: [] }, []],
  ])('VIPs: %s', (_name, f, vips) => {
    expect(build(f).addresses.map((a) => Buffer.from(a.address).toString('hex'))).toEqual(vips);
  });

  it('refuses a Service whose cluster IP does not parse', () => {
    const r = buildService(service({ clusterIP: '10.96.0.300' }), {}, options);
    expect(r).toMatchObject({ ok: false, reason: 'InvalidClusterIP' });
  });

  it('leaves ExternalName Services out', () => {
    const r = buildService(service({ type: 'ExternalName', clusterIP: '', clusterIPs: [] }), {}, options);
    expect(r).toMatchObject({ ok: false, reason: 'ExternalName' });
  });

  it('sends target ports only when numeric', () => {
    const s = build({
      ports: [
        { name: 'http', port: 80, targetPort: 8080 },
        { name: 'grpc', port: 9000, targetPort: 'grpc-port' },
        { name: 'metrics', port: 9090 },
      ],
    });
    expect(s.ports.map((p) => [p.servicePort, p.targetPort])).toEqual([
      [80, 8080],
      [9000, 0],
      [9090, 9090],
    ]);
  });

  it.each<[string, IPFamilies]>([
    ['', IPFamilies.AUTOMATIC],
    ['IPv4', IPFamilies.IPV4_ONLY],
    ['IPv6', IPFamilies.IPV6_ONLY],
    ['IPv6,IPv4', IPFamilies.DUAL],
  ])('ip families %j', (families, expected) => {
    expect(build({ ipFamilies: families ? families.split(',') : [] }).ipFamilies).toBe(expected);
  });

  const zone: LoadBalancing = { routingPreference: [S.NETWORK, S.REGION, S.ZONE], mode: LoadBalancingMode.FAILOVER, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
  const sameNode: LoadBalancing = {
    routingPreference: [S.NETWORK, S.REGION, S.ZONE, S.SUBZONE, S.NODE],
    mode: LoadBalancingMode.FAILOVER,
    healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY,
  };
  const local: LoadBalancing = { routingPreference: [S.NODE], mode: LoadBalancingMode.STRICT, healthPolicy: LoadBalancingHealthPolicy.ONLY_HEALTHY };
  const annotated = (v: string) => ({ 'networking.istio.io/traffic-distribution': v });
  it.each<[string, ServiceFixture, Record<string, string> | undefined, LoadBalancing | undefined]>([
    ['none', {}, undefined, undefined],
    ['internalTrafficPolicy Local', { internalTrafficPolicy: 'Local' }, undefined, local],
    ['internalTrafficPolicy Cluster', { internalTrafficPolicy: 'Cluster' }, undefined, undefined],
    ['Local wins over trafficDistribution', { internalTrafficPolicy: 'Local', trafficDistribution: 'PreferClose' }, undefined, local],
    ['PreferClose', { trafficDistribution: 'PreferClose' }, undefined, zone],
    ['PreferSameZone', { trafficDistribution: 'PreferSameZone' }, undefined, zone],
    ['PreferSameNode', { trafficDistribution: 'PreferSameNode' }, undefined, sameNode],
    ['Service annotation', { annotations: annotated('preferclose') }, undefined, zone],
    ['Service annotation PreferSameNode', { annotations: annotated('PreferSameNode') }, undefined, sameNode],
    ['namespace annotation', {}, annotated('PreferClose'), zone],
    ['spec wins over annotations', { trafficDistribution: 'PreferSameNode', annotations: annotated('PreferClose') }, undefined, sameNode],
    ['an unknown Service annotation stops inheritance', { annotations: annotated('Anywhere') }, annotated('PreferClose'), undefined],
    [
      'publishNotReadyAddresses alone',
      { publishNotReadyAddresses: true },
      undefined,
      { routingPreference: [], mode: LoadBalancingMode.UNSPECIFIED_MODE, healthPolicy: LoadBalancingHealthPolicy.ALLOW_ALL },
    ],
    ['publishNotReadyAddresses with PreferClose', { publishNotReadyAddresses: true, trafficDistribution: 'PreferClose' }, undefined, { ...zone, healthPolicy: LoadBalancingHealthPolicy.ALLOW_ALL }],
  ])('load balancing: %s', (_name, f, nsAnnotations, expected) => {
    const s = build(f, { namespace: namespace('default', {}, nsAnnotations) });
    expect(s.loadBalancing).toEqual(expected);
    expect(wireService(s).loadBalancing).toEqual(expected);
  });

  it('does not share load-balancing objects between Services', () => {
    const a = build({ trafficDistribution: 'PreferClose', publishNotReadyAddresses: true });
    const b = build({ trafficDistribution: 'PreferClose' });
    expect(a.loadBalancing?.healthPolicy).toBe(LoadBalancingHealthPolicy.ALLOW_ALL);
    expect(b.loadBalancing?.healthPolicy).toBe(LoadBalancingHealthPolicy.ONLY_HEALTHY);
  });
});

describe('appProtocolOf', () => {
  it.each<[string, { name?: string; appProtocol?: string; port?: number; protocol?: string }, AppProtocol]>([
    ['http name', { name: 'http' }, AppProtocol.HTTP11],
    ['http- prefix', { name: 'http-web' }, AppProtocol.HTTP11],
    ['case-insensitive', { name: 'HTTP2-api' }, AppProtocol.HTTP2],
    ['grpc', { name: 'grpc' }, AppProtocol.GRPC],
    ['grpc-web', { name: 'grpc-web' }, AppProtocol.UNKNOWN],
    ['https', { name: 'https-admin' }, AppProtocol.TLS],
    ['tls', { name: 'tls' }, AppProtocol.TLS],
    ['tcp', { name: 'tcp-db' }, AppProtocol.TCP],
    ['mongo', { name: 'mongo' }, AppProtocol.UNKNOWN],
    ['unnamed', {}, AppProtocol.UNKNOWN],
    ['unnamed well-known port', { port: 3306 }, AppProtocol.TCP],
    ['appProtocol wins over name', { name: 'tcp', appProtocol: 'http' }, AppProtocol.HTTP11],
    ['kubernetes.io/h2c', { appProtocol: 'kubernetes.io/h2c' }, AppProtocol.HTTP2],
    ['kubernetes.io/ws', { appProtocol: 'kubernetes.io/ws' }, AppProtocol.HTTP11],
    ['kubernetes.io/wss', { appProtocol: 'kubernetes.io/wss' }, AppProtocol.TLS],
    ['UDP', { name: 'http', protocol: 'UDP' }, AppProtocol.UNKNOWN],
  ])('%s', (_name, p, expected) => {
    expect(appProtocolOf({ port: p.port ?? 8000, ...(p.name ? { name: p.name } : {}), ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}), protocol: p.protocol ?? 'TCP' })).toBe(
      expected,
    );
  });
});

describe('serviceSelectsPod', () => {
  it.each<[Record<string, string> | null, Record<string, string>, boolean]>([
    [{ app: 'echo' }, { app: 'echo', version: 'v1' }, true],
    [{ app: 'echo', version: 'v2' }, { app: 'echo', version: 'v1' }, false],
    [{}, { app: 'echo' }, false],
    [null, { app: 'echo' }, false],
  ])('selector %j, labels %j → %s', (selector, labels, expected) => {
    expect(serviceSelectsPod(service({ selector }), labels)).toBe(expected);
  });
});

describe('Service waypoint', () => {
  const hostnameWp: WaypointInfo = { hostname: 'waypoint.default.svc.cluster.local' };
  const byHostname: GatewayAddress = {
    destination: { $case: 'hostname', hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' } },
    hboneMtlsPort: 15008,
  };
  const lookup = lookupOf({
    'default/waypoint': hostnameWp,
    'default/ip-only': { address: '10.96.5.5' },
    'default/both': { hostname: 'both.default.svc.cluster.local', address: '10.96.5.6' },
    'default/for-workloads': { hostname: 'w.default.svc.cluster.local', trafficType: 'workload' },
    'default/for-all': { hostname: 'a.default.svc.cluster.local', trafficType: 'all' },
    'default/for-none': { hostname: 'n.default.svc.cluster.local', trafficType: 'none' },
    'default/not-ready': {},
    'shared/shared-all': { hostname: 'shared.shared.svc.cluster.local', allowedRoutes: { from: 'All' } },
    'shared/shared-same': { hostname: 'same.shared.svc.cluster.local' },
    'shared/shared-selected': { hostname: 'sel.shared.svc.cluster.local', allowedRoutes: { from: 'Selector', selector: { matchLabels: { mesh: 'yes' } } } },
  });
  const wp = (labels: Record<string, string>, nsLabels: Record<string, string> = {}) =>
    build({ labels }, { namespace: namespace('default', nsLabels), waypoints: lookup }).waypoint;

  it('binds by the Service label, by hostname', () => {
    expect(wp({ 'istio.io/use-waypoint': 'waypoint' })).toEqual(byHostname);
  });

  it('binds by the namespace label', () => {
    expect(wp({}, { 'istio.io/use-waypoint': 'waypoint' })).toEqual(byHostname);
  });

  it('`none` on the Service opts out of the namespace waypoint', () => {
    expect(wp({ 'istio.io/use-waypoint': 'none' }, { 'istio.io/use-waypoint': 'waypoint' })).toBeUndefined();
  });

  it('a Service label naming an unknown waypoint does not fall back to the namespace one', () => {
    expect(wp({ 'istio.io/use-waypoint': 'missing' }, { 'istio.io/use-waypoint': 'waypoint' })).toBeUndefined();
  });

  it('falls back to the IP address', () => {
    expect(wp({ 'istio.io/use-waypoint': 'ip-only' })).toEqual({
      destination: { $case: 'address', address: { network: '', address: ip4(10, 96, 5, 5) } },
      hboneMtlsPort: 15008,
    });
  });

  it('prefers the hostname over the IP', () => {
    expect(wp({ 'istio.io/use-waypoint': 'both' })?.destination?.$case).toBe('hostname');
  });

  it.each([
    ['for-workloads', false],
    ['for-all', true],
    ['for-none', false],
    ['not-ready', false],
  ])('traffic type / readiness of %s → bound %s', (name, bound) => {
    expect(wp({ 'istio.io/use-waypoint': name }) !== undefined).toBe(bound);
  });

  it.each([
    ['shared-all', {}, true],
    ['shared-same', {}, false],
    ['shared-selected', {}, false],
    ['shared-selected', { mesh: 'yes' }, true],
  ])('cross-namespace waypoint %s (namespace labels %j) → bound %s', (name, nsLabels, bound) => {
    const got = wp({ 'istio.io/use-waypoint': name, 'istio.io/use-waypoint-namespace': 'shared' }, nsLabels);
    expect(got !== undefined).toBe(bound);
  });

  it('a cross-namespace waypoint from the namespace labels', () => {
    expect(wp({}, { 'istio.io/use-waypoint': 'shared-all', 'istio.io/use-waypoint-namespace': 'shared' })).toEqual({
      destination: { $case: 'hostname', hostname: { namespace: 'shared', hostname: 'shared.shared.svc.cluster.local' } },
      hboneMtlsPort: 15008,
    });
  });

  it.each(['istio.io-mesh-controller', 'istio.io-eastwest-controller'])('a Service managed by %s never gets a waypoint', (controller) => {
    expect(wp({ 'gateway.istio.io/managed': controller }, { 'istio.io/use-waypoint': 'waypoint' })).toBeUndefined();
  });

  it.each<[Record<string, string>, Record<string, string>, boolean]>([
    [{ 'istio.io/ingress-use-waypoint': 'true' }, {}, true],
    [{}, { 'istio.io/ingress-use-waypoint': 'true' }, true],
    [{ 'istio.io/ingress-use-waypoint': 'false' }, { 'istio.io/ingress-use-waypoint': 'true' }, false],
    [{ 'istio.io/ingress-use-waypoint': 'yes' }, {}, false],
  ])('ingress_use_waypoint: service %j, namespace %j → %s', (svcLabels, nsLabels, expected) => {
    const s = build({ labels: { 'istio.io/use-waypoint': 'waypoint', ...svcLabels } }, { namespace: namespace('default', nsLabels), waypoints: lookup });
    expect(s.ingressUseWaypoint).toBe(expected);
    expect(wireService(s).ingressUseWaypoint).toBe(expected);
  });

  it('ingress_use_waypoint needs a bound waypoint', () => {
    expect(build({ labels: { 'istio.io/ingress-use-waypoint': 'true' } }, { waypoints: lookup }).ingressUseWaypoint).toBe(false);
  });

  it('survives the wire', () => {
    const s = build({ labels: { 'istio.io/use-waypoint': 'waypoint' } }, { waypoints: lookup });
    expect(wireService(s).waypoint).toEqual(byHostname);
  });
});
