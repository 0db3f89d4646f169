// Pod → istio.workload.Workload (fact sheet §4.6).
import { describe, expect, it } from 'vitest';
import { NetworkMode, TunnelProtocol, WorkloadStatus, WorkloadType, type Workload } from '../../../lib/proto/index.ts';
import { modelOptions } from './options.ts';
import { endpointSlice, ip4, namespace, node, pod, service, wireWorkload, type PodFixture } from './test-fixtures.ts';
import type { WaypointInfo, WaypointLookup } from './waypoints.ts';
import { buildWorkload, canonicalService, podUid, workloadNameOf, type PodContext } from './workloads.ts';

const options = modelOptions();

function build(f: PodFixture, ctx: PodContext = {}, opts = options): Workload {
  const w = buildWorkload(pod(f), ctx, opts);
  if (!w) throw new Error('no workload');
  return w;
}

describe('buildWorkload', () => {
  it('translates a running pod', () => {
    const w = build(
      {
        name: 'echo-7d4b9c-x2x9k',
        generateName: 'echo-7d4b9c-',
        owner: { kind: 'ReplicaSet', name: 'echo-7d4b9c' },
        labels: { app: 'echo', version: 'v1', 'pod-template-hash': '7d4b9c' },
        annotations: { 'ambient.istio.io/redirection': 'enabled' },
        serviceAccount: 'echo',
        ips: ['10.244.1.5'],
      },
      { services: [service()], node: node('node1', { 'topology.kubernetes.io/region': 'r1', 'topology.kubernetes.io/zone': 'z1' }), authorizationPolicies: ['default/allow'] },
    );
    const expected: Workload = {
      uid: 'Kubernetes//Pod/default/echo-7d4b9c-x2x9k',
      name: 'echo-7d4b9c-x2x9k',
      namespace: 'default',
      addresses: [ip4(10, 244, 1, 5)],
      hostname: '',
      network: '',
      tunnelProtocol: TunnelProtocol.HBONE,
      nativeTunnel: false,
      trustDomain: '',
      serviceAccount: 'echo',
      node: 'node1',
      canonicalName: 'echo',
      canonicalRevision: 'v1',
      workloadType: WorkloadType.POD,
      workloadName: 'echo',
      services: { 'default/echo.default.svc.cluster.local': { ports: [{ servicePort: 80, targetPort: 8080, appProtocol: 0 }] } },
      authorizationPolicies: ['default/allow'],
      status: WorkloadStatus.HEALTHY,
      clusterId: 'Kubernetes',
      locality: { region: 'r1', zone: 'z1', subzone: '' },
      networkMode: NetworkMode.STANDARD,
      extensions: [],
    };
    expect(w).toEqual(expected);
    expect(wireWorkload(w)).toEqual(expected);
  });

  it.each<[string, PodFixture]>([
    ['Succeeded', { phase: 'Succeeded' }],
    ['Failed', { phase: 'Failed' }],
    ['no IP yet', { ips: [] }],
    ['an IP that does not parse', { ips: ['10.244.1.500'] }],
  ])('skips a pod: %s', (_name, f) => {
    expect(buildWorkload(pod(f), {}, options)).toBeUndefined();
  });

  it('keeps a Pending pod that already has an IP', () => {
    expect(build({ phase: 'Pending' }).status).toBe(WorkloadStatus.HEALTHY);
  });

  it('uses the configured cluster id', () => {
    const w = build({ name: 'a', namespace: 'ns1' }, {}, modelOptions({ clusterId: 'east' }));
    expect(w.uid).toBe('east//Pod/ns1/a');
    expect(w.clusterId).toBe('east');
    expect(podUid('Kubernetes', 'ns', 'p')).toBe('Kubernetes//Pod/ns/p');
  });

  it('sends every pod IP as raw bytes, in order', () => {
    const w = build({ ips: ['10.244.1.5', 'fd00:10:244:1::5'] });
    expect(w.addresses.map((a) => Buffer.from(a).toString('hex'))).toEqual(['0af40105', 'fd000010024400010000000000000005']);
  });

  it('falls back to status.podIP', () => {
    expect(build({ podIP: '10.244.2.7' }).addresses).toEqual([ip4(10, 244, 2, 7)]);
  });

  it.each<[string, PodFixture, TunnelProtocol, boolean]>([
    ['not captured', {}, TunnelProtocol.NONE, false],
    ['captured', { annotations: { 'ambient.istio.io/redirection': 'enabled' } }, TunnelProtocol.HBONE, false],
    ['capture pending', { annotations: { 'ambient.istio.io/redirection': 'pending' } }, TunnelProtocol.NONE, false],
    ['native tunnel', { labels: { 'networking.istio.io/tunnel': 'http' } }, TunnelProtocol.HBONE, true],
    ['native tunnel in a list', { labels: { 'networking.istio.io/tunnel': 'foo,http' } }, TunnelProtocol.HBONE, true],
    ['other tunnel types', { labels: { 'networking.istio.io/tunnel': 'https' } }, TunnelProtocol.NONE, false],
    ['native tunnel and captured', { labels: { 'networking.istio.io/tunnel': 'http' }, annotations: { 'ambient.istio.io/redirection': 'enabled' } }, TunnelProtocol.HBONE, true],
  ])('tunnel protocol: %s', (_name, f, tunnel, native) => {
    const w = build(f);
    expect([w.tunnelProtocol, w.nativeTunnel]).toEqual([tunnel, native]);
  });

  it.each<[string, PodFixture, string]>([
    ['spec value', { serviceAccount: 'echo' }, 'echo'],
    ['unset', {}, 'default'],
    ['empty', { serviceAccount: '' }, 'default'],
  ])('service account: %s', (_name, f, sa) => {
    expect(build(f).serviceAccount).toBe(sa);
  });

  it('always sets node', () => {
    expect(build({ node: 'worker-3' }).node).toBe('worker-3');
  });

  it.each<[string, PodFixture, WorkloadStatus]>([
    ['ready', {}, WorkloadStatus.HEALTHY],
    ['not ready', { ready: false }, WorkloadStatus.UNHEALTHY],
    ['ready but terminating', { terminating: true }, WorkloadStatus.UNHEALTHY],
  ])('status: %s', (_name, f, status) => {
    expect(build(f).status).toBe(status);
  });

  it('status: no Ready condition is unhealthy', () => {
    const p = pod();
    p.status!.conditions = [];
    expect(buildWorkload(p, {}, options)?.status).toBe(WorkloadStatus.UNHEALTHY);
  });

  it.each([
    ['cluster.local', ''],
    ['example.org', 'example.org'],
  ])('trust domain %s is sent as %j', (td, sent) => {
    expect(build({}, {}, modelOptions({ trustDomain: td })).trustDomain).toBe(sent);
  });

  it('marks host-network pods', () => {
    const w = build({ hostNetwork: true, ips: ['172.18.0.2'] });
    expect(w.networkMode).toBe(NetworkMode.HOST_NETWORK);
    expect(wireWorkload(w).networkMode).toBe(NetworkMode.HOST_NETWORK);
  });

  it.each<[string, Record<string, string>, Workload['locality']]>([
    ['all three', { 'topology.kubernetes.io/region': 'r', 'topology.kubernetes.io/zone': 'z', 'topology.istio.io/subzone': 's' }, { region: 'r', zone: 'z', subzone: 's' }],
    ['zone only', { 'topology.kubernetes.io/zone': 'z' }, { region: '', zone: 'z', subzone: '' }],
    ['none', { 'kubernetes.io/hostname': 'node1' }, undefined],
  ])('locality: %s', (_name, labels, locality) => {
    expect(build({}, { node: node('node1', labels) }).locality).toEqual(locality);
  });

  it('has no locality without its node', () => {
    expect(build({}).locality).toBeUndefined();
  });
});

describe('canonical service', () => {
  it.each<[Record<string, string>, string, string]>([
    [{}, 'wl', 'latest'],
    [{ app: 'a' }, 'a', 'latest'],
    [{ app: 'a', 'app.kubernetes.io/name': 'k' }, 'k', 'latest'],
    [{ app: 'a', 'app.kubernetes.io/name': 'k', 'service.istio.io/canonical-name': 'c' }, 'c', 'latest'],
    [{ version: 'v1' }, 'wl', 'v1'],
    [{ version: 'v1', 'app.kubernetes.io/version': 'k1' }, 'wl', 'k1'],
    [{ version: 'v1', 'app.kubernetes.io/version': 'k1', 'service.istio.io/canonical-revision': 'c1' }, 'wl', 'c1'],
    [{ 'service.istio.io/canonical-name': '' }, '', 'latest'],
  ])('labels %j → %s/%s', (labels, name, revision) => {
    expect(canonicalService(labels, 'wl')).toEqual({ name, revision });
  });
});

describe('workload name', () => {
  it.each<[string, PodFixture, string]>([
    ['Deployment pod', { name: 'web-5f7b8-abcde', generateName: 'web-5f7b8-', owner: { kind: 'ReplicaSet', name: 'web-5f7b8' }, labels: { 'pod-template-hash': '5f7b8' } }, 'web'],
    ['bare ReplicaSet (no hash label)', { name: 'rs-abcde', generateName: 'rs-', owner: { kind: 'ReplicaSet', name: 'rs' } }, 'rs'],
    ['Argo Rollout', { name: 'ro-6c9-abcde', generateName: 'ro-6c9-', owner: { kind: 'ReplicaSet', name: 'ro-6c9' }, labels: { 'rollouts-pod-template-hash': '6c9' } }, 'ro'],
    ['StatefulSet', { name: 'db-0', generateName: 'db-', owner: { kind: 'StatefulSet', name: 'db' } }, 'db'],
    ['DaemonSet', { name: 'agent-x1', generateName: 'agent-', owner: { kind: 'DaemonSet', name: 'agent' } }, 'agent'],
    ['Job', { name: 'migrate-abcde', generateName: 'migrate-', owner: { kind: 'Job', name: 'migrate' } }, 'migrate'],
    ['CronJob', { name: 'backup-28391040-abcde', generateName: 'backup-28391040-', owner: { kind: 'Job', name: 'backup-28391040' } }, 'backup'],
    ['DeploymentConfig', { name: 'dc-1-abcde', generateName: 'dc-1-', owner: { kind: 'ReplicationController', name: 'dc-1' }, labels: { deploymentconfig: 'dc' } }, 'dc'],
    ['owner that is not the controller', { name: 'p-abcde', generateName: 'p-', owner: { kind: 'ReplicaSet', name: 'p', controller: false } }, 'p-abcde'],
    ['name not generated', { name: 'standalone', owner: { kind: 'ReplicaSet', name: 'rs' } }, 'standalone'],
    ['plain pod', { name: 'standalone' }, 'standalone'],
    ['label override', { name: 'web-5f7b8-abcde', generateName: 'web-5f7b8-', owner: { kind: 'ReplicaSet', name: 'web-5f7b8' }, labels: { 'service.istio.io/workload-name': 'custom' } }, 'custom'],
  ])('%s', (_name, f, expected) => {
    expect(workloadNameOf(pod(f))).toBe(expected);
    expect(build(f).workloadName).toBe(expected);
  });

  it('is the canonical name when no label names one', () => {
    const w = build({ name: 'web-5f7b8-abcde', generateName: 'web-5f7b8-', owner: { kind: 'ReplicaSet', name: 'web-5f7b8' }, labels: { 'pod-template-hash': '5f7b8' } });
    expect([w.canonicalName, w.canonicalRevision]).toEqual(['web', 'latest']);
  });
});

describe('Workload.services', () => {
  const key = (name: string, ns = 'default') => `${ns}/${name}.${ns}.svc.cluster.local`;
  const ports = (w: Workload, k: string) => w.services[k]?.ports.map((p) => [p.servicePort, p.targetPort]);

  it('lists Services whose selector picks the pod, keyed ns/hostname', () => {
    const w = build(
      { labels: { app: 'echo', tier: 'web' } },
      {
        services: [
          service({ name: 'echo' }),
          service({ name: 'web', selector: { tier: 'web' }, ports: [{ port: 8000, targetPort: 9000 }] }),
          service({ name: 'other', selector: { app: 'other' } }),
          service({ name: 'no-selector', selector: null }),
          service({ name: 'empty-selector', selector: {} }),
          service({ name: 'elsewhere', namespace: 'other' }),
          service({ name: 'external', type: 'ExternalName', clusterIP: '', clusterIPs: [] }),
        ],
      },
    );
    expect(Object.keys(w.services)).toEqual([key('echo'), key('web')]);
    expect(ports(w, key('web'))).toEqual([[8000, 9000]]);
  });

  it('resolves named target ports against the pod', () => {
    const svc = service({
      ports: [
        { name: 'http', port: 80, targetPort: 'http' },
        { name: 'admin', port: 9901, targetPort: 'admin' },
        { name: 'missing', port: 7000, targetPort: 'nope' },
        { name: 'dns', port: 53, targetPort: 'dns' },
        { name: 'num', port: 81, targetPort: 8081 },
      ],
    });
    const w = build(
      {
        labels: { app: 'echo' },
        containers: [
          { name: 'app', ports: [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 5353, protocol: 'UDP' }] },
        ],
        initContainers: [
          { name: 'sidecar', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 15000, protocol: 'TCP' }] },
          { name: 'init', ports: [{ name: 'nope', containerPort: 1 }] },
        ],
      },
      { services: [svc] },
    );
    // A named port the pod lacks (or has only as UDP) is left out; a plain init container does not count.
    expect(ports(w, key('echo'))).toEqual([
      [80, 8080],
      [9901, 15000],
      [81, 8081],
    ]);
  });

  it('keeps the Service with no ports when none resolve', () => {
    const w = build({ labels: { app: 'echo' } }, { services: [service({ ports: [{ port: 80, targetPort: 'nope' }] })] });
    expect(w.services).toEqual({ [key('echo')]: { ports: [] } });
    expect(wireWorkload(w).services).toEqual({ [key('echo')]: { ports: [] } });
  });

  it('finds selector-less Services through EndpointSlices naming the pod', () => {
    const svc = service({ name: 'manual', selector: null, ports: [{ port: 5432, targetPort: 5432 }] });
    const p = { name: 'db-0', uid: 'u1', labels: {} };
    const w = build(p, { services: [svc], endpointSlices: [endpointSlice('default', 'manual', [{ name: 'db-0', uid: 'u1' }])] });
    expect(ports(w, key('manual'))).toEqual([[5432, 5432]]);
    // Another pod with the same name but another uid (recreated) is not listed.
    expect(build(p, { services: [svc], endpointSlices: [endpointSlice('default', 'manual', [{ name: 'db-0', uid: 'old' }])] }).services).toEqual({});
    // A slice for a Service that does not exist adds nothing.
    expect(build(p, { services: [], endpointSlices: [endpointSlice('default', 'manual', [{ name: 'db-0', uid: 'u1' }])] }).services).toEqual({});
  });

  it('sorts the map keys so equal input gives equal bytes', () => {
    const svcs = [service({ name: 'zeta' }), service({ name: 'alpha' })];
    const a = build({ labels: { app: 'echo' } }, { services: svcs });
    const b = build({ labels: { app: 'echo' } }, { services: [...svcs].reverse() });
    expect(Object.keys(a.services)).toEqual([key('alpha'), key('zeta')]);
    expect(Object.keys(b.services)).toEqual(Object.keys(a.services));
  });
});

describe('Workload waypoint', () => {
  const table: Record<string, WaypointInfo> = {
    'default/wl': { hostname: 'wl.default.svc.cluster.local', trafficType: 'workload' },
    'default/all': { hostname: 'all.default.svc.cluster.local', trafficType: 'all' },
    'default/svc': { hostname: 'svc.default.svc.cluster.local' },
    'default/ip': { address: 'fd00::9', trafficType: 'workload' },
  };
  const lookup: WaypointLookup = (ns, name) => table[`${ns}/${name}`];
  const wp = (labels: Record<string, string>, nsLabels: Record<string, string> = {}) =>
    build({ labels }, { namespace: namespace('default', nsLabels), waypoints: lookup }).waypoint;

  it('binds a workload waypoint from the pod label', () => {
    expect(wp({ 'istio.io/use-waypoint': 'wl' })).toEqual({
      destination: { $case: 'hostname', hostname: { namespace: 'default', hostname: 'wl.default.svc.cluster.local' } },
      hboneMtlsPort: 15008,
    });
  });

  it('binds from the namespace label', () => {
    expect(wp({}, { 'istio.io/use-waypoint': 'all' })?.destination).toMatchObject({ $case: 'hostname' });
  });

  it('does not bind a service-only waypoint to workloads', () => {
    expect(wp({}, { 'istio.io/use-waypoint': 'svc' })).toBeUndefined();
    expect(wp({ 'istio.io/use-waypoint': 'svc' })).toBeUndefined();
  });

  it('`none` on the pod opts out', () => {
    expect(wp({ 'istio.io/use-waypoint': 'none' }, { 'istio.io/use-waypoint': 'all' })).toBeUndefined();
  });

  it('an IP waypoint carries the network', () => {
    const w = build({ labels: { 'istio.io/use-waypoint': 'ip' } }, { waypoints: lookup }, modelOptions({ network: 'net1' }));
    expect(w.waypoint).toEqual({
      destination: { $case: 'address', address: { network: 'net1', address: Buffer.from('fd000000000000000000000000000009', 'hex') } },
      hboneMtlsPort: 15008,
    });
    expect(wireWorkload(w).waypoint).toEqual(w.waypoint);
  });

  it("a waypoint's own pods get no waypoint", () => {
    expect(wp({ 'gateway.networking.k8s.io/gateway-name': 'all' }, { 'istio.io/use-waypoint': 'all' })).toBeUndefined();
  });
});
