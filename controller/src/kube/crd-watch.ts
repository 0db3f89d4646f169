// Watches CustomResourceDefinitions so that a kind whose CRD was not installed when the controller
// started (Gateway API is optional) is picked up as soon as its CRD is Established, instead of at
// the informer's next retry. The informers themselves find out a kind went missing (404).
import { ApiextensionsV1Api, type KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { Informer } from '../../../lib/kube/informer.ts';
import type { Logger } from '../../../lib/log/logger.ts';

export interface WatchedKind {
  kind: { group: string; version: string; plural: string };
  informer: { isMissing: boolean; retryNow(): void; path: string };
}

/** Pure: whether this CRD serves `kind` now (Established, the version served). */
export function crdServes(crd: V1CustomResourceDefinition, kind: WatchedKind['kind']): boolean {
  if (crd.spec.group !== kind.group || crd.spec.names.plural !== kind.plural) return false;
  if (!crd.spec.versions.some((v) => v.name === kind.version && v.served)) return false;
  return (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}

export function watchCrds(kubeconfig: KubeConfig, kinds: WatchedKind[], log: Logger): Informer<V1CustomResourceDefinition> {
  const api = kubeconfig.makeApiClient(ApiextensionsV1Api);
  const crds = new Informer<V1CustomResourceDefinition>({
    kubeconfig,
    path: '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
    list: (page) => api.listCustomResourceDefinition(page),
    log: log.child({ informer: 'customresourcedefinitions' }),
  });
  const changed = (crd: V1CustomResourceDefinition) => {
    for (const k of kinds) {
      if (!k.informer.isMissing || !crdServes(crd, k.kind)) continue;
      log.info({ crd: crd.metadata?.name, path: k.informer.path }, 'CRD established: picking up its kind');
      k.informer.retryNow();
    }
  };
  crds.on('add', changed).on('update', changed);
  return crds;
}
