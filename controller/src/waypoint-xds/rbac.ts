// L7 AuthorizationPolicy in the waypoint (fact sheet §2.5): which policies attach to a service's
// HTTP chain (targetRefs to the waypoint's Gateway or to the Service, or GatewayClass istio-waypoint
// from the root namespace; selector policies are ztunnel's) and their translation into Envoy RBAC
// HTTP filters the way istiod builds them: one Envoy policy per rule, `ns[<ns>]-policy[<name>]-rule[<i>]`,
// principals matched on filter state `io.istio.peer_principal`, CUSTOM (no provider) then DENY then
// ALLOW filters, dry-run policies as shadow_rules.
import {
  packAny,
  rbacFilterCodec,
  RbacAction,
  type MessageInput,
} from '../../../lib/proto/index.ts';
import { WAYPOINT_GATEWAY_CLASS } from '../model/gateway-types.ts';
import { formatIp, parseIpBlock } from '../model/ip.ts';
import type { AuthorizationPolicy, AuthorizationPolicyRule, PolicyTargetReference } from '../model/istio-types.ts';
import { DRY_RUN_ANNOTATION, parseGoBool } from '../model/labels.ts';
import type { WaypointKey } from './bindings.ts';
import type * as envoy from '../../../lib/proto/index.ts';
import type { ValueMatcher } from '../../../lib/proto/gen/envoy/type/matcher/v3/value.ts';

export const RBAC_FILTER = 'envoy.filters.http.rbac';
/** The filter state key istiod's waypoint matches source principals on (the HBONE peer's URI SAN). */
export const PEER_PRINCIPAL_FILTER_STATE = 'io.istio.peer_principal';
export const SHADOW_ALLOW_STAT_PREFIX = 'istio_dry_run_allow_';
export const SHADOW_DENY_STAT_PREFIX = 'istio_dry_run_deny_';
/** Where the JWT filter would leave a token's claims (request.auth.*): never present here. */
const JWT_FILTER = 'envoy.filters.http.jwt_authn';
const JWT_PAYLOAD = 'payload';
const EXT_AUTHZ_PREFIX = 'istio-ext-authz';
const BAD_CUSTOM_SUFFIX = '-deny-due-to-bad-CUSTOM-action';

type Permission = MessageInput<envoy.RbacPermission>;
type Principal = MessageInput<envoy.RbacPrincipal>;
type RbacPolicy = MessageInput<envoy.RbacPolicy>;
type StringMatcher = MessageInput<envoy.StringMatcher>;
type HeaderMatcher = MessageInput<envoy.HeaderMatcher>;
type HttpFilter = MessageInput<envoy.HttpFilter>;

/** Something about an AuthorizationPolicy the caller should surface (same shape as the traffic diagnostics). */
export interface RbacDiagnostic {
  kind: 'AuthorizationPolicy';
  namespace: string;
  name: string;
  /** `refused`: not in the configuration at all; `warning`: in it, with the noted difference. */
  severity: 'refused' | 'warning';
  /** A short stable word for metrics. */
  reason: 'unsupported-action' | 'invalid-value' | 'invalid-rule' | 'unsupported-attribute' | 'no-request-authentication' | 'invalid-annotation';
  message: string;
}

// ---------------------------------------------------------------------------------------------
// Attachment

/** The chain a policy may attach to: a Service the waypoint serves. */
export interface ChainTarget {
  waypoint: WaypointKey;
  service: { name: string; namespace: string };
}

/** Istio's canonical group: the core group is written "" or "core". */
function groupIs(ref: PolicyTargetReference, group: string): boolean {
  const g = ref.group === undefined || ref.group === '' ? 'core' : ref.group;
  return g === group;
}

export function targetRefsOf(policy: AuthorizationPolicy): PolicyTargetReference[] {
  const refs = policy.spec?.targetRefs ?? [];
  if (refs.length > 0) return refs;
  return policy.spec?.targetRef ? [policy.spec.targetRef] : [];
}

/**
 * istiod's ShouldAttachPolicy for a waypoint's service chain: a policy without targetRefs never
 * attaches (ztunnel enforces selector and namespace policies); a Service ref attaches to that
 * Service's chains in the policy's namespace; a Gateway ref to every chain of that waypoint in the
 * policy's namespace; GatewayClass istio-waypoint from the root namespace to every waypoint.
 */
export function attachesToChain(policy: AuthorizationPolicy, target: ChainTarget, rootNamespace: string): boolean {
  const ns = policy.metadata.namespace ?? '';
  for (const ref of targetRefsOf(policy)) {
    if (ref.kind === 'Service' && groupIs(ref, 'core') && ref.name === target.service.name && ns === target.service.namespace) return true;
    if (ns === rootNamespace && ref.kind === 'GatewayClass' && groupIs(ref, 'gateway.networking.k8s.io') && ref.name === WAYPOINT_GATEWAY_CLASS) return true;
    if (ns !== target.waypoint.namespace) continue;
    if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== target.waypoint.namespace) continue;
    if (ref.kind === 'Gateway' && groupIs(ref, 'gateway.networking.k8s.io') && ref.name === target.waypoint.name) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Envoy matcher builders

const pAny = (): Permission => ({ rule: { $case: 'any', any: true } });
const pAnd = (rules: Permission[]): Permission => ({ rule: { $case: 'andRules', andRules: { rules } } });
const pOr = (rules: Permission[]): Permission => ({ rule: { $case: 'orRules', orRules: { rules } } });
const pNot = (p: Permission): Permission => ({ rule: { $case: 'notRule', notRule: p } });
const idAny = (): Principal => ({ identifier: { $case: 'any', any: true } });
const idAnd = (ids: Principal[]): Principal => ({ identifier: { $case: 'andIds', andIds: { ids } } });
const idOr = (ids: Principal[]): Principal => ({ identifier: { $case: 'orIds', orIds: { ids } } });
const idNot = (p: Principal): Principal => ({ identifier: { $case: 'notId', notId: p } });

/** Go's regexp.QuoteMeta. */
function quoteMeta(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

const exact = (v: string, ignoreCase = false): StringMatcher => ({ matchPattern: { $case: 'exact', exact: v }, ignoreCase });
const prefix = (v: string, ignoreCase = false): StringMatcher => ({ matchPattern: { $case: 'prefix', prefix: v }, ignoreCase });
const suffix = (v: string, ignoreCase = false): StringMatcher => ({ matchPattern: { $case: 'suffix', suffix: v }, ignoreCase });
const regex = (r: string): StringMatcher => ({ matchPattern: { $case: 'safeRegex', safeRegex: { regex: r } } });

/**
 * Istio's string form (`*` any non-empty value, `*x` suffix, `x*` prefix, else exact) with `pre`
 * in front of the value, as istiod writes it: presence becomes the regex `.+` (Envoy refuses an
 * empty prefix), and a suffix under a prefix becomes a regex.
 */
export function istioStringMatcher(v: string, pre = ''): StringMatcher {
  if (v === '*') return regex('.+');
  if (v.startsWith('*')) return pre === '' ? suffix(v.slice(1)) : regex(`${quoteMeta(pre)}.*${quoteMeta(v.slice(1))}`);
  if (v.endsWith('*')) return prefix(pre + v.slice(0, -1));
  return exact(pre + v);
}

/** istiod's HeaderMatcher / HostMatcher: `*` → present_match, `*x` → suffix, `x*` → prefix, else exact. */
export function istioHeaderMatcher(name: string, v: string, ignoreCase = false): HeaderMatcher {
  if (v === '*') return { name, headerMatchSpecifier: { $case: 'presentMatch', presentMatch: true } };
  let m: StringMatcher;
  if (v.startsWith('*')) m = suffix(v.slice(1), ignoreCase);
  else if (v.endsWith('*')) m = prefix(v.slice(0, -1), ignoreCase);
  else m = exact(v, ignoreCase);
  return { name, headerMatchSpecifier: { $case: 'stringMatch', stringMatch: m } };
}

const peerPrincipal = (m: StringMatcher): Principal => ({
  identifier: { $case: 'filterState', filterState: { key: PEER_PRINCIPAL_FILTER_STATE, matcher: { $case: 'stringMatch', stringMatch: m } } },
});

function cidr(v: string): MessageInput<envoy.CidrRange> | string {
  const p = parseIpBlock(v);
  if (!p) return `${JSON.stringify(v)} is not an IP address or CIDR`;
  return { addressPrefix: formatIp(p.address), prefixLen: p.length };
}

function port(v: string): number | string {
  return /^[0-9]+$/.test(v) && Number(v) <= 65535 ? Number(v) : `${JSON.stringify(v)} is not a port`;
}

/** `[name]` → name (istiod's extractNameInBrackets). */
function nameInBrackets(s: string): string | undefined {
  return s.startsWith('[') && s.endsWith(']') && s.length > 2 ? s.slice(1, -1) : undefined;
}

/** `[a][b]` → [a, b]; `[a.b]` → [a.b] (istiod's extractNameInNestedBrackets). */
function namesInNestedBrackets(s: string): string[] | undefined {
  const out: string[] = [];
  const re = /\[([^[\]]*)\]/y;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push(m[1]!);
  if (re.lastIndex === s.length && out.length > 0 && out.every((x) => x !== '')) return out;
  const one = nameInBrackets(s);
  return one === undefined ? undefined : [one];
}

function jwtMetadata(path: string[], value: MessageInput<ValueMatcher>): Principal {
  return {
    identifier: {
      $case: 'metadata',
      metadata: { filter: JWT_FILTER, path: path.map((key) => ({ segment: { $case: 'key', key } })), value },
    },
  };
}

function stringValue(m: StringMatcher): MessageInput<ValueMatcher> {
  return { matchPattern: { $case: 'stringMatch', stringMatch: m } };
}

function orValue(ms: MessageInput<ValueMatcher>[]): MessageInput<ValueMatcher> {
  return ms.length === 1 ? ms[0]! : { matchPattern: { $case: 'orMatch', orMatch: { valueMatchers: ms } } };
}

/** A claim that may be a list or a string (istiod's extended JWT form): one of the list, or the value itself. */
function claimMatcher(claims: string[], values: string[]): Principal {
  const value = orValue(values.map((v) => stringValue(istioStringMatcher(v))));
  return jwtMetadata([JWT_PAYLOAD, ...claims], { matchPattern: { $case: 'orMatch', orMatch: { valueMatchers: [{ matchPattern: { $case: 'listMatch', listMatch: { matchPattern: { $case: 'oneOf', oneOf: value } } } }, value] } } });
}

/** requestPrincipals are `<iss>/<sub>` (issuer up to the last `/`), each part in Istio's string form. */
function requestPrincipalMatcher(values: string[]): Principal {
  const any = regex('.+');
  const ors = values.map((v) => {
    const idx = v.lastIndexOf('/');
    const found = idx >= 0;
    const iss = found ? v.slice(0, idx) : v;
    const sub = found ? v.slice(idx + 1) : '';
    let mi: StringMatcher;
    let ms: StringMatcher;
    if (v === '*') [mi, ms] = [any, any];
    else if (v.startsWith('*')) [mi, ms] = found ? [iss === '*' ? any : suffix(iss.slice(1)), exact(sub)] : [any, suffix(v.slice(1))];
    else if (v.endsWith('*')) [mi, ms] = found ? [exact(iss), sub === '*' ? any : prefix(sub.slice(0, -1))] : [prefix(v.slice(0, -1)), any];
    else [mi, ms] = [exact(iss), exact(sub)];
    return idAnd([jwtMetadata([JWT_PAYLOAD, 'iss'], stringValue(mi)), jwtMetadata([JWT_PAYLOAD, 'sub'], stringValue(ms))]);
  });
  return ors.length === 1 ? ors[0]! : idOr(ors);
}

function serviceAccountRegex(policyNamespace: string, v: string): string {
  const slash = v.indexOf('/');
  const [ns, sa] = slash < 0 ? [policyNamespace, v] : [v.slice(0, slash), v.slice(slash + 1)];
  return `spiffe://.+/ns/${ns}/(.+/|)sa/${sa}(/.+)?`;
}

function trustDomainMatcher(v: string): StringMatcher {
  if (v === '*') return prefix('spiffe://');
  if (!v.includes('*')) return prefix(`spiffe://${v}/`);
  const star = v.indexOf('*');
  return regex(`spiffe://${quoteMeta(v.slice(0, star))}[^/]*${quoteMeta(v.slice(star + 1))}/.*`);
}

// ---------------------------------------------------------------------------------------------
// Rule translation

type ActionKind = 'ALLOW' | 'DENY';

/** Per-value generators return a matcher or why the value cannot be one. */
type Gen<T> = (value: string) => T | string;

/** One attribute of a rule (e.g. `methods`/`notMethods`): values OR-ed, notValues negated. */
interface Attribute<T> {
  key: string;
  values: readonly string[];
  notValues: readonly string[];
  /** Per value (OR-ed), or `extended` over all values at once. */
  gen?: Gen<T>;
  extended?: (values: string[]) => T;
}

class RuleContext {
  /** Set when an ALLOW rule met a value it cannot translate: the whole rule goes (allows less). */
  skip: string | undefined;
  readonly warnings: { reason: RbacDiagnostic['reason']; message: string }[] = [];
  readonly action: ActionKind;
  readonly path: string;
  constructor(action: ActionKind, path: string) {
    this.action = action;
    this.path = path;
  }

  /** istiod's checkError: fatal to an ALLOW rule, only the value is dropped in a DENY rule. */
  invalid(key: string, message: string): void {
    if (this.action === 'ALLOW') this.skip ??= `${this.path}: ${key}: ${message}; the rule is left out, which allows less`;
    else this.warnings.push({ reason: 'invalid-value', message: `${this.path}: ${key}: ${message}; the value is ignored, which denies more` });
  }
}

function translateAttribute<T>(a: Attribute<T>, or: (xs: T[]) => T, not: (x: T) => T, ctx: RuleContext): T[] {
  const out: T[] = [];
  const one = (values: readonly string[]): T | undefined => {
    if (values.length === 0) return undefined;
    if (a.extended) return a.extended([...values]);
    const xs: T[] = [];
    for (const v of values) {
      const r = a.gen!(v);
      if (typeof r === 'string') ctx.invalid(a.key, r);
      else xs.push(r);
    }
    return xs.length ? or(xs) : undefined;
  };
  const pos = one(a.values);
  if (pos !== undefined) out.push(pos);
  const neg = one(a.notValues);
  if (neg !== undefined) out.push(not(neg));
  return out;
}

const list = (v: string[] | undefined): string[] => v ?? [];

/** A `when` key's attribute, or why the key is not one (istiod: "unknown attribute"; the rule is invalid). */
type WhenTarget = { side: 'permission'; attr: Attribute<Permission> } | { side: 'principal'; attr: Attribute<Principal> } | { error: string };

function headerPermission(name: string, ignoreCase: boolean): Gen<Permission> {
  return (v) => ({ rule: { $case: 'header', header: istioHeaderMatcher(name, v, ignoreCase) } });
}

const pathPermission: Gen<Permission> = (v) =>
  v.includes('{*}') || v.includes('{**}')
    ? `path template ${JSON.stringify(v)} is not supported`
    : { rule: { $case: 'urlPath', urlPath: { rule: { $case: 'path', path: istioStringMatcher(v) } } } };

const portPermission: Gen<Permission> = (v) => {
  const p = port(v);
  return typeof p === 'string' ? p : { rule: { $case: 'destinationPort', destinationPort: p } };
};

const destinationIpPermission: Gen<Permission> = (v) => {
  const c = cidr(v);
  return typeof c === 'string' ? c : { rule: { $case: 'destinationIp', destinationIp: c } };
};

const directRemoteIp: Gen<Principal> = (v) => {
  const c = cidr(v);
  return typeof c === 'string' ? c : { identifier: { $case: 'directRemoteIp', directRemoteIp: c } };
};

const remoteIp: Gen<Principal> = (v) => {
  const c = cidr(v);
  return typeof c === 'string' ? c : { identifier: { $case: 'remoteIp', remoteIp: c } };
};

const principalGen: Gen<Principal> = (v) => peerPrincipal(istioStringMatcher(v, 'spiffe://'));
const namespaceGen: Gen<Principal> = (v) => peerPrincipal(regex(`.*/ns/${v.replaceAll('*', '.*')}/.*`));

function whenTarget(key: string, values: string[], notValues: string[], policyNamespace: string): WhenTarget {
  const base = { key, values, notValues };
  switch (key) {
    case 'destination.ip':
      return { side: 'permission', attr: { ...base, gen: destinationIpPermission } };
    case 'destination.port':
      return { side: 'permission', attr: { ...base, gen: portPermission } };
    case 'connection.sni':
      return { side: 'permission', attr: { ...base, gen: (v) => ({ rule: { $case: 'requestedServerName', requestedServerName: istioStringMatcher(v) } }) } };
    case 'source.ip':
      return { side: 'principal', attr: { ...base, gen: directRemoteIp } };
    case 'remote.ip':
      return { side: 'principal', attr: { ...base, gen: remoteIp } };
    case 'source.namespace':
      return { side: 'principal', attr: { ...base, gen: namespaceGen } };
    case 'source.principal':
      return { side: 'principal', attr: { ...base, gen: principalGen } };
    case 'source.serviceAccount':
      return { side: 'principal', attr: { ...base, gen: (v) => peerPrincipal(regex(serviceAccountRegex(policyNamespace, v))) } };
    case 'source.trustDomain':
      return { side: 'principal', attr: { ...base, gen: (v) => peerPrincipal(trustDomainMatcher(v)) } };
    case 'request.auth.principal':
      return { side: 'principal', attr: { ...base, extended: requestPrincipalMatcher } };
    case 'request.auth.audiences':
      return { side: 'principal', attr: { ...base, extended: (vs) => claimMatcher(['aud'], vs) } };
    case 'request.auth.presenter':
      return { side: 'principal', attr: { ...base, extended: (vs) => claimMatcher(['azp'], vs) } };
    default:
  }
  if (key.startsWith('request.headers')) {
    const name = nameInBrackets(key.slice('request.headers'.length));
    if (name === undefined) return { error: `${JSON.stringify(key)}: expecting request.headers[<name>]` };
    return { side: 'principal', attr: { ...base, gen: (v) => ({ identifier: { $case: 'header', header: istioHeaderMatcher(name, v) } }) } };
  }
  if (key.startsWith('request.auth.claims')) {
    const claims = namesInNestedBrackets(key.slice('request.auth.claims'.length));
    if (claims === undefined) return { error: `${JSON.stringify(key)}: expecting request.auth.claims[<name>]` };
    return { side: 'principal', attr: { ...base, extended: (vs) => claimMatcher(claims, vs) } };
  }
  if (key.startsWith('experimental.envoy.filters.')) return { error: `${JSON.stringify(key)}: experimental Envoy metadata attributes are not supported` };
  return { error: `unknown attribute ${JSON.stringify(key)}` };
}

/** Keys whose values only a JWT (RequestAuthentication) could satisfy. */
function needsJwt(key: string): boolean {
  return key.startsWith('request.auth.') || key === 'requestPrincipals' || key === 'notRequestPrincipals';
}

/**
 * One rule → one Envoy policy (istiod's authz model): every `from` is a principal (AND of its
 * attributes and the `when` principal conditions), every `to` a permission (AND of its attributes
 * and the `when` permission conditions); a missing side is `any`.
 */
function translateRule(rule: AuthorizationPolicyRule, policyNamespace: string, ctx: RuleContext): RbacPolicy | undefined {
  const basePermissions: Attribute<Permission>[] = [];
  const basePrincipals: Attribute<Principal>[] = [];
  for (const [j, c] of (rule.when ?? []).entries()) {
    const t = whenTarget(c.key, list(c.values), list(c.notValues), policyNamespace);
    if ('error' in t) {
      ctx.skip ??= `${ctx.path}.when[${j}]: ${t.error}; the rule is left out`;
      return undefined;
    }
    if (t.side === 'permission') basePermissions.push(t.attr);
    else basePrincipals.push(t.attr);
    if (needsJwt(c.key)) ctx.warnings.push({ reason: 'no-request-authentication', message: `${ctx.path}.when[${j}]: ${c.key} needs a RequestAuthentication, which the waypoint does not implement: values never match, notValues always do` });
  }

  const principals: Principal[] = [];
  const fromList = rule.from ?? [];
  for (const [j, f] of fromList.entries()) {
    const s = f.source ?? {};
    // istiod's order: principals, requestPrincipals, serviceAccounts, trustDomains, namespaces, remoteIpBlocks, ipBlocks, then `when`.
    const attrs: Attribute<Principal>[] = [
      { key: 'principals', values: list(s.principals), notValues: list(s.notPrincipals), gen: principalGen },
      { key: 'requestPrincipals', values: list(s.requestPrincipals), notValues: list(s.notRequestPrincipals), extended: requestPrincipalMatcher },
      { key: 'serviceAccounts', values: list(s.serviceAccounts), notValues: list(s.notServiceAccounts), gen: (v) => peerPrincipal(regex(serviceAccountRegex(policyNamespace, v))) },
      { key: 'trustDomains', values: list(s.trustDomains), notValues: list(s.notTrustDomains), gen: (v) => peerPrincipal(trustDomainMatcher(v)) },
      { key: 'namespaces', values: list(s.namespaces), notValues: list(s.notNamespaces), gen: namespaceGen },
      { key: 'remoteIpBlocks', values: list(s.remoteIpBlocks), notValues: list(s.notRemoteIpBlocks), gen: remoteIp },
      { key: 'ipBlocks', values: list(s.ipBlocks), notValues: list(s.notIpBlocks), gen: directRemoteIp },
    ];
    if (s.requestPrincipals?.length || s.notRequestPrincipals?.length) {
      ctx.warnings.push({ reason: 'no-request-authentication', message: `${ctx.path}.from[${j}].source: requestPrincipals need a RequestAuthentication, which the waypoint does not implement: requestPrincipals never match, notRequestPrincipals always do` });
    }
    const and = [...attrs, ...basePrincipals].flatMap((a) => translateAttribute(a, idOr, idNot, ctx));
    principals.push(idAnd(and.length ? and : [idAny()]));
  }
  if (fromList.length === 0) {
    const and = basePrincipals.flatMap((a) => translateAttribute(a, idOr, idNot, ctx));
    principals.push(idAnd(and.length ? and : [idAny()]));
  }

  const permissions: Permission[] = [];
  const toList = rule.to ?? [];
  for (const t of toList) {
    const o = t.operation ?? {};
    // istiod's order: hosts (case-insensitive :authority), methods, paths (url_path), ports, then `when`.
    const attrs: Attribute<Permission>[] = [
      { key: 'hosts', values: list(o.hosts), notValues: list(o.notHosts), gen: headerPermission(':authority', true) },
      { key: 'methods', values: list(o.methods), notValues: list(o.notMethods), gen: headerPermission(':method', false) },
      { key: 'paths', values: list(o.paths), notValues: list(o.notPaths), gen: pathPermission },
      { key: 'ports', values: list(o.ports), notValues: list(o.notPorts), gen: portPermission },
    ];
    const and = [...attrs, ...basePermissions].flatMap((a) => translateAttribute(a, pOr, pNot, ctx));
    permissions.push(pAnd(and.length ? and : [pAny()]));
  }
  if (toList.length === 0) {
    const and = basePermissions.flatMap((a) => translateAttribute(a, pOr, pNot, ctx));
    permissions.push(pAnd(and.length ? and : [pAny()]));
  }
  if (ctx.skip) return undefined;
  return { permissions, principals };
}

/** A policy that matches no request (istiod's for a policy without rules: an ALLOW of it denies all). */
export const MATCH_NEVER: RbacPolicy = Object.freeze({
  permissions: [pNot(pAny())],
  principals: [idNot(idAny())],
}) as RbacPolicy;

export function rbacPolicyName(namespace: string, name: string, rule: number): string {
  return `ns[${namespace}]-policy[${name}]-rule[${rule}]`;
}

/** One AuthorizationPolicy translated once per build, independent of the chain it attaches to. */
export interface TranslatedPolicy {
  namespace: string;
  name: string;
  /** Which filter it goes to: CUSTOM policies become DENY rules of their own filter (no provider). */
  filter: 'custom' | 'deny' | 'allow' | 'none';
  dryRun: boolean;
  /** Envoy policy name → policy, in rule order. */
  policies: [string, RbacPolicy][];
  diagnostics: RbacDiagnostic[];
}

export function translateAuthorizationPolicy(policy: AuthorizationPolicy): TranslatedPolicy {
  const namespace = policy.metadata.namespace ?? '';
  const name = policy.metadata.name ?? '';
  const diagnostics: RbacDiagnostic[] = [];
  const diag = (severity: RbacDiagnostic['severity'], reason: RbacDiagnostic['reason'], message: string) => diagnostics.push({ kind: 'AuthorizationPolicy', namespace, name, severity, reason, message });
  const out: TranslatedPolicy = { namespace, name, filter: 'none', dryRun: false, policies: [], diagnostics };

  const annotation = policy.metadata.annotations?.[DRY_RUN_ANNOTATION];
  if (annotation !== undefined) {
    const b = parseGoBool(annotation);
    if (b === undefined) diag('warning', 'invalid-annotation', `${DRY_RUN_ANNOTATION}: ${JSON.stringify(annotation)} is not a boolean; the policy is enforced`);
    out.dryRun = b === true;
  }

  const action = policy.spec?.action ?? 'ALLOW';
  if (action === 'AUDIT') {
    diag('refused', 'unsupported-action', 'AUDIT needs an audit logging provider, which the waypoint does not have; not sent (it never changes a decision)');
    return out;
  }
  let prefix = '';
  let suffix = '';
  if (action === 'CUSTOM') {
    // istiod with an unknown extension provider fails closed: the rules become DENY rules. This mesh has no providers.
    const provider = policy.spec?.provider?.name ?? '';
    prefix = provider ? `${EXT_AUTHZ_PREFIX}-${provider}-` : `${EXT_AUTHZ_PREFIX}-`;
    suffix = BAD_CUSTOM_SUFFIX;
    if (out.dryRun) {
      diag('refused', 'unsupported-action', `CUSTOM needs an ext_authz provider (${JSON.stringify(provider)} is not defined); a dry-run CUSTOM policy has no effect`);
      return out;
    }
    diag('warning', 'unsupported-action', `CUSTOM needs an ext_authz provider (${JSON.stringify(provider)} is not defined); the requests it matches are denied, as istiod does for an unknown provider`);
  }
  out.filter = action === 'CUSTOM' ? 'custom' : action === 'DENY' ? 'deny' : 'allow';
  const kind: ActionKind = action === 'ALLOW' ? 'ALLOW' : 'DENY';

  const rules = policy.spec?.rules ?? [];
  rules.forEach((rule, i) => {
    const ctx = new RuleContext(kind, `rules[${i}]`);
    const p = translateRule(rule ?? {}, namespace, ctx);
    for (const w of ctx.warnings) diag('warning', w.reason, w.message);
    if (ctx.skip) diag('warning', 'invalid-rule', ctx.skip);
    if (p) out.policies.push([`${prefix}${rbacPolicyName(namespace, name, i)}${suffix}`, p]);
  });
  if (rules.length === 0) out.policies.push([`${prefix}${rbacPolicyName(namespace, name, 0)}${suffix}`, MATCH_NEVER]);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Filters

function rbacConfig(action: number, policies: [string, RbacPolicy][]): MessageInput<envoy.RbacConfig> {
  // Envoy's engine keeps policies by name; sorting here makes the bytes (and the version) stable.
  const sorted = [...policies].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { action: action as envoy.RbacConfig['action'], policies: Object.fromEntries(sorted) };
}

function rbacFilter(action: number, set: readonly TranslatedPolicy[], shadowPrefix: string): HttpFilter | undefined {
  if (set.length === 0) return undefined;
  const enforced = set.filter((p) => !p.dryRun);
  const shadow = set.filter((p) => p.dryRun);
  const typed: MessageInput<envoy.RBAC> = {
    // Present once any policy of the action is enforced, even with no Envoy policy left: an ALLOW
    // whose rules all fell out still denies everything, as the policy's author asked for less.
    ...(enforced.length ? { rules: rbacConfig(action, enforced.flatMap((p) => p.policies)) } : {}),
    ...(shadow.length ? { shadowRules: rbacConfig(action, shadow.flatMap((p) => p.policies)) } : {}),
    shadowRulesStatPrefix: shadowPrefix,
  };
  return { name: RBAC_FILTER, configType: { $case: 'typedConfig', typedConfig: packAny(rbacFilterCodec, typed) } };
}

/**
 * The RBAC HTTP filters of one chain from the policies attached to it, in Envoy's evaluation order:
 * CUSTOM (as DENY: no ext_authz provider), DENY, ALLOW. Empty when no policy attaches.
 */
export function rbacHttpFilters(attached: readonly TranslatedPolicy[]): HttpFilter[] {
  const sorted = [...attached].sort((a, b) => (a.namespace !== b.namespace ? (a.namespace < b.namespace ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const of = (f: TranslatedPolicy['filter']) => sorted.filter((p) => p.filter === f);
  const deny = RbacAction.DENY;
  // istiod names the shadow prefix after the shadow rules' action, and after ALLOW when there are none.
  const prefixFor = (set: readonly TranslatedPolicy[], action: number) => (set.some((p) => p.dryRun) && action === deny ? SHADOW_DENY_STAT_PREFIX : SHADOW_ALLOW_STAT_PREFIX);
  const custom = of('custom');
  const denies = of('deny');
  const allows = of('allow');
  return [rbacFilter(deny, custom, SHADOW_ALLOW_STAT_PREFIX), rbacFilter(deny, denies, prefixFor(denies, deny)), rbacFilter(RbacAction.ALLOW, allows, prefixFor(allows, RbacAction.ALLOW))].filter(
    (f): f is HttpFilter => f !== undefined,
  );
}

/**
 * Translates the waypoint-bound policies once, for use per chain: `forChain(target)` gives that
 * chain's RBAC filters; `diagnostics` lists what each attached policy could not carry, once.
 */
export class WaypointAuthorization {
  readonly #translated: { policy: AuthorizationPolicy; t: TranslatedPolicy }[];
  readonly #rootNamespace: string;
  readonly #used = new Set<TranslatedPolicy>();

  constructor(policies: readonly AuthorizationPolicy[], rootNamespace: string) {
    this.#rootNamespace = rootNamespace;
    // Only policies with targetRefs can attach; the rest are ztunnel's and need no translation.
    this.#translated = policies.filter((p) => targetRefsOf(p).length > 0).map((policy) => ({ policy, t: translateAuthorizationPolicy(policy) }));
  }

  forChain(target: ChainTarget): HttpFilter[] {
    const attached = this.#translated.filter(({ policy }) => attachesToChain(policy, target, this.#rootNamespace)).map(({ t }) => t);
    for (const t of attached) this.#used.add(t);
    return rbacHttpFilters(attached);
  }

  /** Diagnostics of the policies attached to some chain so far. */
  get diagnostics(): RbacDiagnostic[] {
    return [...this.#used].flatMap((t) => t.diagnostics);
  }
}
