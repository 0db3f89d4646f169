// The cluster manager: runtime state per cluster name that outlives config swaps (load balancer,
// circuit-breaker counters, active requests per endpoint, outlier detection, connection pools per
// endpoint and codec). Each lookup passes the Cluster of the caller's snapshot; pools of endpoints
// that left the cluster are drained. Ejected endpoints are hidden from the load balancer unless
// too few are left (Envoy's healthy panic threshold).
import type { Cluster, Endpoint } from '../config/types.ts';
import type { DataPlaneEvent } from '../listener/events.ts';
import type { Random } from '../router/weighted-pick.ts';
import { ClusterCircuitBreaker } from './circuit-breaker.ts';
import type { ConnPool, PoolSettings } from './conn-pool.ts';
import { H1ConnPool } from './conn-pool-h1.ts';
import { H2ConnPool } from './conn-pool-h2.ts';
import { LeastRequestLoadBalancer } from './load-balancer-least-request.ts';
import { RandomLoadBalancer } from './load-balancer-random.ts';
import { MaglevLoadBalancer, RingHashLoadBalancer } from './load-balancer-ring-hash.ts';
import { RoundRobinLoadBalancer } from './load-balancer-round-robin.ts';
import { endpointKey, healthyEndpoints, type ActiveRequests, type LoadBalancer } from './load-balancer.ts';
import { OutlierDetector, type OutlierEvent, type UpstreamResult } from './outlier-detection.ts';
import type { UpstreamConnector } from './upstream-connector.ts';

export type UpstreamCodec = 'http1' | 'http2';

/** A load balancer that can follow a request hash (RING_HASH, MAGLEV). */
export interface HashLoadBalancer extends LoadBalancer {
  pickByHash(endpoints: readonly Endpoint[], hash: bigint | undefined): Endpoint | undefined;
}

export function createLoadBalancer(cluster: Pick<Cluster, 'lbPolicy' | 'ringHash' | 'maglev'>, active: ActiveRequests, random: Random = Math.random): LoadBalancer {
  switch (cluster.lbPolicy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLoadBalancer();
    case 'RANDOM':
      return new RandomLoadBalancer(random);
    case 'LEAST_REQUEST':
      return new LeastRequestLoadBalancer(active, random);
    case 'RING_HASH':
      return new RingHashLoadBalancer(cluster.ringHash, random);
    case 'MAGLEV':
      return new MaglevLoadBalancer(cluster.maglev?.tableSize, random);
  }
}

function isHashLb(lb: LoadBalancer): lb is HashLoadBalancer {
  return 'pickByHash' in lb;
}

function lbKey(c: Cluster): string {
  return `${c.lbPolicy}|${c.ringHash?.minimumRingSize ?? ''}/${c.ringHash?.maximumRingSize ?? ''}|${c.maglev?.tableSize ?? ''}`;
}

/** Pools are per endpoint identity too: the same address with another identity is another host. */
export function hostKey(e: Endpoint): string {
  return `${endpointKey(e)}|${e.tunnel}|${e.identity ?? ''}`;
}

/** How the router asks for an endpoint. */
export interface PickOptions {
  /** The request hash (hash policy), for RING_HASH / MAGLEV clusters. */
  readonly hash?: bigint;
  /** Host keys (hostKey) to avoid when another host is available: retry_host_predicate previous_hosts. */
  readonly exclude?: ReadonlySet<string>;
}

export interface ClusterRuntimeOptions {
  readonly random: Random;
  /** Milliseconds clock for outlier detection (tests may inject one). */
  readonly now: () => number;
  onEvent?(e: DataPlaneEvent): void;
}

/** Envoy's default healthy_panic_threshold. */
const DEFAULT_PANIC_PERCENT = 50;

export class ClusterRuntime {
  #cluster: Cluster;
  #lbKey: string;
  #lb: LoadBalancer;
  readonly breaker: ClusterCircuitBreaker;
  readonly #active = new Map<string, number>();
  readonly #pools = new Map<string, ConnPool>();
  #outlier: OutlierDetector | undefined;
  #outlierKey = '';
  #outlierTimer: NodeJS.Timeout | undefined;

  private readonly connector: UpstreamConnector;
  private readonly random: Random;
  private readonly opts: ClusterRuntimeOptions;

  constructor(cluster: Cluster, connector: UpstreamConnector, opts: ClusterRuntimeOptions) {
    this.connector = connector;
    this.random = opts.random;
    this.opts = opts;
    this.#cluster = cluster;
    this.#lbKey = lbKey(cluster);
    this.#lb = createLoadBalancer(cluster, (e) => this.activeRequests(e), this.random);
    this.breaker = new ClusterCircuitBreaker(() => this.#cluster.circuitBreakers);
    this.#syncOutlier();
  }

  get cluster(): Cluster {
    return this.#cluster;
  }

  /** Adopts a newer (or older, from a connection's snapshot) definition of this cluster. */
  update(cluster: Cluster): void {
    if (cluster === this.#cluster) return;
    this.#cluster = cluster;
    const key = lbKey(cluster);
    if (key !== this.#lbKey) {
      this.#lbKey = key;
      this.#lb = createLoadBalancer(cluster, (e) => this.activeRequests(e), this.random);
    }
    this.#syncOutlier();
    const live = new Set(cluster.endpoints.map(hostKey));
    this.#outlier?.setHosts([...live]);
    for (const [k, pool] of this.#pools) {
      if (!live.has(k.slice(k.indexOf('#') + 1))) {
        pool.drain();
        this.#pools.delete(k);
      }
    }
  }

  /**
   * One endpoint for a request, or undefined (503 UH). Ejected hosts are skipped unless fewer than
   * the panic threshold of the healthy hosts are left; `exclude` is honoured when something else is left.
   */
  pick(opts: PickOptions = {}): Endpoint | undefined {
    let candidates: readonly Endpoint[] = this.#cluster.endpoints;
    const od = this.#outlier;
    if (od && od.ejectedCount > 0) {
      const healthy = healthyEndpoints(candidates);
      const available = healthy.filter((e) => !od.isEjected(hostKey(e)));
      const panic = this.#cluster.healthyPanicThresholdPercent ?? DEFAULT_PANIC_PERCENT;
      // Panic: too few hosts left, so all of them take traffic again (threshold 0 = never).
      const panicking = panic > 0 && healthy.length > 0 && (100 * available.length) / healthy.length < panic;
      if (!panicking) candidates = available;
    }
    if (opts.exclude && opts.exclude.size > 0) {
      const fresh = candidates.filter((e) => !opts.exclude!.has(hostKey(e)));
      if (healthyEndpoints(fresh).length > 0) candidates = fresh;
    }
    const lb = this.#lb;
    return isHashLb(lb) ? lb.pickByHash(candidates, opts.hash) : lb.pick(candidates);
  }

  /** Whether requests to this cluster should carry a hash (its LB is consistent hashing). */
  get hashing(): boolean {
    return isHashLb(this.#lb);
  }

  /** One upstream result of `e`, for outlier detection. */
  recordResult(e: Endpoint, result: UpstreamResult): void {
    const od = this.#outlier;
    if (!od) return;
    const ev = od.record(hostKey(e), result, healthyEndpoints(this.#cluster.endpoints).length, this.opts.now());
    if (ev) this.#report(ev);
  }

  /** Envoy's /clusters health_flags of `e`: `healthy`, or the failed checks (`/failed_outlier_check`, `/failed_eds_health`). */
  healthFlags(e: Endpoint): string {
    let flags = '';
    if (this.#outlier?.isEjected(hostKey(e))) flags += '/failed_outlier_check';
    if (!e.healthy) flags += '/failed_eds_health';
    return flags || 'healthy';
  }

  get ejectedCount(): number {
    return this.#outlier?.ejectedCount ?? 0;
  }

  #syncOutlier(): void {
    const od = this.#cluster.outlierDetection;
    const key = od ? JSON.stringify(od) : '';
    if (key === this.#outlierKey) return;
    this.#outlierKey = key;
    clearInterval(this.#outlierTimer);
    this.#outlierTimer = undefined;
    this.#outlier = od ? new OutlierDetector(od, this.random) : undefined;
    if (od) {
      this.#outlierTimer = setInterval(() => {
        for (const ev of this.#outlier?.tick(this.opts.now()) ?? []) this.#report(ev);
      }, Math.max(1, od.intervalMs));
      this.#outlierTimer.unref();
    }
  }

  #report(ev: OutlierEvent): void {
    const cluster = this.#cluster.name;
    if (ev.kind === 'ejected') this.opts.onEvent?.({ kind: 'outlier-ejected', cluster, endpoint: ev.endpoint, reason: ev.reason, untilMs: ev.untilMs });
    else if (ev.kind === 'unejected') this.opts.onEvent?.({ kind: 'outlier-unejected', cluster, endpoint: ev.endpoint });
  }

  activeRequests(e: Endpoint): number {
    return this.#active.get(hostKey(e)) ?? 0;
  }

  /** Counts a request on `e` (least request reads it); returns the release function. */
  trackRequest(e: Endpoint): () => void {
    const k = hostKey(e);
    this.#active.set(k, (this.#active.get(k) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const n = (this.#active.get(k) ?? 1) - 1;
      if (n <= 0) this.#active.delete(k);
      else this.#active.set(k, n);
    };
  }

  pool(e: Endpoint, codec: UpstreamCodec): ConnPool {
    const k = `${codec}#${hostKey(e)}`;
    let p = this.#pools.get(k);
    if (!p) {
      const settings = (): PoolSettings => ({
        connectTimeoutMs: this.#cluster.connectTimeoutMs,
        idleTimeoutMs: this.#cluster.idleTimeoutMs,
        maxRequestsPerConnection: this.#cluster.maxRequestsPerConnection,
      });
      p = codec === 'http2' ? new H2ConnPool(e, this.connector, this.breaker, settings) : new H1ConnPool(e, this.connector, this.breaker, settings);
      this.#pools.set(k, p);
    }
    return p;
  }

  connectionCount(): number {
    let n = 0;
    for (const p of this.#pools.values()) n += p.connectionCount;
    return n;
  }

  drain(): void {
    clearInterval(this.#outlierTimer);
    this.#outlierTimer = undefined;
    for (const p of this.#pools.values()) p.drain();
    this.#pools.clear();
  }
}

export interface ClusterManagerStats {
  clusters: number;
  upstreamConnections: number;
  activeRequests: number;
}

export class ClusterManager {
  readonly #clusters = new Map<string, ClusterRuntime>();

  readonly connector: UpstreamConnector;
  private readonly opts: ClusterRuntimeOptions;

  constructor(connector: UpstreamConnector, random: Random = Math.random, opts: { now?: () => number; onEvent?: (e: DataPlaneEvent) => void } = {}) {
    this.connector = connector;
    this.opts = { random, now: opts.now ?? (() => performance.now()), ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) };
  }

  /** The runtime for `cluster` (as the caller's snapshot defines it). */
  get(cluster: Cluster): ClusterRuntime {
    let rt = this.#clusters.get(cluster.name);
    if (!rt) {
      rt = new ClusterRuntime(cluster, this.connector, this.opts);
      this.#clusters.set(cluster.name, rt);
    } else {
      rt.update(cluster);
    }
    return rt;
  }

  /** Drops runtimes of clusters no longer in `names` (called on config swaps). */
  retain(names: ReadonlySet<string>): void {
    for (const [name, rt] of this.#clusters) {
      if (!names.has(name)) {
        rt.drain();
        this.#clusters.delete(name);
      }
    }
  }

  /** The runtime of a cluster by name, when one exists (admin /clusters). */
  find(name: string): ClusterRuntime | undefined {
    return this.#clusters.get(name);
  }

  stats(): ClusterManagerStats {
    let upstreamConnections = 0;
    let activeRequests = 0;
    for (const rt of this.#clusters.values()) {
      upstreamConnections += rt.connectionCount();
      activeRequests += rt.breaker.requests;
    }
    return { clusters: this.#clusters.size, upstreamConnections, activeRequests };
  }

  close(): void {
    for (const rt of this.#clusters.values()) rt.drain();
    this.#clusters.clear();
  }
}
