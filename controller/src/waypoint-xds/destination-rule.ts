// DestinationRules for a waypoint's clusters (fact sheet §4, §2.3): which rule applies to a Service
// (its own namespace first, then the root namespace; oldest first), the traffic policy of a port and
// of a subset (port-level and subset settings replace whole sections, as Istio merges), and that
// policy in Envoy's cluster terms: load balancer (LEAST_REQUEST by default, ring hash / maglev for
// consistent hashing, whose hash policy goes on the routes), circuit breakers, HTTP protocol
// options and outlier detection.
import { Cluster_LbPolicy as LbPolicy, type MessageInput } from '../../../lib/proto/index.ts';
import type { DiagnosticSink } from './diagnostics.ts';
import { durationOf, parseDurationMs } from './durations.ts';
import { hostMatches, resolveHost } from './route-sources.ts';
import type { DestinationRule, LoadBalancerSettings, TrafficPolicy } from './traffic-types.ts';
import { byCreation } from './traffic-types.ts';
import type * as envoy from '../../../lib/proto/index.ts';

type SectionPolicy = Omit<TrafficPolicy, 'portLevelSettings'>;

/** The DestinationRule for `host` of a Service in `serviceNamespace`: the service's namespace wins over the root namespace. */
export function destinationRuleFor(host: string, serviceNamespace: string, rules: readonly DestinationRule[], rootNamespace: string, domainSuffix: string): DestinationRule | undefined {
  const matching = (ns: string) =>
    rules
      .filter((r) => r.metadata.namespace === ns && !r.spec?.workloadSelector && r.spec?.host && hostMatches(resolveHost(r.spec.host, ns, domainSuffix), host))
      .sort(byCreation)[0];
  return matching(serviceNamespace) ?? (serviceNamespace !== rootNamespace ? matching(rootNamespace) : undefined);
}

/** `over`'s sections replace `base`'s (Istio's MergeTrafficPolicy is per section, not per field). */
export function mergePolicy(base: SectionPolicy | undefined, over: SectionPolicy | undefined): SectionPolicy | undefined {
  if (!over) return base;
  if (!base) return over;
  return {
    ...base,
    ...(over.loadBalancer ? { loadBalancer: over.loadBalancer } : {}),
    ...(over.connectionPool ? { connectionPool: over.connectionPool } : {}),
    ...(over.outlierDetection ? { outlierDetection: over.outlierDetection } : {}),
    ...(over.tls ? { tls: over.tls } : {}),
  };
}

function atPort(p: TrafficPolicy | undefined, port: number): SectionPolicy | undefined {
  if (!p) return undefined;
  const { portLevelSettings, ...top } = p;
  const pl = portLevelSettings?.find((s) => s.port?.number === port);
  if (!pl) return top;
  const { port: _port, ...plSections } = pl;
  return mergePolicy(top, plSections);
}

/** The policy of a service port (top level, then its port-level settings). */
export function portPolicy(dr: DestinationRule | undefined, port: number): SectionPolicy | undefined {
  return atPort(dr?.spec?.trafficPolicy, port);
}

/** The policy of a subset at a port: the port's, then the subset's own (and its port-level settings). */
export function subsetPolicy(dr: DestinationRule, subset: string, port: number): SectionPolicy | undefined {
  const s = dr.spec?.subsets?.find((x) => x.name === subset);
  return mergePolicy(portPolicy(dr, port), atPort(s?.trafficPolicy, port));
}

export function subsetNames(dr: DestinationRule | undefined): string[] {
  return (dr?.spec?.subsets ?? []).map((s) => s.name).filter((n) => n !== '');
}

/** Whether `labels` (a pod's) carry every label of the subset. */
export function subsetSelects(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, v] of Object.entries(selector ?? {})) if (labels?.[k] !== v) return false;
  return true;
}

const MAX_UINT32 = 4294967295;

/** What a policy sets on a cluster, in Envoy's fields; absent = the cluster's defaults. */
export interface ClusterSettings {
  lbPolicy: LbPolicy;
  lbConfig?: MessageInput<envoy.Cluster>['lbConfig'];
  connectTimeout?: { seconds: number; nanos: number };
  thresholds: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number };
  /** HttpProtocolOptions.common_http_protocol_options. */
  idleTimeout?: { seconds: number; nanos: number };
  maxRequestsPerConnection?: number;
  /** h2UpgradePolicy UPGRADE: HTTP/2 to the backend. */
  http2Upgrade: boolean;
  outlierDetection?: MessageInput<envoy.OutlierDetection>;
  commonLbConfig?: MessageInput<envoy.Cluster_CommonLbConfig>;
}

export interface PolicyOrigin {
  sink: DiagnosticSink;
  namespace: string;
  name: string;
}

function warn(o: PolicyOrigin | undefined, reason: string, message: string): void {
  o?.sink.add({ kind: 'DestinationRule', namespace: o.namespace, name: o.name, severity: 'warning', reason, message });
}

function duration(o: PolicyOrigin | undefined, text: string | undefined, field: string): { seconds: number; nanos: number } | undefined {
  if (text === undefined) return undefined;
  const ms = parseDurationMs(text);
  if (ms === undefined) {
    warn(o, 'invalid-duration', `${field}: not a duration: ${JSON.stringify(text)}; ignored`);
    return undefined;
  }
  return durationOf(ms);
}

function lbSettings(lb: LoadBalancerSettings | undefined, o: PolicyOrigin | undefined): Pick<ClusterSettings, 'lbPolicy' | 'lbConfig'> {
  const ch = lb?.consistentHash;
  if (ch) {
    if (ch.maglev) return { lbPolicy: LbPolicy.MAGLEV, lbConfig: { $case: 'maglevLbConfig', maglevLbConfig: ch.maglev.tableSize ? { tableSize: ch.maglev.tableSize } : {} } };
    const min = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
    return { lbPolicy: LbPolicy.RING_HASH, lbConfig: { $case: 'ringHashLbConfig', ringHashLbConfig: { minimumRingSize: min || 1024 } } };
  }
  switch (lb?.simple) {
    case 'ROUND_ROBIN':
      return { lbPolicy: LbPolicy.ROUND_ROBIN };
    case 'RANDOM':
      return { lbPolicy: LbPolicy.RANDOM };
    case 'PASSTHROUGH':
      warn(o, 'unsupported-field', 'loadBalancer.simple PASSTHROUGH is not supported in waypoints; LEAST_REQUEST used');
      return { lbPolicy: LbPolicy.LEAST_REQUEST };
    default:
      // UNSPECIFIED, LEAST_CONN and LEAST_REQUEST: Istio's default.
      return { lbPolicy: LbPolicy.LEAST_REQUEST };
  }
}

/** A policy (already merged for the port/subset) as cluster settings. */
export function clusterSettings(policy: SectionPolicy | undefined, o?: PolicyOrigin): ClusterSettings {
  const cp = policy?.connectionPool;
  // Only values > 0 override Istio's unlimited defaults.
  const pos = (v: number | undefined) => (v !== undefined && v > 0 ? v : MAX_UINT32);
  const out: ClusterSettings = {
    ...lbSettings(policy?.loadBalancer, o),
    thresholds: {
      maxConnections: pos(cp?.tcp?.maxConnections),
      maxPendingRequests: pos(cp?.http?.http1MaxPendingRequests),
      maxRequests: pos(cp?.http?.http2MaxRequests),
      maxRetries: pos(cp?.http?.maxRetries),
    },
    http2Upgrade: cp?.http?.h2UpgradePolicy === 'UPGRADE',
  };
  const ct = duration(o, cp?.tcp?.connectTimeout, 'connectionPool.tcp.connectTimeout');
  if (ct) out.connectTimeout = ct;
  const idle = duration(o, cp?.http?.idleTimeout, 'connectionPool.http.idleTimeout');
  if (idle) out.idleTimeout = idle;
  if (cp?.http?.maxRequestsPerConnection !== undefined && cp.http.maxRequestsPerConnection > 0) out.maxRequestsPerConnection = cp.http.maxRequestsPerConnection;
  const od = policy?.outlierDetection;
  if (od) {
    const d: MessageInput<envoy.OutlierDetection> = { enforcingSuccessRate: 0 };
    // consecutiveErrors is the deprecated name of consecutive5xxErrors (it counted gateway errors then).
    const c5 = od.consecutive5xxErrors ?? od.consecutiveErrors;
    if (c5 !== undefined) {
      d.consecutive5xx = c5;
      d.enforcingConsecutive5xx = c5 > 0 ? 100 : 0;
    }
    if (od.consecutiveGatewayErrors !== undefined) {
      d.consecutiveGatewayFailure = od.consecutiveGatewayErrors;
      d.enforcingConsecutiveGatewayFailure = od.consecutiveGatewayErrors > 0 ? 100 : 0;
    }
    const interval = duration(o, od.interval, 'outlierDetection.interval');
    if (interval) d.interval = interval;
    const base = duration(o, od.baseEjectionTime, 'outlierDetection.baseEjectionTime');
    if (base) d.baseEjectionTime = base;
    if (od.maxEjectionPercent !== undefined) d.maxEjectionPercent = od.maxEjectionPercent;
    out.outlierDetection = d;
    // Istio: no panic routing unless minHealthPercent asks for it.
    out.commonLbConfig = { healthyPanicThreshold: { value: od.minHealthPercent ?? 0 } };
  }
  if (policy?.tls?.mode && policy.tls.mode !== 'ISTIO_MUTUAL' && policy.tls.mode !== 'DISABLE') warn(o, 'unsupported-field', `trafficPolicy.tls mode ${policy.tls.mode} is not supported by this waypoint; ignored`);
  return out;
}

/** The route hash policies of a consistent-hash load balancer (they live on the route, not the cluster). */
export function hashPolicies(lb: LoadBalancerSettings | undefined): MessageInput<envoy.RouteAction_HashPolicy>[] {
  const ch = lb?.consistentHash;
  if (!ch) return [];
  if (ch.httpHeaderName) return [{ policySpecifier: { $case: 'header', header: { headerName: ch.httpHeaderName.toLowerCase() } } }];
  if (ch.httpCookie) {
    const ttlMs = parseDurationMs(ch.httpCookie.ttl);
    return [{ policySpecifier: { $case: 'cookie', cookie: { name: ch.httpCookie.name, ...(ch.httpCookie.path ? { path: ch.httpCookie.path } : {}), ...(ttlMs !== undefined ? { ttl: durationOf(ttlMs) } : {}) } } }];
  }
  if (ch.useSourceIp) return [{ policySpecifier: { $case: 'connectionProperties', connectionProperties: { sourceIp: true } } }];
  if (ch.httpQueryParameterName) return [{ policySpecifier: { $case: 'queryParameter', queryParameter: { name: ch.httpQueryParameterName } } }];
  return [];
}
