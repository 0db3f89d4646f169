// A cluster's circuit breakers (Envoy's default priority thresholds): counters shared by all of its
// endpoints' pools. Over a limit the request is not attempted: 503 UO with x-envoy-overloaded.
import type { CircuitBreakers } from '../config/types.ts';

export type CircuitBreakerResource = 'connections' | 'pending' | 'requests' | 'retries';

export class ClusterCircuitBreaker {
  connections = 0;
  pending = 0;
  requests = 0;
  retries = 0;
  /** Overflow counts per resource (upstream_cx_overflow, upstream_rq_pending_overflow…). */
  readonly overflows: Record<CircuitBreakerResource, number> = { connections: 0, pending: 0, requests: 0, retries: 0 };

  private readonly limits: () => CircuitBreakers;

  constructor(limits: () => CircuitBreakers) {
    this.limits = limits;
  }

  canConnect(): boolean {
    return this.connections < this.limits().maxConnections;
  }

  canQueue(): boolean {
    return this.pending < this.limits().maxPendingRequests;
  }

  /** Takes a request slot, or counts an overflow and returns false. */
  tryStartRequest(): boolean {
    if (this.requests >= this.limits().maxRequests) {
      this.overflows.requests++;
      return false;
    }
    this.requests++;
    return true;
  }

  endRequest(): void {
    this.requests--;
  }

  tryStartRetry(): boolean {
    if (this.retries >= this.limits().maxRetries) {
      this.overflows.retries++;
      return false;
    }
    this.retries++;
    return true;
  }

  endRetry(): void {
    this.retries--;
  }
}
