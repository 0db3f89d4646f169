// The incremental model against the full build: random sequences of adds, updates and deletes of
// every kind the model reads, and after each step the incremental set equals buildResourceSet of the
// same objects (names, versions, bytes, aliases, diagnostics). Plus the cost of one change at scale.
import type { V1EndpointSlice, V1Namespace, V1Node, V1Pod, V1Service } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL } from '../../../lib/proto/index.ts';
import type { Gateway, GatewayClass } from './gateway-types.ts';
import { IncrementalModel, modelObjectKey, type ModelChange, type ModelObjectKind, type ModelObjects } from './incremental.ts';
import type { AuthorizationPolicy, MtlsMode, PeerAuthentication } from './istio-types.ts';
import { modelOptions } from './options.ts';
import { buildResourceSet, type ModelSnapshot, type ResourceSet } from './resources.ts';
import { authzPolicy, endpointSlice, namespace, node, peerAuth, pod, service } from './test-fixtures.ts';

const options = modelOptions();
const ROOT = options.rootNamespace;
const NAMESPACES = ['a', 'b', ROOT];

const pick = <T,>(...xs: T[]) => fc.constantFrom(...xs);
const maybe = <T,>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const waypointLabels = fc.record(
  {
    'istio.io/use-waypoint': pick('wp', 'wp2', 'none'),
    'istio.io/use-waypoint-namespace': pick('a', 'b'),
  },
  { requiredKeys: [] },
);

const namespaceArb: fc.Arbitrary<V1Namespace> = fc
  .record({ name: pick(...NAMESPACES), wp: waypointLabels, team: maybe(pick('x', 'y')), dist: maybe(pick('PreferClose', 'PreferSameNode')) })
  .map((r) => namespace(r.name, { ...r.wp, ...(r.team ? { team: r.team } : {}) }, r.dist ? { 'networking.istio.io/traffic-distribution': r.dist } : undefined));

const nodeArb: fc.Arbitrary<V1Node> = fc
  .record({ name: pick('n1', 'n2'), zone: maybe(pick('z1', 'z2')) })
  .map((r) => node(r.name, r.zone ? { 'topology.kubernetes.io/zone': r.zone } : {}));

const podLabels = fc
  .record({ app: maybe(pick('x', 'y')), version: maybe(pick('v1', 'v2')), gw: maybe(pick('wp', 'wp2')), wp: waypointLabels })
  .map((r) => ({
    ...(r.app ? { app: r.app } : {}),
    ...(r.version ? { version: r.version } : {}),
    ...(r.gw ? { 'gateway.networking.k8s.io/gateway-name': r.gw } : {}),
    ...r.wp,
  }));

const podArb: fc.Arbitrary<V1Pod> = fc
  .record({
    ns: pick(...NAMESPACES),
    name: pick('p0', 'p1', 'p2', 'p3'),
    labels: podLabels,
    ip: pick<string[] | undefined>(['10.244.0.1'], ['10.244.0.2', 'fd00::2'], [], ['bogus']),
    node: pick('n1', 'n2', 'n3'),
    ready: fc.boolean(),
    phase: pick('Running', 'Running', 'Succeeded'),
    redirected: fc.boolean(),
    namedPort: maybe(pick('http', 'grpc')),
  })
  .map((r) =>
    pod({
      namespace: r.ns,
      name: r.name,
      labels: r.labels,
      ips: r.ip ?? [],
      node: r.node,
      ready: r.ready,
      phase: r.phase,
      ...(r.redirected ? { annotations: { 'ambient.istio.io/redirection': 'enabled' } } : {}),
      containers: [{ name: 'app', ports: r.namedPort ? [{ name: r.namedPort, containerPort: 9090, protocol: 'TCP' }] : [] }],
    }),
  );

const serviceArb: fc.Arbitrary<V1Service> = fc
  .record({
    ns: pick(...NAMESPACES),
    name: pick('s0', 's1', 's2'),
    // Mostly the same selector, so updates that change only other fields are common.
    selector: pick<Record<string, string> | null>({ app: 'x' }, { app: 'x' }, { app: 'x' }, { app: 'y' }, { app: 'x', version: 'v1' }, {}, null),
    clusterIP: pick('10.96.0.1', '10.96.0.1', '10.96.0.2', 'None', 'not-an-ip'),
    type: maybe(pick('ExternalName', 'ClusterIP')),
    targetPort: pick<number | string>(8080, 9090, 'http', 'missing'),
    port: pick(80, 81),
    wp: waypointLabels,
    itp: maybe(pick('Local')),
  })
  .map((r) =>
    service({
      namespace: r.ns,
      name: r.name,
      selector: r.selector,
      clusterIP: r.clusterIP,
      ...(r.type ? { type: r.type } : {}),
      ports: [{ name: 'http', port: r.port, targetPort: r.targetPort as never, protocol: 'TCP' }],
      labels: r.wp,
      ...(r.itp ? { internalTrafficPolicy: r.itp } : {}),
    }),
  );

const sliceArb: fc.Arbitrary<V1EndpointSlice> = fc
  .record({
    ns: pick(...NAMESPACES),
    svc: pick('s0', 's1', 's2'),
    suffix: pick('e0', 'e1'),
    refs: fc.subarray(['p0', 'p1', 'p2', 'p3']),
    wrongUid: fc.boolean(),
    fqdn: fc.boolean(),
  })
  .map((r) => {
    const s = endpointSlice(r.ns, r.svc, r.refs.map((n) => ({ name: n, uid: r.wrongUid ? 'other' : `uid-${n}` })));
    s.metadata!.name = `${r.svc}-${r.suffix}`;
    if (r.fqdn) s.addressType = 'FQDN';
    return s;
  });

const apArb: fc.Arbitrary<AuthorizationPolicy> = fc
  .record({
    ns: pick(...NAMESPACES),
    name: pick('ap0', 'ap1', 'converted_peer_authentication_pa0'),
    selector: pick<Record<string, string> | undefined | 'none'>({ app: 'x' }, { version: 'v2' }, {}, undefined, 'none'),
    action: pick('ALLOW', 'DENY', 'AUDIT'),
    port: pick('8080', '90', 'bad'),
    l7: fc.boolean(),
    targetRefs: fc.boolean(),
    dryRun: fc.boolean(),
  })
  .map((r) =>
    authzPolicy(
      r.ns,
      r.name,
      {
        ...(r.selector === 'none' ? {} : { selector: r.selector === undefined ? {} : { matchLabels: r.selector } }),
        ...(r.targetRefs ? { targetRefs: [{ kind: 'Service', name: 's0' }] } : {}),
        action: r.action as never,
        rules: [{ to: [{ operation: { ports: [r.port], ...(r.l7 ? { methods: ['GET'] } : {}) } }] }],
      },
      r.dryRun ? { 'istio.io/dry-run': 'true' } : undefined,
    ),
  );

const mode = pick<MtlsMode | undefined>('STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET', undefined);
const paArb: fc.Arbitrary<PeerAuthentication> = fc
  .record({
    ns: pick(...NAMESPACES),
    name: pick('pa0', 'pa1', 'pa2'),
    selector: maybe(pick<Record<string, string>>({ app: 'x' }, { version: 'v1' })),
    mode,
    portMode: maybe(mode),
    created: pick('2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z'),
  })
  .map((r) =>
    peerAuth(
      r.ns,
      r.name,
      {
        ...(r.selector ? { selector: { matchLabels: r.selector } } : {}),
        ...(r.mode ? { mtls: { mode: r.mode } } : {}),
        ...(r.portMode ? { portLevelMtls: { '8080': { mode: r.portMode } } } : {}),
      },
      r.created,
    ),
  );

const gatewayArb: fc.Arbitrary<Gateway> = fc
  .record({
    ns: pick('a', 'b'),
    name: pick('wp', 'wp2'),
    cls: pick('istio-waypoint', 'istio-waypoint', 'other'),
    address: pick<{ type: string; value: string }[]>([], [{ type: 'Hostname', value: 'wp.a.svc.cluster.local' }], [{ type: 'IPAddress', value: '10.96.9.9' }]),
    waypointFor: maybe(pick('service', 'workload', 'all', 'none', 'bogus')),
    from: maybe(pick('All', 'Same', 'Selector')),
  })
  .map((r) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { namespace: r.ns, name: r.name, ...(r.waypointFor ? { labels: { 'istio.io/waypoint-for': r.waypointFor } } : {}) },
    spec: {
      gatewayClassName: r.cls,
      listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE', ...(r.from ? { allowedRoutes: { namespaces: { from: r.from, ...(r.from === 'Selector' ? { selector: { matchLabels: { team: 'x' } } } : {}) } } } : {}) }],
    },
    status: { addresses: r.address },
  }));

const gatewayClassArb: fc.Arbitrary<GatewayClass> = fc
  .record({ name: pick('istio-waypoint', 'other'), waypointFor: maybe(pick('workload', 'all')) })
  .map((r) => ({ metadata: { name: r.name, ...(r.waypointFor ? { labels: { 'istio.io/waypoint-for': r.waypointFor } } : {}) }, spec: { controllerName: 'istio.io/mesh-controller' } }));

const ARBS: { [K in ModelObjectKind]: fc.Arbitrary<ModelObjects[K]> } = {
  Pod: podArb,
  Service: serviceArb,
  Namespace: namespaceArb,
  Node: nodeArb,
  EndpointSlice: sliceArb,
  AuthorizationPolicy: apArb,
  PeerAuthentication: paArb,
  Gateway: gatewayArb,
  GatewayClass: gatewayClassArb,
};

/** An upsert of a generated object, or the deletion of whatever exists under the same key. */
type Op = { kind: ModelObjectKind; object: ModelObjects[ModelObjectKind]; del: boolean };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  ...(Object.keys(ARBS) as ModelObjectKind[]).map((kind) =>
    fc.record({ kind: fc.constant(kind), object: ARBS[kind] as fc.Arbitrary<ModelObjects[ModelObjectKind]>, del: fc.nat(9).map((n) => n < 3) }),
  ),
);

class Cluster {
  readonly objects = new Map<ModelObjectKind, Map<string, ModelObjects[ModelObjectKind]>>((Object.keys(ARBS) as ModelObjectKind[]).map((k) => [k, new Map()]));

  /** Applies the op; the informer event it makes, if any (deleting something absent makes none). */
  apply(op: Op): ModelChange | undefined {
    const m = this.objects.get(op.kind)!;
    const key = modelObjectKey(op.kind, op.object.metadata);
    if (op.del) {
      const old = m.get(key);
      if (!old) return undefined;
      m.delete(key);
      return { kind: op.kind, object: old, deleted: true } as ModelChange;
    }
    m.set(key, op.object);
    return { kind: op.kind, object: op.object, deleted: false } as ModelChange;
  }

  list<K extends ModelObjectKind>(k: K): ModelObjects[K][] {
    return [...this.objects.get(k)!.values()] as ModelObjects[K][];
  }

  snapshot(): ModelSnapshot {
    return {
      pods: this.list('Pod'),
      services: this.list('Service'),
      namespaces: this.list('Namespace'),
      nodes: this.list('Node'),
      endpointSlices: this.list('EndpointSlice'),
      authorizationPolicies: this.list('AuthorizationPolicy'),
      peerAuthentications: this.list('PeerAuthentication'),
      gateways: this.list('Gateway'),
      gatewayClasses: this.list('GatewayClass'),
    };
  }
}

function flat(set: ResourceSet): Record<string, [string, string, string, string][]> {
  const out: Record<string, [string, string, string, string][]> = {};
  for (const t of [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]) {
    out[t] = [...(set.get(t) ?? new Map())]
      .map(([name, e]): [string, string, string, string] => [name, e.version, Buffer.from(e.resource.value).toString('base64'), e.aliases.join(',')])
      .sort((x, y) => (x[0] < y[0] ? -1 : 1));
  }
  return out;
}

const diagKeys = (ds: { kind: string; namespace: string; name: string; severity: string; message: string }[]) => ds.map((d) => `${d.kind}/${d.namespace}/${d.name}/${d.severity}/${d.message}`).sort();

describe('IncrementalModel', () => {
  it('equals the full build after every step of random add/update/delete sequences', () => {
    fc.assert(
      fc.property(fc.array(fc.array(opArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 60, size: 'max' }), (steps) => {
        const cluster = new Cluster();
        const model = new IncrementalModel(options);
        model.reset(cluster.snapshot());
        for (const step of steps) {
          const events = step.map((op) => cluster.apply(op)).filter((e) => e !== undefined);
          const before = flat(model.resources);
          const u = model.apply(events);
          const expected = buildResourceSet(cluster.snapshot(), options);
          const got = flat(model.resources);
          expect(got).toEqual(flat(expected.resources));
          expect(diagKeys(model.diagnostics())).toEqual(diagKeys(expected.diagnostics));
          // The reported changes are exactly the difference.
          for (const t of [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL]) {
            const was = new Map(before[t]!.map((r) => [r[0], r[1]]));
            const now = new Map(got[t]!.map((r) => [r[0], r[1]]));
            const updated = [...now].filter(([n, v]) => was.get(n) !== v).map(([n]) => n).sort();
            const removed = [...was.keys()].filter((n) => !now.has(n)).sort();
            expect([...(u.changes.get(t)?.updated ?? [])].sort()).toEqual(updated);
            expect([...(u.changes.get(t)?.removed ?? [])].sort()).toEqual(removed);
          }
        }
        // A full rebuild of the same objects changes nothing.
        const r = model.reset(cluster.snapshot());
        expect([...r.changes.values()].every((c) => c.updated.size === 0 && c.removed.size === 0)).toBe(true);
      }),
      { numRuns: 400 },
    );
  }, 60_000);

  it('keeps the entry (and version) of a resource a change does not alter', () => {
    const cluster = new Cluster();
    cluster.apply({ kind: 'Pod', object: pod({ name: 'p0', namespace: 'a', labels: { app: 'x' } }), del: false });
    cluster.apply({ kind: 'Pod', object: pod({ name: 'p1', namespace: 'a', labels: { app: 'y' }, ips: ['10.244.0.9'] }), del: false });
    const model = new IncrementalModel(options);
    model.reset(cluster.snapshot());
    const p1 = model.resources.get(ADDRESS_TYPE_URL)!.get('Kubernetes//Pod/a/p1');
    const e = cluster.apply({ kind: 'Service', object: service({ namespace: 'a', name: 's0', selector: { app: 'x' } }), del: false })!;
    const u = model.apply([e]);
    expect([...u.changes.get(ADDRESS_TYPE_URL)!.updated].sort()).toEqual(['Kubernetes//Pod/a/p0', 'a/s0.a.svc.cluster.local']);
    expect(model.resources.get(ADDRESS_TYPE_URL)!.get('Kubernetes//Pod/a/p1')).toBe(p1);
  });
});

describe('IncrementalModel at 10k pods', () => {
  const PODS = 10_000;
  const NS = 20;
  const cluster = (): ModelSnapshot => {
    const pods: V1Pod[] = [];
    for (let i = 0; i < PODS; i++) {
      const ns = `ns${i % NS}`;
      pods.push(pod({ namespace: ns, name: `p${i}`, labels: { app: `app${i % 50}` }, ips: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`], node: `n${i % 4}` }));
    }
    const services = Array.from({ length: 50 }, (_, j) => service({ namespace: `ns${j % NS}`, name: `svc${j}`, selector: { app: `app${j}` }, clusterIP: `10.96.1.${j}` }));
    const namespaces = Array.from({ length: NS }, (_, j) => namespace(`ns${j}`));
    return {
      pods,
      services,
      namespaces,
      nodes: Array.from({ length: 4 }, (_, j) => node(`n${j}`, { 'topology.kubernetes.io/zone': `z${j}` })),
      authorizationPolicies: [authzPolicy('ns1', 'allow-app1', { selector: { matchLabels: { app: 'app1' } }, rules: [{ to: [{ operation: { ports: ['8080'] } }] }] })],
      peerAuthentications: [peerAuth('ns2', 'strict', { mtls: { mode: 'STRICT' } })],
    };
  };

  it('rebuilds one Workload for one pod change, and only the selected pods for a Service change', () => {
    const snap = cluster();
    const model = new IncrementalModel(options);
    const full = model.reset(snap);
    expect(full.built.workloads).toBe(PODS);
    expect(full.changes.get(ADDRESS_TYPE_URL)!.updated.size).toBe(PODS + 50);

    // A pod turns unready: its Workload alone.
    const p = pod({ namespace: 'ns7', name: 'p7', labels: { app: 'app7' }, ips: ['10.0.0.7'], node: 'n3', ready: false });
    let u = model.apply([{ kind: 'Pod', object: p, deleted: false }]);
    expect(u.built).toEqual({ workloads: 1, services: 0, authorizationPolicies: 0, peerAuthentications: 0 });
    expect([...u.changes.get(ADDRESS_TYPE_URL)!.updated]).toEqual(['Kubernetes//Pod/ns7/p7']);

    // A new pod arrives: its Workload alone.
    const added = pod({ namespace: 'ns3', name: 'new', labels: { app: 'app3' }, ips: ['10.99.0.1'], node: 'n0' });
    u = model.apply([{ kind: 'Pod', object: added, deleted: false }]);
    expect(u.built.workloads).toBe(1);
    expect([...u.changes.get(ADDRESS_TYPE_URL)!.updated]).toEqual(['Kubernetes//Pod/ns3/new']);
    u = model.apply([{ kind: 'Pod', object: added, deleted: true }]);
    expect(u.built.workloads).toBe(0);
    expect([...u.changes.get(ADDRESS_TYPE_URL)!.removed]).toEqual(['Kubernetes//Pod/ns3/new']);

    const podsOf = (ns: string, app: string) => snap.pods.filter((x) => x.metadata?.namespace === ns && x.metadata.labels?.app === app).length;
    // A Service's port changes: the Service and the pods it selects (100 of 10k).
    const svc = service({ namespace: 'ns5', name: 'svc5', selector: { app: 'app5' }, clusterIP: '10.96.1.5', ports: [{ name: 'http', port: 81, targetPort: 8080, protocol: 'TCP' }] });
    u = model.apply([{ kind: 'Service', object: svc, deleted: false }]);
    expect(u.built.services).toBe(1);
    expect(u.built.workloads).toBe(podsOf('ns5', 'app5'));
    expect(u.changes.get(ADDRESS_TYPE_URL)!.updated.size).toBe(podsOf('ns5', 'app5') + 1);

    // A selector policy's rules change: no Workload; its selector changes: the pods it picked and picks.
    u = model.apply([{ kind: 'AuthorizationPolicy', object: authzPolicy('ns1', 'allow-app1', { selector: { matchLabels: { app: 'app1' } }, rules: [{ to: [{ operation: { ports: ['9090'] } }] }] }), deleted: false }]);
    expect(u.built.workloads).toBe(0);
    expect([...u.changes.get(AUTHORIZATION_TYPE_URL)!.updated]).toEqual(['ns1/allow-app1']);
    u = model.apply([{ kind: 'AuthorizationPolicy', object: authzPolicy('ns1', 'allow-app1', { selector: { matchLabels: { app: 'app21' } }, rules: [] }), deleted: false }]);
    expect(u.built.workloads).toBe(podsOf('ns1', 'app1') + podsOf('ns1', 'app21'));

    // A namespace's labels: that namespace's pods and Services only.
    u = model.apply([{ kind: 'Namespace', object: namespace('ns4', { 'istio.io/use-waypoint': 'wp' }), deleted: false }]);
    expect(u.built.workloads).toBe(PODS / NS);
    expect(u.built.services).toBe(snap.services.filter((x) => x.metadata?.namespace === 'ns4').length);

    // And the result is still what a full build gives.
    const now: ModelSnapshot = {
      ...snap,
      pods: snap.pods.map((x) => (x.metadata?.name === 'p7' && x.metadata.namespace === 'ns7' ? p : x)),
      services: snap.services.map((x) => (x.metadata?.name === 'svc5' ? svc : x)),
      namespaces: snap.namespaces.map((n) => (n.metadata?.name === 'ns4' ? namespace('ns4', { 'istio.io/use-waypoint': 'wp' }) : n)),
      authorizationPolicies: [authzPolicy('ns1', 'allow-app1', { selector: { matchLabels: { app: 'app21' } }, rules: [] })],
    };
    expect(flat(model.resources)).toEqual(flat(buildResourceSet(now, options).resources));
  });
});
