// RBAC decisions (pure), Envoy's `envoy.filters.http.rbac` semantics over a compiled rule set
// (config/types.ts RbacFilterConfig): a policy matches when any permission and any principal
// match; an ALLOW set allows when some policy matches, a DENY set denies when one does; a shadow set
// only reports what it would have decided. Also the exact strings Envoy answers a denial with.
import { BlockList, isIP } from 'node:net';
import type { CidrRange, RbacFilterConfig, RbacHeaderMatch, RbacPermission, RbacPolicy, RbacPrincipal } from '../config/types.ts';
import type { LocalReply } from '../http/local-reply.ts';
import { stringMatches } from '../router/route-table.ts';

/** Envoy's local reply for a denial: 403 with this body (text/plain). */
export const RBAC_DENIED_STATUS = 403;
export const RBAC_DENIED_BODY = 'RBAC: access denied';
/**
 * Envoy sets no response flag for an RBAC denial: the access log and the `response_flags` metric
 * label show `-`; the denial is told apart by RESPONSE_CODE_DETAILS.
 */
export const RBAC_RESPONSE_FLAGS: readonly string[] = [];
/** RESPONSE_CODE_DETAILS of a denial; `none` when an ALLOW set matched no policy. */
export function rbacResponseCodeDetails(policy: string): string {
  return `rbac_access_denied_matched_policy[${policy.replace(/\s/g, '_')}]`;
}
/** The policy a denial names when an ALLOW set had no match. */
export const NO_POLICY = 'none';
/** Counters under `http.<stat_prefix>.rbac.` (shadow ones under `…rbac.<shadow_rules_stat_prefix>`). */
export const RBAC_STATS = { allowed: 'allowed', denied: 'denied', shadowAllowed: 'shadow_allowed', shadowDenied: 'shadow_denied' } as const;
/** Dynamic metadata (namespace `envoy.filters.http.rbac`) a shadow evaluation leaves, prefixed with the stat prefix. */
export const SHADOW_EFFECTIVE_POLICY_ID = 'shadow_effective_policy_id';
export const SHADOW_ENGINE_RESULT = 'shadow_engine_result';

/** The local reply the data path sends for `{ kind: 'deny', policy }`. */
export function rbacDeniedReply(policy: string): LocalReply {
  return { status: RBAC_DENIED_STATUS, body: RBAC_DENIED_BODY, flags: RBAC_RESPONSE_FLAGS, details: rbacResponseCodeDetails(policy) };
}

/** What RBAC reads of a request and its connection. */
export interface RbacRequest {
  readonly method: string;
  /** `:path`, query included (url_path matchers drop query and fragment). */
  readonly path: string;
  readonly authority: string;
  readonly scheme?: string;
  /** Lower-case names; repeated headers joined with `,` (as Envoy matches them). A Map works. */
  readonly headers: { get(name: string): string | undefined };
  /** The CONNECT target (the service VIP and port). */
  readonly destinationPort: number;
  readonly destinationIp?: string;
  /** The HBONE connection's source IP. */
  readonly sourceIp: string;
  /** The HBONE peer's SPIFFE id (`spiffe://…`); undefined when there is none. */
  readonly peerPrincipal?: string;
}

export type RbacDecision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'deny'; readonly policy: string }
  /** A shadow (dry-run) set would have denied: record it, let the request through. */
  | { readonly kind: 'shadow-deny'; readonly policy: string };

const ALLOW: RbacDecision = Object.freeze({ kind: 'allow' });

/** One rule set's decision for `req`. */
export function evaluateRbac(filter: RbacFilterConfig, req: RbacRequest): RbacDecision {
  const matched = firstMatch(filter.policies, req);
  const denied = filter.action === 'ALLOW' ? matched === undefined : matched !== undefined;
  if (!denied) return ALLOW;
  const policy = matched ?? NO_POLICY;
  return filter.shadow ? { kind: 'shadow-deny', policy } : { kind: 'deny', policy };
}

/** The name of the first policy (in name order) that matches, as Envoy's engine reports it. */
export function firstMatch(policies: readonly RbacPolicy[], req: RbacRequest): string | undefined {
  for (const p of policies) if (policyMatches(p, req)) return p.name;
  return undefined;
}

export function policyMatches(p: RbacPolicy, req: RbacRequest): boolean {
  return p.permissions.some((x) => permissionMatches(x, req)) && p.principals.some((x) => principalMatches(x, req));
}

export function permissionMatches(x: RbacPermission, req: RbacRequest): boolean {
  switch (x.kind) {
    case 'any':
      return true;
    case 'and':
      return x.rules.every((r) => permissionMatches(r, req));
    case 'or':
      return x.rules.some((r) => permissionMatches(r, req));
    case 'not':
      return !permissionMatches(x.rule, req);
    case 'header':
      return headerMatches(x.header, req);
    case 'url-path':
      return stringMatches(x.match, urlPath(req.path));
    case 'destination-ip':
      return req.destinationIp !== undefined && cidrContains(x.cidr, req.destinationIp);
    case 'destination-port':
      return req.destinationPort === x.port;
    case 'destination-port-range':
      return req.destinationPort >= x.start && req.destinationPort < x.end;
    case 'requested-server-name':
      // The internal listener's connection is plaintext: its server name is empty.
      return stringMatches(x.match, '');
    case 'metadata':
      return x.invert;
  }
}

export function principalMatches(x: RbacPrincipal, req: RbacRequest): boolean {
  switch (x.kind) {
    case 'any':
      return true;
    case 'and':
      return x.ids.every((r) => principalMatches(r, req));
    case 'or':
      return x.ids.some((r) => principalMatches(r, req));
    case 'not':
      return !principalMatches(x.id, req);
    case 'authenticated':
      return req.peerPrincipal !== undefined && (x.match === undefined || stringMatches(x.match, req.peerPrincipal));
    case 'filter-state':
      // Only io.istio.peer_principal is ever set (compile warns about other keys).
      return x.key === 'io.istio.peer_principal' && req.peerPrincipal !== undefined && stringMatches(x.match, req.peerPrincipal);
    case 'direct-remote-ip':
    case 'remote-ip':
      return cidrContains(x.cidr, req.sourceIp);
    case 'header':
      return headerMatches(x.header, req);
    case 'url-path':
      return stringMatches(x.match, urlPath(req.path));
    case 'metadata':
      return x.invert;
  }
}

function headerValue(req: RbacRequest, name: string): string | undefined {
  switch (name) {
    case ':authority':
      return req.authority;
    case ':method':
      return req.method;
    case ':path':
      return req.path;
    case ':scheme':
      return req.scheme;
    default:
      return req.headers.get(name);
  }
}

/**
 * Envoy's HeaderUtility::matchHeaders: an absent header matches only an inverted presence check
 * (`present_match: false`); otherwise the match result, inverted when asked.
 */
export function headerMatches(h: RbacHeaderMatch, req: RbacRequest): boolean {
  const value = headerValue(req, h.name);
  if (value === undefined) return h.invert && h.match.kind === 'present';
  return stringMatches(h.match, value) !== h.invert;
}

/** The path without query and fragment, as Envoy's url_path matcher sees it. */
export function urlPath(path: string): string {
  const q = path.search(/[?#]/);
  return q >= 0 ? path.slice(0, q) : path;
}

// Each compiled CIDR leaf gets its BlockList once; the config is immutable, so the cache follows it.
const blockLists = new WeakMap<CidrRange, BlockList>();

/** Whether `ip` (IPv4, IPv6, or IPv4-mapped IPv6 as Node reports dual-stack peers) is in `cidr`. */
export function cidrContains(cidr: CidrRange, ip: string): boolean {
  let list = blockLists.get(cidr);
  if (!list) {
    list = new BlockList();
    const family = isIP(cidr.address) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(cidr.address, cidr.prefixLen, family);
    blockLists.set(cidr, list);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const addr = mapped ? mapped[1]! : ip;
  const family = isIP(addr);
  if (family === 0) return false;
  return list.check(addr, family === 6 ? 'ipv6' : 'ipv4');
}
