// Who may get a certificate for which identity (fact sheet §5.3). A caller is a Kubernetes service
// account proven by a TokenReview; it gets its own identity, or, when it is a trusted node proxy
// (ztunnel) asking through ImpersonatedIdentity, the identity of a pod that runs on its own node.
// Pure: the pod lookups come in as data; every refusal says why (for the log, never the caller).
import { parseSpiffeId, spiffeIdString, type SpiffeIdentity } from '../../../lib/identity/spiffe.ts';

export interface Caller {
  namespace: string;
  serviceAccount: string;
  /** From a pod-bound token (TokenReview extra `authentication.kubernetes.io/pod-name`/`pod-uid`). */
  podName?: string;
  podUid?: string;
}

export interface PodFacts {
  uid: string;
  namespace: string;
  serviceAccount: string;
  nodeName: string;
  phase: string;
}

export interface AuthorizeInput {
  caller: Caller;
  /** `ImpersonatedIdentity` from the request metadata, if any. */
  impersonated?: string;
  trustDomain: string;
  /** `namespace/serviceaccount` entries allowed to impersonate (CA_TRUSTED_NODE_ACCOUNTS). */
  trustedNodeAccounts: ReadonlySet<string>;
  /** The caller's own pod, looked up by name in the caller's namespace. */
  callerPod?: PodFacts;
  /** Pods scheduled on the caller pod's node. */
  podsOnNode: (node: string) => readonly PodFacts[];
}

export type AuthorizeDecision = { kind: 'allow'; identity: SpiffeIdentity } | { kind: 'deny'; reason: string };

const TERMINAL = new Set(['Succeeded', 'Failed']);

/** `system:serviceaccount:<ns>:<sa>` → the service account; anything else is not a workload. */
export function callerFromUsername(username: string, extra: Record<string, readonly string[] | undefined> = {}): Caller | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  if (!m) return undefined;
  const podName = extra['authentication.kubernetes.io/pod-name']?.[0];
  const podUid = extra['authentication.kubernetes.io/pod-uid']?.[0];
  return { namespace: m[1]!, serviceAccount: m[2]!, ...(podName ? { podName } : {}), ...(podUid ? { podUid } : {}) };
}

export function authorizeIdentity(i: AuthorizeInput): AuthorizeDecision {
  const own: SpiffeIdentity = { trustDomain: i.trustDomain, namespace: i.caller.namespace, serviceAccount: i.caller.serviceAccount };
  if (i.impersonated === undefined || i.impersonated === '') return { kind: 'allow', identity: own };
  const who = `${i.caller.namespace}/${i.caller.serviceAccount}`;
  if (!i.trustedNodeAccounts.has(who)) return { kind: 'deny', reason: `${who} may not impersonate (not in the trusted node accounts)` };
  const parsed = parseSpiffeId(i.impersonated);
  if (parsed.kind === 'error') return { kind: 'deny', reason: `ImpersonatedIdentity ${JSON.stringify(i.impersonated)}: ${parsed.reason}` };
  const wanted = parsed.identity;
  if (wanted.trustDomain !== i.trustDomain) return { kind: 'deny', reason: `ImpersonatedIdentity ${spiffeIdString(wanted)} is outside trust domain ${i.trustDomain}` };
  if (!i.caller.podName || !i.caller.podUid) return { kind: 'deny', reason: `${who} impersonates with a token not bound to a pod` };
  const pod = i.callerPod;
  if (!pod) return { kind: 'deny', reason: `caller pod ${i.caller.namespace}/${i.caller.podName} does not exist` };
  if (pod.uid !== i.caller.podUid) return { kind: 'deny', reason: `caller pod ${i.caller.namespace}/${i.caller.podName} has uid ${pod.uid}, the token names ${i.caller.podUid}` };
  if (pod.serviceAccount !== i.caller.serviceAccount) return { kind: 'deny', reason: `caller pod runs as ${pod.serviceAccount}, the token is for ${i.caller.serviceAccount}` };
  if (!pod.nodeName) return { kind: 'deny', reason: `caller pod ${i.caller.namespace}/${i.caller.podName} is not scheduled on a node` };
  const local = i.podsOnNode(pod.nodeName).some((p) => p.namespace === wanted.namespace && p.serviceAccount === wanted.serviceAccount && !TERMINAL.has(p.phase));
  if (!local) return { kind: 'deny', reason: `no running pod with service account ${wanted.namespace}/${wanted.serviceAccount} on node ${pod.nodeName}` };
  return { kind: 'allow', identity: wanted };
}
