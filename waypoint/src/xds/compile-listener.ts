// Envoy Listener → the waypoint's filter chains (config/types.ts). `main_internal` is what the data
// path uses: its filter chains, each with one terminal network filter (http_connection_manager with
// RDS, or tcp_proxy). `connect_terminate` is validated (its HBONE listener is the waypoint's own) and
// any other listener is accepted and ignored, with a warning.
import {
  downstreamTlsContextCodec,
  corsCodec,
  httpConnectionManagerCodec,
  httpFaultCodec,
  rbacFilterCodec,
  routerCodec,
  tcpProxyCodec,
  unpackAny,
  type Any,
  type MessageCodec,
} from '../../../lib/proto/index.ts';
import type { DownstreamCodec, FilterChain, FilterChainMatch, HttpFilterChain, HttpFilterConfig, TcpFilterChain, WeightedCluster } from '../config/types.ts';
import { compileRbacFilter, RBAC_FILTER } from './compile-rbac.ts';
import { compileFault, CORS_FILTER, FAULT_FILTER } from './compile-traffic.ts';
import { join, Problems, type CompileResult } from './problems.ts';
import type * as envoy from '../../../lib/proto/index.ts';

export const MAIN_INTERNAL = 'main_internal';
export const CONNECT_TERMINATE = 'connect_terminate';

export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';
export const TCP_PROXY_FILTER = 'envoy.filters.network.tcp_proxy';
export const ROUTER_FILTER = 'envoy.filters.http.router';

/** Listener filters the waypoint does the work of itself (CONNECT target as local address, protocol sniffing). */
const KNOWN_LISTENER_FILTERS: Record<string, string> = {
  'envoy.filters.listener.original_dst': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst',
  'envoy.filters.listener.http_inspector': 'type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector',
  'envoy.filters.listener.tls_inspector': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
};

/** Envoy's defaults where the field is absent. */
const ENVOY_STREAM_IDLE_TIMEOUT_MS = 300_000;
const ENVOY_TCP_IDLE_TIMEOUT_MS = 3_600_000;
const ENVOY_MAX_REQUEST_HEADERS_KB = 60;

export type CompiledListener =
  | { kind: 'main_internal'; chains: FilterChain[] }
  | { kind: 'connect_terminate' }
  /** A listener the waypoint has no use for. */
  | { kind: 'ignored' };

type Typed = { name: string; configType?: { $case: 'typedConfig'; typedConfig: Any } | { $case: string } | undefined };

/** The typed_config of a filter, decoded as `codec`'s message; undefined (and a failure) otherwise. */
function typedConfig<T>(p: Problems, f: Typed, codec: MessageCodec<T>, path: string): T | undefined {
  const ct = f.configType;
  if (!ct) {
    p.fail(join(path, 'typed_config'), 'required');
    return undefined;
  }
  if (ct.$case !== 'typedConfig') {
    p.fail(path, `${ct.$case === 'configDiscovery' ? 'config_discovery' : ct.$case}: not supported (only typed_config)`);
    return undefined;
  }
  const any = (ct as { typedConfig: Any }).typedConfig;
  const r = unpackAny(codec, any);
  if (!r.ok) {
    p.fail(join(path, 'typed_config'), r.error.issues.join('; '));
    return undefined;
  }
  return r.value;
}

function typeUrlOf(f: Typed): string | undefined {
  return f.configType?.$case === 'typedConfig' ? (f.configType as { typedConfig: Any }).typedConfig.typeUrl : undefined;
}

function compileMatch(p: Problems, m: envoy.FilterChainMatch | undefined, path: string): FilterChainMatch {
  if (!m) return {};
  const out: { destinationIps?: FilterChainMatch['destinationIps']; destinationPort?: number; applicationProtocols?: readonly string[] } = {};
  if (m.prefixRanges.length) out.destinationIps = m.prefixRanges.map((r, i) => p.cidr(r, join(path, `prefix_ranges[${i}]`)));
  if (m.destinationPort !== undefined) out.destinationPort = p.port(m.destinationPort, join(path, 'destination_port'));
  if (m.applicationProtocols.length) out.applicationProtocols = [...m.applicationProtocols];
  // What a CONNECT on the internal listener has no notion of, or what we do not match on: refused,
  // since ignoring a criterion would send traffic to a chain it was never meant for.
  if (m.serverNames.length) p.fail(join(path, 'server_names'), 'not supported');
  if (m.transportProtocol !== '' && m.transportProtocol !== 'raw_buffer') p.fail(join(path, 'transport_protocol'), `not supported: ${JSON.stringify(m.transportProtocol)}`);
  if (m.sourcePrefixRanges.length) p.fail(join(path, 'source_prefix_ranges'), 'not supported');
  if (m.directSourcePrefixRanges.length) p.fail(join(path, 'direct_source_prefix_ranges'), 'not supported');
  if (m.sourcePorts.length) p.fail(join(path, 'source_ports'), 'not supported');
  if (m.sourceType !== 0) p.fail(join(path, 'source_type'), 'not supported');
  if (m.addressSuffix !== '' || m.suffixLen !== undefined) p.fail(join(path, 'address_suffix'), 'not supported');
  return out;
}

function codecOf(p: Problems, t: number, path: string): DownstreamCodec {
  switch (t) {
    case 0:
      return 'auto';
    case 1:
      return 'http1';
    case 2:
      return 'http2';
    default:
      p.fail(path, `codec_type ${t} not supported (AUTO, HTTP1, HTTP2)`);
      return 'auto';
  }
}

function compileHttpFilters(p: Problems, filters: readonly envoy.HttpFilter[], path: string): HttpFilterConfig[] {
  const out: HttpFilterConfig[] = [];
  filters.forEach((f, i) => {
    const fp = join(path, `http_filters[${i}]`);
    const url = typeUrlOf(f);
    if (url === routerCodec.typeUrl || (url === undefined && f.name === ROUTER_FILTER)) {
      typedConfig(p, f, routerCodec, fp);
      if (i !== filters.length - 1) p.fail(fp, 'the router must be the last HTTP filter');
      out.push({ kind: 'router', name: f.name || ROUTER_FILTER });
      return;
    }
    if (url === rbacFilterCodec.typeUrl || (url === undefined && f.name === RBAC_FILTER)) {
      const rbac = typedConfig(p, f, rbacFilterCodec, fp);
      if (rbac) out.push(...compileRbacFilter(p, f.name || RBAC_FILTER, rbac, join(fp, 'typed_config')));
      return;
    }
    if (url === httpFaultCodec.typeUrl || (url === undefined && f.name === FAULT_FILTER)) {
      const fault = typedConfig(p, f, httpFaultCodec, fp);
      if (fault) {
        const defaults = compileFault(p, fault, join(fp, 'typed_config'));
        out.push({ kind: 'fault', name: f.name || FAULT_FILTER, ...(defaults.delay || defaults.abort ? { defaults } : {}) });
      }
      return;
    }
    if (url === corsCodec.typeUrl || (url === undefined && f.name === CORS_FILTER)) {
      // The filter's own Cors message has no settings we use: policies are per route.
      typedConfig(p, f, corsCodec, fp);
      out.push({ kind: 'cors', name: f.name || CORS_FILTER });
      return;
    }
    if (f.isOptional) {
      p.warn(fp, `optional HTTP filter ${JSON.stringify(f.name)} (${url ?? 'no typed_config'}) not supported; skipped`);
      return;
    }
    p.fail(fp, `unknown HTTP filter ${JSON.stringify(f.name)} (${url ?? 'no typed_config'})`);
  });
  if (!out.some((f) => f.kind === 'router')) p.fail(join(path, 'http_filters'), `the last HTTP filter must be ${ROUTER_FILTER}`);
  return out;
}

function compileHcm(p: Problems, hcm: envoy.HttpConnectionManager, base: { name: string; match: FilterChainMatch }, path: string): HttpFilterChain {
  p.required(hcm.statPrefix, join(path, 'stat_prefix'));
  let routeConfigName = '';
  const rs = hcm.routeSpecifier;
  if (!rs) p.fail(join(path, 'rds'), 'required (a route configuration by RDS)');
  else if (rs.$case !== 'rds') p.fail(join(path, rs.$case === 'routeConfig' ? 'route_config' : 'scoped_routes'), 'not supported: the waypoint takes route configurations by RDS');
  else {
    routeConfigName = p.required(rs.rds.routeConfigName, join(path, 'rds.route_config_name'));
    const src = rs.rds.configSource?.configSourceSpecifier;
    if (src && src.$case !== 'ads') p.fail(join(path, 'rds.config_source'), `only ads is supported, got ${src.$case}`);
  }
  const maxKb = hcm.maxRequestHeadersKb ?? ENVOY_MAX_REQUEST_HEADERS_KB;
  if (!Number.isInteger(maxKb) || maxKb < 1 || maxKb > 8192) p.fail(join(path, 'max_request_headers_kb'), `must be 1–8192, got ${maxKb}`);
  // OVERWRITE (the default) writes server_name, Envoy's own when empty; the others leave the upstream's.
  let serverName: string | undefined;
  if (hcm.serverHeaderTransformation === 0) serverName = hcm.serverName || 'envoy';
  else if (hcm.serverHeaderTransformation === 1) p.warn(join(path, 'server_header_transformation'), 'APPEND_IF_ABSENT is treated as PASS_THROUGH');
  return {
    kind: 'http',
    ...base,
    statPrefix: hcm.statPrefix,
    codec: codecOf(p, hcm.codecType, join(path, 'codec_type')),
    routeConfigName,
    httpFilters: compileHttpFilters(p, hcm.httpFilters, path),
    streamIdleTimeoutMs: p.durationMs(hcm.streamIdleTimeout, join(path, 'stream_idle_timeout'), ENVOY_STREAM_IDLE_TIMEOUT_MS),
    requestHeadersTimeoutMs: p.durationMs(hcm.requestHeadersTimeout, join(path, 'request_headers_timeout'), 0),
    maxRequestHeadersBytes: maxKb * 1024,
    generateRequestId: hcm.generateRequestId ?? true,
    ...(serverName !== undefined ? { serverName } : {}),
  };
}

function compileTcpProxy(p: Problems, t: envoy.TcpProxy, base: { name: string; match: FilterChainMatch }, path: string): TcpFilterChain {
  p.required(t.statPrefix, join(path, 'stat_prefix'));
  let clusters: WeightedCluster[] = [];
  const cs = t.clusterSpecifier;
  if (!cs) p.fail(join(path, 'cluster'), 'required (cluster or weighted_clusters)');
  else if (cs.$case === 'cluster') clusters = [{ name: p.required(cs.cluster, join(path, 'cluster')), weight: 1 }];
  else {
    const list = cs.weightedClusters.clusters;
    if (list.length === 0) p.fail(join(path, 'weighted_clusters.clusters'), 'required');
    clusters = list.map((c, i) => {
      const cp = join(path, `weighted_clusters.clusters[${i}]`);
      if (!Number.isInteger(c.weight) || c.weight < 1) p.fail(join(cp, 'weight'), `must be at least 1, got ${c.weight}`);
      return { name: p.required(c.name, join(cp, 'name')), weight: c.weight };
    });
  }
  if (t.tunnelingConfig) p.fail(join(path, 'tunneling_config'), 'not supported on a service chain');
  return { kind: 'tcp', ...base, statPrefix: t.statPrefix, clusters, idleTimeoutMs: p.durationMs(t.idleTimeout, join(path, 'idle_timeout'), ENVOY_TCP_IDLE_TIMEOUT_MS) };
}

function compileChain(p: Problems, c: envoy.FilterChain, path: string, fallbackName: string): FilterChain | undefined {
  const base = { name: c.name || fallbackName, match: compileMatch(p, c.filterChainMatch, join(path, 'filter_chain_match')) };
  if (c.transportSocket) p.fail(join(path, 'transport_socket'), 'not supported on the internal listener (HBONE is terminated before it)');
  if (c.filters.length === 0) {
    p.fail(join(path, 'filters'), 'required (http_connection_manager or tcp_proxy)');
    return undefined;
  }
  let chain: FilterChain | undefined;
  c.filters.forEach((f, i) => {
    const fp = join(path, `filters[${i}]`);
    const url = typeUrlOf(f);
    const last = i === c.filters.length - 1;
    if (url === httpConnectionManagerCodec.typeUrl || (url === undefined && f.name === HCM_FILTER)) {
      const hcm = typedConfig(p, f, httpConnectionManagerCodec, fp);
      if (!last) p.fail(fp, 'http_connection_manager is a terminal filter and must be last');
      if (hcm) chain = compileHcm(p, hcm, base, join(fp, 'typed_config'));
    } else if (url === tcpProxyCodec.typeUrl || (url === undefined && f.name === TCP_PROXY_FILTER)) {
      const t = typedConfig(p, f, tcpProxyCodec, fp);
      if (!last) p.fail(fp, 'tcp_proxy is a terminal filter and must be last');
      if (t) chain = compileTcpProxy(p, t, base, join(fp, 'typed_config'));
    } else {
      p.fail(fp, `unknown network filter ${JSON.stringify(f.name)} (${url ?? 'no typed_config'})`);
    }
  });
  return chain;
}

function matchKey(m: FilterChainMatch): string {
  return JSON.stringify([m.destinationIps?.map((r) => `${r.address}/${r.prefixLen}`).sort() ?? [], m.destinationPort ?? 0, [...(m.applicationProtocols ?? [])].sort()]);
}

function compileMainInternal(p: Problems, l: envoy.Listener, path: string): CompiledListener {
  if (l.listenerSpecifier?.$case !== 'internalListener') p.fail(path, 'main_internal must be an internal listener (internal_listener)');
  if (l.filterChainMatcher) p.fail(join(path, 'filter_chain_matcher'), 'not supported: use filter_chain_match on each chain');
  l.listenerFilters.forEach((f, i) => {
    const fp = join(path, `listener_filters[${i}]`);
    const url = typeUrlOf(f);
    const known = Object.entries(KNOWN_LISTENER_FILTERS).some(([n, u]) => url === u || (url === undefined && f.name === n));
    if (!known) p.fail(fp, `unknown listener filter ${JSON.stringify(f.name)} (${url ?? 'no typed_config'})`);
  });
  const chains: FilterChain[] = [];
  const seen = new Map<string, number>();
  const names = new Set<string>();
  l.filterChains.forEach((c, i) => {
    const cp = join(path, `filter_chains[${i}]`);
    const chain = compileChain(p, c, cp, `filter_chains[${i}]`);
    if (!chain) return;
    const key = matchKey(chain.match);
    const dup = seen.get(key);
    if (dup !== undefined) p.fail(join(cp, 'filter_chain_match'), `the same match as filter_chains[${dup}]`);
    seen.set(key, i);
    if (names.has(chain.name)) p.fail(join(cp, 'name'), `duplicate filter chain name ${JSON.stringify(chain.name)}`);
    names.add(chain.name);
    chains.push(chain);
  });
  if (l.defaultFilterChain) {
    const chain = compileChain(p, l.defaultFilterChain, join(path, 'default_filter_chain'), 'default_filter_chain');
    // The default chain applies when no other does: it goes last, with a match that takes anything.
    if (chain) chains.push({ ...chain, match: {} });
  }
  return { kind: 'main_internal', chains };
}

function compileConnectTerminate(p: Problems, l: envoy.Listener, path: string): CompiledListener {
  const sa = l.address?.address;
  if (sa?.$case !== 'socketAddress') p.fail(join(path, 'address'), 'required (a socket address)');
  else p.port(sa.socketAddress.portSpecifier?.$case === 'portValue' ? sa.socketAddress.portSpecifier.portValue : undefined, join(path, 'address.socket_address.port_value'));
  l.filterChains.forEach((c, i) => {
    const cp = join(path, `filter_chains[${i}]`);
    if (c.transportSocket) {
      const tp = join(cp, 'transport_socket');
      const tls = typedConfig(p, c.transportSocket, downstreamTlsContextCodec, tp);
      if (tls && tls.requireClientCertificate !== true) p.fail(join(tp, 'typed_config.require_client_certificate'), 'HBONE requires client certificates');
    }
    c.filters.forEach((f, j) => {
      const fp = join(cp, `filters[${j}]`);
      if (typeUrlOf(f) !== httpConnectionManagerCodec.typeUrl) p.fail(fp, `expected ${HCM_FILTER}`);
      else typedConfig(p, f, httpConnectionManagerCodec, fp);
    });
  });
  return { kind: 'connect_terminate' };
}

/** One Listener resource; `name` is the resource name, which must be the listener's. */
export function compileListener(name: string, l: envoy.Listener): CompileResult<CompiledListener> {
  const p = new Problems();
  if (l.name !== name) p.fail(name, `resource name must be the listener name ${JSON.stringify(l.name)}`);
  let out: CompiledListener;
  if (l.name === MAIN_INTERNAL) out = compileMainInternal(p, l, name);
  else if (l.name === CONNECT_TERMINATE) out = compileConnectTerminate(p, l, name);
  else {
    p.warn(name, 'listener not used by the waypoint; ignored');
    out = { kind: 'ignored' };
  }
  return p.result(out);
}
