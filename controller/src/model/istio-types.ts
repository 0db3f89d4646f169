// The Istio CRDs the model reads (security.istio.io/v1, schemas in charts/base/crds), as the minimal
// shapes the apiserver's JSON arrives in. Only the fields the model looks at are typed; the rest
// passes through unread.
import type { V1ObjectMeta } from '@kubernetes/client-node';

export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}

export type AuthorizationPolicyAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface AuthorizationPolicySource {
  principals?: string[];
  notPrincipals?: string[];
  requestPrincipals?: string[];
  notRequestPrincipals?: string[];
  namespaces?: string[];
  notNamespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
  remoteIpBlocks?: string[];
  notRemoteIpBlocks?: string[];
  serviceAccounts?: string[];
  notServiceAccounts?: string[];
  trustDomains?: string[];
  notTrustDomains?: string[];
}

export interface AuthorizationPolicyOperation {
  hosts?: string[];
  notHosts?: string[];
  ports?: string[];
  notPorts?: string[];
  methods?: string[];
  notMethods?: string[];
  paths?: string[];
  notPaths?: string[];
}

export interface AuthorizationPolicyCondition {
  key: string;
  values?: string[];
  notValues?: string[];
}

export interface AuthorizationPolicyRule {
  from?: { source?: AuthorizationPolicySource }[];
  to?: { operation?: AuthorizationPolicyOperation }[];
  when?: AuthorizationPolicyCondition[];
}

export interface AuthorizationPolicySpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  /** Absent means ALLOW. */
  action?: AuthorizationPolicyAction;
  provider?: { name?: string };
  rules?: AuthorizationPolicyRule[];
}

export interface AuthorizationPolicy {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: AuthorizationPolicySpec;
}

export type MtlsMode = 'UNSET' | 'DISABLE' | 'PERMISSIVE' | 'STRICT';

export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  /** Keyed by port number (JSON object keys are strings). */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}

export interface PeerAuthentication {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec?: PeerAuthenticationSpec;
}
