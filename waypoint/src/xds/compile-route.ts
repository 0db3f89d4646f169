// Envoy RouteConfiguration → the waypoint's route table (config/types.ts): virtual hosts by domain,
// routes in order with their match (path, headers, query parameters; regexes checked as RE2) and
// action (to clusters with timeout, retries, rewrites, mirrors and hash policy, redirect, direct
// response), header mutations and per-route fault/CORS config (compile-traffic.ts). What the waypoint
// cannot carry out is refused rather than silently dropped: a route that ignored part of its match
// or action would send traffic where it was never meant to go.
import type {
  DirectResponseAction,
  HeaderMatcher,
  QueryParameterMatcher,
  RedirectAction,
  RetryPolicy as EnvoyRetryPolicy,
  Route as EnvoyRoute,
  RouteAction as EnvoyRouteAction,
  RouteConfiguration,
  RouteMatch as EnvoyRouteMatch,
  VirtualHost as EnvoyVirtualHost,
} from '../../../lib/proto/index.ts';
import type { HeaderMatch, PathMatch, QueryParamMatch, RetryPolicy, Route, RouteAction, RouteMatch, RouteTable, VirtualHost, WeightedCluster } from '../config/types.ts';
import { compileHeaderMatcher, compileStringMatch } from './compile-string-match.ts';
import { compileHashPolicy, compileHeaderMutation, compileMirror, compilePerFilterConfig } from './compile-traffic.ts';
import { join, Problems, type CompileResult } from './problems.ts';

/** Envoy's defaults. */
const ENVOY_ROUTE_TIMEOUT_MS = 15_000;
const ENVOY_RETRY_BASE_MS = 25;
const REDIRECT_CODES: Readonly<Record<number, number>> = { 0: 301, 1: 302, 2: 303, 3: 307, 4: 308 };
const CLUSTER_NOT_FOUND: Readonly<Record<number, 503 | 404 | 500>> = { 0: 503, 1: 404, 2: 500 };
const PREVIOUS_HOSTS = 'envoy.retry_host_predicates.previous_hosts';
const PREVIOUS_HOSTS_TYPE_URL = 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate';

function compileHeader(p: Problems, h: HeaderMatcher, path: string): HeaderMatch {
  const { name, match, invert, treatMissingAsEmpty } = compileHeaderMatcher(p, h, path, { requireValues: false });
  return { name, match, invert, ...(treatMissingAsEmpty ? { treatMissingAsEmpty: true } : {}) };
}

function compileQuery(p: Problems, q: QueryParameterMatcher, path: string): QueryParamMatch {
  const name = p.required(q.name, join(path, 'name'));
  const s = q.queryParameterMatchSpecifier;
  if (s?.$case === 'stringMatch') return { name, match: compileStringMatch(p, s.stringMatch, join(path, 'string_match')) };
  if (s?.$case === 'presentMatch' && !s.presentMatch) p.fail(join(path, 'present_match'), 'present_match false is not supported');
  return { name, match: { kind: 'present' } };
}

function compilePath(p: Problems, m: EnvoyRouteMatch, path: string): PathMatch {
  const ps = m.pathSpecifier;
  switch (ps?.$case) {
    case 'prefix':
      return { kind: 'prefix', value: ps.prefix };
    case 'path':
      return { kind: 'exact', value: ps.path };
    case 'safeRegex':
      return { kind: 'regex', value: p.regex(ps.safeRegex.regex, join(path, 'safe_regex.regex')) };
    case 'pathSeparatedPrefix': {
      const v = ps.pathSeparatedPrefix;
      if (!v.startsWith('/') || (v.length > 1 && v.endsWith('/')) || /[?#]/.test(v)) p.fail(join(path, 'path_separated_prefix'), `must start with / and not end with /: ${JSON.stringify(v)}`);
      return { kind: 'separated-prefix', value: v };
    }
    case 'connectMatcher':
      p.fail(join(path, 'connect_matcher'), 'CONNECT routes are not supported on a service route table');
      return { kind: 'prefix', value: '/' };
    case 'pathMatchPolicy':
      p.fail(join(path, 'path_match_policy'), 'not supported');
      return { kind: 'prefix', value: '/' };
    case undefined:
      p.fail(path, 'a path specifier (prefix, path, safe_regex, path_separated_prefix) is required');
      return { kind: 'prefix', value: '/' };
  }
}

function compileMatch(p: Problems, m: EnvoyRouteMatch | undefined, path: string): RouteMatch {
  if (!m) {
    p.fail(path, 'required');
    return { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [] };
  }
  if (m.runtimeFraction) p.fail(join(path, 'runtime_fraction'), 'not supported');
  if (m.grpc) p.fail(join(path, 'grpc'), 'not supported');
  if (m.tlsContext) p.fail(join(path, 'tls_context'), 'not supported');
  if (m.dynamicMetadata.length) p.fail(join(path, 'dynamic_metadata'), 'not supported');
  return {
    path: compilePath(p, m, path),
    caseSensitive: m.caseSensitive ?? true,
    headers: m.headers.map((h, i) => compileHeader(p, h, join(path, `headers[${i}]`))),
    queryParams: m.queryParameters.map((q, i) => compileQuery(p, q, join(path, `query_parameters[${i}]`))),
  };
}

function compileRetry(p: Problems, r: EnvoyRetryPolicy, path: string): RetryPolicy {
  const retryOn = r.retryOn.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const numRetries = r.numRetries ?? 1;
  if (!Number.isInteger(numRetries) || numRetries < 0) p.fail(join(path, 'num_retries'), `not a count: ${numRetries}`);
  for (const [i, c] of r.retriableStatusCodes.entries()) if (!Number.isInteger(c) || c < 100 || c > 599) p.fail(join(path, `retriable_status_codes[${i}]`), `not an HTTP status: ${c}`);
  const backoffBaseMs = p.durationMs(r.retryBackOff?.baseInterval, join(path, 'retry_back_off.base_interval'), ENVOY_RETRY_BASE_MS);
  if (r.retryBackOff && backoffBaseMs <= 0) p.fail(join(path, 'retry_back_off.base_interval'), 'must be greater than 0');
  const predicates: 'previous_hosts'[] = [];
  r.retryHostPredicate.forEach((h, i) => {
    const url = h.configType?.$case === 'typedConfig' ? h.configType.typedConfig.typeUrl : undefined;
    if (url === PREVIOUS_HOSTS_TYPE_URL || (url === undefined && h.name === PREVIOUS_HOSTS)) predicates.push('previous_hosts');
    else p.fail(join(path, `retry_host_predicate[${i}]`), `not supported: ${JSON.stringify(h.name)} (${url ?? 'no typed_config'})`);
  });
  if (r.retryPriority) p.fail(join(path, 'retry_priority'), 'not supported');
  return {
    retryOn,
    numRetries,
    perTryTimeoutMs: p.durationMs(r.perTryTimeout, join(path, 'per_try_timeout'), 0),
    retriableStatusCodes: [...r.retriableStatusCodes],
    backoffBaseMs,
    ...(predicates.length ? { retryHostPredicates: predicates } : {}),
    ...(r.hostSelectionRetryMaxAttempts > 0 ? { hostSelectionMaxAttempts: r.hostSelectionRetryMaxAttempts } : {}),
  };
}

function compileRouteAction(p: Problems, a: EnvoyRouteAction, path: string): RouteAction {
  let clusters: WeightedCluster[] = [];
  const cs = a.clusterSpecifier;
  switch (cs?.$case) {
    case 'cluster':
      clusters = [{ name: p.required(cs.cluster, join(path, 'cluster')), weight: 1 }];
      break;
    case 'weightedClusters': {
      const list = cs.weightedClusters.clusters;
      if (list.length === 0) p.fail(join(path, 'weighted_clusters.clusters'), 'required');
      clusters = list.map((c, i) => {
        const cp = join(path, `weighted_clusters.clusters[${i}]`);
        if (c.clusterHeader) p.fail(join(cp, 'cluster_header'), 'not supported');
        const weight = c.weight ?? 0;
        if (!Number.isInteger(weight) || weight < 0) p.fail(join(cp, 'weight'), `not a weight: ${weight}`);
        if (Object.keys(c.typedPerFilterConfig).length) p.fail(join(cp, 'typed_per_filter_config'), 'not supported on weighted clusters');
        if (c.metadataMatch) p.fail(join(cp, 'metadata_match'), 'not supported');
        const requestHeaders = compileHeaderMutation(p, c.requestHeadersToAdd, c.requestHeadersToRemove, cp, 'request');
        const responseHeaders = compileHeaderMutation(p, c.responseHeadersToAdd, c.responseHeadersToRemove, cp, 'response');
        const hostRewrite = c.hostRewriteSpecifier?.hostRewriteLiteral;
        return {
          name: p.required(c.name, join(cp, 'name')),
          weight,
          ...(requestHeaders ? { requestHeaders } : {}),
          ...(responseHeaders ? { responseHeaders } : {}),
          ...(hostRewrite !== undefined ? { hostRewrite } : {}),
        };
      });
      if (list.length && clusters.every((c) => c.weight === 0)) p.fail(join(path, 'weighted_clusters.clusters'), 'the weights must not all be 0');
      break;
    }
    case undefined:
      p.fail(path, 'a cluster (cluster or weighted_clusters) is required');
      break;
    default:
      p.fail(join(path, cs?.$case === 'clusterHeader' ? 'cluster_header' : 'cluster_specifier_plugin'), 'not supported');
  }
  let regexRewrite: { pattern: string; substitution: string } | undefined;
  if (a.regexRewrite) {
    const rp = join(path, 'regex_rewrite');
    if (a.prefixRewrite !== '') p.fail(rp, 'prefix_rewrite and regex_rewrite are exclusive');
    regexRewrite = { pattern: p.regex(a.regexRewrite.pattern?.regex ?? '', join(rp, 'pattern.regex')), substitution: a.regexRewrite.substitution };
  }
  if (a.pathRewritePolicy) p.fail(join(path, 'path_rewrite_policy'), 'not supported');
  const mirrors = a.requestMirrorPolicies.map((m, i) => compileMirror(p, m, join(path, `request_mirror_policies[${i}]`)));
  const hashPolicy = a.hashPolicy.map((h, i) => compileHashPolicy(p, h, join(path, `hash_policy[${i}]`)));
  const clusterNotFoundStatus = CLUSTER_NOT_FOUND[a.clusterNotFoundResponseCode];
  if (clusterNotFoundStatus === undefined) p.fail(join(path, 'cluster_not_found_response_code'), `unknown code ${a.clusterNotFoundResponseCode}`);
  let hostRewrite: string | undefined;
  const hr = a.hostRewriteSpecifier;
  if (hr?.$case === 'hostRewriteLiteral') hostRewrite = hr.hostRewriteLiteral;
  else if (hr) p.fail(join(path, 'host_rewrite'), `${hr.$case} is not supported`);
  const timeoutMs = p.durationMs(a.timeout, join(path, 'timeout'), ENVOY_ROUTE_TIMEOUT_MS);
  return {
    kind: 'route',
    clusters,
    timeoutMs,
    ...(a.retryPolicy ? { retry: compileRetry(p, a.retryPolicy, join(path, 'retry_policy')) } : {}),
    ...(hostRewrite !== undefined ? { hostRewrite } : {}),
    ...(a.prefixRewrite !== '' ? { prefixRewrite: a.prefixRewrite } : {}),
    ...(regexRewrite ? { regexRewrite } : {}),
    ...(mirrors.length ? { mirrors } : {}),
    ...(hashPolicy.length ? { hashPolicy } : {}),
    ...(clusterNotFoundStatus !== undefined && clusterNotFoundStatus !== 503 ? { clusterNotFoundStatus } : {}),
  };
}

function compileRedirect(p: Problems, r: RedirectAction, path: string): RouteAction {
  const status = REDIRECT_CODES[r.responseCode];
  if (status === undefined) p.fail(join(path, 'response_code'), `unknown redirect code ${r.responseCode}`);
  let scheme: string | undefined;
  const s = r.schemeRewriteSpecifier;
  if (s?.$case === 'httpsRedirect' && s.httpsRedirect) scheme = 'https';
  else if (s?.$case === 'schemeRedirect') scheme = s.schemeRedirect;
  let pathRedirect: string | undefined;
  const pr = r.pathRewriteSpecifier;
  let prefixRewrite: string | undefined;
  if (pr?.$case === 'pathRedirect') pathRedirect = pr.pathRedirect;
  else if (pr?.$case === 'prefixRewrite') prefixRewrite = pr.prefixRewrite;
  else if (pr) p.fail(join(path, 'regex_rewrite'), 'not supported on redirects');
  if (r.portRedirect !== 0) p.port(r.portRedirect, join(path, 'port_redirect'));
  return {
    kind: 'redirect',
    status: status ?? 301,
    ...(scheme !== undefined ? { scheme } : {}),
    ...(r.hostRedirect !== '' ? { host: r.hostRedirect } : {}),
    ...(r.portRedirect !== 0 ? { port: r.portRedirect } : {}),
    ...(pathRedirect !== undefined ? { path: pathRedirect } : {}),
    ...(prefixRewrite !== undefined ? { prefixRewrite } : {}),
  };
}

function compileDirect(p: Problems, d: DirectResponseAction, path: string): RouteAction {
  if (!Number.isInteger(d.status) || d.status < 200 || d.status > 599) p.fail(join(path, 'status'), `must be 200–599, got ${d.status}`);
  let body: string | undefined;
  const b = d.body?.specifier;
  if (b?.$case === 'inlineString') body = b.inlineString;
  else if (b?.$case === 'inlineBytes') body = Buffer.from(b.inlineBytes).toString('utf8');
  else if (b) p.fail(join(path, 'body'), `${b.$case} is not supported (inline_string, inline_bytes)`);
  return { kind: 'direct-response', status: d.status, ...(body !== undefined ? { body } : {}) };
}

function compileRoute(p: Problems, r: EnvoyRoute, path: string): Route {
  const match = compileMatch(p, r.match, join(path, 'match'));
  let action: RouteAction;
  const a = r.action;
  switch (a?.$case) {
    case 'route':
      action = compileRouteAction(p, a.route, join(path, 'route'));
      break;
    case 'redirect':
      action = compileRedirect(p, a.redirect, join(path, 'redirect'));
      break;
    case 'directResponse':
      action = compileDirect(p, a.directResponse, join(path, 'direct_response'));
      break;
    case undefined:
      p.fail(path, 'an action (route, redirect, direct_response) is required');
      action = { kind: 'direct-response', status: 404 };
      break;
    default:
      p.fail(join(path, a?.$case === 'filterAction' ? 'filter_action' : 'non_forwarding_action'), 'not supported');
      action = { kind: 'direct-response', status: 404 };
  }
  const requestHeaders = compileHeaderMutation(p, r.requestHeadersToAdd, r.requestHeadersToRemove, path, 'request');
  const responseHeaders = compileHeaderMutation(p, r.responseHeadersToAdd, r.responseHeadersToRemove, path, 'response');
  const perFilter = compilePerFilterConfig(p, r.typedPerFilterConfig, path);
  return {
    name: r.name,
    match,
    action,
    ...(r.decorator?.operation ? { decorator: r.decorator.operation } : {}),
    ...(requestHeaders ? { requestHeaders } : {}),
    ...(responseHeaders ? { responseHeaders } : {}),
    ...(perFilter.fault ? { fault: perFilter.fault } : {}),
    ...(perFilter.cors ? { cors: perFilter.cors } : {}),
  };
}

/** Envoy's domain forms: `*`, `*suffix`, `prefix*` (one wildcard at one end), or exact. */
function checkDomain(p: Problems, d: string, path: string): string {
  if (d === '') p.fail(path, 'empty domain');
  else if (d !== '*' && (d.slice(1, -1).includes('*') || (d.startsWith('*') && d.endsWith('*')))) p.fail(path, `invalid domain ${JSON.stringify(d)}: a wildcard only at the start or the end`);
  return d.toLowerCase();
}

function compileVirtualHost(p: Problems, v: EnvoyVirtualHost, path: string, seen: Map<string, string>): VirtualHost {
  p.required(v.name, join(path, 'name'));
  if (v.domains.length === 0) p.fail(join(path, 'domains'), 'at least one domain is required');
  const domains = v.domains.map((d, i) => {
    const dp = join(path, `domains[${i}]`);
    const dom = checkDomain(p, d, dp);
    const other = seen.get(dom);
    if (other !== undefined) p.fail(dp, `domain ${JSON.stringify(d)} is also in ${other}`);
    seen.set(dom, path);
    return dom;
  });
  if (v.requestHeadersToAdd.length || v.requestHeadersToRemove.length || v.responseHeadersToAdd.length || v.responseHeadersToRemove.length) p.fail(path, 'header changes on virtual hosts are not supported yet');
  if (v.retryPolicy) p.fail(join(path, 'retry_policy'), 'not supported on virtual hosts; set it per route');
  if (v.requireTls !== 0) p.fail(join(path, 'require_tls'), 'not supported');
  return { name: v.name, domains, routes: v.routes.map((r, i) => compileRoute(p, r, join(path, `routes[${i}]`))) };
}

/** One RouteConfiguration resource; `name` is the resource name, which must be the configuration's. */
export function compileRouteConfiguration(name: string, rc: RouteConfiguration): CompileResult<RouteTable> {
  const p = new Problems();
  if (rc.name !== name) p.fail(name, `resource name must be the route configuration name ${JSON.stringify(rc.name)}`);
  if (rc.vhds) p.fail(join(name, 'vhds'), 'not supported');
  if (rc.requestHeadersToAdd.length || rc.requestHeadersToRemove.length || rc.responseHeadersToAdd.length || rc.responseHeadersToRemove.length) p.fail(name, 'header changes on route configurations are not supported yet');
  const seen = new Map<string, string>();
  const virtualHosts = rc.virtualHosts.map((v, i) => compileVirtualHost(p, v, join(name, `virtual_hosts[${i}]`), seen));
  return p.result({ name: rc.name, virtualHosts });
}
