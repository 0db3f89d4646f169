// The waypoint's compiled configuration: what the data path reads. It is built from Envoy v3
// resources (LDS/RDS/CDS/EDS, see docs/waypoint-xds.md) by waypoint/src/xds/compile.ts, one plain
// immutable snapshot per accepted update; the data path never sees protobuf types. Names follow
// Envoy's (listener → filter chain → connection manager → route → cluster → endpoint).

/** One accepted configuration. Replaced as a whole on every update; never mutated. */
export interface WaypointConfig {
  /** Changes with every accepted update (for logs and /config_dump). */
  readonly version: string;
  /**
   * The filter chains of the `main_internal` listener: what a terminated CONNECT is handed to,
   * chosen by its `:authority` (destination IP and port) and the sniffed protocol.
   */
  readonly chains: readonly FilterChain[];
  /** RouteConfigurations by name (the HTTP chains' `rds.route_config_name`). */
  readonly routes: ReadonlyMap<string, RouteTable>;
  /** Clusters by name, each with its endpoints from EDS. */
  readonly clusters: ReadonlyMap<string, Cluster>;
}

export interface CidrRange {
  /** IPv4 or IPv6 text form. */
  readonly address: string;
  readonly prefixLen: number;
}

/** Envoy's filter_chain_match subset. An absent field matches anything. */
export interface FilterChainMatch {
  /** Any of these ranges contains the CONNECT target's IP. */
  readonly destinationIps?: readonly CidrRange[];
  /** The CONNECT target's port. */
  readonly destinationPort?: number;
  /**
   * Set on HTTP chains of ports whose protocol is not declared: the chain applies only when the
   * sniffed protocol is one of these ('http/1.1', 'h2c'). Absent on a declared port.
   */
  readonly applicationProtocols?: readonly string[];
}

/** Which codec an HTTP chain's downstream speaks: declared (http/http2/grpc ports) or sniffed. */
export type DownstreamCodec = 'auto' | 'http1' | 'http2';

/** The services a chain or cluster is for (cluster metadata `istio.services`), for telemetry. */
export interface ServiceRef {
  /** FQDN, e.g. `reviews.bookinfo.svc.cluster.local`. */
  readonly host: string;
  readonly name: string;
  readonly namespace: string;
}

export type FilterChain = HttpFilterChain | TcpFilterChain;

interface FilterChainBase {
  /** Istio's name, e.g. `inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local`. */
  readonly name: string;
  readonly match: FilterChainMatch;
  /** The service this chain serves, when it serves one (destination_service labels). */
  readonly service?: ServiceRef;
}

export interface HttpFilterChain extends FilterChainBase {
  readonly kind: 'http';
  readonly statPrefix: string;
  readonly codec: DownstreamCodec;
  /** Name of the RouteConfiguration in `WaypointConfig.routes` (RDS). */
  readonly routeConfigName: string;
  /**
   * HTTP filters in order, router last. Issue 9 knows only the router; later filters (rbac, fault,
   * cors, header mutation) add kinds here, each with its typed config.
   */
  readonly httpFilters: readonly HttpFilterConfig[];
  /** HCM `stream_idle_timeout`; 0 disables (Istio's waypoint default). */
  readonly streamIdleTimeoutMs: number;
  /** HCM `request_headers_timeout`, 0 = none. */
  readonly requestHeadersTimeoutMs: number;
  /** HCM `max_request_headers_kb` in bytes (Envoy default 60 KiB); larger → 431. */
  readonly maxRequestHeadersBytes: number;
  /** HCM `generate_request_id` (default true): add `x-request-id` when absent. */
  readonly generateRequestId: boolean;
  /** HCM `server_name` with OVERWRITE: the `server` response header (Istio: `istio-envoy`). */
  readonly serverName?: string;
}

export type HttpFilterConfig = { readonly kind: 'router'; readonly name: string };

export interface TcpFilterChain extends FilterChainBase {
  readonly kind: 'tcp';
  readonly statPrefix: string;
  /** tcp_proxy's cluster, or weighted clusters (weights are relative). */
  readonly clusters: readonly WeightedCluster[];
  /** tcp_proxy `idle_timeout`; 0 = none (Istio default 1 h). */
  readonly idleTimeoutMs: number;
}

export interface WeightedCluster {
  readonly name: string;
  readonly weight: number;
}

/** A RouteConfiguration. */
export interface RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
}

export interface VirtualHost {
  readonly name: string;
  /** Envoy domain patterns: `*`, `*.suffix`, `prefix.*`, exact (port part optional). */
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
}

export interface Route {
  readonly name: string;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  /** `decorator.operation`, e.g. `reviews.bookinfo.svc.cluster.local:9080/*`. */
  readonly decorator?: string;
}

export type PathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'exact'; readonly value: string }
  /** RE2 `safe_regex`, full match against the path without query. */
  | { readonly kind: 'regex'; readonly value: string }
  /** Envoy's `path_separated_prefix`: `/foo` matches `/foo`, `/foo/…`, not `/foobar`. */
  | { readonly kind: 'separated-prefix'; readonly value: string };

export type StringMatch =
  | { readonly kind: 'exact'; readonly value: string; readonly ignoreCase?: boolean }
  | { readonly kind: 'prefix'; readonly value: string; readonly ignoreCase?: boolean }
  | { readonly kind: 'suffix'; readonly value: string; readonly ignoreCase?: boolean }
  | { readonly kind: 'contains'; readonly value: string; readonly ignoreCase?: boolean }
  | { readonly kind: 'regex'; readonly value: string }
  | { readonly kind: 'present' };

export interface HeaderMatch {
  /** Lower case; pseudo-headers as `:method`, `:authority`. */
  readonly name: string;
  readonly match: StringMatch;
  /** Envoy's `invert_match`. */
  readonly invert: boolean;
}

export interface QueryParamMatch {
  readonly name: string;
  readonly match: StringMatch;
}

export interface RouteMatch {
  readonly path: PathMatch;
  /** Default true (Envoy's `case_sensitive`). */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly QueryParamMatch[];
}

export interface RetryPolicy {
  /** Envoy `retry_on` conditions, e.g. `reset-before-request`, `5xx`, `connect-failure`. */
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  /** 0 = the route timeout. */
  readonly perTryTimeoutMs: number;
  readonly retriableStatusCodes: readonly number[];
  /** Envoy's default base interval is 25 ms (max 10×). */
  readonly backoffBaseMs: number;
}

export type RouteAction =
  | {
      readonly kind: 'route';
      /** One cluster (weight ignored) or weighted clusters. */
      readonly clusters: readonly WeightedCluster[];
      /** 0 = no timeout (Istio's default). */
      readonly timeoutMs: number;
      readonly retry?: RetryPolicy;
      /** `host_rewrite_literal`. */
      readonly hostRewrite?: string;
      /** `prefix_rewrite`. */
      readonly prefixRewrite?: string;
    }
  | { readonly kind: 'redirect'; readonly status: number; readonly scheme?: string; readonly host?: string; readonly port?: number; readonly path?: string }
  | { readonly kind: 'direct-response'; readonly status: number; readonly body?: string };

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM';

/** Which HTTP version the cluster speaks upstream (HttpProtocolOptions). */
export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

export interface CircuitBreakers {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export interface Cluster {
  /** Istio's name, e.g. `inbound-vip|9080|http|reviews.bookinfo.svc.cluster.local`. */
  readonly name: string;
  readonly lbPolicy: LbPolicy;
  readonly connectTimeoutMs: number;
  readonly upstreamProtocol: UpstreamProtocol;
  /** cluster metadata `istio.services`. */
  readonly services: readonly ServiceRef[];
  readonly circuitBreakers: CircuitBreakers;
  /** HttpProtocolOptions `common_http_protocol_options.idle_timeout`; 0 = none. */
  readonly idleTimeoutMs: number;
  /** `max_requests_per_connection`; 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
  readonly endpoints: readonly Endpoint[];
}

/** Who an endpoint is, for telemetry (`istio.workload` endpoint metadata). */
export interface EndpointWorkload {
  readonly name: string;
  readonly namespace: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly cluster: string;
}

export interface Endpoint {
  /** The application address: pod IP and target port (the CONNECT `:authority`). */
  readonly address: string;
  readonly port: number;
  /**
   * `hbone`: tunnel to `address:15008` (Envoy internal address `connect_originate`), verifying
   * `identity`; `plaintext`: plain TCP to address:port (the pod is not in the mesh).
   */
  readonly tunnel: 'hbone' | 'plaintext';
  /** SPIFFE id the destination must present (HBONE). */
  readonly identity?: string;
  readonly healthy: boolean;
  /** load_balancing_weight, default 1. */
  readonly weight: number;
  readonly workload?: EndpointWorkload;
}

/** What the waypoint knows of a mesh workload (from istio.workload.Address), for telemetry. */
export interface PeerWorkload {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly workloadName: string;
  readonly canonicalService: string;
  readonly canonicalRevision: string;
  readonly cluster: string;
  /** `app` / `version` labels when known (source_app, source_version). */
  readonly app?: string;
  readonly version?: string;
  /** spiffe://… */
  readonly identity: string;
}

/** Workloads by IP, kept by the xDS side, queried by telemetry. */
export interface PeerLookup {
  findByIp(ip: string): PeerWorkload | undefined;
}
