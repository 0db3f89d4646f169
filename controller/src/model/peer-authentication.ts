// PeerAuthentication in ambient (fact sheet §8.3): ztunnel never sees PeerAuthentication; it gets
// DENY policies that refuse connections without a peer identity (plaintext on 15006), and each
// workload names the ones its effective mTLS mode needs.
//
// - Whenever any PeerAuthentication exists, `<root>/istio_converted_static_strict` is sent: DENY if
//   the peer has no principal. Workloads whose effective mode is STRICT name it.
// - A workload-selector PeerAuthentication (outside the root namespace) with portLevelMtls that
//   changes something becomes `<ns>/converted_peer_authentication_<name>`, WORKLOAD_SELECTOR, DENY.
//   A STRICT port under a non-STRICT mode adds a rule {no principal AND port p}; PERMISSIVE/DISABLE
//   ports under an effective STRICT add one rule {no principal AND port not in those}. Workloads
//   whose effective policy needs port exceptions name this policy instead of the static one, since
//   any matching DENY wins and the exceptions could not undo the static policy.
// - Effective mode: mesh (oldest selector-less PA in the root namespace), overridden by namespace
//   (oldest selector-less PA in the workload's namespace) unless UNSET, overridden by the workload's
//   (oldest selecting PA in its namespace; a selector PA in the root namespace is ignored). No PA
//   at all is PERMISSIVE. DISABLE behaves as PERMISSIVE at L4.
//
// This follows istiod's ambient translation, with one rule for "the inherited mode is STRICT"
// applied everywhere. istiod evaluates that condition slightly differently in three places, which
// only matters for an UNSET workload PA under an inherited mode and leaves a workload naming a policy
// that is never sent (or ignoring a DISABLE port); we do what istiod's own comments describe.
import { AuthorizationAction, AuthorizationScope, type Authorization, type AuthorizationClause, type AuthorizationMatch } from '../../../lib/proto/index.ts';
import { emptyMatch } from './authorization.ts';
import type { MtlsMode, PeerAuthentication } from './istio-types.ts';
import { matchLabelsSelect, type Labels } from './labels.ts';
import type { ModelOptions } from './options.ts';

export const STATIC_STRICT_POLICY_NAME = 'istio_converted_static_strict';
export const CONVERTED_PEER_AUTHENTICATION_PREFIX = 'converted_peer_authentication_';

function modeOf(m: { mode?: MtlsMode } | undefined): MtlsMode {
  return m?.mode ?? 'UNSET';
}

const isStrict = (m: MtlsMode): boolean => m === 'STRICT';
/** PERMISSIVE and DISABLE both accept plaintext; ztunnel has nothing else to tell them apart by. */
const isPlaintextAllowed = (m: MtlsMode): boolean => m === 'PERMISSIVE' || m === 'DISABLE';

/** A PeerAuthentication with a non-empty selector is workload-level; otherwise namespace- or mesh-level. */
function hasSelector(pa: PeerAuthentication): boolean {
  return Object.keys(pa.spec?.selector?.matchLabels ?? {}).length > 0;
}

function createdAt(pa: PeerAuthentication): number {
  const t = pa.metadata.creationTimestamp as Date | string | undefined;
  if (t === undefined) return Number.POSITIVE_INFINITY;
  const ms = new Date(t).getTime();
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** The oldest wins a conflict, as in istiod; name order breaks ties so the result is stable. */
function oldest(pas: readonly PeerAuthentication[]): PeerAuthentication | undefined {
  let best: PeerAuthentication | undefined;
  for (const pa of pas) {
    if (!best) {
      best = pa;
      continue;
    }
    const a = createdAt(pa);
    const b = createdAt(best);
    const key = (p: PeerAuthentication) => `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`;
    if (a < b || (a === b && key(pa) < key(best))) best = pa;
  }
  return best;
}

const noPrincipal = (): AuthorizationMatch => ({ ...emptyMatch(), notPrincipals: [{ matchType: { $case: 'presence', presence: {} } }] });

/** `<root>/istio_converted_static_strict`: deny any connection without a peer identity. */
export function staticStrictPolicy(rootNamespace: string): Authorization {
  return {
    name: STATIC_STRICT_POLICY_NAME,
    namespace: rootNamespace,
    scope: AuthorizationScope.WORKLOAD_SELECTOR,
    action: AuthorizationAction.DENY,
    rules: [{ clauses: [{ matches: [noPrincipal()] }] }],
    dryRun: false,
    extensions: [],
  };
}

/**
 * The mode a workload inherits from its namespace's and the mesh's PeerAuthentications; for the root
 * namespace, the mesh's alone. Only PeerAuthentications of `namespace` and the root namespace matter.
 */
export function inheritedMode(all: readonly PeerAuthentication[], namespace: string, rootNamespace: string): { strict: boolean } {
  const mesh = oldest(all.filter((p) => p.metadata.namespace === rootNamespace && !hasSelector(p)));
  const ns = namespace === rootNamespace ? undefined : oldest(all.filter((p) => p.metadata.namespace === namespace && !hasSelector(p)));
  const nsMode = modeOf(ns?.spec?.mtls);
  if (ns && nsMode !== 'UNSET') return { strict: isStrict(nsMode) };
  return { strict: isStrict(modeOf(mesh?.spec?.mtls)) };
}

/** Port-level modes in ascending port order; keys that are not ports are skipped. */
function portModes(pa: PeerAuthentication): { port: number; mode: MtlsMode }[] {
  return Object.entries(pa.spec?.portLevelMtls ?? {})
    .map(([k, v]) => ({ port: /^[0-9]+$/.test(k) ? Number(k) : NaN, mode: modeOf(v) }))
    .filter((p) => p.port >= 1 && p.port <= 65535)
    .sort((a, b) => a.port - b.port);
}

export function convertedPeerAuthenticationName(pa: PeerAuthentication): string {
  return CONVERTED_PEER_AUTHENTICATION_PREFIX + (pa.metadata.name ?? '');
}

/**
 * The DENY policy a workload-selector PeerAuthentication with port-level mTLS turns into, or
 * undefined when it needs none (no port exceptions, all ports already covered by the mode, or a
 * mesh/namespace PeerAuthentication). `all` is every PeerAuthentication, for the inherited mode.
 */
export function convertPeerAuthentication(pa: PeerAuthentication, all: readonly PeerAuthentication[], options: ModelOptions): Authorization | undefined {
  const namespace = pa.metadata.namespace ?? '';
  if (namespace === options.rootNamespace || !hasSelector(pa)) return undefined;
  const ports = portModes(pa);
  if (ports.length === 0) return undefined;
  const mode = modeOf(pa.spec?.mtls);
  const parentStrict = inheritedMode(all, namespace, options.rootNamespace).strict;
  const effectiveStrict = isStrict(mode) || (mode === 'UNSET' && parentStrict);

  const strictPortRules = [];
  const exemptPorts: number[] = [];
  for (const { port, mode: pm } of ports) {
    if (isStrict(pm)) {
      // Already covered when the workload is STRICT anyway.
      if (!effectiveStrict) strictPortRules.push({ clauses: [{ matches: [{ ...noPrincipal(), destinationPorts: [port] }] }] });
    } else if (isPlaintextAllowed(pm)) {
      // Only an exception where the workload is otherwise STRICT.
      if (effectiveStrict) exemptPorts.push(port);
    }
  }
  if (strictPortRules.length === 0 && exemptPorts.length === 0) return undefined;
  const rules = [...strictPortRules];
  if (exemptPorts.length > 0) {
    // Deny plaintext on every port except the exempt ones: {no principal} AND {port not p1} AND ...
    // (clause order as istiod writes it: the PA's own STRICT first, an inherited STRICT last).
    const exempt: AuthorizationClause[] = exemptPorts.map((p) => ({ matches: [{ ...emptyMatch(), notDestinationPorts: [p] }] }));
    const strictClause: AuthorizationClause = { matches: [noPrincipal()] };
    rules.push({ clauses: isStrict(mode) ? [strictClause, ...exempt] : [...exempt, strictClause] });
  }
  return {
    name: convertedPeerAuthenticationName(pa),
    namespace,
    scope: AuthorizationScope.WORKLOAD_SELECTOR,
    action: AuthorizationAction.DENY,
    rules,
    dryRun: false,
    extensions: [],
  };
}

/**
 * Every policy PeerAuthentications produce: the static STRICT policy (whenever any exists), then
 * each converted workload PeerAuthentication.
 */
export function peerAuthenticationPolicies(all: readonly PeerAuthentication[], options: ModelOptions): Authorization[] {
  if (all.length === 0) return [];
  const out = [staticStrictPolicy(options.rootNamespace)];
  for (const pa of all) {
    const a = convertPeerAuthentication(pa, all, options);
    if (a) out.push(a);
  }
  return out;
}

/**
 * `ns/name` of the PeerAuthentication-derived policies a workload names, sorted: the static STRICT
 * policy when its effective mode is STRICT without port exceptions, its workload PeerAuthentication's
 * converted policy when that has port rules that apply.
 */
export function peerAuthenticationPoliciesForWorkload(all: readonly PeerAuthentication[], namespace: string, labels: Labels | undefined, rootNamespace: string): string[] {
  let strict = inheritedMode(all, namespace, rootNamespace).strict;
  const workload =
    namespace === rootNamespace
      ? undefined
      : oldest(all.filter((p) => p.metadata.namespace === namespace && hasSelector(p) && matchLabelsSelect(p.spec?.selector?.matchLabels ?? {}, labels)));
  let portPolicy: string | undefined;
  if (workload) {
    const mode = modeOf(workload.spec?.mtls);
    if (isStrict(mode)) strict = true;
    else if (isPlaintextAllowed(mode)) strict = false;
    const ports = portModes(workload);
    if (ports.length > 0) {
      if (strict) {
        // STRICT (own or inherited) with plaintext ports: the converted policy carries STRICT itself.
        if (ports.some((p) => isPlaintextAllowed(p.mode))) {
          portPolicy = `${namespace}/${convertedPeerAuthenticationName(workload)}`;
          strict = false;
        }
      } else if (ports.some((p) => isStrict(p.mode))) {
        portPolicy = `${namespace}/${convertedPeerAuthenticationName(workload)}`;
      }
    }
  }
  const out: string[] = [];
  if (strict) out.push(`${rootNamespace}/${STATIC_STRICT_POLICY_NAME}`);
  if (portPolicy) out.push(portPolicy);
  return out.sort();
}
