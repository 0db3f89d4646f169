// Data-plane events for metrics (the app counts them): refused CONNECTs, codec errors, tunnels
// no filter chain accepted after sniffing, HBONE handshake failures.
export type DataPlaneEvent =
  /** A CONNECT the waypoint refused (unknown service, no config yet): answered `status`. */
  | { readonly kind: 'connect-rejected'; readonly authority: string; readonly status: number; readonly reason: string; readonly remoteAddress: string }
  /** Malformed HTTP (400) or oversized request headers (431) on a chain's connection. */
  | { readonly kind: 'codec-error'; readonly status: 400 | 431; readonly code: string; readonly chain: string }
  /** Sniffing found a protocol no candidate chain accepts; the tunnel was closed. */
  | { readonly kind: 'no-filter-chain'; readonly authority: string; readonly protocol: string }
  /** HBONE connection or stream refused by lib/hbone (TLS, identity, not a CONNECT…). */
  | { readonly kind: 'hbone-rejected'; readonly reason: string; readonly remoteAddress: string };
