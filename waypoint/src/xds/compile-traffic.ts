// The traffic-management pieces of Envoy routes and HTTP filters → config/types.ts: header
// mutations (HeaderValueOption append actions), HTTPFault (per route and as the filter's default),
// the CORS policy, request mirror policies and hash policies. Everything a field asks for is either
// compiled or refused with its path; nothing is silently dropped.
import { corsCodec, httpFaultCodec, messageCodec, unpackAny, type Any, type MessageCodec } from '../../../lib/proto/index.ts';
import type { CorsPolicy, FaultConfig, HashPolicy, HeaderAppendAction, HeaderMutation, HeaderToAdd, MirrorPolicy, PerMillion } from '../config/types.ts';
import { compileStringMatch } from './compile-string-match.ts';
import { join, type Problems } from './problems.ts';
import type * as envoy from '../../../lib/proto/index.ts';

export const FAULT_FILTER = 'envoy.filters.http.fault';
export const CORS_FILTER = 'envoy.filters.http.cors';
export const corsPolicyCodec: MessageCodec<envoy.CorsFilterPolicy> = messageCodec('envoy.extensions.filters.http.cors.v3.CorsPolicy');
export const HTTP_FAULT_TYPE_URL = httpFaultCodec.typeUrl;
export const CORS_TYPE_URL = corsCodec.typeUrl;
export const CORS_POLICY_TYPE_URL = corsPolicyCodec.typeUrl;

const APPEND_ACTIONS: readonly HeaderAppendAction[] = ['append', 'add-if-absent', 'overwrite', 'overwrite-if-exists'];
const PER_MILLION_OF: Readonly<Record<number, number>> = { 0: 10_000, 1: 100, 2: 1 };

/** FractionalPercent → parts per million (absent = `dflt`). */
export function perMillion(p: Problems, f: { numerator: number; denominator: number } | undefined, path: string, dflt: PerMillion): PerMillion {
  if (!f) return dflt;
  const k = PER_MILLION_OF[f.denominator];
  if (k === undefined) {
    p.fail(join(path, 'denominator'), `unknown denominator ${f.denominator}`);
    return 0;
  }
  if (!Number.isInteger(f.numerator) || f.numerator < 0) p.fail(join(path, 'numerator'), `not a count: ${f.numerator}`);
  return Math.min(1_000_000, f.numerator * k);
}

/** `*_headers_to_add` + `*_headers_to_remove`; undefined when both are empty. */
export function compileHeaderMutation(p: Problems, add: readonly envoy.HeaderValueOption[], remove: readonly string[], path: string, prefix: string): HeaderMutation | undefined {
  if (add.length === 0 && remove.length === 0) return undefined;
  const out: HeaderToAdd[] = add.map((o, i) => {
    const hp = join(path, `${prefix}_headers_to_add[${i}]`);
    const name = (o.header?.key ?? '').toLowerCase();
    if (name === '') p.fail(join(hp, 'header.key'), 'required');
    // Envoy refuses to change pseudo-headers and Host through header mutation (host rewrites do that).
    else if (name.startsWith(':') || name === 'host') p.fail(join(hp, 'header.key'), `${JSON.stringify(name)} cannot be modified`);
    let value = o.header?.value ?? '';
    if (o.header?.rawValue?.length) value = Buffer.from(o.header.rawValue).toString('latin1');
    let action: HeaderAppendAction;
    if (o.append !== undefined) {
      if (o.appendAction !== 0) p.fail(hp, 'append and append_action are exclusive');
      action = o.append ? 'append' : 'overwrite';
    } else {
      const a = APPEND_ACTIONS[o.appendAction];
      if (!a) p.fail(join(hp, 'append_action'), `unknown action ${o.appendAction}`);
      action = a ?? 'append';
    }
    return { name, value, action, ...(o.keepEmptyValue ? { keepEmpty: true } : {}) };
  });
  remove.forEach((h, i) => {
    const l = h.toLowerCase();
    if (l === '' || l.startsWith(':') || l === 'host') p.fail(join(path, `${prefix}_headers_to_remove[${i}]`), `${JSON.stringify(h)} cannot be removed`);
  });
  return { remove: remove.map((h) => h.toLowerCase()), add: out };
}

/** HTTPFault (per route, or the filter's own defaults). */
export function compileFault(p: Problems, f: envoy.HTTPFault, path: string): FaultConfig {
  const out: { delay?: FaultConfig['delay']; abort?: FaultConfig['abort']; maxActiveFaults?: number } = {};
  const d = f.delay;
  if (d) {
    const dp = join(path, 'delay');
    const spec = d.faultDelaySecifier;
    if (spec?.$case === 'fixedDelay') out.delay = { fixedDelayMs: p.durationMs(spec.fixedDelay, join(dp, 'fixed_delay'), 0), perMillion: perMillion(p, d.percentage, join(dp, 'percentage'), 1_000_000) };
    else p.fail(dp, spec ? 'header_delay is not supported' : 'fixed_delay is required');
  }
  const a = f.abort;
  if (a) {
    const ap = join(path, 'abort');
    const share = perMillion(p, a.percentage, join(ap, 'percentage'), 1_000_000);
    const e = a.errorType;
    if (e?.$case === 'httpStatus') {
      if (!Number.isInteger(e.httpStatus) || e.httpStatus < 200 || e.httpStatus >= 600) p.fail(join(ap, 'http_status'), `must be 200–599, got ${e.httpStatus}`);
      out.abort = { kind: 'http', status: e.httpStatus, perMillion: share };
    } else if (e?.$case === 'grpcStatus') {
      if (!Number.isInteger(e.grpcStatus) || e.grpcStatus < 0 || e.grpcStatus > 16) p.fail(join(ap, 'grpc_status'), `not a gRPC status: ${e.grpcStatus}`);
      out.abort = { kind: 'grpc', status: e.grpcStatus, perMillion: share };
    } else p.fail(ap, e ? `${e.$case === 'headerAbort' ? 'header_abort' : 'http3'} is not supported` : 'http_status or grpc_status is required');
  }
  if (f.maxActiveFaults !== undefined) out.maxActiveFaults = f.maxActiveFaults;
  // Fault selection by header, upstream cluster or downstream node changes who is faulted: refused, not ignored.
  if (f.headers.length) p.fail(join(path, 'headers'), 'not supported');
  if (f.upstreamCluster !== '') p.fail(join(path, 'upstream_cluster'), 'not supported');
  if (f.downstreamNodes.length) p.fail(join(path, 'downstream_nodes'), 'not supported');
  if (f.responseRateLimit) p.fail(join(path, 'response_rate_limit'), 'not supported');
  return out;
}

export function compileCorsPolicy(p: Problems, c: envoy.CorsFilterPolicy, path: string): CorsPolicy {
  if (c.shadowEnabled) p.fail(join(path, 'shadow_enabled'), 'not supported');
  if (c.allowPrivateNetworkAccess) p.fail(join(path, 'allow_private_network_access'), 'not supported');
  if (c.filterEnabled?.runtimeKey) p.warn(join(path, 'filter_enabled.runtime_key'), 'runtime keys are not read; the default value applies');
  return {
    allowOrigins: c.allowOriginStringMatch.map((m, i) => compileStringMatch(p, m, join(path, `allow_origin_string_match[${i}]`))),
    allowMethods: c.allowMethods,
    allowHeaders: c.allowHeaders,
    exposeHeaders: c.exposeHeaders,
    maxAge: c.maxAge,
    allowCredentials: c.allowCredentials ?? false,
    forwardNotMatchingPreflights: c.forwardNotMatchingPreflights ?? true,
    enabledPerMillion: perMillion(p, c.filterEnabled?.defaultValue, join(path, 'filter_enabled.default_value'), 1_000_000),
  };
}

/** A route's (or weighted cluster's) typed_per_filter_config: fault and CORS are known; others refused. */
export function compilePerFilterConfig(p: Problems, m: { readonly [key: string]: Any }, path: string): { fault?: FaultConfig; cors?: CorsPolicy } {
  const out: { fault?: FaultConfig; cors?: CorsPolicy } = {};
  for (const [key, any] of Object.entries(m)) {
    const kp = join(path, `typed_per_filter_config[${JSON.stringify(key)}]`);
    if (any.typeUrl === HTTP_FAULT_TYPE_URL) {
      const r = unpackAny(httpFaultCodec, any);
      if (!r.ok) p.fail(kp, r.error.issues.join('; '));
      else out.fault = compileFault(p, r.value, kp);
    } else if (any.typeUrl === CORS_POLICY_TYPE_URL) {
      const r = unpackAny(corsPolicyCodec, any);
      if (!r.ok) p.fail(kp, r.error.issues.join('; '));
      else out.cors = compileCorsPolicy(p, r.value, kp);
    } else p.fail(kp, `per-route config ${any.typeUrl} is not supported`);
  }
  return out;
}

export function compileMirror(p: Problems, m: envoy.RouteAction_RequestMirrorPolicy, path: string): MirrorPolicy {
  if (m.clusterHeader !== '') p.fail(join(path, 'cluster_header'), 'not supported');
  if (m.runtimeFraction?.runtimeKey) p.warn(join(path, 'runtime_fraction.runtime_key'), 'runtime keys are not read; the default value applies');
  return {
    cluster: p.required(m.cluster, join(path, 'cluster')),
    perMillion: perMillion(p, m.runtimeFraction?.defaultValue, join(path, 'runtime_fraction.default_value'), 1_000_000),
    // Envoy's default traces mirrors like the request; Istio sets false.
    traceSampled: m.traceSampled ?? true,
    disableShadowHostSuffix: m.disableShadowHostSuffixAppend,
  };
}

export function compileHashPolicy(p: Problems, h: envoy.RouteAction_HashPolicy, path: string): HashPolicy {
  const s = h.policySpecifier;
  const terminal = h.terminal;
  switch (s?.$case) {
    case 'header':
      if (s.header.regexRewrite) p.fail(join(path, 'header.regex_rewrite'), 'not supported');
      return { kind: 'header', name: p.required(s.header.headerName, join(path, 'header.header_name')).toLowerCase(), terminal };
    case 'cookie': {
      if (s.cookie.attributes.length) p.fail(join(path, 'cookie.attributes'), 'not supported');
      const ttlMs = s.cookie.ttl ? p.durationMs(s.cookie.ttl, join(path, 'cookie.ttl'), 0) : undefined;
      return { kind: 'cookie', name: p.required(s.cookie.name, join(path, 'cookie.name')), ...(ttlMs !== undefined ? { ttlMs } : {}), ...(s.cookie.path ? { path: s.cookie.path } : {}), terminal };
    }
    case 'connectionProperties':
      if (!s.connectionProperties.sourceIp) p.fail(join(path, 'connection_properties.source_ip'), 'must be true');
      return { kind: 'source-ip', terminal };
    case 'queryParameter':
      return { kind: 'query-parameter', name: p.required(s.queryParameter.name, join(path, 'query_parameter.name')), terminal };
    default:
      p.fail(path, s ? 'filter_state is not supported' : 'a policy (header, cookie, connection_properties, query_parameter) is required');
      return { kind: 'source-ip', terminal };
  }
}
