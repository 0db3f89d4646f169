// Envoy's admin `/clusters` text for the current config: per cluster its circuit-breaker limits, per
// endpoint `cluster::ip:port::health_flags::…` (EDS health and outlier ejection) and `::weight::…`
// lines, the lines istioctl and operators grep in Envoy's output.
import type { Endpoint, WaypointConfig } from '../config/types.ts';

/** The data plane's health flags of an endpoint (`healthy`, `/failed_outlier_check`, `/failed_eds_health`). */
export type HealthFlags = (cluster: string, endpoint: Endpoint) => string;

const edsFlags: HealthFlags = (_c, e) => (e.healthy ? 'healthy' : '/failed_eds_health');

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Pure: the /clusters body (empty before the first config). */
export function renderClusters(config: WaypointConfig | undefined, healthFlags: HealthFlags = edsFlags): string {
  if (!config) return '';
  const out: string[] = [];
  for (const c of config.clusters.values()) {
    out.push(`${c.name}::observability_name::${c.name}`);
    const cb = c.circuitBreakers;
    out.push(`${c.name}::default_priority::max_connections::${cb.maxConnections}`);
    out.push(`${c.name}::default_priority::max_pending_requests::${cb.maxPendingRequests}`);
    out.push(`${c.name}::default_priority::max_requests::${cb.maxRequests}`);
    out.push(`${c.name}::default_priority::max_retries::${cb.maxRetries}`);
    for (const e of c.endpoints) {
      const host = `${c.name}::${hostPort(e.address, e.port)}`;
      out.push(`${host}::health_flags::${healthFlags(c.name, e)}`);
      out.push(`${host}::weight::${e.weight}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
