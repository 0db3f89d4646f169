// The DNS proxy's metrics, with Istio's names and labels (fact sheet §7.3): requests answered or
// forwarded, upstream forwards, their failures and duration. Malformed requests, which Istio's
// proxy never sees as requests, get their own counter.
import type { Counter, Histogram, Registry } from '../../../lib/metrics/registry.ts';
import { RR_TYPE } from './message.ts';

export const DNS_LABELS = ['request_query_type', 'request_protocol', 'source_canonical_service', 'source_canonical_revision'] as const;

export type DnsProtocol = 'udp' | 'tcp';

export interface DnsMetrics {
  requests: Counter;
  upstreamRequests: Counter;
  upstreamFailures: Counter;
  upstreamDuration: Histogram;
  malformed: Counter;
}

export function registerDnsMetrics(registry: Registry): DnsMetrics {
  return {
    requests: registry.counter('istio_dns_requests_total', 'Total number of DNS requests (unstable)', DNS_LABELS),
    upstreamRequests: registry.counter('istio_dns_upstream_requests_total', 'Total number of DNS requests forwarded to upstream (unstable)', DNS_LABELS),
    upstreamFailures: registry.counter('istio_dns_upstream_failures_total', 'Total number of DNS requests that failed to forward upstream (unstable)', DNS_LABELS),
    upstreamDuration: registry.histogram(
      'istio_dns_upstream_request_duration_seconds',
      'Total time in seconds Istio takes to get DNS response from upstream (unstable)',
      DNS_LABELS,
      [0.001, 0.005, 0.01, 0.1, 1, 5],
    ),
    malformed: registry.counter('ztunnel_dns_malformed_requests_total', 'DNS requests dropped or answered FORMERR because they could not be parsed', ['request_protocol', 'reason']),
  };
}

const TYPE_NAMES = new Map<number, string>(Object.entries(RR_TYPE).map(([name, code]) => [code, name.toLowerCase()]));

/** Lower-case mnemonic (`a`, `aaaa`, `srv`), or `type<N>` for types we have no name for. */
export function queryTypeLabel(type: number): string {
  return TYPE_NAMES.get(type) ?? `type${type}`;
}

export interface DnsSource {
  canonicalService?: string;
  canonicalRevision?: string;
}

export function dnsLabels(type: number, protocol: DnsProtocol, source: DnsSource | undefined): Record<(typeof DNS_LABELS)[number], string> {
  return {
    request_query_type: queryTypeLabel(type),
    request_protocol: protocol,
    source_canonical_service: source?.canonicalService || 'unknown',
    source_canonical_revision: source?.canonicalRevision || 'unknown',
  };
}
