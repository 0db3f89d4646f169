// The mesh-wide settings the model's translations depend on, with istiod's defaults.

export interface ModelOptions {
  /** Cluster id: the first part of every pod uid and `Workload.cluster_id` (istiod: CLUSTER_ID). */
  clusterId: string;
  /** Kubernetes DNS domain; Service hostnames are `<name>.<ns>.svc.<domainSuffix>`. */
  domainSuffix: string;
  /** Istio root namespace: selector-less policies there are mesh-wide. */
  rootNamespace: string;
  /** Mesh trust domain; `cluster.local` is sent as the empty string (the wire default). */
  trustDomain: string;
  /** Network of every pod and VIP; the empty string is the default network. */
  network: string;
  /**
   * Honour the `istio.io/dry-run` annotation on AuthorizationPolicies (istiod:
   * AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY). Off: such policies are refused, as istiod does.
   */
  enableDryRunPolicies: boolean;
}

export const DEFAULT_MODEL_OPTIONS: Readonly<ModelOptions> = Object.freeze({
  clusterId: 'Kubernetes',
  domainSuffix: 'cluster.local',
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  network: '',
  enableDryRunPolicies: false,
});

export function modelOptions(overrides: Partial<ModelOptions> = {}): ModelOptions {
  return { ...DEFAULT_MODEL_OPTIONS, ...overrides };
}
