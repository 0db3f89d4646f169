// Waypoint Gateways in the snapshot → the waypoint ztunnel is told about (fact sheet §4.6, §6):
// the whole chain from Gateway objects through the binding rules to the wire Address resources.
import { describe, expect, it } from 'vitest';
import { ADDRESS_TYPE_URL, addressCodec, unpackAny, type GatewayAddress, type Service, type Workload } from '../../../lib/proto/index.ts';
import type { Gateway, GatewayClass } from './gateway-types.ts';
import { modelOptions } from './options.ts';
import { buildResourceSet, type ModelSnapshot } from './resources.ts';
import { namespace, pod, service } from './test-fixtures.ts';
import { waypointAllowedRoutes, waypointInfoFromGateway, waypointLookupFromGateways, waypointTrafficType } from './waypoint-gateways.ts';

const options = modelOptions();

function gateway(name: string, ns = 'default', o: { labels?: Record<string, string>; programmed?: boolean; ipOnly?: boolean; className?: string; from?: string; deleting?: boolean } = {}): Gateway {
  const programmed = o.programmed ?? true;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace: ns, uid: `uid-${name}`, labels: o.labels ?? {}, ...(o.deleting ? { deletionTimestamp: new Date('2026-01-01T00:00:00Z') } : {}) },
    spec: {
      gatewayClassName: o.className ?? 'istio-waypoint',
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE', ...(o.from ? { allowedRoutes: { namespaces: { from: o.from } } } : {}) }],
    },
    ...(programmed
      ? { status: { addresses: [{ type: 'IPAddress', value: '10.96.5.5' }, ...(o.ipOnly ? [] : [{ type: 'Hostname', value: `${name}.${ns}.svc.cluster.local` }])] } }
      : {}),
  };
}

const byHost = (name: string, ns = 'default'): GatewayAddress => ({
  destination: { $case: 'hostname', hostname: { namespace: ns, hostname: `${name}.${ns}.svc.cluster.local` } },
  hboneMtlsPort: 15008,
});

/** The waypoint's own Service and pod, as the deployer renders them. */
const waypointService = (name: string, ns = 'default') =>
  service({
    name,
    namespace: ns,
    clusterIP: '10.96.5.5',
    labels: { 'gateway.networking.k8s.io/gateway-name': name, 'gateway.istio.io/managed': 'istio.io-mesh-controller' },
    selector: { 'gateway.networking.k8s.io/gateway-name': name },
    ports: [{ name: 'status-port', port: 15021, protocol: 'TCP' }, { name: 'mesh', port: 15008, protocol: 'TCP' }],
  });
const waypointPod = (name: string, ns = 'default') =>
  pod({ name: `${name}-abc`, namespace: ns, ips: ['10.244.1.50'], serviceAccount: name, labels: { 'gateway.networking.k8s.io/gateway-name': name, 'istio.io/dataplane-mode': 'none' } });

function build(s: Partial<ModelSnapshot>): { services: Map<string, Service>; workloads: Map<string, Workload> } {
  const snap: ModelSnapshot = { pods: [], services: [], namespaces: [namespace('default')], ...s };
  const set = buildResourceSet(snap, options).resources.get(ADDRESS_TYPE_URL)!;
  const services = new Map<string, Service>();
  const workloads = new Map<string, Workload>();
  for (const [name, e] of set) {
    const r = unpackAny(addressCodec, e.resource);
    if (!r.ok) throw r.error;
    if (r.value.type?.$case === 'service') services.set(name, r.value.type.service);
    if (r.value.type?.$case === 'workload') workloads.set(name, r.value.type.workload);
  }
  return { services, workloads };
}

const svcWaypoint = (b: ReturnType<typeof build>, name = 'echo', ns = 'default') => b.services.get(`${ns}/${name}.${ns}.svc.cluster.local`)?.waypoint;
const podWaypoint = (b: ReturnType<typeof build>, name: string, ns = 'default') => b.workloads.get(`Kubernetes//Pod/${ns}/${name}`)?.waypoint;

describe('waypoint binding from Gateways', () => {
  it('a namespace labelled istio.io/use-waypoint sends its Services to the waypoint by hostname', () => {
    const b = build({ namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })], services: [service()], gateways: [gateway('waypoint')] });
    expect(svcWaypoint(b)).toEqual(byHost('waypoint'));
  });

  it('the Service label overrides the namespace label', () => {
    const b = build({
      namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
      services: [service({ labels: { 'istio.io/use-waypoint': 'special' } }), service({ name: 'other', clusterIP: '10.96.0.11' })],
      gateways: [gateway('waypoint'), gateway('special')],
    });
    expect(svcWaypoint(b)).toEqual(byHost('special'));
    expect(svcWaypoint(b, 'other')).toEqual(byHost('waypoint'));
  });

  it('`none` on the Service opts out of the namespace waypoint', () => {
    const b = build({
      namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
      services: [service({ labels: { 'istio.io/use-waypoint': 'none' } })],
      gateways: [gateway('waypoint')],
    });
    expect(svcWaypoint(b)).toBeUndefined();
  });

  it.each<[string | undefined, boolean, boolean]>([
    [undefined, true, false],
    ['service', true, false],
    ['workload', false, true],
    ['all', true, true],
    ['none', false, false],
    ['bogus', false, false],
  ])('istio.io/waypoint-for=%s → Service bound %s, pod bound %s', (forLabel, serviceBound, podBound) => {
    const b = build({
      namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
      services: [service()],
      pods: [pod({ name: 'echo-1', labels: { app: 'echo' } })],
      gateways: [gateway('waypoint', 'default', forLabel === undefined ? {} : { labels: { 'istio.io/waypoint-for': forLabel } })],
    });
    expect(svcWaypoint(b) !== undefined).toBe(serviceBound);
    expect(podWaypoint(b, 'echo-1')).toEqual(podBound ? byHost('waypoint') : undefined);
  });

  it('the Gateway label wins over the GatewayClass label; the class label applies when the Gateway has none', () => {
    const cls: GatewayClass = { metadata: { name: 'istio-waypoint', labels: { 'istio.io/waypoint-for': 'workload' } }, spec: { controllerName: 'istio.io/mesh-controller' } };
    const snap = (gwLabels: Record<string, string>) => ({
      namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
      services: [service()],
      pods: [pod({ name: 'echo-1', labels: { app: 'echo' } })],
      gateways: [gateway('waypoint', 'default', { labels: gwLabels })],
      gatewayClasses: [cls],
    });
    const fromClass = build(snap({}));
    expect([svcWaypoint(fromClass), podWaypoint(fromClass, 'echo-1')]).toEqual([undefined, byHost('waypoint')]);
    const fromGateway = build(snap({ 'istio.io/waypoint-for': 'service' }));
    expect([svcWaypoint(fromGateway), podWaypoint(fromGateway, 'echo-1')]).toEqual([byHost('waypoint'), undefined]);
  });

  it('a Gateway that is not programmed yet (no status addresses) binds nothing', () => {
    const b = build({ namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })], services: [service()], gateways: [gateway('waypoint', 'default', { programmed: false })] });
    expect(svcWaypoint(b)).toBeUndefined();
  });

  it('an IP-only status address is sent as an address', () => {
    const b = build({ namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })], services: [service()], gateways: [gateway('waypoint', 'default', { ipOnly: true })] });
    expect(svcWaypoint(b)).toEqual({ destination: { $case: 'address', address: { network: '', address: Buffer.from([10, 96, 5, 5]) } }, hboneMtlsPort: 15008 });
  });

  it('the waypoint\'s own Service and pods never get a waypoint, even in a namespace using it for everything', () => {
    const b = build({
      namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })],
      services: [service(), waypointService('waypoint')],
      pods: [waypointPod('waypoint')],
      gateways: [gateway('waypoint', 'default', { labels: { 'istio.io/waypoint-for': 'all' } })],
    });
    expect(svcWaypoint(b)).toEqual(byHost('waypoint'));
    expect(svcWaypoint(b, 'waypoint')).toBeUndefined();
    expect(podWaypoint(b, 'waypoint-abc')).toBeUndefined();
    // The waypoint pod is the endpoint ztunnel resolves the hostname through, with its own identity.
    const wp = b.workloads.get('Kubernetes//Pod/default/waypoint-abc')!;
    expect(Object.keys(wp.services)).toEqual(['default/waypoint.default.svc.cluster.local']);
    expect(wp.serviceAccount).toBe('waypoint');
  });

  it.each<[string | undefined, boolean]>([
    [undefined, false],
    ['Same', false],
    ['All', true],
  ])('a waypoint in another namespace with allowedRoutes from=%s → bound %s', (from, bound) => {
    const b = build({
      namespaces: [namespace('default'), namespace('shared')],
      services: [service({ labels: { 'istio.io/use-waypoint': 'waypoint', 'istio.io/use-waypoint-namespace': 'shared' } })],
      gateways: [gateway('waypoint', 'shared', from ? { from } : {})],
    });
    expect(svcWaypoint(b)).toEqual(bound ? byHost('waypoint', 'shared') : undefined);
  });

  it('Gateways of other classes and Gateways being deleted are not waypoints', () => {
    for (const gw of [gateway('waypoint', 'default', { className: 'istio' }), gateway('waypoint', 'default', { deleting: true })]) {
      const b = build({ namespaces: [namespace('default', { 'istio.io/use-waypoint': 'waypoint' })], services: [service()], gateways: [gw] });
      expect(svcWaypoint(b)).toBeUndefined();
    }
  });
});

describe('waypointInfoFromGateway', () => {
  it('takes the Hostname and the IPAddress from the status, defaults, and allowedRoutes of the HBONE listener', () => {
    expect(waypointInfoFromGateway(gateway('waypoint'))).toEqual({ hostname: 'waypoint.default.svc.cluster.local', address: '10.96.5.5', trafficType: 'service', allowedRoutes: { from: 'Same' } });
    expect(waypointInfoFromGateway(gateway('waypoint', 'default', { programmed: false }))).toEqual({ trafficType: 'service', allowedRoutes: { from: 'Same' } });
  });

  it('Selector allowedRoutes carry the selector; Selector without one is Same', () => {
    const gw = gateway('waypoint');
    gw.spec!.listeners![0]!.allowedRoutes = { namespaces: { from: 'Selector', selector: { matchLabels: { team: 'a' } } } };
    expect(waypointAllowedRoutes(gw)).toEqual({ from: 'Selector', selector: { matchLabels: { team: 'a' } } });
    gw.spec!.listeners![0]!.allowedRoutes = { namespaces: { from: 'Selector' } };
    expect(waypointAllowedRoutes(gw)).toEqual({ from: 'Same' });
  });

  it('looks Gateways up by namespace/name', () => {
    const lookup = waypointLookupFromGateways([gateway('a', 'ns1'), gateway('b', 'ns2', { className: 'other' })]);
    expect(lookup('ns1', 'a')?.hostname).toBe('a.ns1.svc.cluster.local');
    expect(lookup('ns2', 'b')).toBeUndefined();
    expect(lookup('ns1', 'b')).toBeUndefined();
  });

  it('waypoint-for: Gateway, else class, else service', () => {
    const cls: GatewayClass = { metadata: { name: 'istio-waypoint', labels: { 'istio.io/waypoint-for': 'all' } } };
    expect(waypointTrafficType(gateway('w'), undefined)).toBe('service');
    expect(waypointTrafficType(gateway('w'), cls)).toBe('all');
    expect(waypointTrafficType(gateway('w', 'default', { labels: { 'istio.io/waypoint-for': 'workload' } }), cls)).toBe('workload');
  });
});
