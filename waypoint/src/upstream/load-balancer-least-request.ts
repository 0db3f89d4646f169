// LEAST_REQUEST, Envoy's (and Istio's) default: power of two choices. Two healthy endpoints are
// drawn at random and the one with fewer active requests wins (ties: the first draw).
import type { Endpoint } from '../config/types.ts';
import type { Random } from '../router/weighted-pick.ts';
import { healthyEndpoints, type ActiveRequests, type LoadBalancer } from './load-balancer.ts';

export class LeastRequestLoadBalancer implements LoadBalancer {
  private readonly active: ActiveRequests;
  private readonly random: Random;

  constructor(active: ActiveRequests, random: Random = Math.random) {
    this.active = active;
    this.random = random;
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    const healthy = healthyEndpoints(endpoints);
    if (healthy.length <= 1) return healthy[0];
    const i = Math.floor(this.random() * healthy.length) % healthy.length;
    // The second draw excludes the first so the two choices are distinct.
    let j = Math.floor(this.random() * (healthy.length - 1)) % (healthy.length - 1);
    if (j >= i) j++;
    const a = healthy[i]!;
    const b = healthy[j]!;
    return this.active(b) < this.active(a) ? b : a;
  }
}
