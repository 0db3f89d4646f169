// AuthorizationPolicy → istio.security.Authorization (fact sheet §4.5–4.7), the L4 subset ztunnel
// enforces, and which workloads name which selector policies. PeerAuthentication lives in
// peer-authentication.ts.
//
// L7 attributes (methods, paths, hosts, request principals, remote IPs, `when` keys other than
// source.ip/namespace/principal and destination.ip/port) cannot be checked at L4. istiod's ambient
// translation, which we follow rather than the sidecar's, handles them like this:
// - ALLOW: a rule using any of them is dropped whole, so it allows nothing (more restrictive).
// - DENY: the L7 parts are dropped and the rest is kept. Dropping leaves an empty match, and ztunnel
//   skips empty matches (they match nothing), so a `from`/`to`/`when` clause that was only L7
//   disables its whole rule. A DENY whose rules were all like that has no effect at ztunnel; a DENY
//   with an L4 remainder (e.g. ports plus methods) denies on the L4 part alone (more restrictive).
//   The sidecar world's "HTTP-only DENY denies all TCP" does not apply to ztunnel: istiod reports
//   "no effect" for that case and tells users to move the policy to a waypoint (targetRefs).
// We express exactly those semantics without the empty matches istiod leaves in: a rule that can
// never match is left out, and an empty match next to a real one is dropped. A real ztunnel decides
// every connection the same way, and so does a peer that would (wrongly) treat an empty match as
// match-all.
import {
  AuthorizationAction,
  AuthorizationScope,
  type Authorization,
  type AuthorizationClause,
  type AuthorizationMatch,
  type AuthorizationRule,
  type IpPrefix,
  type ServiceAccountMatch,
  type StringMatch,
} from '../../../lib/proto/index.ts';
import { parseIpBlock } from './ip.ts';
import type { AuthorizationPolicy, AuthorizationPolicyRule, PeerAuthentication } from './istio-types.ts';
import { DRY_RUN_ANNOTATION, matchLabelsSelect, parseGoBool, type Labels } from './labels.ts';
import type { ModelOptions } from './options.ts';

export type AuthorizationConversion =
  | { kind: 'converted'; authorization: Authorization; warnings: string[] }
  /** Bound to a waypoint, Gateway or Service through targetRefs: not a ztunnel policy. */
  | { kind: 'ignored'; reason: 'TargetRefs' }
  /** Not sent; `message` is for the policy's status. */
  | { kind: 'refused'; reason: 'UnsupportedAction' | 'DryRunDisabled'; message: string };

/** `when` keys ztunnel can evaluate; every other key is an L7 attribute. */
const L4_CONDITION_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);

export function emptyMatch(): AuthorizationMatch {
  return {
    namespaces: [],
    notNamespaces: [],
    principals: [],
    notPrincipals: [],
    sourceIps: [],
    notSourceIps: [],
    destinationIps: [],
    notDestinationIps: [],
    destinationPorts: [],
    notDestinationPorts: [],
    serviceAccounts: [],
    notServiceAccounts: [],
    extensions: [],
  };
}

export function isEmptyMatch(m: AuthorizationMatch): boolean {
  return (Object.keys(m) as (keyof AuthorizationMatch)[]).every((k) => m[k].length === 0);
}

/** Istio's string form: `*` any non-empty value, `*x` suffix, `x*` prefix, else exact. */
export function toStringMatch(v: string): StringMatch {
  if (v === '*') return { matchType: { $case: 'presence', presence: {} } };
  if (v.startsWith('*')) return { matchType: { $case: 'suffix', suffix: v.slice(1) } };
  if (v.endsWith('*')) return { matchType: { $case: 'prefix', prefix: v.slice(0, -1) } };
  return { matchType: { $case: 'exact', exact: v } };
}

/** The policy's scope: a selector narrows it to selected workloads; without one it covers its namespace, or the mesh from the root namespace. */
export function authorizationScope(policy: AuthorizationPolicy, rootNamespace: string): AuthorizationScope {
  if (policy.spec?.selector) return AuthorizationScope.WORKLOAD_SELECTOR;
  return policy.metadata.namespace === rootNamespace ? AuthorizationScope.GLOBAL : AuthorizationScope.NAMESPACE;
}

/**
 * Whether a policy's workload selector picks a pod with these labels: its matchLabels are all among
 * them (no matchLabels picks every pod). A policy without a selector selects no pod this way; it
 * applies by scope (namespace or mesh) instead.
 */
export function selects(policy: AuthorizationPolicy | PeerAuthentication, podLabels: Labels | undefined): boolean {
  const selector = policy.spec?.selector;
  return selector !== undefined && matchLabelsSelect(selector.matchLabels ?? {}, podLabels);
}

/** Collects what a rule's conversion dropped or could not read. */
class RuleIssues {
  readonly l7 = new Set<string>();
  readonly warnings: string[] = [];
}

function ports(values: string[] | undefined, path: string, issues: RuleIssues): number[] {
  const out: number[] = [];
  (values ?? []).forEach((v, i) => {
    const n = /^[0-9]+$/.test(v) ? Number(v) : NaN;
    if (n >= 1 && n <= 65535) out.push(n);
    else issues.warnings.push(`${path}[${i}]: ${JSON.stringify(v)} is not a port; ignored`);
  });
  return out;
}

function ipBlocks(values: string[] | undefined, path: string, issues: RuleIssues): IpPrefix[] {
  const out: IpPrefix[] = [];
  (values ?? []).forEach((v, i) => {
    if (v === '') return;
    const p = parseIpBlock(v);
    if (p) out.push({ address: p.address, length: p.length });
    else issues.warnings.push(`${path}[${i}]: ${JSON.stringify(v)} is not an IP address or CIDR; ignored`);
  });
  return out;
}

function stringMatches(values: string[] | undefined): StringMatch[] {
  return (values ?? []).map(toStringMatch);
}

function principals(values: string[] | undefined, path: string, issues: RuleIssues): StringMatch[] {
  (values ?? []).forEach((v, i) => {
    // istiod sends these as written; ztunnel compares them with the peer identity minus `spiffe://`.
    if (v.startsWith('spiffe://')) issues.warnings.push(`${path}[${i}]: principals are written without "spiffe://"; ${JSON.stringify(v)} never matches`);
  });
  return stringMatches(values);
}

/** `ns/sa`, or a bare `sa` in the policy's own namespace. */
function serviceAccounts(values: string[] | undefined, policyNamespace: string): ServiceAccountMatch[] {
  return (values ?? []).map((v) => {
    const slash = v.indexOf('/');
    return slash < 0 ? { namespace: policyNamespace, serviceAccount: v } : { namespace: v.slice(0, slash), serviceAccount: v.slice(slash + 1) };
  });
}

/**
 * One rule's clauses, AND-ed: its `to` matches, its `from` matches, then one clause per `when`
 * condition. L7 attributes are left out and recorded.
 */
function ruleClauses(rule: AuthorizationPolicyRule, path: string, policyNamespace: string, issues: RuleIssues): AuthorizationClause[] {
  const clauses: AuthorizationClause[] = [];
  const to = rule.to ?? [];
  if (to.length > 0) {
    clauses.push({
      matches: to.map((t, j) => {
        const op = t.operation ?? {};
        const p = `${path}.to[${j}].operation`;
        for (const f of ['hosts', 'notHosts', 'methods', 'notMethods', 'paths', 'notPaths'] as const) if (op[f]?.length) issues.l7.add(f);
        return { ...emptyMatch(), destinationPorts: ports(op.ports, `${p}.ports`, issues), notDestinationPorts: ports(op.notPorts, `${p}.notPorts`, issues) };
      }),
    });
  }
  const from = rule.from ?? [];
  if (from.length > 0) {
    clauses.push({
      matches: from.map((f, j) => {
        const src = f.source ?? {};
        const p = `${path}.from[${j}].source`;
        for (const k of ['remoteIpBlocks', 'notRemoteIpBlocks', 'requestPrincipals', 'notRequestPrincipals'] as const) if (src[k]?.length) issues.l7.add(k);
        if (src.trustDomains?.length || src.notTrustDomains?.length) issues.warnings.push(`${p}: trustDomains and notTrustDomains have no ztunnel equivalent; ignored`);
        return {
          ...emptyMatch(),
          sourceIps: ipBlocks(src.ipBlocks, `${p}.ipBlocks`, issues),
          notSourceIps: ipBlocks(src.notIpBlocks, `${p}.notIpBlocks`, issues),
          namespaces: stringMatches(src.namespaces),
          notNamespaces: stringMatches(src.notNamespaces),
          serviceAccounts: serviceAccounts(src.serviceAccounts, policyNamespace),
          notServiceAccounts: serviceAccounts(src.notServiceAccounts, policyNamespace),
          principals: principals(src.principals, `${p}.principals`, issues),
          notPrincipals: principals(src.notPrincipals, `${p}.notPrincipals`, issues),
        };
      }),
    });
  }
  (rule.when ?? []).forEach((c, j) => {
    const p = `${path}.when[${j}]`;
    const m = emptyMatch();
    switch (c.key) {
      case 'source.ip':
        m.sourceIps = ipBlocks(c.values, `${p}.values`, issues);
        m.notSourceIps = ipBlocks(c.notValues, `${p}.notValues`, issues);
        break;
      case 'source.namespace':
        m.namespaces = stringMatches(c.values);
        m.notNamespaces = stringMatches(c.notValues);
        break;
      case 'source.principal':
        m.principals = principals(c.values, `${p}.values`, issues);
        m.notPrincipals = principals(c.notValues, `${p}.notValues`, issues);
        break;
      case 'destination.ip':
        m.destinationIps = ipBlocks(c.values, `${p}.values`, issues);
        m.notDestinationIps = ipBlocks(c.notValues, `${p}.notValues`, issues);
        break;
      case 'destination.port':
        m.destinationPorts = ports(c.values, `${p}.values`, issues);
        m.notDestinationPorts = ports(c.notValues, `${p}.notValues`, issues);
        break;
      default:
        if (!L4_CONDITION_KEYS.has(c.key)) issues.l7.add(c.key);
    }
    clauses.push({ matches: [m] });
  });
  return clauses;
}

/**
 * The same decisions with no empty matches: an empty match next to a real one is dropped; a clause
 * of only empty matches can never match, so its rule is dropped (undefined).
 */
function withoutEmptyMatches(clauses: AuthorizationClause[]): AuthorizationRule | undefined {
  const out: AuthorizationClause[] = [];
  for (const c of clauses) {
    const matches = c.matches.filter((m) => !isEmptyMatch(m));
    if (matches.length === 0) return undefined;
    out.push({ matches });
  }
  return { clauses: out };
}

function dryRunOf(policy: AuthorizationPolicy): boolean {
  const v = policy.metadata.annotations?.[DRY_RUN_ANNOTATION];
  // Like istiod: an unparsable value is not dry-run.
  return v !== undefined && v !== '' && parseGoBool(v) === true;
}

export function convertAuthorizationPolicy(policy: AuthorizationPolicy, options: ModelOptions): AuthorizationConversion {
  const name = policy.metadata.name ?? '';
  const namespace = policy.metadata.namespace ?? '';
  const spec = policy.spec ?? {};
  // Waypoint policies first: a dry-run one is the waypoint's to honour, not a refusal of ztunnel's.
  if (spec.targetRef || spec.targetRefs?.length) return { kind: 'ignored', reason: 'TargetRefs' };
  const dryRun = dryRunOf(policy);
  if (dryRun && !options.enableDryRunPolicies) {
    return { kind: 'refused', reason: 'DryRunDisabled', message: `${DRY_RUN_ANNOTATION} is set but dry-run policies are not enabled for ztunnel` };
  }
  const actionName = spec.action ?? 'ALLOW';
  if (actionName !== 'ALLOW' && actionName !== 'DENY') {
    return { kind: 'refused', reason: 'UnsupportedAction', message: `ztunnel cannot enforce action ${actionName}` };
  }
  const action = actionName === 'DENY' ? AuthorizationAction.DENY : AuthorizationAction.ALLOW;

  const warnings: string[] = [];
  const l7 = new Set<string>();
  const rules: AuthorizationRule[] = [];
  (spec.rules ?? []).forEach((rule, i) => {
    const issues = new RuleIssues();
    const clauses = ruleClauses(rule ?? {}, `rules[${i}]`, namespace, issues);
    warnings.push(...issues.warnings);
    for (const k of issues.l7) l7.add(k);
    // An ALLOW rule that needs L7 to decide would allow too much without it: it goes.
    if (action === AuthorizationAction.ALLOW && issues.l7.size > 0) return;
    const r = withoutEmptyMatches(clauses);
    if (r) rules.push(r);
  });

  if (l7.size > 0) {
    const found = [...l7].sort().join(', ');
    let effect: string;
    if (action === AuthorizationAction.ALLOW) effect = 'ALLOW rules using them are left out, which allows less than the policy says';
    else if (rules.length === 0) effect = 'without them this DENY policy has no rule ztunnel can match and has no effect; bind it to a waypoint with targetRefs';
    else effect = 'this DENY policy is enforced on its L4 parts alone, which denies more than the policy says';
    warnings.push(`ztunnel enforces L4 only; HTTP attributes found: ${found}; ${effect}`);
  }

  return {
    kind: 'converted',
    authorization: {
      name,
      namespace,
      scope: authorizationScope(policy, options.rootNamespace),
      action,
      rules,
      dryRun,
      extensions: [],
    },
    warnings,
  };
}

/** A WORKLOAD_SELECTOR policy that will be sent, reduced to what matching workloads needs. */
export interface SelectorPolicyRef {
  namespace: string;
  name: string;
  matchLabels: Labels;
}

/** The selector policies among `policies` that convert (the others are never named by workloads). */
export function selectorPolicyRefs(policies: readonly AuthorizationPolicy[], options: ModelOptions): SelectorPolicyRef[] {
  const out: SelectorPolicyRef[] = [];
  for (const p of policies) {
    const selector = p.spec?.selector;
    if (!selector) continue;
    if (convertAuthorizationPolicy(p, options).kind !== 'converted') continue;
    out.push({ namespace: p.metadata.namespace ?? '', name: p.metadata.name ?? '', matchLabels: selector.matchLabels ?? {} });
  }
  return out;
}

/**
 * `ns/name` of the selector policies that select a workload, sorted: those of its namespace and
 * those of the root namespace (a selector policy there selects across the mesh).
 */
export function selectorPoliciesForWorkload(refs: readonly SelectorPolicyRef[], namespace: string, labels: Labels | undefined, rootNamespace: string): string[] {
  return refs
    .filter((r) => (r.namespace === namespace || r.namespace === rootNamespace) && matchLabelsSelect(r.matchLabels, labels))
    .map((r) => `${r.namespace}/${r.name}`)
    .sort();
}
