// Publishes the CA root to every namespace as ConfigMap `istio-ca-root-cert` (key `root-cert.pem`),
// where workloads and ztunnel mount it; repairs copies that were edited or deleted. Leader only.
// The plan is pure (`planRootConfigMaps`); the caller applies it.

export const ROOT_CERT_CONFIGMAP = 'istio-ca-root-cert';
export const ROOT_CERT_KEY = 'root-cert.pem';

export interface ConfigMapView {
  namespace: string;
  data: Record<string, string>;
}

export type RootConfigMapAction = { kind: 'create' | 'update'; namespace: string };

/** What to write so every live namespace holds `rootPem`; terminating namespaces are left alone. */
export function planRootConfigMaps(
  namespaces: readonly { name: string; terminating: boolean }[],
  existing: ReadonlyMap<string, ConfigMapView>,
  rootPem: string,
): RootConfigMapAction[] {
  const out: RootConfigMapAction[] = [];
  for (const ns of namespaces) {
    if (ns.terminating) continue;
    const cm = existing.get(ns.name);
    if (!cm) out.push({ kind: 'create', namespace: ns.name });
    else if (cm.data[ROOT_CERT_KEY] !== rootPem) out.push({ kind: 'update', namespace: ns.name });
  }
  return out;
}
