// The CA's Kubernetes I/O: TokenReview for callers, Secrets for the signing material, ConfigMaps
// for the published root. Thin adapters over @kubernetes/client-node; the decisions live elsewhere.
import { AuthenticationV1Api, CoreV1Api, type KubeConfig, type V1Namespace } from '@kubernetes/client-node';
import type { TokenReviewResult } from './service.ts';
import type { SecretStore } from './root.ts';
import { planRootConfigMaps, ROOT_CERT_CONFIGMAP, ROOT_CERT_KEY, type ConfigMapView } from './root-publisher.ts';

const isStatus = (err: unknown, code: number) => (err as { code?: number }).code === code;

export function tokenReviewer(kc: KubeConfig, audiences: readonly string[]): (token: string) => Promise<TokenReviewResult> {
  const api = kc.makeApiClient(AuthenticationV1Api);
  return async (token) => {
    const r = await api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [...audiences] } } });
    const s = r.status;
    return {
      authenticated: s?.authenticated === true,
      ...(s?.user?.username ? { username: s.user.username } : {}),
      ...(s?.user?.extra ? { extra: s.user.extra } : {}),
      ...(s?.error ? { error: s.error } : {}),
    };
  };
}

export function kubeSecretStore(kc: KubeConfig): SecretStore {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    get: async (namespace, name) => {
      try {
        const s = await core.readNamespacedSecret({ namespace, name });
        return Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
      } catch (err) {
        if (isStatus(err, 404)) return undefined;
        throw err;
      }
    },
    create: async (namespace, name, data) => {
      try {
        await core.createNamespacedSecret({ namespace, body: { metadata: { name, namespace }, type: 'istio.io/ca-root', stringData: data } });
        return true;
      } catch (err) {
        if (isStatus(err, 409)) return false;
        throw err;
      }
    },
  };
}

/** Makes every live namespace hold the root; returns how many ConfigMaps it wrote. */
export async function publishRoot(kc: KubeConfig, namespaces: readonly V1Namespace[], rootPem: string): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const existing = new Map<string, ConfigMapView>();
  const list = await core.listConfigMapForAllNamespaces({ fieldSelector: `metadata.name=${ROOT_CERT_CONFIGMAP}` });
  for (const cm of list.items) if (cm.metadata?.namespace) existing.set(cm.metadata.namespace, { namespace: cm.metadata.namespace, data: cm.data ?? {} });
  const plan = planRootConfigMaps(namespaces.map((n) => ({ name: n.metadata?.name ?? '', terminating: n.status?.phase === 'Terminating' || !!n.metadata?.deletionTimestamp })), existing, rootPem);
  for (const a of plan) {
    const body = { metadata: { name: ROOT_CERT_CONFIGMAP, namespace: a.namespace, labels: { 'istio.io/config': 'true' } }, data: { [ROOT_CERT_KEY]: rootPem } };
    try {
      if (a.kind === 'create') await core.createNamespacedConfigMap({ namespace: a.namespace, body });
      else await core.replaceNamespacedConfigMap({ namespace: a.namespace, name: ROOT_CERT_CONFIGMAP, body });
    } catch (err) {
      // Raced with another write or a namespace going away: the next pass settles it.
      if (!isStatus(err, 409) && !isStatus(err, 404) && !isStatus(err, 403)) throw err;
    }
  }
  return plan.length;
}

/** The bundle published in `namespace` before this start (undefined when none): a restart's memory of a rotation. */
export async function readPublishedRoot(kc: KubeConfig, namespace: string): Promise<string | undefined> {
  try {
    const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace, name: ROOT_CERT_CONFIGMAP });
    return cm.data?.[ROOT_CERT_KEY];
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}
