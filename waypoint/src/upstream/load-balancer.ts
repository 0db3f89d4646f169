// The load balancer contract: pick one healthy endpoint of a cluster. Unhealthy endpoints are never
// picked; undefined means none is healthy (503 UH). Implementations keep their own state per cluster.
import type { Endpoint } from '../config/types.ts';

export interface LoadBalancer {
  pick(endpoints: readonly Endpoint[]): Endpoint | undefined;
}

/** Active requests per endpoint, as the cluster manager counts them (least request reads it). */
export type ActiveRequests = (e: Endpoint) => number;

export function endpointKey(e: Pick<Endpoint, 'address' | 'port'>): string {
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

export function healthyEndpoints(endpoints: readonly Endpoint[]): Endpoint[] {
  return endpoints.filter((e) => e.healthy && e.weight > 0);
}
