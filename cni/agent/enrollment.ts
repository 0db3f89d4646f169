// Which pods the node agent captures, from the namespace and pod as the apiserver shows them (fact
// sheet §7.1): the pod label `istio.io/dataplane-mode=ambient`, or the namespace label with the pod
// not saying `none`; never host-network pods, pods with a sidecar, excluded namespaces, or pods that
// are finished or being deleted. Pure: informers feed it, the reconciler acts on the answer.

export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';

export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
}

export interface PodView {
  uid: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  hostNetwork: boolean;
  phase: string;
  deleting: boolean;
  podIps: string[];
  serviceAccount: string;
}

export type EnrollmentDecision = { enroll: true } | { enroll: false; reason: string };

export function decideEnrollment(pod: PodView, ns: NamespaceView | undefined, excludedNamespaces: ReadonlySet<string>): EnrollmentDecision {
  if (excludedNamespaces.has(pod.namespace)) return { enroll: false, reason: `namespace ${pod.namespace} is excluded` };
  if (pod.hostNetwork) return { enroll: false, reason: 'host network pod' };
  if (pod.annotations[SIDECAR_STATUS_ANNOTATION] !== undefined) return { enroll: false, reason: 'pod has a sidecar' };
  if (pod.deleting) return { enroll: false, reason: 'pod is being deleted' };
  if (pod.phase === 'Succeeded' || pod.phase === 'Failed') return { enroll: false, reason: `pod is ${pod.phase}` };
  const podMode = pod.labels[DATAPLANE_MODE_LABEL];
  if (podMode === 'none') return { enroll: false, reason: `pod label ${DATAPLANE_MODE_LABEL}=none` };
  if (podMode === 'ambient') return { enroll: true };
  if (ns?.labels[DATAPLANE_MODE_LABEL] === 'ambient') return { enroll: true };
  return { enroll: false, reason: `neither pod nor namespace has ${DATAPLANE_MODE_LABEL}=ambient` };
}

/** Namespaces whose new pods are ambient unless they opt out: what the CNI plugin may read cheaply. */
export function ambientNamespaces(namespaces: Iterable<NamespaceView>, excludedNamespaces: ReadonlySet<string>): string[] {
  return [...namespaces].filter((n) => n.labels[DATAPLANE_MODE_LABEL] === 'ambient' && !excludedNamespaces.has(n.name)).map((n) => n.name).sort();
}
