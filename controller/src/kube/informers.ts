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

export function createInformers(kubeconfig: KubeConfig, log: Logger): ControllerInformers {
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const discovery = kubeconfig.makeApiClient(DiscoveryV1Api);
  const custom = kubeconfig.makeApiClient(CustomObjectsApi);
  const apps = kubeconfig.makeApiClient(AppsV1Api);
  const make = <T extends KubernetesObject>(path: string, list: (page: ListPage) => Promise<KubernetesListObject<T>>, optional = false) =>
    new Informer<T>({ kubeconfig, path, list, log: log.child({ informer: path }), optional });
  const crd = (c: CrdKind) =>
    make<CustomObject>(`/apis/${c.group}/${c.version}/${c.plural}`, async (page) => (await custom.listClusterCustomObject({ ...c, ...page })) as KubernetesListObject<CustomObject>, true);
  return {
    namespaces: make('/api/v1/namespaces', (page) => core.listNamespace(page)),
    pods: make('/api/v1/pods', (page) => core.listPodForAllNamespaces(page)),
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
