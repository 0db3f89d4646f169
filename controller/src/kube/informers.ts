// Every resource the controller watches, each through one lib/kube informer (paged list, then watch
// from that resourceVersion; resume, relist on 410, back off): core objects, EndpointSlices, Istio's
// security and networking CRDs, Gateway API Gateways, GatewayClasses, HTTPRoutes and GRPCRoutes, and the waypoint
// Deployments we manage. Custom resources arrive as plain objects; their kinds are optional (a CRD
// not installed leaves its informer synced and empty) and picked up when their CRD appears
// (crd-watch.ts).
import { AppsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Deployment, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Pod, type V1Service, type V1ServiceAccount } from '@kubernetes/client-node';
import { Informer, type ListPage } from '../../../lib/kube/informer.ts';
import type { Logger } from '../../../lib/log/logger.ts';

/** A custom resource as the apiserver returns it. */
export interface CustomObject extends KubernetesObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

export interface ControllerInformers {
  namespaces: Informer<V1Namespace>;
  pods: Informer<V1Pod>;
  services: Informer<V1Service>;
  endpointSlices: Informer<V1EndpointSlice>;
  serviceAccounts: Informer<V1ServiceAccount>;
  nodes: Informer<V1Node>;
  authorizationPolicies: Informer<CustomObject>;
  peerAuthentications: Informer<CustomObject>;
  serviceEntries: Informer<CustomObject>;
  virtualServices: Informer<CustomObject>;
  destinationRules: Informer<CustomObject>;
  gateways: Informer<CustomObject>;
  gatewayClasses: Informer<CustomObject>;
  httpRoutes: Informer<CustomObject>;
  grpcRoutes: Informer<CustomObject>;
  /** Only the Deployments the waypoint deployer manages (label gateway.istio.io/managed). */
  waypointDeployments: Informer<V1Deployment>;
}

/** The Deployments the waypoint deployer owns carry this label; only those are watched. */
export const WAYPOINT_DEPLOYMENTS_SELECTOR = 'gateway.istio.io/managed=istio.io-mesh-controller';

export const CRDS = {
  authorizationPolicies: { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies' },
  peerAuthentications: { group: 'security.istio.io', version: 'v1', plural: 'peerauthentications' },
  serviceEntries: { group: 'networking.istio.io', version: 'v1', plural: 'serviceentries' },
  virtualServices: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' },
  destinationRules: { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' },
  gateways: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' },
  gatewayClasses: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses' },
  httpRoutes: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'httproutes' },
  grpcRoutes: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'grpcroutes' },
} as const;

export type CrdKind = (typeof CRDS)[keyof typeof CRDS];

/**
 * Trims a cached object to what the controller reads, in place: managedFields always (often the
 * largest part of an object, and nothing here reads them); for Pods also everything but the
 * fields the model, the waypoint xDS and the CA look at (no container specs beyond ports, no
 * volumes, no container statuses). Runs on every listed object and, as the informer's first
 * handler, on every watched one, before any other handler sees it.
 */
export function compactObject(o: KubernetesObject): void {
  if (o.metadata?.managedFields) delete o.metadata.managedFields;
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function compactPod(p: V1Pod): void {
  compactObject(p);
  if (p.metadata?.annotations?.[LAST_APPLIED] !== undefined) delete p.metadata.annotations[LAST_APPLIED];
  const spec = p.spec;
  if (spec) {
    p.spec = {
      containers: spec.containers.map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports } : {}) })),
      ...(spec.initContainers ? { initContainers: spec.initContainers.map((c) => ({ name: c.name, ...(c.ports ? { ports: c.ports } : {}), ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}) })) } : {}),
      ...(spec.nodeName !== undefined ? { nodeName: spec.nodeName } : {}),
      ...(spec.serviceAccountName !== undefined ? { serviceAccountName: spec.serviceAccountName } : {}),
      ...(spec.hostNetwork !== undefined ? { hostNetwork: spec.hostNetwork } : {}),
    };
  }
  const status = p.status;
  if (status) {
    p.status = {
      ...(status.phase !== undefined ? { phase: status.phase } : {}),
      ...(status.podIP !== undefined ? { podIP: status.podIP } : {}),
      ...(status.podIPs !== undefined ? { podIPs: status.podIPs } : {}),
      ...(status.conditions ? { conditions: status.conditions.map((c) => ({ type: c.type, status: c.status })) } : {}),
    };
  }
}

/** An informer whose objects are compacted before its cache is read by anyone. */
function compacted<T extends KubernetesObject>(inf: Informer<T>, compact: (o: T) => void): Informer<T> {
  inf.on('add', compact).on('update', compact);
  return inf;
}

const compactList =
  <T extends KubernetesObject>(compact: (o: T) => void, list: (page: ListPage) => Promise<KubernetesListObject<T>>) =>
  async (page: ListPage): Promise<KubernetesListObject<T>> => {
    const l = await list(page);
    for (const o of l.items) compact(o);
    return l;
  };

export function createInformers(kubeconfig: KubeConfig, log: Logger): ControllerInformers {
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const discovery = kubeconfig.makeApiClient(DiscoveryV1Api);
  const custom = kubeconfig.makeApiClient(CustomObjectsApi);
  const apps = kubeconfig.makeApiClient(AppsV1Api);
  const make = <T extends KubernetesObject>(path: string, list: (page: ListPage) => Promise<KubernetesListObject<T>>, optional = false, compact: (o: T) => void = compactObject) =>
    compacted(new Informer<T>({ kubeconfig, path, list: compactList(compact, list), log: log.child({ informer: path }), optional }), compact);
  const crd = (c: CrdKind) =>
    make<CustomObject>(`/apis/${c.group}/${c.version}/${c.plural}`, async (page) => (await custom.listClusterCustomObject({ ...c, ...page })) as KubernetesListObject<CustomObject>, true);
  return {
    namespaces: make('/api/v1/namespaces', (page) => core.listNamespace(page)),
    pods: make('/api/v1/pods', (page) => core.listPodForAllNamespaces(page), false, compactPod),
    services: make('/api/v1/services', (page) => core.listServiceForAllNamespaces(page)),
    endpointSlices: make('/apis/discovery.k8s.io/v1/endpointslices', (page) => discovery.listEndpointSliceForAllNamespaces(page)),
    serviceAccounts: make('/api/v1/serviceaccounts', (page) => core.listServiceAccountForAllNamespaces(page)),
    nodes: make('/api/v1/nodes', (page) => core.listNode(page)),
    authorizationPolicies: crd(CRDS.authorizationPolicies),
    peerAuthentications: crd(CRDS.peerAuthentications),
    serviceEntries: crd(CRDS.serviceEntries),
    virtualServices: crd(CRDS.virtualServices),
    destinationRules: crd(CRDS.destinationRules),
    gateways: crd(CRDS.gateways),
    gatewayClasses: crd(CRDS.gatewayClasses),
    httpRoutes: crd(CRDS.httpRoutes),
    grpcRoutes: crd(CRDS.grpcRoutes),
    waypointDeployments: new Informer<V1Deployment>({
      kubeconfig,
      path: '/apis/apps/v1/deployments',
      labelSelector: WAYPOINT_DEPLOYMENTS_SELECTOR,
      list: (page) => apps.listDeploymentForAllNamespaces({ labelSelector: WAYPOINT_DEPLOYMENTS_SELECTOR, ...page }),
      log: log.child({ informer: '/apis/apps/v1/deployments' }),
    }),
  };
}

export function allInformers(i: ControllerInformers): Informer<KubernetesObject>[] {
  return Object.values(i) as Informer<KubernetesObject>[];
}

/** The informers of custom resources with the kind each watches: optional, picked up when their CRD appears. */
export function customResourceInformers(i: ControllerInformers): { kind: CrdKind; informer: Informer<KubernetesObject> }[] {
  return (Object.keys(CRDS) as (keyof typeof CRDS)[]).map((k) => ({ kind: CRDS[k], informer: i[k] as Informer<KubernetesObject> }));
}
