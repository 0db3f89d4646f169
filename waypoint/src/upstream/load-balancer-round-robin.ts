// ROUND_ROBIN over healthy endpoints, weighted (smooth weighted round robin: each endpoint is
// chosen in proportion to its weight, interleaved rather than in bursts).
import type { Endpoint } from '../config/types.ts';
import { endpointKey, healthyEndpoints, type LoadBalancer } from './load-balancer.ts';

export class RoundRobinLoadBalancer implements LoadBalancer {
  readonly #current = new Map<string, number>();

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    const healthy = healthyEndpoints(endpoints);
    if (healthy.length <= 1) return healthy[0];
    let total = 0;
    let best: Endpoint | undefined;
    let bestScore = -Infinity;
    const seen = new Set<string>();
    for (const e of healthy) {
      const k = endpointKey(e);
      seen.add(k);
      const score = (this.#current.get(k) ?? 0) + e.weight;
      this.#current.set(k, score);
      total += e.weight;
      if (score > bestScore) {
        bestScore = score;
        best = e;
      }
    }
    for (const k of this.#current.keys()) if (!seen.has(k)) this.#current.delete(k);
    const bk = endpointKey(best!);
    this.#current.set(bk, (this.#current.get(bk) ?? 0) - total);
    return best;
  }
}
