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

export type HttpFilterConfig = { readonly kind: 'router'; readonly name: string } | RbacFilterConfig | FaultFilterConfig | CorsFilterConfig;

/**
 * One rule set of an `envoy.filters.http.rbac` filter. An Envoy filter with `rules` and
 * `shadow_rules` compiles to two of these with the same name, the shadow one first: shadow rules
 * only record what they would decide (dry-run), enforced ones answer a denial with 403.
 */
export interface RbacFilterConfig {
  readonly kind: 'rbac';
  readonly name: string;
  readonly action: 'ALLOW' | 'DENY';
  /** Sorted by name, as Envoy's engine walks them: the first match is the one a decision names. */
  readonly policies: readonly RbacPolicy[];
  readonly shadow: boolean;
  /** `rules_stat_prefix` or `shadow_rules_stat_prefix` (e.g. `istio_dry_run_allow_`). */
  readonly statPrefix: string;
}

/** A policy matches when any permission and any principal match. */
export interface RbacPolicy {
  readonly name: string;
  readonly permissions: readonly RbacPermission[];
  readonly principals: readonly RbacPrincipal[];
}

/** Envoy's header matcher semantics: absent header → false, unless inverted `present`. */
export interface RbacHeaderMatch {
  /** Lower case; `:authority`, `:method`, `:path`, `:scheme` are the request's pseudo-headers. */
  readonly name: string;
  readonly match: StringMatch;
  readonly invert: boolean;
}

/** What a request is: `to` in AuthorizationPolicy terms. */
export type RbacPermission =
  | { readonly kind: 'any' }
  | { readonly kind: 'and'; readonly rules: readonly RbacPermission[] }
  | { readonly kind: 'or'; readonly rules: readonly RbacPermission[] }
  | { readonly kind: 'not'; readonly rule: RbacPermission }
  | { readonly kind: 'header'; readonly header: RbacHeaderMatch }
  /** `url_path`: the path without query and fragment. */
  | { readonly kind: 'url-path'; readonly match: StringMatch }
  /** The CONNECT target's IP (the service VIP). */
  | { readonly kind: 'destination-ip'; readonly cidr: CidrRange }
  /** The CONNECT target's port (the service port). */
  | { readonly kind: 'destination-port'; readonly port: number }
  /** [start, end) */
  | { readonly kind: 'destination-port-range'; readonly start: number; readonly end: number }
  /** SNI of the downstream TLS; the internal listener is plaintext, so it is always empty. */
  | { readonly kind: 'requested-server-name'; readonly match: StringMatch }
  /** Dynamic metadata the waypoint never has (JWT claims, other filters): the result is `invert`. */
  | { readonly kind: 'metadata'; readonly filter: string; readonly path: readonly string[]; readonly invert: boolean };

/** Who sends it: `from` in AuthorizationPolicy terms. */
export type RbacPrincipal =
  | { readonly kind: 'any' }
  | { readonly kind: 'and'; readonly ids: readonly RbacPrincipal[] }
  | { readonly kind: 'or'; readonly ids: readonly RbacPrincipal[] }
  | { readonly kind: 'not'; readonly id: RbacPrincipal }
  /** The peer certificate's URI SAN; no `match` = any authenticated peer. */
  | { readonly kind: 'authenticated'; readonly match?: StringMatch }
  /** Filter state `key` (`io.istio.peer_principal`: the HBONE peer's SPIFFE id). */
  | { readonly kind: 'filter-state'; readonly key: string; readonly match: StringMatch }
  /** `direct_remote_ip` / `source_ip`: the HBONE connection's source; `remote_ip`: the same (no XFF trust). */
  | { readonly kind: 'direct-remote-ip' | 'remote-ip'; readonly cidr: CidrRange }
  | { readonly kind: 'header'; readonly header: RbacHeaderMatch }
  | { readonly kind: 'url-path'; readonly match: StringMatch }
  | { readonly kind: 'metadata'; readonly filter: string; readonly path: readonly string[]; readonly invert: boolean };

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
  /** HTTP routes only: header changes when this cluster is picked (applied before the route's). */
  readonly requestHeaders?: HeaderMutation;
  readonly responseHeaders?: HeaderMutation;
  /** HTTP routes only: `host_rewrite_literal` of this cluster. */
  readonly hostRewrite?: string;
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
  /** `request_headers_to_add/_remove`: applied to the request before it goes upstream (after the weighted cluster's own). */
  readonly requestHeaders?: HeaderMutation;
  /** `response_headers_to_add/_remove`: applied to every response of this route, local replies included. */
  readonly responseHeaders?: HeaderMutation;
  /** `typed_per_filter_config['envoy.filters.http.fault']`: replaces the fault filter's own config for this route. */
  readonly fault?: FaultConfig;
  /** `typed_per_filter_config['envoy.filters.http.cors']`. */
  readonly cors?: CorsPolicy;
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
  /** Envoy's `treat_missing_header_as_empty`: an absent header is matched as "" (Istio sets it on `withoutHeaders`). */
  readonly treatMissingAsEmpty?: boolean;
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
  /** `retry_host_predicate`: `previous_hosts` = a retry picks a host not tried before (when there is one). */
  readonly retryHostPredicates?: readonly 'previous_hosts'[];
  /** `host_selection_retry_max_attempts` (Envoy default 1): how often the predicate may re-pick. */
  readonly hostSelectionMaxAttempts?: number;
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
      /** `regex_rewrite`: RE2 `pattern` replaced (every match) in the path, `\1` style groups in `substitution`. */
      readonly regexRewrite?: { readonly pattern: string; readonly substitution: string };
      /** `request_mirror_policies`: fire-and-forget copies (their responses are dropped). */
      readonly mirrors?: readonly MirrorPolicy[];
      /** `hash_policy`, for RING_HASH / MAGLEV clusters; evaluated in order, `terminal` stops at a hit. */
      readonly hashPolicy?: readonly HashPolicy[];
      /** `cluster_not_found_response_code`: 503 (Envoy's default), 404, or 500 (Gateway API routes). */
      readonly clusterNotFoundStatus?: 503 | 404 | 500;
    }
  | {
      readonly kind: 'redirect';
      readonly status: number;
      readonly scheme?: string;
      readonly host?: string;
      readonly port?: number;
      readonly path?: string;
      /** `prefix_rewrite` of a redirect: the matched prefix replaced (Gateway API ReplacePrefixMatch). */
      readonly prefixRewrite?: string;
    }
  | { readonly kind: 'direct-response'; readonly status: number; readonly body?: string };

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

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
  /** RING_HASH: `ring_hash_lb_config` (Envoy defaults 1024 / 8M). */
  readonly ringHash?: { readonly minimumRingSize: number; readonly maximumRingSize: number };
  /** MAGLEV: `maglev_lb_config.table_size` (Envoy default 65537, a prime). */
  readonly maglev?: { readonly tableSize: number };
  /** `outlier_detection`; absent = no ejection. */
  readonly outlierDetection?: OutlierDetection;
  /** `common_lb_config.healthy_panic_threshold` in percent (Envoy default 50; Istio 0 with outlier detection = never panic). */
  readonly healthyPanicThresholdPercent?: number;
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

// Traffic management (VirtualService / DestinationRule features): header mutations, fault
// injection, CORS, mirroring, consistent hashing and outlier detection, as the data path reads them.

/** Envoy's HeaderValueOption append actions. */
export type HeaderAppendAction = 'append' | 'add-if-absent' | 'overwrite' | 'overwrite-if-exists';

export interface HeaderToAdd {
  /** Lower case. */
  readonly name: string;
  readonly value: string;
  /** `append` (Istio `add`): another value; `overwrite` (Istio `set`): replace or add. */
  readonly action: HeaderAppendAction;
  /** `keep_empty_value`: an empty value is added (by default an empty value adds nothing). */
  readonly keepEmpty?: boolean;
}

/** `*_headers_to_remove` then `*_headers_to_add`, in that order (Envoy removes first). */
export interface HeaderMutation {
  readonly remove: readonly string[];
  readonly add: readonly HeaderToAdd[];
}

/** A FractionalPercent normalised to parts per million (0–1 000 000). */
export type PerMillion = number;

export type FaultAbort =
  | { readonly kind: 'http'; readonly status: number; readonly perMillion: PerMillion }
  /** gRPC requests (and others) get HTTP 200 with `grpc-status` = status in the trailers-only response. */
  | { readonly kind: 'grpc'; readonly status: number; readonly perMillion: PerMillion };

/** HTTPFault: delay and abort are decided independently; response flags DI / FI. */
export interface FaultConfig {
  readonly delay?: { readonly fixedDelayMs: number; readonly perMillion: PerMillion };
  readonly abort?: FaultAbort;
  /** `max_active_faults`: concurrent faulted requests at most; absent = unlimited. */
  readonly maxActiveFaults?: number;
}

/** `envoy.filters.http.fault`: `defaults` applies to routes without their own fault config. */
export interface FaultFilterConfig {
  readonly kind: 'fault';
  readonly name: string;
  readonly defaults?: FaultConfig;
}

/** `envoy.filters.http.cors`: the policy is per route (Route.cors); a route without one is not touched. */
export interface CorsFilterConfig {
  readonly kind: 'cors';
  readonly name: string;
}

/** envoy.extensions.filters.http.cors.v3.CorsPolicy. Empty strings = not set. */
export interface CorsPolicy {
  /** An Origin matching any of these is allowed (and echoed back). */
  readonly allowOrigins: readonly StringMatch[];
  readonly allowMethods: string;
  readonly allowHeaders: string;
  readonly exposeHeaders: string;
  /** Seconds, as text (`Access-Control-Max-Age`). */
  readonly maxAge: string;
  readonly allowCredentials: boolean;
  /** A preflight whose origin does not match goes upstream (Istio's default FORWARD) instead of being answered. */
  readonly forwardNotMatchingPreflights: boolean;
  /** `filter_enabled` (default 100 %): the share of requests the policy is enforced on. */
  readonly enabledPerMillion: PerMillion;
}

export interface MirrorPolicy {
  readonly cluster: string;
  /** `runtime_fraction.default_value`; 1 000 000 = every request. */
  readonly perMillion: PerMillion;
  readonly traceSampled: boolean;
  /** `disable_shadow_host_suffix_append`: keep the authority as is (otherwise `<host>-shadow[:port]`). */
  readonly disableShadowHostSuffix: boolean;
}

export type HashPolicy =
  | { readonly kind: 'header'; readonly name: string; readonly terminal: boolean }
  /** With `ttlMs`, a missing cookie is generated and set on the response (Envoy's behaviour). */
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs?: number; readonly path?: string; readonly terminal: boolean }
  | { readonly kind: 'source-ip'; readonly terminal: boolean }
  | { readonly kind: 'query-parameter'; readonly name: string; readonly terminal: boolean };

/** Cluster.outlier_detection with Envoy's defaults filled in; percentages 0–100. */
export interface OutlierDetection {
  /** Eject after this many consecutive 5xx (connect failures and resets count as 5xx); enforcing 0 = never. */
  readonly consecutive5xx: number;
  readonly enforcingConsecutive5xxPercent: number;
  /** Consecutive 502/503/504 (and connect failures); Envoy enforces 0 % unless set. */
  readonly consecutiveGatewayFailure: number;
  readonly enforcingConsecutiveGatewayFailurePercent: number;
  /** How often ejections are re-evaluated (un-ejection happens on this tick). */
  readonly intervalMs: number;
  /** An ejection lasts baseEjectionTime × (times ejected); at most maxEjectionTime. */
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionTimeMs: number;
  /** At most this share of the cluster's hosts is ejected at once (at least one host when the share rounds down, as Envoy). */
  readonly maxEjectionPercent: number;
}
