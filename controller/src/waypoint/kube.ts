// The waypoint deployer's writes to the apiserver: server-side apply of the waypoint's objects, the
// GatewayClass creation, and merge patches of the Gateway and GatewayClass status subresources.
// Thin adapters over @kubernetes/client-node; the decisions are in plan.ts and status.ts.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Condition, GatewayClass, GatewayStatus } from '../model/index.ts';

/** The field manager of everything the deployer applies (the managed-by value Istio labels with). */
export const FIELD_MANAGER = 'istio.io-mesh-controller';

export interface WaypointWriter {
  /** Server-side apply, forced: the fields we set are ours. */
  apply(obj: KubernetesObject): Promise<void>;
  /** Creates the class; false when it exists already. */
  createGatewayClass(gc: GatewayClass): Promise<boolean>;
  patchGatewayStatus(namespace: string, name: string, status: GatewayStatus): Promise<void>;
  patchGatewayClassStatus(name: string, status: { conditions: Condition[] }): Promise<void>;
}

export const isStatus = (err: unknown, code: number): boolean => (err as { code?: number }).code === code;

const GATEWAYS = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' } as const;
const GATEWAY_CLASSES = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses' } as const;

export function kubeWaypointWriter(kc: KubeConfig): WaypointWriter {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const ssa = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return {
    apply: async (obj) => {
      const req = { name: obj.metadata?.name ?? '', namespace: obj.metadata?.namespace ?? '', body: obj, fieldManager: FIELD_MANAGER, force: true };
      switch (obj.kind) {
        case 'ServiceAccount':
          await core.patchNamespacedServiceAccount(req, ssa);
          return;
        case 'Service':
          await core.patchNamespacedService(req, ssa);
          return;
        case 'Deployment':
          await apps.patchNamespacedDeployment(req, ssa);
          return;
        default:
          throw new Error(`apply: unsupported kind ${obj.kind}`);
      }
    },
    createGatewayClass: async (gc) => {
      try {
        await custom.createClusterCustomObject({ ...GATEWAY_CLASSES, body: gc, fieldManager: FIELD_MANAGER });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    },
    patchGatewayStatus: async (namespace, name, status) => {
      // Merge patch replaces the lists whole; `null` drops addresses we no longer report.
      const body = { status: { addresses: status.addresses ?? null, conditions: status.conditions ?? [], listeners: status.listeners ?? [] } };
      await custom.patchNamespacedCustomObjectStatus({ ...GATEWAYS, namespace, name, body, fieldManager: FIELD_MANAGER }, merge);
    },
    patchGatewayClassStatus: async (name, status) => {
      await custom.patchClusterCustomObjectStatus({ ...GATEWAY_CLASSES, name, body: { status }, fieldManager: FIELD_MANAGER }, merge);
    },
  };
}
