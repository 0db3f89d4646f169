// The Kubernetes and Istio label and annotation keys the model reads (fact sheet §6, §7.1), and
// label-selector matching.

export type Labels = Readonly<Record<string, string>>;

/** Set by the CNI once a pod's traffic is captured; `enabled` makes the workload HBONE. */
export const AMBIENT_REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const AMBIENT_REDIRECTION_ENABLED = 'enabled';
/** Comma-separated tunnel types a workload terminates itself; `http` means native HBONE. */
export const TUNNEL_LABEL = 'networking.istio.io/tunnel';
export const TUNNEL_HTTP = 'http';

export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
export const USE_WAYPOINT_NAMESPACE_LABEL = 'istio.io/use-waypoint-namespace';
/** The reserved `istio.io/use-waypoint` value that opts out of an inherited waypoint. */
export const USE_WAYPOINT_NONE = 'none';
export const INGRESS_USE_WAYPOINT_LABEL = 'istio.io/ingress-use-waypoint';
/** On a waypoint's own pods (and Service): the Gateway they belong to. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** On objects a gateway controller manages; waypoint and east-west gateway Services never bind a waypoint. */
export const GATEWAY_MANAGED_LABEL = 'gateway.istio.io/managed';
export const GATEWAY_MANAGED_MESH = 'istio.io-mesh-controller';
export const GATEWAY_MANAGED_EASTWEST = 'istio.io-eastwest-controller';
/** On a waypoint's own objects: the GatewayClass of their Gateway. */
export const GATEWAY_CLASS_NAME_LABEL = 'gateway.networking.k8s.io/gateway-class-name';
/** On a waypoint Gateway (wins) or its GatewayClass: which traffic it takes (`service` by default). */
export const WAYPOINT_FOR_LABEL = 'istio.io/waypoint-for';

export const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'] as const;
export const CANONICAL_REVISION_LABELS = ['service.istio.io/canonical-revision', 'app.kubernetes.io/version', 'version'] as const;
export const CANONICAL_REVISION_DEFAULT = 'latest';
/** Overrides the owner-derived workload name. */
export const WORKLOAD_NAME_LABEL = 'service.istio.io/workload-name';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
export const ROLLOUTS_POD_TEMPLATE_HASH_LABEL = 'rollouts-pod-template-hash';
export const DEPLOYMENT_CONFIG_LABEL = 'deploymentconfig';

export const TOPOLOGY_REGION_LABEL = 'topology.kubernetes.io/region';
export const TOPOLOGY_ZONE_LABEL = 'topology.kubernetes.io/zone';
export const TOPOLOGY_SUBZONE_LABEL = 'topology.istio.io/subzone';

/** Service and namespace annotation standing in for spec.trafficDistribution. */
export const TRAFFIC_DISTRIBUTION_ANNOTATION = 'networking.istio.io/traffic-distribution';
export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';
/** EndpointSlice label naming its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Go's strconv.ParseBool, which istiod uses for boolean labels and annotations. */
export function parseGoBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** The first of `keys` present in `labels` (present with an empty value counts). */
export function firstLabel(labels: Labels | undefined, keys: readonly string[]): string | undefined {
  if (!labels) return undefined;
  for (const k of keys) if (Object.hasOwn(labels, k)) return labels[k];
  return undefined;
}

/** matchLabels semantics: every pair of `selector` is in `labels`; an empty selector selects everything. */
export function matchLabelsSelect(selector: Labels, labels: Labels | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) {
    if (!labels || !Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | string;
  values?: readonly string[];
}

/** A metav1.LabelSelector (Gateway allowedRoutes namespace selectors use it). */
export interface LabelSelector {
  matchLabels?: Labels;
  matchExpressions?: readonly LabelSelectorRequirement[];
}

/** Full LabelSelector semantics; an empty selector selects everything, an unknown operator nothing. */
export function labelSelectorMatches(selector: LabelSelector, labels: Labels | undefined): boolean {
  if (!matchLabelsSelect(selector.matchLabels ?? {}, labels)) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = labels !== undefined && Object.hasOwn(labels, r.key);
    const value = has ? labels[r.key] : undefined;
    const values = r.values ?? [];
    switch (r.operator) {
      case 'In':
        if (!has || !values.includes(value!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}
