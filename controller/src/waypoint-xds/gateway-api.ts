// Gateway API routes for the mesh (GAMMA, fact sheet §7): an HTTPRoute or GRPCRoute whose parentRef
// is a Service (group "", kind Service, optional port) is converted, as istiod does, into the
// VirtualService route model (one source per parent Service), so one translator serves both:
// PathPrefix/Exact/RegularExpression paths, headers, query parameters, method, weighted backendRefs,
// the RequestHeaderModifier/ResponseHeaderModifier/RequestRedirect/URLRewrite/RequestMirror filters
// and timeouts; a GRPCRoute method match becomes a path `/<service>/<method>`.
import type { V1Service } from '@kubernetes/client-node';
import type { RouteSource } from './route-sources.ts';
import type {
  BackendRef,
  GRPCRoute,
  GRPCRouteRule,
  HeaderOperations,
  HTTPHeaderModifier,
  HttpMatchRequest,
  HttpRoute,
  HTTPRoute,
  HTTPRouteFilter,
  HTTPRouteRule,
  IstioStringMatch,
  ParentReference,
} from './traffic-types.ts';

type AnyRoute = { kind: 'HTTPRoute'; route: HTTPRoute } | { kind: 'GRPCRoute'; route: GRPCRoute };

/** A parentRef naming a Service (GAMMA), in the route's namespace unless it says otherwise. */
export function isServiceParent(p: ParentReference): boolean {
  return (p.group ?? 'gateway.networking.k8s.io') === '' && p.kind === 'Service';
}

export function serviceParents(route: HTTPRoute | GRPCRoute): ParentReference[] {
  return (route.spec?.parentRefs ?? []).filter(isServiceParent);
}

export function isServiceBackend(b: BackendRef): boolean {
  return (b.group ?? '') === '' && (b.kind ?? 'Service') === 'Service';
}

/** Backends a route refers to that do not exist (not a Service, or no such Service): ResolvedRefs=False. */
export function missingBackends(route: HTTPRoute | GRPCRoute, services: ReadonlyMap<string, V1Service>): string[] {
  const ns = route.metadata.namespace ?? '';
  const out = new Set<string>();
  const check = (b: BackendRef) => {
    const key = `${b.namespace ?? ns}/${b.name}`;
    if (!isServiceBackend(b)) out.add(`${b.kind ?? 'Service'} ${key}`);
    else if (!services.has(key)) out.add(`Service ${key}`);
  };
  for (const rule of (route.spec?.rules ?? []) as (HTTPRouteRule | GRPCRouteRule)[]) {
    for (const b of rule.backendRefs ?? []) {
      check(b);
      for (const f of b.filters ?? []) if (f.requestMirror) check(f.requestMirror.backendRef);
    }
    for (const f of rule.filters ?? []) if (f.requestMirror) check(f.requestMirror.backendRef);
  }
  return [...out].sort();
}

function fqdn(name: string, ns: string, domainSuffix: string): string {
  return `${name}.${ns}.svc.${domainSuffix}`;
}

function stringMatch(type: string | undefined, value: string): IstioStringMatch {
  return type === 'RegularExpression' ? { regex: value } : { exact: value };
}

function headerOps(m: HTTPHeaderModifier | undefined): HeaderOperations | undefined {
  if (!m) return undefined;
  const obj = (l: { name: string; value: string }[] | undefined) => (l?.length ? Object.fromEntries(l.map((h) => [h.name, h.value])) : undefined);
  const set = obj(m.set);
  const add = obj(m.add);
  return { ...(set ? { set } : {}), ...(add ? { add } : {}), ...(m.remove?.length ? { remove: m.remove } : {}) };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Filters of a rule applied to the route model; the first path match's prefix feeds ReplacePrefixMatch. */
function applyFilters(out: HttpRoute, filters: readonly HTTPRouteFilter[], ns: string, domainSuffix: string, prefix: string | undefined): void {
  for (const f of filters) {
    switch (f.type) {
      case 'RequestHeaderModifier':
        out.headers = { ...out.headers, request: headerOps(f.requestHeaderModifier) ?? {} };
        break;
      case 'ResponseHeaderModifier':
        out.headers = { ...out.headers, response: headerOps(f.responseHeaderModifier) ?? {} };
        break;
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        out.redirect = {
          redirectCode: r.statusCode ?? 302,
          ...(r.scheme ? { scheme: r.scheme } : {}),
          ...(r.hostname ? { authority: r.hostname } : {}),
          ...(r.port ? { port: r.port } : r.scheme ? {} : { derivePort: 'FROM_REQUEST_PORT' as const }),
          ...(r.path?.type === 'ReplaceFullPath' ? { uri: r.path.replaceFullPath ?? '/' } : {}),
          ...(r.path?.type === 'ReplacePrefixMatch' ? { prefixRewrite: r.path.replacePrefixMatch ?? '/' } : {}),
        };
        break;
      }
      case 'URLRewrite': {
        const r = f.urlRewrite ?? {};
        out.rewrite = { ...(r.hostname ? { authority: r.hostname } : {}) };
        if (r.path?.type === 'ReplaceFullPath') out.rewrite.uriRegexRewrite = { match: '/[^?]*', rewrite: r.path.replaceFullPath ?? '/' };
        else if (r.path?.type === 'ReplacePrefixMatch') {
          const to = r.path.replacePrefixMatch ?? '/';
          // Replacing a prefix by "/" with a plain prefix rewrite would leave "//rest".
          if (to === '/' && prefix && prefix !== '/') out.rewrite.uriRegexRewrite = { match: `^${escapeRegex(prefix.replace(/\/+$/, ''))}/*`, rewrite: '/' };
          else out.rewrite.uri = to;
        }
        break;
      }
      case 'RequestMirror': {
        const m = f.requestMirror;
        if (!m) break;
        const pct = m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : (m.percent ?? 100);
        out.mirrors = [...(out.mirrors ?? []), { destination: { host: fqdn(m.backendRef.name, m.backendRef.namespace ?? ns, domainSuffix), ...(m.backendRef.port ? { port: { number: m.backendRef.port } } : {}) }, percentage: { value: pct } }];
        break;
      }
      default:
        // ExtensionRef, CORS (experimental): not converted, as Istio's mesh conversion.
        break;
    }
  }
}

function backends(refs: readonly BackendRef[] | undefined, ns: string, domainSuffix: string): HttpRoute['route'] {
  return (refs ?? []).map((b) => {
    const route: NonNullable<HttpRoute['route']>[number] = {
      // A non-Service backend gets a name no Service has: its cluster is missing, and the route answers 500.
      destination: { host: isServiceBackend(b) ? fqdn(b.name, b.namespace ?? ns, domainSuffix) : `${b.name}.${(b.kind ?? '').toLowerCase()}.invalid`, ...(b.port ? { port: { number: b.port } } : {}) },
      weight: b.weight ?? 1,
    };
    const req = b.filters?.find((f) => f.type === 'RequestHeaderModifier')?.requestHeaderModifier;
    const resp = b.filters?.find((f) => f.type === 'ResponseHeaderModifier')?.responseHeaderModifier;
    if (req || resp) route.headers = { ...(req ? { request: headerOps(req) } : {}), ...(resp ? { response: headerOps(resp) } : {}) };
    return route;
  });
}

type HTTPRouteMatch = NonNullable<HTTPRouteRule['matches']>[number];

/**
 * Gateway API's precedence between the matches of one route's rules, as a sort key (greater first):
 * an Exact path, then the longest PathPrefix (no path is the prefix `/`), then a method, then more
 * header matches, then more query parameter matches. Where a RegularExpression path goes the spec
 * leaves to the implementation: here by its length among the prefixes (after a prefix of the same
 * length), so a catch-all prefix does not hide it. Ties keep the order of the rules and matches.
 */
function matchPrecedence(m: HTTPRouteMatch | undefined): number[] {
  const type = m?.path?.type ?? 'PathPrefix';
  const value = m?.path?.value ?? '/';
  return [type === 'Exact' ? 1 : 0, type === 'Exact' ? 0 : value.length, type === 'PathPrefix' ? 1 : 0, m?.method ? 1 : 0, m?.headers?.length ?? 0, m?.queryParams?.length ?? 0];
}

function comparePrecedence(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return b[i]! - a[i]!;
  return 0;
}

/**
 * An HTTPRoute's rules as routes the waypoint tries in order: one per match (a rule without matches
 * is one route matching everything), sorted by Gateway API precedence, since the first route that
 * matches a request wins.
 */
function httpRules(route: HTTPRoute, port: number | undefined, domainSuffix: string): HttpRoute[] {
  const keyed = (route.spec?.rules ?? [{}]).flatMap((rule, i) => {
    const matches = rule.matches?.length ? rule.matches : [undefined];
    return matches.map((m) => ({ key: matchPrecedence(m), route: httpRule({ ...rule, ...(m ? { matches: [m] } : {}) }, i, route, port, domainSuffix) }));
  });
  return keyed.sort((a, b) => comparePrecedence(a.key, b.key)).map((k) => k.route);
}

function httpRule(rule: HTTPRouteRule, index: number, route: HTTPRoute, port: number | undefined, domainSuffix: string): HttpRoute {
  const ns = route.metadata.namespace ?? '';
  const matches: HttpMatchRequest[] = (rule.matches ?? []).map((m) => {
    const out: HttpMatchRequest = {};
    const path = m.path;
    if (path) {
      const v = path.value ?? '/';
      out.uri = path.type === 'Exact' ? { exact: v } : path.type === 'RegularExpression' ? { regex: v } : { prefix: v };
    }
    if (m.headers?.length) out.headers = Object.fromEntries(m.headers.map((h) => [h.name.toLowerCase(), stringMatch(h.type, h.value)]));
    if (m.queryParams?.length) out.queryParams = Object.fromEntries(m.queryParams.map((q) => [q.name, stringMatch(q.type, q.value)]));
    if (m.method) out.method = { exact: m.method };
    if (port !== undefined) out.port = port;
    return out;
  });
  const out: HttpRoute = { name: `${ns}.${route.metadata.name ?? ''}.${rule.name ?? index}` };
  if (matches.length) out.match = matches;
  else if (port !== undefined) out.match = [{ port }];
  const firstPrefix = rule.matches?.find((m) => (m.path?.type ?? 'PathPrefix') === 'PathPrefix')?.path?.value;
  applyFilters(out, rule.filters ?? [], ns, domainSuffix, firstPrefix);
  if (!out.redirect) {
    const dests = backends(rule.backendRefs, ns, domainSuffix) ?? [];
    // Gateway API: no backend (or only weight 0) answers 500.
    if (dests.length === 0 || dests.every((d) => (d.weight ?? 0) === 0)) out.directResponse = { status: 500 };
    else out.route = dests;
    if (rule.timeouts?.request !== undefined) out.timeout = rule.timeouts.request;
    else if (rule.timeouts?.backendRequest !== undefined) out.timeout = rule.timeouts.backendRequest;
    if (rule.retry) {
      out.retries = {
        attempts: rule.retry.attempts ?? 2,
        ...(rule.retry.codes?.length ? { retryOn: rule.retry.codes.join(',') } : {}),
        ...(rule.retry.backoff ? { backoff: rule.retry.backoff } : {}),
        ...(rule.timeouts?.backendRequest !== undefined ? { perTryTimeout: rule.timeouts.backendRequest } : {}),
      };
    }
  }
  return out;
}

function grpcRule(rule: GRPCRouteRule, index: number, route: GRPCRoute, port: number | undefined, domainSuffix: string): HttpRoute {
  const ns = route.metadata.namespace ?? '';
  const matches: HttpMatchRequest[] = (rule.matches ?? []).map((m) => {
    const out: HttpMatchRequest = {};
    const mm = m.method;
    if (mm && (mm.service || mm.method)) {
      if ((mm.type ?? 'Exact') === 'Exact') {
        if (mm.service && mm.method) out.uri = { exact: `/${mm.service}/${mm.method}` };
        else if (mm.service) out.uri = { prefix: `/${mm.service}/` };
        else out.uri = { regex: `/[^/]+/${escapeRegex(mm.method!)}` };
      } else out.uri = { regex: `/${mm.service || '[^/]+'}/${mm.method || '[^/]+'}` };
    }
    if (m.headers?.length) out.headers = Object.fromEntries(m.headers.map((h) => [h.name.toLowerCase(), stringMatch(h.type, h.value)]));
    if (port !== undefined) out.port = port;
    return out;
  });
  const out: HttpRoute = { name: `${ns}.${route.metadata.name ?? ''}.${rule.name ?? index}` };
  if (matches.length) out.match = matches;
  else if (port !== undefined) out.match = [{ port }];
  applyFilters(out, (rule.filters ?? []).filter((f) => f.type !== 'RequestRedirect' && f.type !== 'URLRewrite'), ns, domainSuffix, undefined);
  const dests = backends(rule.backendRefs, ns, domainSuffix) ?? [];
  if (dests.length === 0 || dests.every((d) => (d.weight ?? 0) === 0)) out.directResponse = { status: 500 };
  else out.route = dests;
  return out;
}

/** The route sources of one HTTPRoute or GRPCRoute: one per parent Service. */
export function gatewayRouteSources(r: AnyRoute, domainSuffix: string): RouteSource[] {
  const route = r.route;
  const ns = route.metadata.namespace ?? '';
  const out: RouteSource[] = [];
  for (const p of serviceParents(route)) {
    const pns = p.namespace ?? ns;
    const http =
      r.kind === 'HTTPRoute'
        ? httpRules(r.route, p.port, domainSuffix)
        : (r.route.spec?.rules ?? [{}]).map((rule, i) => grpcRule(rule, i, r.route, p.port, domainSuffix));
    out.push({ kind: r.kind, namespace: ns, name: route.metadata.name ?? '', hosts: [fqdn(p.name, pns, domainSuffix)], http, tcp: [], gatewayApi: true });
  }
  return out;
}
