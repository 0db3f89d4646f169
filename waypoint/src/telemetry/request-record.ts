// What the data path reports when a request (HTTP stream) or a TCP connection through the waypoint
// ends: one record, from which telemetry renders Istio's metrics (istio_requests_total & co,
// reporter="waypoint") and the access-log line (Envoy's default fields). The data path fills it;
// it never formats metrics or logs itself.
import type { EndpointWorkload, PeerWorkload, ServiceRef } from '../config/types.ts';

/** Envoy's short response flags (RESPONSE_FLAGS): UH, UF, UT, UC, UO, NR, NC, DC, URX, LR, UPE, DI, FI, RBAC… */
export type ResponseFlag = string;

export interface RequestRecord {
  /** 'http' for an HTTP stream (HTTP/1.1, HTTP/2 or gRPC), 'tcp' for a tcp_proxy connection. */
  readonly kind: 'http' | 'tcp';
  readonly startTime: Date;
  readonly durationMs: number;
  /** `http` | `grpc` | `tcp` (request_protocol). */
  readonly requestProtocol: 'http' | 'grpc' | 'tcp';
  /** 'HTTP/1.1' | 'HTTP/2' (PROTOCOL); undefined for tcp. */
  readonly protocol?: string;
  readonly method?: string;
  /** `x-envoy-original-path` if rewritten, else `:path`. */
  readonly path?: string;
  readonly authority?: string;
  readonly userAgent?: string;
  readonly requestId?: string;
  readonly xForwardedFor?: string;
  /** 0 when no response was sent (tcp, or the downstream went away first). */
  readonly responseCode: number;
  /** Envoy's flags, empty when none (rendered `-`). */
  readonly responseFlags: readonly ResponseFlag[];
  /** RESPONSE_CODE_DETAILS, e.g. `via_upstream`, `no_healthy_upstream`, `route_not_found`. */
  readonly responseCodeDetails: string;
  readonly connectionTerminationDetails?: string;
  readonly upstreamTransportFailureReason?: string;
  /** gRPC status from trailers (or trailers-only headers); undefined for non-gRPC. */
  readonly grpcStatus?: number;
  /** Downstream body bytes received / sent (BYTES_RECEIVED / BYTES_SENT). */
  readonly bytesReceived: number;
  readonly bytesSent: number;
  /** Approximate wire bytes of the request / response, headers included (istio_request_bytes / istio_response_bytes). */
  readonly requestSize: number;
  readonly responseSize: number;
  readonly upstreamServiceTimeMs?: number;
  /** `envoy://connect_originate/<ip>:<port>` for HBONE endpoints, `<ip>:<port>` for plaintext. */
  readonly upstreamHost?: string;
  readonly upstreamCluster?: string;
  /** The upstream socket's local address (UPSTREAM_LOCAL_ADDRESS), when a connection was made. */
  readonly upstreamLocalAddress?: string;
  readonly routeName?: string;
  /** The CONNECT target (service VIP:port or pod IP:port): DOWNSTREAM_LOCAL_ADDRESS. */
  readonly downstreamLocalAddress: string;
  /** The HBONE client's address: DOWNSTREAM_REMOTE_ADDRESS. */
  readonly downstreamRemoteAddress: string;
  /** SNI of the downstream TLS handshake (REQUESTED_SERVER_NAME). */
  readonly requestedServerName?: string;
  /** The HBONE client's SPIFFE id (source_principal). */
  readonly sourcePrincipal?: string;
  /** The waypoint's own SPIFFE id (the local principal). */
  readonly localPrincipal?: string;
  /** The source workload, looked up by the HBONE client's IP. */
  readonly source?: PeerWorkload;
  /** The service of the filter chain / cluster (destination_service). */
  readonly destinationService?: ServiceRef;
  /** The endpoint that answered (destination_workload…). */
  readonly destinationWorkload?: EndpointWorkload;
  /** The endpoint's SPIFFE id (destination_principal). */
  readonly destinationPrincipal?: string;
}

export type RequestRecordSink = (record: RequestRecord) => void;
