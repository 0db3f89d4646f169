// Data-plane events for metrics (the app counts them): refused CONNECTs, codec errors, tunnels
// no filter chain accepted after sniffing, HBONE handshake failures, RBAC denials, outlier ejections.
export type DataPlaneEvent =
  /** A CONNECT the waypoint refused (unknown service, no config yet): answered `status`. */
  | { readonly kind: 'connect-rejected'; readonly authority: string; readonly status: number; readonly reason: string; readonly remoteAddress: string }
  /** Malformed HTTP (400) or oversized request headers (431) on a chain's connection. */
  | { readonly kind: 'codec-error'; readonly status: 400 | 431; readonly code: string; readonly chain: string }
  /** Sniffing found a protocol no candidate chain accepts; the tunnel was closed. */
  | { readonly kind: 'no-filter-chain'; readonly authority: string; readonly protocol: string }
  /** HBONE connection or stream refused by lib/hbone (TLS, identity, not a CONNECT…). */
  | { readonly kind: 'hbone-rejected'; readonly reason: string; readonly remoteAddress: string }
  /** A closing HBONE connection outlived the drain grace period: torn down, `tunnels` tunnels reset. */
  | { readonly kind: 'hbone-force-closed'; readonly reason: string; readonly tunnels: number; readonly remoteAddress: string }
  /** An enforced RBAC rule set denied a request (403); `statPrefix` names the rule set's counters. */
  | { readonly kind: 'rbac-denied'; readonly filter: string; readonly statPrefix: string; readonly policy: string }
  /** A shadow (dry-run) rule set would have denied; the request went on. */
  | { readonly kind: 'rbac-shadow-denied'; readonly filter: string; readonly statPrefix: string; readonly policy: string }
  /** Outlier detection ejected an endpoint of `cluster` (Envoy's ejections_enforced_*). */
  | { readonly kind: 'outlier-ejected'; readonly cluster: string; readonly endpoint: string; readonly reason: string; readonly untilMs: number }
  /** An ejected endpoint is back in the load balancer. */
  | { readonly kind: 'outlier-unejected'; readonly cluster: string; readonly endpoint: string };
