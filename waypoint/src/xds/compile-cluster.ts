// Envoy Cluster → the waypoint's cluster settings (config/types.ts, endpoints come from EDS): load
// balancer (ring hash / maglev settings too), connect timeout, circuit breakers, outlier detection,
// panic threshold, upstream HTTP version (HttpProtocolOptions) and the
// `istio.services` metadata telemetry reads. EDS clusters are what the routes use; `main_internal`
// and `connect_originate` are the HBONE plumbing the waypoint implements itself, checked and kept
// out of the compiled set; DNS and custom clusters are refused (the waypoint does not resolve names).
import { httpProtocolOptionsCodec, unpackAny, type Cluster as EnvoyCluster } from '../../../lib/proto/index.ts';
import type { CircuitBreakers, Cluster, LbPolicy, OutlierDetection, ServiceRef, UpstreamProtocol } from '../config/types.ts';
import { join, Problems, type CompileResult } from './problems.ts';
import type * as envoy from '../../../lib/proto/index.ts';

export const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
const MAIN_INTERNAL = 'main_internal';
const CONNECT_ORIGINATE = 'connect_originate';
/** Envoy's defaults. */
const ENVOY_CONNECT_TIMEOUT_MS = 5_000;
const ENVOY_IDLE_TIMEOUT_MS = 3_600_000;
const ENVOY_CIRCUIT_BREAKERS: CircuitBreakers = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
const TRANSPORT_SOCKETS = new Set(['envoy.transport_sockets.tls', 'envoy.transport_sockets.internal_upstream', 'envoy.transport_sockets.raw_buffer']);

/** A cluster before EDS: everything but the endpoints, and the EDS name its endpoints come under. */
export type CompiledCluster =
  | { kind: 'eds'; edsServiceName: string; cluster: Omit<Cluster, 'endpoints'> }
  /** One of the HBONE plumbing clusters; not routable. */
  | { kind: 'internal' };

const LB_POLICIES: Readonly<Record<number, LbPolicy>> = { 0: 'ROUND_ROBIN', 1: 'LEAST_REQUEST', 2: 'RING_HASH', 3: 'RANDOM', 5: 'MAGLEV' };
/** Envoy's ring hash and maglev defaults. */
const RING_MIN = 1024;
const RING_MAX = 8 * 1024 * 1024;
const MAGLEV_TABLE = 65537;

function circuitBreakers(p: Problems, c: EnvoyCluster, path: string): CircuitBreakers {
  // Thresholds for the DEFAULT priority (0); HIGH is for routes of high priority, which we never have.
  const t = c.circuitBreakers?.thresholds.find((x) => x.priority === 0);
  if (!t) return ENVOY_CIRCUIT_BREAKERS;
  const n = (v: number | undefined, dflt: number, f: string) => {
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || v < 0) p.fail(join(path, `circuit_breakers.thresholds.${f}`), `not a count: ${v}`);
    return v;
  };
  return {
    maxConnections: n(t.maxConnections, 1024, 'max_connections'),
    maxPendingRequests: n(t.maxPendingRequests, 1024, 'max_pending_requests'),
    maxRequests: n(t.maxRequests, 1024, 'max_requests'),
    maxRetries: n(t.maxRetries, 3, 'max_retries'),
  };
}

function services(p: Problems, c: EnvoyCluster, path: string): ServiceRef[] {
  const istio = c.metadata?.filterMetadata['istio'];
  const list: unknown = istio?.['services'];
  if (list === undefined) return [];
  const mp = join(path, 'metadata.filter_metadata.istio.services');
  if (!Array.isArray(list)) {
    p.fail(mp, 'must be a list');
    return [];
  }
  const out: ServiceRef[] = [];
  list.forEach((s: unknown, i) => {
    const o = s as Record<string, unknown> | null;
    const host = o?.['host'];
    const name = o?.['name'];
    const namespace = o?.['namespace'];
    if (typeof host !== 'string' || typeof name !== 'string' || typeof namespace !== 'string') p.fail(`${mp}[${i}]`, 'must have string host, name and namespace');
    else out.push({ host, name, namespace });
  });
  return out;
}

function protocolOptions(p: Problems, c: EnvoyCluster, path: string): { upstreamProtocol: UpstreamProtocol; idleTimeoutMs: number; maxRequestsPerConnection: number } {
  // Envoy's default upstream is HTTP/1.1; the deprecated cluster-level http2_protocol_options still selects h2.
  let upstreamProtocol: UpstreamProtocol = c.http2ProtocolOptions ? 'http2' : 'http1';
  let idleTimeoutMs = p.durationMs(c.commonHttpProtocolOptions?.idleTimeout, join(path, 'common_http_protocol_options.idle_timeout'), ENVOY_IDLE_TIMEOUT_MS);
  let maxRequestsPerConnection = c.maxRequestsPerConnection ?? 0;
  for (const [key, any] of Object.entries(c.typedExtensionProtocolOptions)) {
    const kp = join(path, `typed_extension_protocol_options[${JSON.stringify(key)}]`);
    if (key !== HTTP_PROTOCOL_OPTIONS_KEY) {
      p.fail(kp, 'unknown protocol options');
      continue;
    }
    const r = unpackAny(httpProtocolOptionsCodec, any);
    if (!r.ok) {
      p.fail(kp, r.error.issues.join('; '));
      continue;
    }
    const o = r.value;
    const u = o.upstreamProtocolOptions;
    if (!u) p.fail(join(kp, 'upstream_protocol_options'), 'required (explicit_http_config, use_downstream_protocol_config or auto_config)');
    else if (u.$case === 'explicitHttpConfig') {
      const pc = u.explicitHttpConfig.protocolConfig;
      if (pc?.$case === 'http2ProtocolOptions') upstreamProtocol = 'http2';
      else if (pc?.$case === 'httpProtocolOptions') upstreamProtocol = 'http1';
      else p.fail(join(kp, 'explicit_http_config'), `${pc ? 'http3_protocol_options: not supported' : 'a protocol is required'}`);
    } else if (u.$case === 'useDownstreamProtocolConfig') upstreamProtocol = 'downstream';
    else {
      // auto_config picks by ALPN; upstreams here are plaintext inside HBONE, where there is none.
      p.warn(join(kp, 'auto_config'), 'treated as use_downstream_protocol_config');
      upstreamProtocol = 'downstream';
    }
    const common = o.commonHttpProtocolOptions;
    if (common) {
      idleTimeoutMs = p.durationMs(common.idleTimeout, join(kp, 'common_http_protocol_options.idle_timeout'), ENVOY_IDLE_TIMEOUT_MS);
      if (common.maxRequestsPerConnection !== undefined) maxRequestsPerConnection = common.maxRequestsPerConnection;
    }
  }
  if (!Number.isInteger(maxRequestsPerConnection) || maxRequestsPerConnection < 0) p.fail(join(path, 'max_requests_per_connection'), `not a count: ${maxRequestsPerConnection}`);
  return { upstreamProtocol, idleTimeoutMs, maxRequestsPerConnection };
}

function lbConfig(p: Problems, c: EnvoyCluster, policy: LbPolicy | undefined, path: string): Pick<Cluster, 'ringHash' | 'maglev'> {
  const lc = c.lbConfig;
  if (lc && lc.$case !== 'ringHashLbConfig' && lc.$case !== 'maglevLbConfig' && lc.$case !== 'leastRequestLbConfig' && lc.$case !== 'roundRobinLbConfig') p.fail(join(path, 'lb_config'), `${lc.$case} is not supported here`);
  if (policy === 'RING_HASH') {
    const r = lc?.$case === 'ringHashLbConfig' ? lc.ringHashLbConfig : undefined;
    const min = r?.minimumRingSize ?? RING_MIN;
    const max = r?.maximumRingSize ?? RING_MAX;
    if (!Number.isInteger(min) || min < 1 || min > RING_MAX || max < min) p.fail(join(path, 'ring_hash_lb_config'), `ring size ${min}–${max} is not valid`);
    if (r && r.hashFunction !== 0) p.fail(join(path, 'ring_hash_lb_config.hash_function'), 'only XX_HASH is supported');
    return { ringHash: { minimumRingSize: min, maximumRingSize: max } };
  }
  if (policy === 'MAGLEV') {
    const size = lc?.$case === 'maglevLbConfig' ? (lc.maglevLbConfig.tableSize ?? MAGLEV_TABLE) : MAGLEV_TABLE;
    if (!Number.isInteger(size) || size < 1 || size > 5_000_011) p.fail(join(path, 'maglev_lb_config.table_size'), `not a table size: ${size}`);
    return { maglev: { tableSize: size } };
  }
  if (lc?.$case === 'ringHashLbConfig' || lc?.$case === 'maglevLbConfig') p.warn(join(path, 'lb_config'), `${lc.$case} without its lb_policy; ignored`);
  return {};
}

/** Envoy's outlier detection defaults, for fields the cluster leaves unset. */
function compileOutlierDetection(p: Problems, o: envoy.OutlierDetection, path: string): OutlierDetection {
  const pct = (v: number | undefined, dflt: number, f: string) => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n < 0 || n > 100) p.fail(join(path, f), `must be 0–100, got ${n}`);
    return n;
  };
  const count = (v: number | undefined, dflt: number, f: string) => {
    const n = v ?? dflt;
    if (!Number.isInteger(n) || n < 0) p.fail(join(path, f), `not a count: ${n}`);
    return n;
  };
  // What we do not implement changes who is ejected: refused when it is enabled.
  if ((o.enforcingSuccessRate ?? 100) > 0 && o.enforcingSuccessRate !== undefined) p.fail(join(path, 'enforcing_success_rate'), 'success-rate ejection is not supported; set it to 0');
  else if (o.enforcingSuccessRate === undefined) p.warn(join(path, 'enforcing_success_rate'), 'success-rate ejection is not implemented (Envoy enforces it at 100% by default); only consecutive errors eject');
  if (o.splitExternalLocalOriginErrors) p.fail(join(path, 'split_external_local_origin_errors'), 'not supported');
  if ((o.enforcingFailurePercentage ?? 0) > 0) p.fail(join(path, 'enforcing_failure_percentage'), 'not supported');
  if (o.monitors.length) p.fail(join(path, 'monitors'), 'not supported');
  const baseEjectionTimeMs = p.durationMs(o.baseEjectionTime, join(path, 'base_ejection_time'), 30_000);
  return {
    consecutive5xx: count(o.consecutive5xx, 5, 'consecutive_5xx'),
    enforcingConsecutive5xxPercent: pct(o.enforcingConsecutive5xx, 100, 'enforcing_consecutive_5xx'),
    consecutiveGatewayFailure: count(o.consecutiveGatewayFailure, 5, 'consecutive_gateway_failure'),
    enforcingConsecutiveGatewayFailurePercent: pct(o.enforcingConsecutiveGatewayFailure, 0, 'enforcing_consecutive_gateway_failure'),
    intervalMs: p.durationMs(o.interval, join(path, 'interval'), 10_000),
    baseEjectionTimeMs,
    maxEjectionTimeMs: p.durationMs(o.maxEjectionTime, join(path, 'max_ejection_time'), Math.max(300_000, baseEjectionTimeMs)),
    maxEjectionPercent: pct(o.maxEjectionPercent, 10, 'max_ejection_percent'),
  };
}

function panicThreshold(p: Problems, c: EnvoyCluster, path: string): Pick<Cluster, 'healthyPanicThresholdPercent'> {
  const v = c.commonLbConfig?.healthyPanicThreshold?.value;
  if (v === undefined) return {};
  if (!(v >= 0 && v <= 100)) p.fail(join(path, 'common_lb_config.healthy_panic_threshold'), `must be 0–100, got ${v}`);
  return { healthyPanicThresholdPercent: v };
}

/** One Cluster resource; `name` is the resource name, which must be the cluster's. */
export function compileCluster(name: string, c: EnvoyCluster): CompileResult<CompiledCluster> {
  const p = new Problems();
  if (c.name !== name) p.fail(name, `resource name must be the cluster name ${JSON.stringify(c.name)}`);
  const dt = c.clusterDiscoveryType;
  const type = dt?.$case === 'type' ? dt.type : undefined;
  if (dt?.$case === 'clusterType') p.fail(join(name, 'cluster_type'), `custom cluster types are not supported (${dt.clusterType.name})`);
  if (c.transportSocket && !TRANSPORT_SOCKETS.has(c.transportSocket.name)) p.fail(join(name, 'transport_socket'), `unknown transport socket ${JSON.stringify(c.transportSocket.name)}`);
  if (c.name === MAIN_INTERNAL || c.name === CONNECT_ORIGINATE) {
    const want = c.name === MAIN_INTERNAL ? 0 /* STATIC */ : 4; /* ORIGINAL_DST */
    if (type !== want) p.fail(join(name, 'type'), `${c.name} must be ${want === 0 ? 'STATIC' : 'ORIGINAL_DST'}`);
    return p.result({ kind: 'internal' });
  }
  if (type !== 3 /* EDS */) {
    if (dt?.$case !== 'clusterType') p.fail(join(name, 'type'), `only EDS clusters are supported, got ${['STATIC', 'STRICT_DNS', 'LOGICAL_DNS', 'EDS', 'ORIGINAL_DST'][type ?? 0] ?? type}`);
    return p.result({ kind: 'internal' });
  }
  const eds = c.edsClusterConfig;
  const src = eds?.edsConfig?.configSourceSpecifier;
  if (!src) p.fail(join(name, 'eds_cluster_config.eds_config'), 'required');
  else if (src.$case !== 'ads') p.fail(join(name, 'eds_cluster_config.eds_config'), `only ads is supported, got ${src.$case}`);
  const lbPolicy = LB_POLICIES[c.lbPolicy];
  if (!lbPolicy) p.fail(join(name, 'lb_policy'), `not supported: ${c.lbPolicy} (ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)`);
  if (c.loadBalancingPolicy) p.fail(join(name, 'load_balancing_policy'), 'not supported; use lb_policy');
  const cluster: Omit<Cluster, 'endpoints'> = {
    name: c.name,
    lbPolicy: lbPolicy ?? 'ROUND_ROBIN',
    connectTimeoutMs: p.durationMs(c.connectTimeout, join(name, 'connect_timeout'), ENVOY_CONNECT_TIMEOUT_MS),
    ...protocolOptions(p, c, name),
    services: services(p, c, name),
    circuitBreakers: circuitBreakers(p, c, name),
    ...lbConfig(p, c, lbPolicy, name),
    ...(c.outlierDetection ? { outlierDetection: compileOutlierDetection(p, c.outlierDetection, join(name, 'outlier_detection')) } : {}),
    ...panicThreshold(p, c, name),
  };
  return p.result({ kind: 'eds', edsServiceName: eds?.serviceName || c.name, cluster });
}
