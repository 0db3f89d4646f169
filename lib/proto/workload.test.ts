// istio.workload on the wire: field numbers checked against hand-written bytes, full round trips of
// a workload and a service, and rejection of enum values ztunnel would NACK.
import { describe, expect, it } from 'vitest';
import {
  addressCodec,
  AppProtocol,
  ApplicationTunnelProtocol,
  IPFamilies,
  LoadBalancingHealthPolicy,
  LoadBalancingMode,
  LoadBalancingScope,
  NetworkMode,
  ServiceVisibility,
  TunnelProtocol,
  workloadCodec,
  WorkloadStatus,
  WorkloadType,
  type Address,
  type Service,
  type Workload,
} from './index.ts';
import { cat, hex, lenField, packed, varintField } from './test-wire.ts';

const ip = (...b: number[]): Buffer => Buffer.from(b);

function decoded<T>(r: { ok: true; value: T } | { ok: false; error: Error }): T {
  if (!r.ok) throw r.error;
  return r.value;
}

const fullWorkload: Workload = {
  uid: 'Kubernetes//Pod/default/echo-1',
  name: 'echo-1',
  namespace: 'default',
  addresses: [ip(10, 244, 1, 5), ip(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5)],
  hostname: '',
  network: 'net1',
  tunnelProtocol: TunnelProtocol.HBONE,
  trustDomain: 'example.org',
  serviceAccount: 'echo',
  waypoint: { destination: { $case: 'hostname', hostname: { namespace: 'default', hostname: 'waypoint.default.svc.cluster.local' } }, hboneMtlsPort: 15008 },
  networkGateway: { destination: { $case: 'address', address: { network: 'net2', address: ip(172, 18, 0, 9) } }, hboneMtlsPort: 15008 },
  node: 'node1',
  canonicalName: 'echo',
  canonicalRevision: 'v1',
  workloadType: WorkloadType.POD,
  workloadName: 'echo',
  nativeTunnel: true,
  applicationTunnel: { protocol: ApplicationTunnelProtocol.PROXY, port: 15088 },
  services: {
    'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP11 }] },
    'default/other.default.svc.cluster.local': { ports: [{ servicePort: 9000, targetPort: 0, appProtocol: AppProtocol.UNKNOWN }] },
  },
  authorizationPolicies: ['default/allow-echo'],
  status: WorkloadStatus.UNHEALTHY,
  clusterId: 'Kubernetes',
  locality: { region: 'r1', zone: 'z1', subzone: 's1' },
  networkMode: NetworkMode.HOST_NETWORK,
  extensions: [{ name: 'ext', config: { typeUrl: 'type.googleapis.com/google.protobuf.Empty', value: Buffer.alloc(0) } }],
  capacity: 3,
};

const fullService: Service = {
  name: 'echo',
  namespace: 'default',
  hostname: 'echo.default.svc.cluster.local',
  addresses: [{ network: '', address: ip(10, 96, 0, 10) }, { network: 'net1', address: ip(10, 0, 0, 0), length: 8 }],
  ports: [{ servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.HTTP2 }],
  subjectAltNames: ['spiffe://cluster.local/ns/default/sa/echo'],
  waypoint: { destination: { $case: 'address', address: { network: '', address: ip(10, 244, 1, 9) } }, hboneMtlsPort: 15008 },
  loadBalancing: {
    routingPreference: [LoadBalancingScope.NETWORK, LoadBalancingScope.REGION, LoadBalancingScope.ZONE],
    mode: LoadBalancingMode.FAILOVER,
    healthPolicy: LoadBalancingHealthPolicy.ALLOW_ALL,
  },
  ipFamilies: IPFamilies.DUAL,
  extensions: [],
  canonical: true,
  ingressUseWaypoint: true,
  weightedWaypoints: [{ destination: { destination: { $case: 'hostname', hostname: { namespace: 'ns', hostname: 'wp' } }, hboneMtlsPort: 15008 }, weight: 30 }],
  visibility: ServiceVisibility.NAMESPACE,
};

describe('istio.workload round trips', () => {
  it('an Address holding a fully populated Workload', () => {
    const a: Address = { type: { $case: 'workload', workload: fullWorkload } };
    expect(decoded(addressCodec.decode(addressCodec.encode(a)))).toEqual(a);
  });

  it('an Address holding a fully populated Service', () => {
    const a: Address = { type: { $case: 'service', service: fullService } };
    expect(decoded(addressCodec.decode(addressCodec.encode(a)))).toEqual(a);
  });

  it('fills proto3 defaults for absent fields and leaves messages undefined', () => {
    const w = decoded(workloadCodec.decode(lenField(20, 'u')));
    expect(w).toMatchObject({ uid: 'u', name: '', addresses: [], services: {}, tunnelProtocol: 0, nativeTunnel: false });
    expect(w.waypoint).toBeUndefined();
    expect(w.capacity).toBeUndefined();
  });

  it('an empty Address decodes with no type set', () => {
    expect(decoded(addressCodec.decode(Buffer.alloc(0)))).toEqual({});
  });
});

describe('istio.workload field numbers on the wire', () => {
  it('Workload.uid is field 20, name 1, node 9, addresses 3 (repeated bytes)', () => {
    const bytes = cat(lenField(20, 'Kubernetes//Pod/ns/p'), lenField(1, 'p'), lenField(9, 'node7'), lenField(3, ip(10, 0, 0, 1)), lenField(3, ip(10, 0, 0, 2)));
    expect(hex(lenField(20, 'x')).slice(0, 4)).toBe('a201'); // tag (20 << 3 | 2) as a two-byte varint
    const w = decoded(workloadCodec.decode(bytes));
    expect(w.uid).toBe('Kubernetes//Pod/ns/p');
    expect(w.name).toBe('p');
    expect(w.node).toBe('node7');
    expect(w.addresses.map((a) => [...a])).toEqual([[10, 0, 0, 1], [10, 0, 0, 2]]);
  });

  it('encodes uid with tag a201 and node with tag 4a', () => {
    expect(hex(workloadCodec.encode({ uid: 'ab' }))).toBe('a2010261' + '62');
    expect(hex(workloadCodec.encode({ node: 'n' }))).toBe('4a016e');
  });

  it('Workload.services is map field 22 of PortList (ports 1: service_port 1, target_port 2)', () => {
    const port = cat(varintField(1, 80), varintField(2, 8080));
    const portList = lenField(1, port);
    const entry = cat(lenField(1, 'ns/svc.ns.svc.cluster.local'), lenField(2, portList));
    const w = decoded(workloadCodec.decode(lenField(22, entry)));
    expect(w.services).toEqual({ 'ns/svc.ns.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 0 }] } });
    // And our encoder writes the same bytes.
    expect(hex(workloadCodec.encode({ services: { 'ns/svc.ns.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080 }] } } }))).toBe(hex(lenField(22, entry)));
  });

  it('Address oneof: workload is 1, service is 2', () => {
    const asWorkload = decoded(addressCodec.decode(lenField(1, lenField(20, 'w'))));
    expect(asWorkload.type).toMatchObject({ $case: 'workload', workload: { uid: 'w' } });
    const asService = decoded(addressCodec.decode(lenField(2, lenField(3, 'h.ns.svc'))));
    expect(asService.type).toMatchObject({ $case: 'service', service: { hostname: 'h.ns.svc' } });
  });

  it('tunnel_protocol 5, status 17, workload_type 12, network_mode 25 as varints', () => {
    const w = decoded(workloadCodec.decode(cat(varintField(5, 1), varintField(17, 1), varintField(12, 2), varintField(25, 1))));
    expect([w.tunnelProtocol, w.status, w.workloadType, w.networkMode]).toEqual([TunnelProtocol.HBONE, WorkloadStatus.UNHEALTHY, WorkloadType.POD, NetworkMode.HOST_NETWORK]);
  });

  it('GatewayAddress: hostname 1 (NamespacedHostname), address 2 (NetworkAddress network 1, address 2), hbone_mtls_port 3', () => {
    const gw = cat(lenField(2, cat(lenField(1, 'net'), lenField(2, ip(1, 2, 3, 4)))), varintField(3, 15008));
    const w = decoded(workloadCodec.decode(lenField(8, gw)));
    expect(w.waypoint).toEqual({ destination: { $case: 'address', address: { network: 'net', address: ip(1, 2, 3, 4) } }, hboneMtlsPort: 15008 });
  });

  it('NetworkAddress.length (3) is proto3 optional: 0 is kept distinct from absent', () => {
    const withZero = cat(lenField(2, ip(0, 0, 0, 0)), varintField(3, 0));
    const svc = (addr: Uint8Array) => decoded(addressCodec.decode(lenField(2, lenField(4, addr))));
    const s0 = svc(withZero).type;
    const sAbsent = svc(lenField(2, ip(10, 0, 0, 1))).type;
    expect(s0?.$case === 'service' && s0.service.addresses[0]?.length).toBe(0);
    expect(sAbsent?.$case === 'service' && sAbsent.service.addresses[0]).not.toHaveProperty('length');
    // Encoding keeps the explicit zero.
    expect(hex(addressCodec.encode({ type: { $case: 'service', service: { addresses: [{ address: ip(0, 0, 0, 0), length: 0 }] } } }))).toBe(hex(lenField(2, lenField(4, withZero))));
  });

  it('LoadBalancing.routing_preference is a packed repeated enum', () => {
    const lb = cat(lenField(1, packed([6, 1, 2])), varintField(2, 2));
    const s = decoded(addressCodec.decode(lenField(2, lenField(8, lb))));
    expect(s.type?.$case === 'service' && s.type.service.loadBalancing).toEqual({ routingPreference: [6, 1, 2], mode: 2, healthPolicy: 0 });
  });

  it('Workload.capacity (27) is a UInt32Value wrapper: present with 0 differs from absent', () => {
    expect(hex(workloadCodec.encode({ capacity: 0 }))).toBe('da0100');
    expect(decoded(workloadCodec.decode(Buffer.from('da0100', 'hex'))).capacity).toBe(0);
    expect(decoded(workloadCodec.decode(Buffer.alloc(0))).capacity).toBeUndefined();
  });
});

describe('istio.workload enum strictness', () => {
  it('reports an unknown TunnelProtocol with its path', () => {
    const r = addressCodec.decode(lenField(1, cat(lenField(20, 'w'), varintField(5, 7))));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('UNKNOWN_ENUM');
    expect(r.error.issues).toEqual(['workload.tunnelProtocol: unknown enum value 7 for TunnelProtocol']);
  });

  it('reports unknown values inside repeated enums and map values', () => {
    const lb = lenField(1, packed([1, 42]));
    const r = addressCodec.decode(lenField(2, lenField(8, lb)));
    expect(!r.ok && r.error.issues).toEqual(['service.loadBalancing.routingPreference[1]: unknown enum value 42 for Scope']);
    const entry = cat(lenField(1, 'ns/h'), lenField(2, lenField(1, varintField(3, 99))));
    const r2 = workloadCodec.decode(lenField(22, entry));
    expect(!r2.ok && r2.error.issues).toEqual(['services["ns/h"].ports[0].appProtocol: unknown enum value 99 for AppProtocol']);
  });

  it("keeps unknown values when asked to ('keep')", () => {
    const r = workloadCodec.decode(varintField(5, 7), { unknownEnums: 'keep' });
    expect(r.ok && r.value.tunnelProtocol).toBe(7);
  });

  it('accepts LEGACY_ISTIO_MTLS as a known value (policy about sending it lives above this layer)', () => {
    expect(workloadCodec.decode(varintField(5, 2)).ok).toBe(true);
  });
});
