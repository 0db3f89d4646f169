// End-to-end translations of small clusters: objects in, decoded xDS resources out, as a ztunnel
// would read them.
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_TYPE_URL,
  addressCodec,
  AppProtocol,
  AUTHORIZATION_TYPE_URL,
  authorizationCodec,
  AuthorizationAction,
  AuthorizationScope,
  IPFamilies,
  NetworkMode,
  ServiceVisibility,
  TunnelProtocol,
  unpackAny,
  WorkloadStatus,
  WorkloadType,
  type Authorization,
  type Service,
  type Workload,
} from '../../../lib/proto/index.ts';
import { emptyMatch } from './authorization.ts';
import { modelOptions } from './options.ts';
import { buildResourceSet, type ModelSnapshot, type ResourceSet } from './resources.ts';
import { authzPolicy, ip4, namespace, node, peerAuth, pod, service, type PodFixture } from './test-fixtures.ts';

const options = modelOptions();

function decoded(set: ResourceSet): { workloads: Map<string, Workload>; services: Map<string, Service>; policies: Map<string, Authorization> } {
  const workloads = new Map<string, Workload>();
  const services = new Map<string, Service>();
  const policies = new Map<string, Authorization>();
  for (const [name, e] of set.get(ADDRESS_TYPE_URL) ?? []) {
    const r = unpackAny(addressCodec, e.resource);
    if (!r.ok) throw r.error;
    const t = r.value.type;
    if (t?.$case === 'workload') workloads.set(name, t.workload);
    else if (t?.$case === 'service') services.set(name, t.service);
  }
  for (const [name, e] of set.get(AUTHORIZATION_TYPE_URL) ?? []) {
    const r = unpackAny(authorizationCodec, e.resource);
    if (!r.ok) throw r.error;
    policies.set(name, r.value);
  }
  return { workloads, services, policies };
}

/** A pod of Deployment `web` (ReplicaSet web-6d8f9c), captured by the CNI. */
function webPod(suffix: string, ip: string, nodeName: string, extra: Partial<PodFixture> = {}) {
  return pod({
    name: `web-6d8f9c-${suffix}`,
    namespace: 'shop',
    generateName: 'web-6d8f9c-',
    owner: { kind: 'ReplicaSet', name: 'web-6d8f9c' },
    labels: { app: 'web', version: 'v2', 'pod-template-hash': '6d8f9c' },
    annotations: { 'ambient.istio.io/redirection': 'enabled' },
    serviceAccount: 'web',
    ips: [ip],
    node: nodeName,
    containers: [{ name: 'web', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }],
    ...extra,
  });
}

function shopCluster(): ModelSnapshot {
  return {
    namespaces: [namespace('shop', { 'istio.io/dataplane-mode': 'ambient' }), namespace('istio-system')],
    nodes: [node('node-a', { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-1' }), node('node-b', { 'topology.kubernetes.io/region': 'eu', 'topology.kubernetes.io/zone': 'eu-2' })],
    pods: [webPod('a1b2c', '10.244.1.10', 'node-a'), webPod('d3e4f', '10.244.2.11', 'node-b')],
    services: [
      service({
        name: 'web',
        namespace: 'shop',
        selector: { app: 'web' },
        clusterIP: '10.96.12.34',
        ipFamilies: ['IPv4'],
        ports: [
          { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
          { name: 'grpc-api', port: 9000, targetPort: 9000, protocol: 'TCP' },
        ],
      }),
    ],
  };
}

describe('scenario: an ambient namespace with a Deployment of two pods and a Service', () => {
  const { resources, diagnostics } = buildResourceSet(shopCluster(), options);
  const { workloads, services, policies } = decoded(resources);

  it('produces two workloads and one service, and no policies', () => {
    expect([...workloads.keys()]).toEqual(['Kubernetes//Pod/shop/web-6d8f9c-a1b2c', 'Kubernetes//Pod/shop/web-6d8f9c-d3e4f']);
    expect([...services.keys()]).toEqual(['shop/web.shop.svc.cluster.local']);
    expect(policies.size).toBe(0);
    expect(diagnostics).toEqual([]);
  });

  it('describes the Service', () => {
    const expected: Service = {
      name: 'web',
      namespace: 'shop',
      hostname: 'web.shop.svc.cluster.local',
      addresses: [{ network: '', address: ip4(10, 96, 12, 34) }],
      ports: [
        { servicePort: 80, targetPort: 0, appProtocol: AppProtocol.HTTP11 },
        { servicePort: 9000, targetPort: 9000, appProtocol: AppProtocol.GRPC },
      ],
      subjectAltNames: [],
      ipFamilies: IPFamilies.IPV4_ONLY,
      extensions: [],
      canonical: true,
      ingressUseWaypoint: false,
      weightedWaypoints: [],
      visibility: ServiceVisibility.PUBLIC,
    };
    expect(services.get('shop/web.shop.svc.cluster.local')).toEqual(expected);
  });

  it('describes each pod as an HBONE workload of the Service, with the named port resolved', () => {
    const expected: Workload = {
      uid: 'Kubernetes//Pod/shop/web-6d8f9c-a1b2c',
      name: 'web-6d8f9c-a1b2c',
      namespace: 'shop',
      addresses: [ip4(10, 244, 1, 10)],
      hostname: '',
      network: '',
      tunnelProtocol: TunnelProtocol.HBONE,
      nativeTunnel: false,
      trustDomain: '',
      serviceAccount: 'web',
      node: 'node-a',
      canonicalName: 'web',
      canonicalRevision: 'v2',
      workloadType: WorkloadType.POD,
      workloadName: 'web',
      services: {
        'shop/web.shop.svc.cluster.local': {
          ports: [
            { servicePort: 80, targetPort: 8080, appProtocol: AppProtocol.UNKNOWN },
            { servicePort: 9000, targetPort: 9000, appProtocol: AppProtocol.UNKNOWN },
          ],
        },
      },
      authorizationPolicies: [],
      status: WorkloadStatus.HEALTHY,
      clusterId: 'Kubernetes',
      locality: { region: 'eu', zone: 'eu-1', subzone: '' },
      networkMode: NetworkMode.STANDARD,
      extensions: [],
    };
    expect(workloads.get('Kubernetes//Pod/shop/web-6d8f9c-a1b2c')).toEqual(expected);
    const second = workloads.get('Kubernetes//Pod/shop/web-6d8f9c-d3e4f');
    expect(second).toMatchObject({ node: 'node-b', addresses: [ip4(10, 244, 2, 11)], locality: { zone: 'eu-2' }, services: expected.services, workloadName: 'web' });
  });

  it('a pod the CNI has not captured yet is sent with tunnel protocol NONE', () => {
    const s = shopCluster();
    s.pods = [webPod('a1b2c', '10.244.1.10', 'node-a', { annotations: {} })];
    const w = decoded(buildResourceSet(s, options).resources).workloads.get('Kubernetes//Pod/shop/web-6d8f9c-a1b2c');
    expect(w?.tunnelProtocol).toBe(TunnelProtocol.NONE);
  });
});

describe('scenario: STRICT PeerAuthentication in a namespace', () => {
  const s = shopCluster();
  s.namespaces = [...s.namespaces, namespace('legacy')];
  s.pods = [...s.pods, pod({ name: 'old-app', namespace: 'legacy', labels: { app: 'old' }, ips: ['10.244.3.3'] })];
  s.peerAuthentications = [peerAuth('shop', 'default', { mtls: { mode: 'STRICT' } })];
  const { workloads, policies } = decoded(buildResourceSet(s, options).resources);

  it('sends the static STRICT policy', () => {
    const expected: Authorization = {
      name: 'istio_converted_static_strict',
      namespace: 'istio-system',
      scope: AuthorizationScope.WORKLOAD_SELECTOR,
      action: AuthorizationAction.DENY,
      rules: [{ clauses: [{ matches: [{ ...emptyMatch(), notPrincipals: [{ matchType: { $case: 'presence', presence: {} } }] }] }] }],
      dryRun: false,
      extensions: [],
    };
    expect([...policies.keys()]).toEqual(['istio-system/istio_converted_static_strict']);
    expect(policies.get('istio-system/istio_converted_static_strict')).toEqual(expected);
  });

  it("the namespace's workloads reference it, others do not", () => {
    expect(workloads.get('Kubernetes//Pod/shop/web-6d8f9c-a1b2c')?.authorizationPolicies).toEqual(['istio-system/istio_converted_static_strict']);
    expect(workloads.get('Kubernetes//Pod/shop/web-6d8f9c-d3e4f')?.authorizationPolicies).toEqual(['istio-system/istio_converted_static_strict']);
    expect(workloads.get('Kubernetes//Pod/legacy/old-app')?.authorizationPolicies).toEqual([]);
  });
});

describe('scenario: DENY policy for a service account', () => {
  const s = shopCluster();
  s.authorizationPolicies = [
    authzPolicy('shop', 'deny-legacy', {
      selector: { matchLabels: { app: 'web' } },
      action: 'DENY',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/legacy/sa/old-app'] } }] }],
    }),
    authzPolicy('shop', 'deny-batch', {
      action: 'DENY',
      rules: [{ from: [{ source: { serviceAccounts: ['batch'] } }], to: [{ operation: { ports: ['9000'] } }] }],
    }),
  ];
  const { workloads, policies } = decoded(buildResourceSet(s, options).resources);

  it('translates a principal-based DENY', () => {
    const expected: Authorization = {
      name: 'deny-legacy',
      namespace: 'shop',
      scope: AuthorizationScope.WORKLOAD_SELECTOR,
      action: AuthorizationAction.DENY,
      rules: [{ clauses: [{ matches: [{ ...emptyMatch(), principals: [{ matchType: { $case: 'exact', exact: 'cluster.local/ns/legacy/sa/old-app' } }] }] }] }],
      dryRun: false,
      extensions: [],
    };
    expect(policies.get('shop/deny-legacy')).toEqual(expected);
  });

  it('translates a serviceAccounts-based DENY on one port', () => {
    const expected: Authorization = {
      name: 'deny-batch',
      namespace: 'shop',
      scope: AuthorizationScope.NAMESPACE,
      action: AuthorizationAction.DENY,
      rules: [
        {
          clauses: [
            { matches: [{ ...emptyMatch(), destinationPorts: [9000] }] },
            { matches: [{ ...emptyMatch(), serviceAccounts: [{ namespace: 'shop', serviceAccount: 'batch' }] }] },
          ],
        },
      ],
      dryRun: false,
      extensions: [],
    };
    expect(policies.get('shop/deny-batch')).toEqual(expected);
  });

  it('selected workloads name the selector policy; the namespace policy applies by scope', () => {
    for (const w of workloads.values()) expect(w.authorizationPolicies).toEqual(['shop/deny-legacy']);
  });
});
