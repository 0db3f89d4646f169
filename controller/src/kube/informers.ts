// Every resource the controller watches, each through one lib/kube informer (list, then watch from
// that resourceVersion; resume, relist on 410, back off): core objects, EndpointSlices, Istio's
// security and networking CRDs, Gateway API Gateways, GatewayClasses, HTTPRoutes and GRPCRoutes, and the waypoint
// Deployments we manage. Custom resources arrive as plain objects.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Deployment, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Pod, type V1Service, type V1ServiceAccount } from '@kubernetes/client-node';
import { Informer } from '../../../lib/kube/informer.ts';
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

const CRDS = {
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

export function createInformers(kubeconfig: KubeConfig, log: Logger): ControllerInformers {
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const discovery = kubeconfig.makeApiClient(DiscoveryV1Api);
  const custom = kubeconfig.makeApiClient(CustomObjectsApi);
  const apps = kubeconfig.makeApiClient(AppsV1Api);
  const make = <T extends KubernetesObject>(path: string, list: () => Promise<KubernetesListObject<T>>) =>
    new Informer<T>({ kubeconfig, path, list, log: log.child({ informer: path }) });
  const crd = (c: (typeof CRDS)[keyof typeof CRDS]) =>
    make<CustomObject>(`/apis/${c.group}/${c.version}/${c.plural}`, async () => (await custom.listClusterCustomObject(c)) as KubernetesListObject<CustomObject>);
  return {
    namespaces: make('/api/v1/namespaces', () => core.listNamespace()),
    pods: make('/api/v1/pods', () => core.listPodForAllNamespaces()),
    services: make('/api/v1/services', () => core.listServiceForAllNamespaces()),
    endpointSlices: make('/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces()),
    serviceAccounts: make('/api/v1/serviceaccounts', () => core.listServiceAccountForAllNamespaces()),
    nodes: make('/api/v1/nodes', () => core.listNode()),
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
      list: () => apps.listDeploymentForAllNamespaces({ labelSelector: WAYPOINT_DEPLOYMENTS_SELECTOR }),
      log: log.child({ informer: '/apis/apps/v1/deployments' }),
    }),
  };
}

export function allInformers(i: ControllerInformers): Informer<KubernetesObject>[] {
  return Object.values(i) as Informer<KubernetesObject>[];
}
