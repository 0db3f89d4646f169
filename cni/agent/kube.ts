// The node agent's view of the apiserver: Pods on its node (field selector spec.nodeName) and all
// Namespaces, through lib/kube informers; the pod annotation it writes; a direct GET for the CNI ADD
// path (the pod may not be in the cache yet when its sandbox is created).
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Namespace, type V1Pod } from '@kubernetes/client-node';
import { Informer } from '../../lib/kube/informer.ts';
import type { Logger } from '../../lib/log/logger.ts';
import { REDIRECTION_ANNOTATION, type NamespaceView, type PodView } from './enrollment.ts';

export function podView(p: V1Pod): PodView {
  const ips = (p.status?.podIPs ?? []).map((x) => x.ip).filter((ip): ip is string => !!ip);
  return {
    uid: p.metadata?.uid ?? '',
    name: p.metadata?.name ?? '',
    namespace: p.metadata?.namespace ?? '',
    labels: p.metadata?.labels ?? {},
    annotations: p.metadata?.annotations ?? {},
    hostNetwork: p.spec?.hostNetwork === true,
    phase: p.status?.phase ?? 'Pending',
    deleting: p.metadata?.deletionTimestamp !== undefined && p.metadata.deletionTimestamp !== null,
    podIps: ips.length ? ips : p.status?.podIP ? [p.status.podIP] : [],
    serviceAccount: p.spec?.serviceAccountName ?? 'default',
  };
}

export function namespaceView(n: V1Namespace): NamespaceView {
  return { name: n.metadata?.name ?? '', labels: n.metadata?.labels ?? {} };
}

export interface KubeHandlers {
  podChanged(pod: PodView): void;
  podDeleted(pod: PodView): void;
  namespaceChanged(ns: NamespaceView): void;
}

export class AgentKube {
  private readonly core: CoreV1Api;
  private readonly apps: AppsV1Api;
  private readonly pods: Informer<V1Pod>;
  private readonly namespaces: Informer<V1Namespace>;

  constructor(kubeconfigPath: string, nodeName: string, handlers: KubeHandlers, log: Logger) {
    const kc = new KubeConfig();
    if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
    else kc.loadFromCluster();
    this.core = kc.makeApiClient(CoreV1Api);
    this.apps = kc.makeApiClient(AppsV1Api);
    const fieldSelector = `spec.nodeName=${nodeName}`;
    this.pods = new Informer<V1Pod>({ kubeconfig: kc, path: '/api/v1/pods', fieldSelector, list: (page) => this.core.listPodForAllNamespaces({ fieldSelector, ...page }), log });
    this.namespaces = new Informer<V1Namespace>({ kubeconfig: kc, path: '/api/v1/namespaces', list: (page) => this.core.listNamespace(page), log });
    this.pods.on('add', (p) => handlers.podChanged(podView(p)));
    this.pods.on('update', (p) => handlers.podChanged(podView(p)));
    this.pods.on('delete', (p) => handlers.podDeleted(podView(p)));
    this.namespaces.on('add', (n) => handlers.namespaceChanged(namespaceView(n)));
    this.namespaces.on('update', (n) => handlers.namespaceChanged(namespaceView(n)));
  }

  /** Lists then watches; resolves once both caches hold the initial list. */
  async start(): Promise<void> {
    this.namespaces.start();
    await this.namespaces.synced();
    this.pods.start();
    await this.pods.synced();
  }

  /**
   * Whether the DaemonSet that owns pod namespace/name is gone or being deleted (`helm uninstall`),
   * rather than rolling (an upgrade keeps it); undefined when it cannot be told (no owner, API error).
   * Refused credentials (401/403) count as gone: the release took our ServiceAccount and RBAC with it.
   */
  async ownerDaemonSetGone(namespace: string, name: string): Promise<boolean | undefined> {
    const status = (err: unknown) => (err as { code?: number }).code;
    try {
      const pod = await this.core.readNamespacedPod({ namespace, name });
      const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'DaemonSet');
      if (!owner) return undefined;
      try {
        const ds = await this.apps.readNamespacedDaemonSet({ namespace, name: owner.name });
        return !!ds.metadata?.deletionTimestamp || ds.metadata?.uid !== owner.uid;
      } catch (err) {
        return [401, 403, 404].includes(status(err) ?? 0) ? true : undefined;
      }
    } catch (err) {
      return [401, 403].includes(status(err) ?? 0) ? true : undefined;
    }
  }

  async stop(): Promise<void> {
    this.pods.stop();
    this.namespaces.stop();
  }

  listPods(): PodView[] {
    return this.pods.list().map(podView);
  }

  namespace(name: string): NamespaceView | undefined {
    const n = this.namespaces.get(name);
    return n ? namespaceView(n) : undefined;
  }

  listNamespaces(): NamespaceView[] {
    return this.namespaces.list().map(namespaceView);
  }

  async getPod(namespace: string, name: string): Promise<PodView> {
    return podView(await this.core.readNamespacedPod({ namespace, name }));
  }

  async getNamespace(name: string): Promise<NamespaceView> {
    return namespaceView(await this.core.readNamespace({ name }));
  }

  /** Sets or clears `ambient.istio.io/redirection` (merge patch; null deletes the key). */
  async annotate(pod: PodView, value: string | undefined): Promise<void> {
    const body = { metadata: { annotations: { [REDIRECTION_ANNOTATION]: value ?? null } } };
    await this.core.patchNamespacedPod({ namespace: pod.namespace, name: pod.name, body }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }
}
