// The CLI's Kubernetes access: kubeconfig (`--kubeconfig`, then KUBECONFIG, then ~/.kube/config),
// the context's namespace as `-n` default, and thin adapters over @kubernetes/client-node for what
// the commands need (Gateways, Namespaces, ztunnel pods). Decisions live in the command modules.
import {
  ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './args.ts';
import { GATEWAY_GROUP, GATEWAY_PLURAL, GATEWAY_VERSION, type Gateway } from './waypoint/gateway.ts';

export interface KubeContext {
  kc: KubeConfig;
  /** The current context's namespace, or `default`. */
  defaultNamespace: string;
}

export function loadKubeContext(o: { kubeconfig?: string | undefined; context?: string | undefined }): KubeContext {
  const kc = new KubeConfig();
  try {
    if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
    else if (process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config'))) kc.loadFromDefault();
    else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    // client-node would fall back to http://localhost:8080; kubectl refuses instead, and so do we.
    else throw new Error('no configuration found: pass --kubeconfig, set KUBECONFIG or create ~/.kube/config');
    if (o.context) {
      if (!kc.getContextObject(o.context)) throw new Error(`context "${o.context}" does not exist`);
      kc.setCurrentContext(o.context);
    }
  } catch (err) {
    throw new CliError(`failed to load kubeconfig: ${(err as Error).message}`);
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  return { kc, defaultNamespace: ctx?.namespace || 'default' };
}

/** An API error with the apiserver's Status message instead of client-node's dump of the response. */
export class KubeError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined) {
    super(message);
    this.name = 'KubeError';
    this.status = status;
  }
}

export function toKubeError(err: unknown): KubeError {
  if (err instanceof KubeError) return err;
  if (err instanceof ApiException) {
    const body = err.body as unknown;
    let msg: string | undefined;
    if (body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string') msg = (body as { message: string }).message;
    else if (typeof body === 'string') {
      try {
        msg = (JSON.parse(body) as { message?: string }).message;
      } catch {
        // a plain-text body such as "404 page not found" for an unknown API group
      }
    }
    if (!msg && err.code === 404) msg = 'the server could not find the requested resource';
    return new KubeError(msg ?? `HTTP ${err.code}`, err.code);
  }
  const e = err as Error & { code?: string };
  return new KubeError(e?.message ?? String(err), undefined);
}

const wrap = async <T>(p: Promise<T>): Promise<T> => {
  try {
    return await p;
  } catch (err) {
    throw toKubeError(err);
  }
};

/** What `ambientctl waypoint` needs from the apiserver. */
export interface WaypointApi {
  /** All Gateways of a namespace, or of the cluster when `namespace` is undefined. */
  listGateways(namespace: string | undefined, labelSelector?: string): Promise<Gateway[]>;
  /** undefined when it does not exist. */
  getGateway(namespace: string, name: string): Promise<Gateway | undefined>;
  /** Server-side apply. */
  applyGateway(gw: Gateway & { metadata: { namespace: string } }, fieldManager: string): Promise<void>;
  /** false when it was already gone. */
  deleteGateway(namespace: string, name: string): Promise<boolean>;
  /** The namespace's labels; undefined when the namespace does not exist. */
  namespaceLabels(name: string): Promise<Record<string, string> | undefined>;
  labelNamespace(name: string, key: string, value: string): Promise<void>;
}

export function kubeWaypointApi(kc: KubeConfig): WaypointApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const gw = { group: GATEWAY_GROUP, version: GATEWAY_VERSION, plural: GATEWAY_PLURAL };
  const notFound = (err: unknown) => toKubeError(err).status === 404;
  return {
    listGateways: async (namespace, labelSelector) => {
      const sel = labelSelector ? { labelSelector } : {};
      const list = (await wrap(namespace === undefined
        ? custom.listClusterCustomObject({ ...gw, ...sel })
        : custom.listNamespacedCustomObject({ ...gw, namespace, ...sel }))) as { items?: Gateway[] };
      return list.items ?? [];
    },
    getGateway: async (namespace, name) => {
      try {
        return (await custom.getNamespacedCustomObject({ ...gw, namespace, name })) as Gateway;
      } catch (err) {
        if (notFound(err)) return undefined;
        throw toKubeError(err);
      }
    },
    applyGateway: async (obj, fieldManager) => {
      await wrap(custom.patchNamespacedCustomObject(
        { ...gw, namespace: obj.metadata.namespace, name: obj.metadata.name, body: obj, fieldManager },
        setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
      ));
    },
    deleteGateway: async (namespace, name) => {
      try {
        await custom.deleteNamespacedCustomObject({ ...gw, namespace, name });
        return true;
      } catch (err) {
        if (notFound(err)) return false;
        throw toKubeError(err);
      }
    },
    namespaceLabels: async (name) => {
      try {
        return (await core.readNamespace({ name })).metadata?.labels ?? {};
      } catch (err) {
        if (notFound(err)) return undefined;
        throw toKubeError(err);
      }
    },
    labelNamespace: async (name, key, value) => {
      await wrap(core.patchNamespace({ name, body: { metadata: { labels: { [key]: value } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
    },
  };
}

export interface PodRef {
  name: string;
  namespace: string;
  node: string;
  running: boolean;
}

/**
 * The ztunnel pods of the cluster (optionally of one node): the pods selected by DaemonSet
 * `ztunnel` in the Istio namespace, or, without that DaemonSet, pods named `ztunnel-*` there.
 */
export async function ztunnelPods(kc: KubeConfig, istioNamespace: string, node?: string): Promise<PodRef[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  let labelSelector: string | undefined;
  try {
    const ds = await apps.readNamespacedDaemonSet({ namespace: istioNamespace, name: 'ztunnel' });
    labelSelector = Object.entries(ds.spec?.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  } catch (err) {
    if (toKubeError(err).status !== 404) throw toKubeError(err);
  }
  const list = await wrap(core.listNamespacedPod({
    namespace: istioNamespace,
    ...(labelSelector ? { labelSelector } : {}),
    ...(node ? { fieldSelector: `spec.nodeName=${node}` } : {}),
  }));
  return list.items
    .filter((p: V1Pod) => labelSelector !== undefined || (p.metadata?.name ?? '').startsWith('ztunnel-'))
    .map((p: V1Pod) => ({ name: p.metadata?.name ?? '', namespace: p.metadata?.namespace ?? istioNamespace, node: p.spec?.nodeName ?? '', running: p.status?.phase === 'Running' }));
}
