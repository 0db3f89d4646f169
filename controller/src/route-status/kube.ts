// The route status writer's one write: a merge patch of an HTTPRoute's or GRPCRoute's status
// subresource with the whole `parents` list (a merge patch replaces lists, so the caller passes
// other controllers' entries through). A thin adapter over @kubernetes/client-node.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { RouteParentStatus } from '../waypoint-xds/traffic-types.ts';
import type { RouteKind } from './status.ts';

export interface RouteStatusPatcher {
  patchParents(kind: RouteKind, namespace: string, name: string, parents: RouteParentStatus[]): Promise<void>;
}

const PLURAL: Record<RouteKind, string> = { HTTPRoute: 'httproutes', GRPCRoute: 'grpcroutes' };

export function kubeRouteStatusPatcher(kc: KubeConfig, fieldManager: string): RouteStatusPatcher {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    patchParents: async (kind, namespace, name, parents) => {
      await custom.patchNamespacedCustomObjectStatus(
        { group: 'gateway.networking.k8s.io', version: 'v1', plural: PLURAL[kind], namespace, name, body: { status: { parents } }, fieldManager },
        merge,
      );
    },
  };
}
