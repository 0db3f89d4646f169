// The connection-pool contract (Envoy's ConnectionPool::Instance): one pool per endpoint and
// codec, opened lazily by the cluster manager, drained when the endpoint leaves the cluster.
import type { UpstreamRequest, UpstreamRequestHead } from './upstream-request.ts';

export interface PoolSettings {
  readonly connectTimeoutMs: number;
  /** Close a connection idle this long; 0 = never. */
  readonly idleTimeoutMs: number;
  /** 0 = unlimited. */
  readonly maxRequestsPerConnection: number;
}

export interface ConnPool {
  /**
   * Resolves once a connection is assigned and the request headers are queued; rejects with
   * UpstreamError (`overflow`, `connect_failure`).
   */
  open(head: UpstreamRequestHead): Promise<UpstreamRequest>;
  /** No new requests; idle connections close now, busy ones after their requests. */
  drain(): void;
  /** Open connections (or sessions). */
  readonly connectionCount: number;
}
