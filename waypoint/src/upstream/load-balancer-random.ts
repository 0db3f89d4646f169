// RANDOM over healthy endpoints, weighted; the random source is injectable for tests.
import type { Endpoint } from '../config/types.ts';
import { weightedPick, type Random } from '../router/weighted-pick.ts';
import { healthyEndpoints, type LoadBalancer } from './load-balancer.ts';

export class RandomLoadBalancer implements LoadBalancer {
  private readonly random: Random;

  constructor(random: Random = Math.random) {
    this.random = random;
  }

  pick(endpoints: readonly Endpoint[]): Endpoint | undefined {
    return weightedPick(healthyEndpoints(endpoints), this.random);
  }
}
