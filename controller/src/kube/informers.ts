// Every resource the controller watches, each through one lib/kube informer (list, then watch from
// that resourceVersion; resume, relist on 410, back off): core objects, EndpointSlices, Istio's
// security and networking CRDs and Gateway API Gateways. Custom resources arrive as plain objects.
import { CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1EndpointSlice, type V1Namespace, type V1Node, type V1Pod, type V1Service, type V1ServiceAccount } from '@kubernetes/client-node';
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
}

const CRDS = {
  authorizationPolicies: { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies' },
  peerAuthentications: { group: 'security.istio.io', version: 'v1', plural: 'peerauthentications' },
  serviceEntries: { group: 'networking.istio.io', version: 'v1', plural: 'serviceentries' },
  virtualServices: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' },
  destinationRules: { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' },
  gateways: { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' },
} as const;

export function createInformers(kubeconfig: KubeConfig, log: Logger): ControllerInformers {
  const core = kubeconfig.makeApiClient(CoreV1Api);
  const discovery = kubeconfig.makeApiClient(DiscoveryV1Api);
  const custom = kubeconfig.makeApiClient(CustomObjectsApi);
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
  };
}

export function allInformers(i: ControllerInformers): Informer<KubernetesObject>[] {
  return Object.values(i) as Informer<KubernetesObject>[];
}
