// Istio's TCP traffic metrics (`istio_tcp_*`) and their label set, shared by ztunnel and waypoint so
// dashboards built for Istio work unchanged. Missing values render as "unknown", as Istio's do.
import { LabelSet, type Counter, type Registry } from './registry.ts';

export const TCP_LABELS = [
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision', 'source_workload_namespace',
  'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_service', 'destination_service_namespace', 'destination_service_name',
  'destination_workload', 'destination_canonical_service', 'destination_canonical_revision',
  'destination_workload_namespace', 'destination_principal', 'destination_app', 'destination_version',
  'destination_cluster',
  'request_protocol', 'response_flags', 'connection_security_policy',
] as const;

export type TcpLabelName = (typeof TCP_LABELS)[number];
export type TcpLabels = Record<TcpLabelName, string>;

export type ResponseFlag = '-' | 'DENY' | 'CONNECT' | 'TLS_FAILURE' | 'H2_HANDSHAKE_FAILURE' | 'NETWORK_POLICY' | 'IDENTITY_ERROR' | 'CERT_REVOKED';

export interface PeerInfo {
  workload?: string;
  canonicalService?: string;
  canonicalRevision?: string;
  namespace?: string;
  principal?: string;
  app?: string;
  version?: string;
  cluster?: string;
}

export interface ConnectionMetricInput {
  reporter: 'source' | 'destination';
  source: PeerInfo;
  destination: PeerInfo & { service?: string; serviceNamespace?: string; serviceName?: string };
  responseFlags?: ResponseFlag;
  mutualTls: boolean;
}

const u = (v: string | undefined): string => (v === undefined || v === '' ? 'unknown' : v);

/** Pure: the label values for one connection. */
export function tcpLabels(i: ConnectionMetricInput): TcpLabels {
  return {
    reporter: i.reporter,
    source_workload: u(i.source.workload),
    source_canonical_service: u(i.source.canonicalService),
    source_canonical_revision: u(i.source.canonicalRevision),
    source_workload_namespace: u(i.source.namespace),
    source_principal: u(i.source.principal),
    source_app: u(i.source.app),
    source_version: u(i.source.version),
    source_cluster: u(i.source.cluster),
    destination_service: u(i.destination.service),
    destination_service_namespace: u(i.destination.serviceNamespace),
    destination_service_name: u(i.destination.serviceName),
    destination_workload: u(i.destination.workload),
    destination_canonical_service: u(i.destination.canonicalService),
    destination_canonical_revision: u(i.destination.canonicalRevision),
    destination_workload_namespace: u(i.destination.namespace),
    destination_principal: u(i.destination.principal),
    destination_app: u(i.destination.app),
    destination_version: u(i.destination.version),
    destination_cluster: u(i.destination.cluster),
    request_protocol: 'tcp',
    response_flags: i.responseFlags ?? '-',
    connection_security_policy: i.mutualTls ? 'mutual_tls' : 'unknown',
  };
}

/** The label values for one connection, checked and keyed once for every istio_tcp_* counter. */
export function tcpLabelSet(i: ConnectionMetricInput): LabelSet {
  return new LabelSet(TCP_LABELS, tcpLabels(i));
}

export interface TcpMetrics {
  opened: Counter;
  closed: Counter;
  sent: Counter;
  received: Counter;
  /** Connections refused before a tunnel existed (bad TLS, not HTTP/2, not a CONNECT). */
  failed: Counter;
}

export function registerTcpMetrics(r: Registry): TcpMetrics {
  return {
    opened: r.counter('istio_tcp_connections_opened_total', 'The total number of TCP connections opened', TCP_LABELS),
    closed: r.counter('istio_tcp_connections_closed_total', 'The total number of TCP connections closed', TCP_LABELS),
    sent: r.counter('istio_tcp_sent_bytes_total', 'The size of total bytes sent during response in case of a TCP connection', TCP_LABELS),
    received: r.counter('istio_tcp_received_bytes_total', 'The size of total bytes received during request in case of a TCP connection', TCP_LABELS),
    failed: r.counter('istio_tcp_connections_failed_total', 'The total number of TCP connections that failed before being proxied', TCP_LABELS),
  };
}
