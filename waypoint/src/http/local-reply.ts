// Local replies: every response the waypoint makes itself goes through here, with Envoy's status,
// body, response flag and RESPONSE_CODE_DETAILS. gRPC requests get a gRPC-shaped answer instead:
// HTTP 200, trailers-only, `grpc-status` / `grpc-message` (Envoy's local reply for gRPC).
import type { HeaderMap } from './headers.ts';

export type LocalReplyKind =
  | 'route_not_found'
  | 'cluster_not_found'
  | 'no_healthy_upstream'
  | 'connection_failure'
  | 'connection_termination'
  | 'upstream_timeout'
  | 'overflow'
  | 'direct_response'
  | 'redirect'
  | 'bad_request'
  | 'headers_too_large'
  | 'filter';

export interface LocalReply {
  readonly status: number;
  readonly body: string;
  readonly flags: readonly string[];
  readonly details: string;
  /** Extra response headers (x-envoy-overloaded, location…). */
  readonly headers?: HeaderMap;
  /** gRPC status override; otherwise derived from the HTTP status. */
  readonly grpcStatus?: number;
}

const RESET_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: ';

export function localReply(kind: Exclude<LocalReplyKind, 'direct_response' | 'redirect' | 'filter'>, transportFailure?: string): LocalReply {
  switch (kind) {
    case 'route_not_found':
      return { status: 404, body: '', flags: ['NR'], details: 'route_not_found' };
    // Envoy's default (cluster_not_found_response_code SERVICE_UNAVAILABLE); Gateway API routes ask
    // for 500 through the route's clusterNotFoundStatus, as Istio sets them.
    case 'cluster_not_found':
      return { status: 503, body: '', flags: ['NC'], details: 'cluster_not_found' };
    case 'no_healthy_upstream':
      return { status: 503, body: 'no healthy upstream', flags: ['UH'], details: 'no_healthy_upstream' };
    case 'connection_failure':
      return {
        status: 503,
        body: `${RESET_BODY}connection failure${transportFailure ? `, transport failure reason: ${transportFailure}` : ''}`,
        flags: ['UF'],
        details: 'upstream_reset_before_response_started{connection_failure}',
      };
    case 'connection_termination':
      return { status: 503, body: `${RESET_BODY}connection termination`, flags: ['UC'], details: 'upstream_reset_before_response_started{connection_termination}' };
    case 'upstream_timeout':
      return { status: 504, body: 'upstream request timeout', flags: ['UT'], details: 'upstream_response_timeout', grpcStatus: 4 };
    case 'overflow':
      return {
        status: 503,
        body: `${RESET_BODY}overflow`,
        flags: ['UO'],
        details: 'upstream_reset_before_response_started{overflow}',
        headers: { 'x-envoy-overloaded': 'true' },
      };
    case 'bad_request':
      return { status: 400, body: 'Bad Request', flags: ['DPE'], details: 'http1.codec_error' };
    case 'headers_too_large':
      return { status: 431, body: 'Request Header Fields Too Large', flags: ['DPE'], details: 'http1.headers_too_large' };
  }
}

/**
 * Envoy's HTTP → gRPC status mapping (Grpc::Utility::httpToGrpcStatus), for local replies and HTTP
 * aborts of gRPC requests; replies that know better (an upstream timeout: DEADLINE_EXCEEDED) carry
 * their own grpcStatus.
 */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

export interface RenderedReply {
  readonly status: number;
  readonly headers: HeaderMap;
  /** Empty for gRPC (trailers-only). */
  readonly body: Buffer;
  readonly grpcStatus?: number;
}

/** The wire form of a local reply for a plain HTTP or a gRPC request. */
export function renderLocalReply(reply: LocalReply, grpc: boolean): RenderedReply {
  const headers: HeaderMap = { ...reply.headers };
  if (grpc && reply.status !== 200) {
    const grpcStatus = reply.grpcStatus ?? httpToGrpcStatus(reply.status);
    headers['content-type'] = 'application/grpc';
    headers['grpc-status'] = String(grpcStatus);
    const message = reply.body || httpReason(reply.status);
    headers['grpc-message'] = encodeGrpcMessage(message);
    return { status: 200, headers, body: Buffer.alloc(0), grpcStatus };
  }
  const body = Buffer.from(reply.body, 'utf8');
  if (body.length > 0) headers['content-type'] ??= 'text/plain';
  headers['content-length'] = String(body.length);
  return { status: reply.status, headers, body };
}

/** grpc-message is percent-encoded outside printable ASCII (and `%` itself). */
export function encodeGrpcMessage(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

function httpReason(status: number): string {
  return { 404: 'Not Found', 500: 'Internal Server Error', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] ?? `HTTP status ${status}`;
}
