// The waypoint's access log: one JSON line per RequestRecord with the keys of Envoy's default JSON
// access-log format (as Istio configures it for `accessLogEncoding: JSON`), `-` where Envoy prints
// `-`, plus source/destination principals. Lines carry `scope: "access"`; the logger is separate
// from the process log so /logging?level= does not silence it.
import { createLogger, type Logger } from '../../../lib/log/logger.ts';
import type { RequestRecord } from './request-record.ts';

export type AccessLogFields = Record<string, string | number>;

const dash = (v: string | undefined): string => (v === undefined || v === '' ? '-' : v);

/** Pure: the Envoy-keyed fields of one record. */
export function accessLogFields(r: RequestRecord): AccessLogFields {
  return {
    start_time: r.startTime.toISOString(),
    route_name: dash(r.routeName),
    method: dash(r.method),
    path: dash(r.path),
    protocol: dash(r.protocol),
    response_code: r.responseCode,
    response_flags: r.responseFlags.length ? r.responseFlags.join(',') : '-',
    response_code_details: dash(r.responseCodeDetails),
    connection_termination_details: dash(r.connectionTerminationDetails),
    upstream_transport_failure_reason: dash(r.upstreamTransportFailureReason),
    bytes_received: r.bytesReceived,
    bytes_sent: r.bytesSent,
    duration: Math.round(r.durationMs),
    upstream_service_time: r.upstreamServiceTimeMs === undefined ? '-' : Math.round(r.upstreamServiceTimeMs),
    x_forwarded_for: dash(r.xForwardedFor),
    user_agent: dash(r.userAgent),
    request_id: dash(r.requestId),
    authority: dash(r.authority),
    upstream_host: dash(r.upstreamHost),
    upstream_cluster: dash(r.upstreamCluster),
    upstream_local_address: dash(r.upstreamLocalAddress),
    downstream_local_address: dash(r.downstreamLocalAddress),
    downstream_remote_address: dash(r.downstreamRemoteAddress),
    requested_server_name: dash(r.requestedServerName),
    source_principal: dash(r.sourcePrincipal ?? r.source?.identity),
    destination_principal: dash(r.destinationPrincipal),
  };
}

/** A logger of its own at info: the access log is not the debug log, whatever LOG_LEVEL says. */
export function createAccessLogger(destination?: NodeJS.WritableStream): Logger {
  return createLogger({ component: 'waypoint', level: 'info', ...(destination ? { destination } : {}) }).child({ scope: 'access' });
}

/** The RequestRecordSink's log half. `log` should be the access logger (scope `access`). */
export function logAccess(log: Logger, r: RequestRecord): void {
  log.info(accessLogFields(r), r.kind === 'http' ? 'request complete' : 'connection complete');
}
