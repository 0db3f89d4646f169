// VirtualService http routes (or Gateway API routes converted to them) → Envoy routes of one
// service port, as istiod translates them (fact sheet §3): each match block becomes a route (the
// blocks are ORed, fields ANDed), a catch-all ends the list, `sourceLabels`/`gateways`/
// `sourceNamespace` are dropped as in waypoints; actions are weighted clusters with timeout,
// retries (Istio's default policy when unset), rewrites, mirrors and hash policy, or a redirect or
// a direct response; headers, fault and CORS ride on the route. A part that cannot be translated
// is reported and left out without dropping the rest.
import { RE2 } from 're2-wasm';
import {
  corsCodec,
  httpFaultCodec,
  messageCodec,
  packAny,
  RedirectAction_RedirectResponseCode as RedirectCode,
  RouteAction_ClusterNotFoundResponseCode as ClusterNotFound,
  type Any,
  type MessageCodec,
  type MessageInput,
} from '../../../lib/proto/index.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { durationOf, parseDurationMs } from './durations.ts';
import type { RouteSource } from './route-sources.ts';
import type { CorsPolicy, Destination, HeaderOperations, HttpFaultInjection, HttpMatchRequest, HttpRetry, HttpRoute, IstioStringMatch, Percent } from './traffic-types.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type Route = MessageInput<envoy.Route>;
type RouteAction = MessageInput<envoy.RouteAction>;
type RouteMatch = MessageInput<envoy.RouteMatch>;
type HeaderMatcher = MessageInput<envoy.HeaderMatcher>;
type StringMatcher = NonNullable<MessageInput<envoy.CorsFilterPolicy>['allowOriginStringMatch']>[number];
type HeaderValueOption = MessageInput<envoy.HeaderValueOption>;

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';
/** The per-route CORS policy message (the filter's own config is `Cors`). */
export const corsPolicyCodec: MessageCodec<envoy.CorsFilterPolicy> = messageCodec('envoy.extensions.filters.http.cors.v3.CorsPolicy');
export const PREVIOUS_HOSTS_PREDICATE = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE_URL = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';
/** Istio's retry policy of a VirtualService route that sets none (mesh defaultHttpRetryPolicy unset). */
export const ISTIO_DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
const ISTIO_DEFAULT_ATTEMPTS = 2;
const FRACTION_MILLION = 2 as const;
const REDIRECT_CODES: Readonly<Record<number, RedirectCode>> = { 301: RedirectCode.MOVED_PERMANENTLY, 302: RedirectCode.FOUND, 303: RedirectCode.SEE_OTHER, 307: RedirectCode.TEMPORARY_REDIRECT, 308: RedirectCode.PERMANENT_REDIRECT };
const GRPC_CODES: Readonly<Record<string, number>> = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
};

/** Where a destination goes: the cluster name, and the hash policies of its DestinationRule. */
export interface ResolvedDestination {
  cluster: string;
  /** The destination exists and the cluster will be there. */
  found: boolean;
  hashPolicy: MessageInput<envoy.RouteAction_HashPolicy>[];
}

export interface HttpRouteContext {
  /** The service port the routes are for. */
  host: string;
  port: number;
  grpc: boolean;
  sink: DiagnosticSink;
  destination(d: Destination, source: RouteSource, chain: 'http' | 'tcp'): ResolvedDestination;
}

/** An RE2 pattern, or the reason it is not one (Envoy's safe_regex refuses what RE2 refuses). */
export function re2Error(pattern: string): string | undefined {
  try {
    new RE2(pattern, 'u');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Raised inside one route's translation: that route (or match block) is left out. */
class Skip extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

function regex(pattern: string, field: string): string {
  const err = re2Error(pattern);
  if (err !== undefined) throw new Skip('invalid-regex', `${field}: invalid RE2 regex ${JSON.stringify(pattern)}: ${err}`);
  return pattern;
}

/** A StringMatch with nothing in it, or the regexes `*` / `.*`: any value (a presence check). */
function isCatchAll(m: IstioStringMatch | undefined): boolean {
  if (!m) return true;
  if (m.exact !== undefined) return false;
  if (m.prefix !== undefined) return m.prefix === '';
  if (m.regex !== undefined) return m.regex === '*' || m.regex === '.*';
  return true;
}

function stringMatcher(m: IstioStringMatch, field: string, ignoreCase = false): StringMatcher {
  const ic = ignoreCase ? { ignoreCase: true } : {};
  if (m.exact !== undefined) return { matchPattern: { $case: 'exact', exact: m.exact }, ...ic };
  if (m.prefix !== undefined) return { matchPattern: { $case: 'prefix', prefix: m.prefix }, ...ic };
  if (m.regex !== undefined) return { matchPattern: { $case: 'safeRegex', safeRegex: { regex: regex(m.regex, `${field}.regex`) } } };
  throw new Skip('invalid-match', `${field}: one of exact, prefix, regex is required`);
}

function headerMatcher(name: string, m: IstioStringMatch | undefined, field: string, invert: boolean): HeaderMatcher {
  if (isCatchAll(m)) return { name, headerMatchSpecifier: { $case: 'presentMatch', presentMatch: true }, invertMatch: invert };
  // withoutHeaders: a missing header is an empty one, so "not exactly x" holds for requests without it.
  return { name, headerMatchSpecifier: { $case: 'stringMatch', stringMatch: stringMatcher(m!, field) }, invertMatch: invert, ...(invert ? { treatMissingHeaderAsEmpty: true } : {}) };
}

/** Header keys Istio reads from `uri`/`scheme`/`method`/`authority` instead. */
const RESERVED_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

function routeMatch(m: HttpMatchRequest, source: RouteSource, field: string): RouteMatch {
  const out: RouteMatch = { headers: [], queryParameters: [] };
  const uri = m.uri;
  if (uri?.exact !== undefined) out.pathSpecifier = { $case: 'path', path: uri.exact };
  else if (uri?.regex !== undefined) out.pathSpecifier = { $case: 'safeRegex', safeRegex: { regex: regex(uri.regex, `${field}.uri.regex`) } };
  else {
    const p = uri?.prefix === undefined || uri.prefix === '' ? '/' : uri.prefix;
    // Gateway API's PathPrefix matches whole segments: Envoy's path_separated_prefix (no trailing slash).
    const trimmed = p.length > 1 ? p.replace(/\/+$/, '') || '/' : p;
    out.pathSpecifier = source.gatewayApi && trimmed !== '/' && !m.ignoreUriCase ? { $case: 'pathSeparatedPrefix', pathSeparatedPrefix: trimmed } : { $case: 'prefix', prefix: p };
  }
  if (m.ignoreUriCase) out.caseSensitive = false;
  const headers: HeaderMatcher[] = [];
  for (const [k, v] of Object.entries(m.headers ?? {})) {
    const name = k.toLowerCase();
    if (RESERVED_HEADER_KEYS.has(name)) continue;
    // JWT claim matches need RequestAuthentication, which waypoints here do not implement.
    if (name.startsWith('@request.auth.claims')) throw new Skip('unsupported-field', `${field}.headers[${k}]: JWT claim matches are not supported`);
    headers.push(headerMatcher(name, v, `${field}.headers[${k}]`, false));
  }
  for (const [k, v] of Object.entries(m.withoutHeaders ?? {})) {
    const name = k.toLowerCase();
    if (RESERVED_HEADER_KEYS.has(name)) continue;
    headers.push(headerMatcher(name, v, `${field}.withoutHeaders[${k}]`, true));
  }
  for (const [pseudo, v] of [[':method', m.method], [':authority', m.authority], [':scheme', m.scheme]] as const) {
    if (v !== undefined) headers.push(headerMatcher(pseudo, v, `${field}.${pseudo.slice(1)}`, false));
  }
  out.headers = headers;
  out.queryParameters = Object.entries(m.queryParams ?? {}).map(([name, v]) =>
    isCatchAll(v) && v?.exact === undefined ? { name, queryParameterMatchSpecifier: { $case: 'presentMatch' as const, presentMatch: true } } : { name, queryParameterMatchSpecifier: { $case: 'stringMatch' as const, stringMatch: stringMatcher(v!, `${field}.queryParams[${name}]`) } },
  );
  return out;
}

/** A match block that takes every request: no path constraint beyond `/`, no headers, no query. */
function isCatchAllMatch(m: RouteMatch): boolean {
  const ps = m.pathSpecifier;
  return ps?.$case === 'prefix' && ps.prefix === '/' && m.caseSensitive !== false && !m.headers?.length && !m.queryParameters?.length;
}

function fraction(p: Percent | undefined, dflt: number): { numerator: number; denominator: typeof FRACTION_MILLION } {
  const pct = p?.value ?? dflt;
  return { numerator: Math.round(Math.min(100, Math.max(0, pct)) * 10_000), denominator: FRACTION_MILLION };
}

function headerOptions(ops: HeaderOperations | undefined, field: string, sink: (reason: string, msg: string) => void): { add: HeaderValueOption[]; remove: string[]; host?: string } {
  const add: HeaderValueOption[] = [];
  let host: string | undefined;
  const put = (k: string, v: string, action: 0 | 2) => {
    const key = k.toLowerCase();
    if (key === 'host' || key === ':authority') {
      if (action === 2) host = v;
      else sink('unsupported-field', `${field}: adding ${k} is not possible; use set to rewrite the authority`);
      return;
    }
    if (key.startsWith(':')) return sink('unsupported-field', `${field}: pseudo-header ${k} cannot be changed; ignored`);
    add.push({ header: { key, value: v }, appendAction: action });
  };
  for (const [k, v] of Object.entries(ops?.set ?? {})) put(k, v, 2 /* OVERWRITE_IF_EXISTS_OR_ADD */);
  for (const [k, v] of Object.entries(ops?.add ?? {})) put(k, v, 0 /* APPEND_IF_EXISTS_OR_ADD */);
  const remove = (ops?.remove ?? []).map((k) => k.toLowerCase()).filter((k) => !k.startsWith(':') && k !== 'host');
  return { add, remove, ...(host !== undefined ? { host } : {}) };
}

/** Istio's retry translation: unset → its default policy; attempts 0 → none; bare status codes → retriable_status_codes. */
export function retryPolicy(r: HttpRetry | undefined, opts: { consistentHash: boolean; field: string; warn: (reason: string, msg: string) => void }): MessageInput<envoy.RetryPolicy> | undefined {
  if (r && !(r.attempts !== undefined && r.attempts > 0)) return undefined;
  const conditions: string[] = [];
  const codes: number[] = [];
  for (const c of (r?.retryOn ?? ISTIO_DEFAULT_RETRY_ON).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (/^\d+$/.test(c)) {
      const n = Number(c);
      if (n >= 100 && n <= 599) codes.push(n);
      else opts.warn('invalid-retry-on', `${opts.field}.retryOn: ${c} is not an HTTP status; ignored`);
    } else conditions.push(c);
  }
  if (codes.length && !conditions.includes('retriable-status-codes')) conditions.push('retriable-status-codes');
  const out: MessageInput<envoy.RetryPolicy> = {
    retryOn: conditions.join(','),
    numRetries: r?.attempts ?? ISTIO_DEFAULT_ATTEMPTS,
    retriableStatusCodes: codes,
    hostSelectionRetryMaxAttempts: 5,
  };
  // A consistent hash must land on the same host again; otherwise try another one.
  if (!opts.consistentHash && r?.retryIgnorePreviousHosts !== false) out.retryHostPredicate = [{ name: PREVIOUS_HOSTS_PREDICATE, configType: { $case: 'typedConfig', typedConfig: { typeUrl: PREVIOUS_HOSTS_TYPE_URL, value: new Uint8Array(0) } } }];
  const perTry = parseDurationMs(r?.perTryTimeout);
  if (r?.perTryTimeout !== undefined && perTry === undefined) opts.warn('invalid-duration', `${opts.field}.perTryTimeout: not a duration; ignored`);
  if (perTry !== undefined && perTry > 0) out.perTryTimeout = durationOf(perTry);
  const backoff = parseDurationMs(r?.backoff);
  if (backoff !== undefined && backoff > 0) out.retryBackOff = { baseInterval: durationOf(backoff) };
  return out;
}

export function faultConfig(f: HttpFaultInjection, field: string, warn: (reason: string, msg: string) => void): MessageInput<envoy.HTTPFault> | undefined {
  const out: MessageInput<envoy.HTTPFault> = {};
  if (f.delay) {
    const ms = parseDurationMs(f.delay.fixedDelay);
    if (f.delay.exponentialDelay !== undefined) warn('unsupported-field', `${field}.delay.exponentialDelay is not supported (as in Istio); ignored`);
    if (ms === undefined) warn('invalid-duration', `${field}.delay.fixedDelay: required duration; delay ignored`);
    // No percentage: nothing is delayed (the deprecated integer `percent` counts when set).
    else out.delay = { faultDelaySecifier: { $case: 'fixedDelay', fixedDelay: durationOf(ms) }, percentage: fraction(f.delay.percentage ?? (f.delay.percent !== undefined ? { value: f.delay.percent } : undefined), 0) };
  }
  const a = f.abort;
  if (a) {
    const percentage = fraction(a.percentage, 0);
    if (a.httpStatus !== undefined) {
      if (a.httpStatus < 200 || a.httpStatus > 599) warn('invalid-field', `${field}.abort.httpStatus ${a.httpStatus} is not 200–599; abort ignored`);
      else out.abort = { errorType: { $case: 'httpStatus', httpStatus: a.httpStatus }, percentage };
    } else if (a.grpcStatus !== undefined) {
      const code = GRPC_CODES[a.grpcStatus.toUpperCase()] ?? (/^\d+$/.test(a.grpcStatus) ? Number(a.grpcStatus) : undefined);
      if (code === undefined) warn('invalid-field', `${field}.abort.grpcStatus ${JSON.stringify(a.grpcStatus)} is not a gRPC status; abort ignored`);
      else out.abort = { errorType: { $case: 'grpcStatus', grpcStatus: code }, percentage };
    } else if (a.http2Error !== undefined) warn('unsupported-field', `${field}.abort.http2Error is not supported; abort ignored`);
  }
  return out.delay || out.abort ? out : undefined;
}

export function corsConfig(c: CorsPolicy, field: string): MessageInput<envoy.CorsFilterPolicy> {
  const origins: StringMatcher[] = [
    ...(c.allowOrigins ?? []).map((o, i) => stringMatcher(o, `${field}.allowOrigins[${i}]`)),
    ...(c.allowOrigin ?? []).map((o): StringMatcher => (o === '*' ? { matchPattern: { $case: 'prefix', prefix: '' } } : { matchPattern: { $case: 'exact', exact: o } })),
  ];
  return {
    allowOriginStringMatch: origins,
    allowMethods: (c.allowMethods ?? []).join(','),
    allowHeaders: (c.allowHeaders ?? []).join(','),
    exposeHeaders: (c.exposeHeaders ?? []).join(','),
    maxAge: c.maxAge !== undefined ? String(Math.floor((parseDurationMs(c.maxAge) ?? 0) / 1000)) : '',
    ...(c.allowCredentials !== undefined ? { allowCredentials: c.allowCredentials } : {}),
    filterEnabled: { defaultValue: { numerator: 100, denominator: 0 /* HUNDRED */ }, runtimeKey: '' },
    forwardNotMatchingPreflights: c.unmatchedPreflights !== 'IGNORE',
  };
}

function redirectAction(r: NonNullable<HttpRoute['redirect']>, port: number, field: string): MessageInput<envoy.RedirectAction> {
  const code = REDIRECT_CODES[r.redirectCode ?? 301];
  if (code === undefined) throw new Skip('invalid-field', `${field}.redirectCode ${r.redirectCode} is not 301, 302, 303, 307 or 308`);
  const out: MessageInput<envoy.RedirectAction> = { responseCode: code };
  if (r.uri !== undefined) out.pathRewriteSpecifier = { $case: 'pathRedirect', pathRedirect: r.uri };
  else if (r.prefixRewrite !== undefined) out.pathRewriteSpecifier = { $case: 'prefixRewrite', prefixRewrite: r.prefixRewrite };
  if (r.authority !== undefined) out.hostRedirect = r.authority;
  if (r.scheme !== undefined) out.schemeRewriteSpecifier = { $case: 'schemeRedirect', schemeRedirect: r.scheme };
  if (r.port !== undefined) out.portRedirect = r.port;
  else if (r.derivePort === 'FROM_REQUEST_PORT') out.portRedirect = port;
  return out;
}

interface Translated {
  action: Route['action'];
  extras: Pick<Route, 'requestHeadersToAdd' | 'requestHeadersToRemove' | 'responseHeadersToAdd' | 'responseHeadersToRemove' | 'typedPerFilterConfig'>;
}

function routeAction(r: HttpRoute, source: RouteSource, ctx: HttpRouteContext, field: string, warn: (reason: string, msg: string) => void, routeHost: string | undefined): RouteAction {
  const dests = r.route ?? [];
  if (dests.length === 0) throw new Skip('invalid-field', `${field}: route, redirect or directResponse is required`);
  const resolved = dests.map((d) => ({ d, to: ctx.destination(d.destination, source, 'http') }));
  const positive = resolved.filter(({ d }) => (d.weight ?? 0) > 0);
  let weighted = dests.length === 1 ? resolved : positive;
  if (dests.length > 1) {
    const sum = positive.reduce((n, { d }) => n + (d.weight ?? 0), 0);
    if (positive.length === 0) {
      warn('invalid-weights', `${field}.route: no destination has a weight; traffic split evenly`);
      weighted = resolved;
    } else if (sum !== 100) warn('invalid-weights', `${field}.route: weights sum to ${sum}, not 100; each destination gets weight/${sum}`);
  }
  const out: RouteAction = {};
  if (weighted.length === 1) {
    out.clusterSpecifier = { $case: 'cluster', cluster: weighted[0]!.to.cluster };
  } else {
    out.clusterSpecifier = {
      $case: 'weightedClusters',
      weightedClusters: {
        clusters: weighted.map(({ d, to }, i) => {
          const h = headerOptions(d.headers?.request, `${field}.route[${i}].headers.request`, warn);
          const resp = headerOptions(d.headers?.response, `${field}.route[${i}].headers.response`, warn);
          return {
            name: to.cluster,
            weight: positive.length ? d.weight ?? 0 : 1,
            requestHeadersToAdd: h.add,
            requestHeadersToRemove: h.remove,
            responseHeadersToAdd: resp.add,
            responseHeadersToRemove: resp.remove,
            ...(h.host !== undefined ? { hostRewriteSpecifier: { $case: 'hostRewriteLiteral' as const, hostRewriteLiteral: h.host } } : {}),
          };
        }),
      },
    };
  }
  // Gateway API: a backend that does not exist answers 500, not Envoy's 503 (TestWaypointWithInvalidBackend).
  if (source.gatewayApi && resolved.some(({ to }) => !to.found)) out.clusterNotFoundResponseCode = ClusterNotFound.INTERNAL_SERVER_ERROR;
  const timeoutMs = parseDurationMs(r.timeout);
  if (r.timeout !== undefined && timeoutMs === undefined) warn('invalid-duration', `${field}.timeout: not a duration; no timeout`);
  out.timeout = durationOf(timeoutMs ?? 0);
  out.maxStreamDuration = { maxStreamDuration: durationOf(0), ...(timeoutMs ? { grpcTimeoutHeaderMax: durationOf(timeoutMs) } : {}) };
  const hash = resolved.find(({ to }) => to.hashPolicy.length)?.to.hashPolicy ?? [];
  if (hash.length) out.hashPolicy = hash;
  const retry = retryPolicy(r.retries, { consistentHash: hash.length > 0, field: `${field}.retries`, warn });
  if (retry) out.retryPolicy = retry;
  const rw = r.rewrite;
  if (rw?.uri !== undefined && rw.uriRegexRewrite) warn('invalid-field', `${field}.rewrite: uri and uriRegexRewrite are exclusive; uri used`);
  if (rw?.uri !== undefined) out.prefixRewrite = rw.uri;
  else if (rw?.uriRegexRewrite) {
    const m = rw.uriRegexRewrite.match ?? '';
    out.regexRewrite = { pattern: { regex: regex(m, `${field}.rewrite.uriRegexRewrite.match`) }, substitution: rw.uriRegexRewrite.rewrite ?? '' };
  }
  const authority = rw?.authority ?? routeHost;
  if (authority !== undefined) out.hostRewriteSpecifier = { $case: 'hostRewriteLiteral', hostRewriteLiteral: authority };
  const mirrors = [
    ...(r.mirror ? [{ destination: r.mirror, percentage: r.mirrorPercentage ?? (r.mirrorPercent !== undefined ? { value: r.mirrorPercent } : undefined) }] : []),
    ...(r.mirrors ?? []),
  ];
  const policies: MessageInput<envoy.RouteAction_RequestMirrorPolicy>[] = [];
  for (const m of mirrors) {
    const f = fraction(m.percentage, 100);
    if (f.numerator === 0) continue;
    policies.push({ cluster: ctx.destination(m.destination, source, 'http').cluster, runtimeFraction: { defaultValue: f, runtimeKey: '' }, traceSampled: false });
  }
  if (policies.length) out.requestMirrorPolicies = policies;
  return out;
}

function translate(r: HttpRoute, source: RouteSource, ctx: HttpRouteContext, field: string, warn: (reason: string, msg: string) => void): Translated {
  const reqHeaders = headerOptions(r.headers?.request, `${field}.headers.request`, warn);
  const respHeaders = headerOptions(r.headers?.response, `${field}.headers.response`, warn);
  const reqAdd = [...reqHeaders.add];
  const reqRemove = [...reqHeaders.remove];
  const respAdd = [...respHeaders.add];
  const respRemove = [...respHeaders.remove];
  const perFilter: Record<string, Any> = {};
  if (r.corsPolicy) perFilter[CORS_FILTER] = packAny(corsPolicyCodec, corsConfig(r.corsPolicy, `${field}.corsPolicy`));
  let action: Route['action'];
  const kinds = [r.route?.length ? 'route' : '', r.redirect ? 'redirect' : '', r.directResponse ? 'directResponse' : ''].filter(Boolean);
  if (kinds.length > 1) throw new Skip('invalid-field', `${field}: only one of ${kinds.join(', ')} may be set`);
  if (r.delegate) throw new Skip('unsupported-field', `${field}.delegate is not supported in waypoints`);
  if (r.redirect) {
    if (r.rewrite) throw new Skip('invalid-field', `${field}: rewrite cannot be combined with redirect`);
    action = { $case: 'redirect', redirect: redirectAction(r.redirect, ctx.port, `${field}.redirect`) };
  } else if (r.directResponse) {
    const d = r.directResponse;
    if (!Number.isInteger(d.status) || d.status < 200 || d.status > 599) throw new Skip('invalid-field', `${field}.directResponse.status ${d.status} is not 200–599`);
    const body = d.body?.string ?? (d.body?.bytes !== undefined ? Buffer.from(d.body.bytes, 'base64').toString('utf8') : undefined);
    action = { $case: 'directResponse', directResponse: { status: d.status, ...(body !== undefined ? { body: { specifier: { $case: 'inlineString', inlineString: body } } } : {}) } };
  } else {
    action = { $case: 'route', route: routeAction(r, source, ctx, field, warn, reqHeaders.host) };
    if (r.fault) {
      const f = faultConfig(r.fault, `${field}.fault`, warn);
      if (f) perFilter[FAULT_FILTER] = packAny(httpFaultCodec, f);
    }
    // Per-destination headers of a single destination go on the route itself.
    const only = r.route?.length === 1 ? r.route[0] : undefined;
    if (only?.headers) {
      const h = headerOptions(only.headers.request, `${field}.route[0].headers.request`, warn);
      const resp = headerOptions(only.headers.response, `${field}.route[0].headers.response`, warn);
      reqAdd.push(...h.add);
      reqRemove.push(...h.remove);
      respAdd.push(...resp.add);
      respRemove.push(...resp.remove);
      if (h.host !== undefined && action.route.hostRewriteSpecifier === undefined) action.route.hostRewriteSpecifier = { $case: 'hostRewriteLiteral', hostRewriteLiteral: h.host };
    }
  }
  return { action, extras: { requestHeadersToAdd: reqAdd, requestHeadersToRemove: reqRemove, responseHeadersToAdd: respAdd, responseHeadersToRemove: respRemove, typedPerFilterConfig: perFilter } };
}

/** Match blocks of `r` that apply on `port`, stripped of what waypoints ignore; [] = the route does not apply. */
function applicableMatches(r: HttpRoute, port: number, warn: (reason: string, msg: string) => void, field: string): HttpMatchRequest[] {
  if (!r.match?.length) return [{}];
  const out: HttpMatchRequest[] = [];
  r.match.forEach((m, i) => {
    if (m.port !== undefined && m.port !== port) return;
    const { sourceLabels, sourceNamespace, gateways, port: _p, ...rest } = m;
    if (sourceLabels && Object.keys(sourceLabels).length) warn('unsupported-field', `${field}.match[${i}].sourceLabels is not used by waypoints (Istio drops it); ignored`);
    if (sourceNamespace) warn('unsupported-field', `${field}.match[${i}].sourceNamespace is not used by waypoints; ignored`);
    if (gateways?.length) warn('unsupported-field', `${field}.match[${i}].gateways is not used by waypoints; ignored`);
    out.push(rest);
  });
  return out;
}

/** The Envoy routes of `source`'s http routes on one service port, in match order. */
export function translateHttpRoutes(source: RouteSource, ctx: HttpRouteContext): Route[] {
  const routes: Route[] = [];
  const report = (severity: 'refused' | 'warning') => (reason: string, message: string) =>
    ctx.sink.add({ kind: source.kind, namespace: source.namespace, name: source.name, severity, reason, message });
  const warn = report('warning');
  const refuse = report('refused');
  for (const [i, r] of source.http.entries()) {
    const field = `http[${i}]`;
    const blocks = applicableMatches(r, ctx.port, warn, field);
    if (blocks.length === 0) continue;
    let t: Translated;
    try {
      t = translate(r, source, ctx, field, warn);
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      refuse(err.reason, `${err.message}; route left out`);
      continue;
    }
    let catchAll = false;
    for (const [j, m] of blocks.entries()) {
      let match: RouteMatch;
      try {
        match = routeMatch(m, source, `${field}.match[${j}]`);
      } catch (err) {
        if (!(err instanceof Skip)) throw err;
        refuse(err.reason, `${err.message}; match left out`);
        continue;
      }
      const name = [r.name, m.name].filter(Boolean).join('.');
      routes.push({ name, match, action: t.action, decorator: { operation: `${ctx.host}:${ctx.port}/*` }, ...t.extras });
      if (isCatchAllMatch(match)) {
        catchAll = true;
        break;
      }
    }
    // Istio: routes after a catch-all can never match and are not sent.
    if (catchAll) break;
  }
  return routes;
}

/** The filter-level configs of the fault and CORS filters every waypoint HTTP chain carries (per-route configs do the work). */
export function faultFilterConfig(): Any {
  return packAny(httpFaultCodec, {});
}

export function corsFilterConfig(): Any {
  return packAny(corsCodec, {});
}
