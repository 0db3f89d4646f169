// Istio's standard metrics rendered from RequestRecords, `reporter="waypoint"`: per HTTP stream
// istio_requests_total and the duration/size histograms, per tcp_proxy connection the istio_tcp_*
// counters, all with Istio's full label set ("unknown" where a value is missing) so dashboards and
// queries written for Istio's waypoint work unchanged.
import { TCP_LABELS, registerTcpMetrics, type TcpLabels, type TcpMetrics } from '../../../lib/metrics/istio-tcp.ts';
import { LabelSet, type Counter, type Histogram, type Registry } from '../../../lib/metrics/registry.ts';
import type { PeerLookup, PeerWorkload } from '../config/types.ts';
import type { RequestRecord } from './request-record.ts';

export const REQUEST_LABELS = [
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_service', 'destination_service_name', 'destination_service_namespace',
  'destination_canonical_service', 'destination_canonical_revision', 'destination_cluster',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags', 'connection_security_policy',
] as const;

export type RequestLabels = Record<(typeof REQUEST_LABELS)[number], string>;

/** Envoy's default histogram buckets (ms for durations, bytes for sizes: Istio uses the one list). */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = [
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000,
];

const u = (v: string | undefined): string => (v === undefined || v === '' ? 'unknown' : v);

/** `10.0.0.1:80`, `[fd00::1]:80`, `envoy://connect_originate/10.0.0.1:80` → the IP. */
export function upstreamIp(upstreamHost: string | undefined): string | undefined {
  if (!upstreamHost) return undefined;
  const hostPort = upstreamHost.replace(/^[a-z]+:\/\/[^/]*\//, '');
  const m = /^\[([^\]]+)\]:\d+$/.exec(hostPort) ?? /^([^:]+):\d+$/.exec(hostPort);
  return m?.[1];
}

/** The authority without its port (Istio's destination_service fallback when no cluster metadata names one). */
function authorityHost(authority: string | undefined): string | undefined {
  if (!authority) return undefined;
  if (authority.startsWith('[')) return authority.slice(1, authority.indexOf(']'));
  const i = authority.lastIndexOf(':');
  return i > 0 && authority.indexOf(':') === i ? authority.slice(0, i) : authority;
}

/**
 * Pure: the label values of one record. `destinationPeer` is the upstream endpoint's workload as
 * workload discovery knows it (app/version labels, and a fallback when EDS metadata has no
 * workload).
 */
export function requestLabels(r: RequestRecord, destinationPeer?: PeerWorkload): RequestLabels {
  const src = r.source;
  const dst = r.destinationWorkload;
  const svc = r.destinationService;
  return {
    reporter: 'waypoint',
    source_workload: u(src?.workloadName),
    source_canonical_service: u(src?.canonicalService),
    // Istio reports "latest" for a known workload without a revision label.
    source_canonical_revision: src ? src.canonicalRevision || 'latest' : 'unknown',
    source_workload_namespace: u(src?.namespace),
    source_principal: u(r.sourcePrincipal ?? src?.identity),
    source_app: u(src?.app),
    source_version: u(src?.version),
    source_cluster: u(src?.cluster),
    destination_workload: u(dst?.name ?? destinationPeer?.workloadName),
    destination_workload_namespace: u(dst?.namespace ?? destinationPeer?.namespace),
    destination_principal: u(r.destinationPrincipal ?? destinationPeer?.identity),
    destination_app: u(destinationPeer?.app),
    destination_version: u(destinationPeer?.version),
    destination_service: u(svc?.host ?? (r.kind === 'http' ? authorityHost(r.authority) : undefined)),
    destination_service_name: u(svc?.name),
    destination_service_namespace: u(svc?.namespace),
    destination_canonical_service: u(dst?.canonicalService ?? destinationPeer?.canonicalService),
    destination_canonical_revision: dst || destinationPeer ? (dst?.canonicalRevision ?? destinationPeer?.canonicalRevision) || 'latest' : 'unknown',
    destination_cluster: u(dst?.cluster ?? destinationPeer?.cluster),
    request_protocol: r.requestProtocol,
    response_code: String(r.responseCode),
    grpc_response_status: r.grpcStatus === undefined ? '' : String(r.grpcStatus),
    response_flags: r.responseFlags.length ? r.responseFlags.join(',') : '-',
    // Every downstream reaches the waypoint over HBONE: mTLS whenever the peer presented an identity.
    connection_security_policy: r.sourcePrincipal ? 'mutual_tls' : 'unknown',
  };
}

/** Pure: the istio_tcp_* subset of the labels (no response code or gRPC status). */
export function tcpLabelsOf(l: RequestLabels): TcpLabels {
  const out = {} as TcpLabels;
  for (const n of TCP_LABELS) out[n] = l[n];
  return out;
}

export interface WaypointMetrics {
  requests: Counter;
  duration: Histogram;
  requestBytes: Histogram;
  responseBytes: Histogram;
  tcp: TcpMetrics;
  /** The RequestRecordSink's metrics half. */
  record(r: RequestRecord): void;
}

export function registerWaypointMetrics(registry: Registry, peers?: PeerLookup): WaypointMetrics {
  const m = {
    requests: registry.counter('istio_requests_total', 'The total number of requests', REQUEST_LABELS),
    duration: registry.histogram('istio_request_duration_milliseconds', 'Duration of requests', REQUEST_LABELS, ENVOY_DEFAULT_BUCKETS),
    requestBytes: registry.histogram('istio_request_bytes', 'Size of requests, headers included', REQUEST_LABELS, ENVOY_DEFAULT_BUCKETS),
    responseBytes: registry.histogram('istio_response_bytes', 'Size of responses, headers included', REQUEST_LABELS, ENVOY_DEFAULT_BUCKETS),
    tcp: registerTcpMetrics(registry),
  };
  return {
    ...m,
    record(r) {
      const ip = upstreamIp(r.upstreamHost);
      const labels = requestLabels(r, ip !== undefined ? peers?.findByIp(ip) : undefined);
      if (r.kind === 'http') {
        const set = new LabelSet(REQUEST_LABELS, labels); // keyed once for the four series
        m.requests.inc(set);
        m.duration.observe(set, r.durationMs);
        m.requestBytes.observe(set, r.requestSize);
        m.responseBytes.observe(set, r.responseSize);
        return;
      }
      // A tcp record arrives when the connection ends, so it is counted opened and closed at once.
      const t = new LabelSet(TCP_LABELS, tcpLabelsOf(labels));
      m.tcp.opened.inc(t);
      m.tcp.closed.inc(t);
      m.tcp.sent.inc(t, r.bytesSent);
      m.tcp.received.inc(t, r.bytesReceived);
    },
  };
}
