// What every stream and TCP session knows about the downstream connection it arrived on: the
// terminated CONNECT (target, peer, identities) and the config snapshot it was accepted under.
import type { PeerWorkload, WaypointConfig } from '../config/types.ts';

export interface DownstreamConnection {
  /** The snapshot read when the tunnel was accepted; the connection keeps it (hot swaps apply to new ones). */
  readonly config: WaypointConfig;
  /** The CONNECT target `ip:port` (DOWNSTREAM_LOCAL_ADDRESS). */
  readonly localAddress: string;
  readonly targetIp: string;
  readonly targetPort: number;
  /** The HBONE client's `ip:port` (DOWNSTREAM_REMOTE_ADDRESS). */
  readonly remoteAddress: string;
  /** The HBONE client's SPIFFE id. */
  readonly peerPrincipal: string;
  /** The waypoint's own SPIFFE id the tunnel was served with. */
  readonly localPrincipal: string;
  /** The source workload, by the HBONE client's IP. */
  readonly source: PeerWorkload | undefined;
}
