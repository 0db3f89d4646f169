// tcp_proxy for TCP chains: a weighted cluster, an endpoint from its load balancer, the upstream
// (HBONE tunnel or plain TCP), then bytes both ways with half-close (lib/hbone copyBidirectional)
// and an idle timeout; one RequestRecord when the connection ends.
import type { Duplex } from 'node:stream';
import { copyBidirectional } from '../../../lib/hbone/index.ts';
import type { Logger } from '../../../lib/log/logger.ts';
import type { TcpFilterChain, WaypointConfig } from '../config/types.ts';
import type { DownstreamConnection } from '../listener/downstream-connection.ts';
import { weightedPick, type Random } from '../router/weighted-pick.ts';
import type { RequestRecord, RequestRecordSink } from '../telemetry/request-record.ts';
import type { ClusterManager } from '../upstream/cluster-manager.ts';
import { upstreamHost } from '../upstream/upstream-connector.ts';
import { UpstreamError } from '../upstream/upstream-request.ts';

export interface TcpProxyDeps {
  readonly clusters: ClusterManager;
  config(): WaypointConfig | undefined;
  readonly onRecord: RequestRecordSink;
  readonly log: Logger;
  readonly random?: Random;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export class TcpProxy {
  readonly #open = new Set<Duplex>();
  readonly #closed = new Set<Promise<void>>();

  private readonly deps: TcpProxyDeps;

  constructor(deps: TcpProxyDeps) {
    this.deps = deps;
  }

  get connectionCount(): number {
    return this.#open.size;
  }

  /** Proxies one downstream connection of `chain`; never throws. */
  serve(downstream: Duplex, conn: DownstreamConnection, chain: TcpFilterChain): void {
    this.#open.add(downstream);
    let release!: () => void;
    const closed = new Promise<void>((r) => (release = r));
    this.#closed.add(closed);
    downstream.on('error', () => undefined);
    const done = (): void => {
      this.#open.delete(downstream);
      this.#closed.delete(closed);
      release();
    };
    void this.#proxy(downstream, conn, chain).finally(done);
  }

  /** TCP has nothing to announce: open connections run to their end. */
  async drain(): Promise<void> {
    await Promise.all([...this.#closed]);
  }

  close(): void {
    for (const s of this.#open) s.destroy();
  }

  async #proxy(downstream: Duplex, conn: DownstreamConnection, chain: TcpFilterChain): Promise<void> {
    const start = performance.now();
    const rec: Mutable<RequestRecord> = {
      kind: 'tcp',
      startTime: new Date(),
      durationMs: 0,
      requestProtocol: 'tcp',
      responseCode: 0,
      responseFlags: [],
      responseCodeDetails: '',
      bytesReceived: 0,
      bytesSent: 0,
      requestSize: 0,
      responseSize: 0,
      downstreamLocalAddress: conn.localAddress,
      downstreamRemoteAddress: conn.remoteAddress,
      sourcePrincipal: conn.peerPrincipal,
      localPrincipal: conn.localPrincipal,
      source: conn.source,
      destinationService: chain.service,
    };
    const flags: string[] = [];
    const emit = (): void => {
      rec.durationMs = Math.round(performance.now() - start);
      rec.responseFlags = flags;
      this.deps.onRecord(rec);
    };
    const config = this.deps.config() ?? conn.config;
    const wc = weightedPick(chain.clusters, this.deps.random);
    const cluster = wc ? config.clusters.get(wc.name) : undefined;
    if (wc) rec.upstreamCluster = wc.name;
    if (!cluster) {
      flags.push('NC');
      rec.connectionTerminationDetails = 'cluster_not_found';
      downstream.destroy();
      return emit();
    }
    rec.destinationService = cluster.services[0] ?? chain.service;
    const rt = this.deps.clusters.get(cluster);
    const endpoint = rt.pick();
    if (!endpoint) {
      flags.push('UH');
      rec.connectionTerminationDetails = 'no_healthy_upstream';
      downstream.destroy();
      return emit();
    }
    rec.upstreamHost = upstreamHost(endpoint);
    rec.destinationWorkload = endpoint.workload;
    rec.destinationPrincipal = endpoint.identity;
    if (!rt.breaker.canConnect()) {
      flags.push('UO');
      rt.breaker.overflows.connections++;
      downstream.destroy();
      return emit();
    }
    const release = rt.trackRequest(endpoint);
    rt.breaker.connections++;
    try {
      let upstream: Duplex;
      try {
        upstream = await this.deps.clusters.connector.connect(endpoint, cluster.connectTimeoutMs);
      } catch (err) {
        flags.push('UF');
        if (err instanceof UpstreamError && err.transportFailure) rec.upstreamTransportFailureReason = err.transportFailure;
        this.deps.log.debug({ err: (err as Error).message, chain: chain.name }, 'tcp upstream connect failed');
        downstream.destroy();
        return emit();
      }
      if (downstream.destroyed) {
        upstream.destroy();
        flags.push('DC');
        return emit();
      }
      const copy = copyBidirectional(downstream, upstream);
      // Sniffing may have paused the downstream (its first bytes were put back).
      downstream.resume();
      let idle: NodeJS.Timeout | undefined;
      if (chain.idleTimeoutMs > 0) {
        let last = -1;
        const tick = Math.max(10, Math.min(chain.idleTimeoutMs, 1000));
        let quietFor = 0;
        idle = setInterval(() => {
          const seen = copy.stats.aToB + copy.stats.bToA;
          quietFor = seen === last ? quietFor + tick : 0;
          last = seen;
          if (quietFor >= chain.idleTimeoutMs) {
            rec.connectionTerminationDetails = 'idle_timeout';
            copy.abort(new Error('idle timeout'));
          }
        }, tick);
        idle.unref();
      }
      const result = await copy.done;
      clearInterval(idle);
      rec.bytesReceived = result.stats.aToB;
      rec.bytesSent = result.stats.bToA;
      rec.requestSize = result.stats.aToB;
      rec.responseSize = result.stats.bToA;
      if (result.kind === 'reset' && result.side === 'b') flags.push('UC');
      else if (result.kind === 'reset' && result.side === 'a') flags.push('DC');
      emit();
    } finally {
      release();
      rt.breaker.connections--;
    }
  }
}
