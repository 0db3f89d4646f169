// The cluster manager: runtime state per cluster name that outlives config swaps (load balancer,
// circuit-breaker counters, active requests per endpoint, connection pools per endpoint and
// codec). Each lookup passes the Cluster of the caller's snapshot; pools of endpoints that left
// the cluster are drained.
import type { Cluster, Endpoint, LbPolicy } from '../config/types.ts';
import type { Random } from '../router/weighted-pick.ts';
import { ClusterCircuitBreaker } from './circuit-breaker.ts';
import type { ConnPool, PoolSettings } from './conn-pool.ts';
import { H1ConnPool } from './conn-pool-h1.ts';
import { H2ConnPool } from './conn-pool-h2.ts';
import { LeastRequestLoadBalancer } from './load-balancer-least-request.ts';
import { RandomLoadBalancer } from './load-balancer-random.ts';
import { RoundRobinLoadBalancer } from './load-balancer-round-robin.ts';
import { endpointKey, type ActiveRequests, type LoadBalancer } from './load-balancer.ts';
import type { UpstreamConnector } from './upstream-connector.ts';

export type UpstreamCodec = 'http1' | 'http2';

export function createLoadBalancer(policy: LbPolicy, active: ActiveRequests, random: Random = Math.random): LoadBalancer {
  switch (policy) {
    case 'ROUND_ROBIN':
      return new RoundRobinLoadBalancer();
    case 'RANDOM':
      return new RandomLoadBalancer(random);
    case 'LEAST_REQUEST':
    // Consistent hashing needs the route's hash policy, which this data path does not evaluate
    // yet: such clusters are balanced as Envoy's default until it does.
    case 'RING_HASH':
    case 'MAGLEV':
      return new LeastRequestLoadBalancer(active, random);
  }
}

/** Pools are per endpoint identity too: the same address with another identity is another host. */
function hostKey(e: Endpoint): string {
  return `${endpointKey(e)}|${e.tunnel}|${e.identity ?? ''}`;
}

export class ClusterRuntime {
  #cluster: Cluster;
  #lbPolicy: LbPolicy;
  #lb: LoadBalancer;
  readonly breaker: ClusterCircuitBreaker;
  readonly #active = new Map<string, number>();
  readonly #pools = new Map<string, ConnPool>();

  private readonly connector: UpstreamConnector;
  private readonly random: Random;

  constructor(cluster: Cluster, connector: UpstreamConnector, random: Random) {
    this.connector = connector;
    this.random = random;
    this.#cluster = cluster;
    this.#lbPolicy = cluster.lbPolicy;
    this.#lb = createLoadBalancer(cluster.lbPolicy, (e) => this.activeRequests(e), random);
    this.breaker = new ClusterCircuitBreaker(() => this.#cluster.circuitBreakers);
  }

  get cluster(): Cluster {
    return this.#cluster;
  }

  /** Adopts a newer (or older, from a connection's snapshot) definition of this cluster. */
  update(cluster: Cluster): void {
    if (cluster === this.#cluster) return;
    this.#cluster = cluster;
    if (cluster.lbPolicy !== this.#lbPolicy) {
      this.#lbPolicy = cluster.lbPolicy;
      this.#lb = createLoadBalancer(cluster.lbPolicy, (e) => this.activeRequests(e), this.random);
    }
    const live = new Set(cluster.endpoints.map(hostKey));
    for (const [k, pool] of this.#pools) {
      if (!live.has(k.slice(k.indexOf('#') + 1))) {
        pool.drain();
        this.#pools.delete(k);
      }
    }
  }

  pick(): Endpoint | undefined {
    return this.#lb.pick(this.#cluster.endpoints);
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
  private readonly random: Random;

  constructor(connector: UpstreamConnector, random: Random = Math.random) {
    this.connector = connector;
    this.random = random;
  }

  /** The runtime for `cluster` (as the caller's snapshot defines it). */
  get(cluster: Cluster): ClusterRuntime {
    let rt = this.#clusters.get(cluster.name);
    if (!rt) {
      rt = new ClusterRuntime(cluster, this.connector, this.random);
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
