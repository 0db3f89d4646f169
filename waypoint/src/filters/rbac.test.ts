// RBAC decisions over rule sets compiled from Envoy RBAC config shaped as istiod writes it for a
// waypoint: Istio's path/host/method forms, principals on the peer filter state, namespaces,
// CIDRs, `when` headers, not-forms, ALLOW/DENY/shadow outcomes and Envoy's denial strings.
import { describe, expect, it } from 'vitest';
import { rbacFilterCodec, type MessageInput, type RbacPermission, type RbacPrincipal, type StringMatcher } from '../../../lib/proto/index.ts';
import type { RbacFilterConfig } from '../config/types.ts';
import { compileRbacFilter } from '../xds/compile-rbac.ts';
import { Problems } from '../xds/problems.ts';
import { evaluateRbac, rbacDeniedReply, type RbacRequest } from './rbac.ts';

type Perm = MessageInput<RbacPermission>;
type Id = MessageInput<RbacPrincipal>;
type SM = MessageInput<StringMatcher>;

// Envoy matcher builders in the shapes istiod emits.
const exact = (v: string, ignoreCase = false): SM => ({ matchPattern: { $case: 'exact', exact: v }, ignoreCase });
const prefix = (v: string): SM => ({ matchPattern: { $case: 'prefix', prefix: v } });
const suffix = (v: string): SM => ({ matchPattern: { $case: 'suffix', suffix: v } });
const regex = (r: string): SM => ({ matchPattern: { $case: 'safeRegex', safeRegex: { regex: r } } });
const and = (...rules: Perm[]): Perm => ({ rule: { $case: 'andRules', andRules: { rules } } });
const or = (...rules: Perm[]): Perm => ({ rule: { $case: 'orRules', orRules: { rules } } });
const not = (p: Perm): Perm => ({ rule: { $case: 'notRule', notRule: p } });
const anyPerm: Perm = { rule: { $case: 'any', any: true } };
const path = (m: SM): Perm => ({ rule: { $case: 'urlPath', urlPath: { rule: { $case: 'path', path: m } } } });
const method = (m: string): Perm => ({ rule: { $case: 'header', header: { name: ':method', headerMatchSpecifier: { $case: 'stringMatch', stringMatch: exact(m) } } } });
const host = (m: SM): Perm => ({ rule: { $case: 'header', header: { name: ':authority', headerMatchSpecifier: { $case: 'stringMatch', stringMatch: m } } } });
const port = (n: number): Perm => ({ rule: { $case: 'destinationPort', destinationPort: n } });
const andIds = (...ids: Id[]): Id => ({ identifier: { $case: 'andIds', andIds: { ids } } });
const orIds = (...ids: Id[]): Id => ({ identifier: { $case: 'orIds', orIds: { ids } } });
const notId = (p: Id): Id => ({ identifier: { $case: 'notId', notId: p } });
const anyId: Id = { identifier: { $case: 'any', any: true } };
const peer = (m: SM): Id => ({ identifier: { $case: 'filterState', filterState: { key: 'io.istio.peer_principal', matcher: { $case: 'stringMatch', stringMatch: m } } } });
const ns = (n: string): Id => peer(regex(`.*/ns/${n.replaceAll('*', '.*')}/.*`));
const directIp = (a: string, len: number): Id => ({ identifier: { $case: 'directRemoteIp', directRemoteIp: { addressPrefix: a, prefixLen: len } } });
const header = (name: string, m: SM): Id => ({ identifier: { $case: 'header', header: { name, headerMatchSpecifier: { $case: 'stringMatch', stringMatch: m } } } });
const present = (name: string): Id => ({ identifier: { $case: 'header', header: { name, headerMatchSpecifier: { $case: 'presentMatch', presentMatch: true } } } });
const jwt = (claim: string): Id => ({ identifier: { $case: 'metadata', metadata: { filter: 'envoy.filters.http.jwt_authn', path: [{ segment: { $case: 'key', key: 'payload' } }, { segment: { $case: 'key', key: claim } }], value: { matchPattern: { $case: 'stringMatch', stringMatch: regex('.+') } } } } });

/** A one-policy rule set, compiled as the waypoint would from xDS. */
function compiled(action: 0 | 1, permissions: Perm[], principals: Id[], opts: { shadow?: boolean } = {}): RbacFilterConfig {
  const rules = { action, policies: { 'ns[default]-policy[p]-rule[0]': { permissions, principals } } };
  const bytes = rbacFilterCodec.encode(opts.shadow ? { shadowRules: rules, shadowRulesStatPrefix: 'istio_dry_run_allow_' } : { rules });
  const decoded = rbacFilterCodec.decode(bytes);
  if (!decoded.ok) throw decoded.error;
  const p = new Problems();
  const out = compileRbacFilter(p, 'envoy.filters.http.rbac', decoded.value, 'f');
  expect(p.errors).toEqual([]);
  expect(out).toHaveLength(1);
  return out[0]!;
}

const allowIf = (permission: Perm, principal: Id = andIds(anyId)) => compiled(0, [permission], [principal]);

function req(over: Partial<RbacRequest> & { h?: Record<string, string> } = {}): RbacRequest {
  return {
    method: 'GET',
    path: '/',
    authority: 'echo.default.svc.cluster.local:8080',
    destinationPort: 8080,
    destinationIp: '10.96.0.10',
    sourceIp: '10.244.1.5',
    peerPrincipal: 'spiffe://cluster.local/ns/default/sa/sleep',
    headers: new Map(Object.entries(over.h ?? {})),
    ...over,
  };
}

const allowed = (f: RbacFilterConfig, r: RbacRequest) => evaluateRbac(f, r).kind === 'allow';

describe('evaluateRbac: Istio path forms (url_path, query ignored)', () => {
  it.each<[string, SM, string, boolean]>([
    ['exact', exact('/api'), '/api', true],
    ['exact ignores the query', exact('/api'), '/api?x=1', true],
    ['exact is exact', exact('/api'), '/api/', false],
    ['prefix /x*', prefix('/api/'), '/api/v1', true],
    ['prefix does not match the bare stem', prefix('/api/'), '/api', false],
    ['suffix *x', suffix('.png'), '/img/a.png', true],
    ['suffix before the query', suffix('.png'), '/a.png?size=1', true],
    ['suffix misses', suffix('.png'), '/a.png.txt', false],
    ['presence * is .+', regex('.+'), '/anything', true],
  ])('%s', (_n, m, p, want) => {
    expect(allowed(allowIf(and(or(path(m)))), req({ path: p }))).toBe(want);
  });
});

describe('evaluateRbac: operations', () => {
  it.each<[string, Perm, Partial<RbacRequest>, boolean]>([
    ['method matches', and(or(method('GET'), method('HEAD'))), { method: 'HEAD' }, true],
    ['method misses', and(or(method('GET'))), { method: 'POST' }, false],
    ['notMethods', and(not(or(method('DELETE')))), { method: 'DELETE' }, false],
    ['notMethods lets others through', and(not(or(method('DELETE')))), { method: 'GET' }, true],
    ['host is case-insensitive', and(or(host(exact('Echo.Example.com', true)))), { authority: 'echo.example.COM' }, true],
    ['host exact does not match host:port', and(or(host(exact('echo.example.com', true)))), { authority: 'echo.example.com:80' }, false],
    ['host prefix matches host:port', and(or(host({ ...prefix('echo.'), ignoreCase: true }))), { authority: 'echo.example.com:80' }, true],
    ['port of the CONNECT target', and(or(port(8080))), { destinationPort: 8080 }, true],
    ['other port', and(or(port(9090))), { destinationPort: 8080 }, false],
    ['AND of attributes', and(or(method('GET')), or(path(prefix('/api/')))), { method: 'GET', path: '/web' }, false],
  ])('%s', (_n, perm, r, want) => {
    expect(allowed(allowIf(perm), req(r))).toBe(want);
  });
});

describe('evaluateRbac: sources and conditions', () => {
  const td = 'spiffe://cluster.local';
  it.each<[string, Id, Partial<RbacRequest> & { h?: Record<string, string> }, boolean]>([
    ['principal exact (trust domain included)', andIds(orIds(peer(exact(`${td}/ns/default/sa/sleep`)))), {}, true],
    ['principal of another trust domain', andIds(orIds(peer(exact('spiffe://other.td/ns/default/sa/sleep')))), {}, false],
    ['principal prefix', andIds(orIds(peer(prefix(`${td}/ns/default/`)))), {}, true],
    ['principal suffix under spiffe://', andIds(orIds(peer(regex('spiffe://.*/sa/sleep')))), {}, true],
    ['principal * needs a peer', andIds(orIds(peer(regex('.+')))), { peerPrincipal: undefined }, false],
    ['notPrincipals', andIds(notId(orIds(peer(exact(`${td}/ns/default/sa/sleep`))))), {}, false],
    ['namespace', andIds(orIds(ns('default'))), {}, true],
    ['namespace is not a prefix match', andIds(orIds(ns('def'))), {}, false],
    ['namespace wildcard', andIds(orIds(ns('de*'))), {}, true],
    ['notNamespaces', andIds(notId(orIds(ns('default')))), {}, false],
    ['ipBlocks CIDR', andIds(orIds(directIp('10.244.0.0', 16))), {}, true],
    ['ipBlocks outside', andIds(orIds(directIp('10.245.0.0', 16))), {}, false],
    ['ipBlocks of a v4-mapped peer', andIds(orIds(directIp('10.244.1.5', 32))), { sourceIp: '::ffff:10.244.1.5' }, true],
    ['ipBlocks written unmasked', andIds(orIds(directIp('10.244.9.9', 16))), {}, true],
    ['IPv6 block', andIds(orIds(directIp('fd00::', 8))), { sourceIp: 'fd00::1' }, true],
    ['when request.headers exact', andIds(orIds(header('end-user', exact('jason')))), { h: { 'end-user': 'jason' } }, true],
    ['header names are case-insensitive', andIds(orIds(header('End-User', exact('jason')))), { h: { 'end-user': 'jason' } }, true],
    ['header value is case-sensitive', andIds(orIds(header('end-user', exact('jason')))), { h: { 'end-user': 'Jason' } }, false],
    ['header absent', andIds(orIds(header('end-user', exact('jason')))), {}, false],
    ['notValues of an absent header match', andIds(notId(orIds(header('end-user', exact('jason'))))), {}, true],
    ['header presence', andIds(orIds(present('x-token'))), { h: { 'x-token': '' } }, true],
    ['JWT claims are never there', andIds(orIds(andIds(jwt('iss'), jwt('sub')))), {}, false],
    ['notRequestPrincipals always match', andIds(notId(andIds(jwt('iss'), jwt('sub')))), {}, true],
  ])('%s', (_n, id, r, want) => {
    expect(allowed(allowIf(and(anyPerm), id), req(r))).toBe(want);
  });
});

describe('evaluateRbac: actions', () => {
  const getOnly = [and(or(method('GET')))];
  it('ALLOW: allowed on a match, denied naming no policy otherwise', () => {
    const f = compiled(0, getOnly, [andIds(anyId)]);
    expect(evaluateRbac(f, req())).toEqual({ kind: 'allow' });
    expect(evaluateRbac(f, req({ method: 'POST' }))).toEqual({ kind: 'deny', policy: 'none' });
  });

  it('DENY: denied naming the matching policy', () => {
    const f = compiled(1, getOnly, [andIds(anyId)]);
    expect(evaluateRbac(f, req())).toEqual({ kind: 'deny', policy: 'ns[default]-policy[p]-rule[0]' });
    expect(evaluateRbac(f, req({ method: 'POST' }))).toEqual({ kind: 'allow' });
  });

  it('a policy needs a matching permission and a matching principal', () => {
    const f = compiled(1, getOnly, [andIds(orIds(ns('other')))]);
    expect(evaluateRbac(f, req())).toEqual({ kind: 'allow' });
  });

  it('never-matching policy: ALLOW denies all, DENY has no effect', () => {
    const never = { permissions: [not(anyPerm)], principals: [notId(anyId)] };
    expect(evaluateRbac(compiled(0, never.permissions, never.principals), req()).kind).toBe('deny');
    expect(evaluateRbac(compiled(1, never.permissions, never.principals), req()).kind).toBe('allow');
  });

  it('shadow rules only report', () => {
    const f = compiled(0, getOnly, [andIds(anyId)], { shadow: true });
    expect(f.shadow).toBe(true);
    expect(evaluateRbac(f, req({ method: 'POST' }))).toEqual({ kind: 'shadow-deny', policy: 'none' });
    expect(evaluateRbac(f, req())).toEqual({ kind: 'allow' });
  });

  it('answers a denial as Envoy does', () => {
    expect(rbacDeniedReply('none')).toEqual({ status: 403, body: 'RBAC: access denied', flags: [], details: 'rbac_access_denied_matched_policy[none]' });
  });
});
