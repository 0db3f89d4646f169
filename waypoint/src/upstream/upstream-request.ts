// The contract between the router and the connection pools: one upstream HTTP request (headers,
// streamed body with backpressure, trailers) and its response, whatever the codec and transport.
import type { Readable } from 'node:stream';
import type { HeaderMap } from '../http/headers.ts';

export type UpstreamFailureKind =
  /** The transport (TCP, TLS, HBONE CONNECT) to the endpoint could not be opened. */
  | 'connect_failure'
  /** The connection or stream went away before response headers. */
  | 'connection_termination'
  /** A circuit breaker refused (max connections / pending / requests). */
  | 'overflow'
  /** HTTP/2 REFUSED_STREAM: the upstream never processed the request. */
  | 'refused_stream'
  /** The upstream answered something unparsable. */
  | 'protocol_error';

export class UpstreamError extends Error {
  readonly kind: UpstreamFailureKind;
  /** Whether any of the request reached the upstream (reset-before-request retries need false). */
  readonly requestSent: boolean;
  /** UPSTREAM_TRANSPORT_FAILURE_REASON, e.g. the HBONE error code. */
  readonly transportFailure: string | undefined;

  constructor(kind: UpstreamFailureKind, message: string, opts: { requestSent?: boolean; transportFailure?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = 'UpstreamError';
    this.kind = kind;
    this.requestSent = opts.requestSent ?? false;
    this.transportFailure = opts.transportFailure;
  }
}

export interface UpstreamRequestHead {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  /** No hop-by-hop headers, no `host` (the pool writes `:authority` / `host`). */
  readonly headers: HeaderMap;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: HeaderMap;
  readonly body: Readable;
  /** The response ended with its headers (HTTP/2 END_STREAM, e.g. a gRPC trailers-only answer). */
  readonly endStream: boolean;
  /** Response trailers; defined once `body` ended (empty object when none). */
  trailers(): HeaderMap | undefined;
}

export interface UpstreamRequest {
  /** Request body; false means wait for onDrain before writing more. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** Ends the request body, with trailers when the downstream sent some. */
  end(trailers?: HeaderMap): void;
  /** Response headers; rejects with UpstreamError. */
  readonly response: Promise<UpstreamResponse>;
  /** Resets the upstream stream (or closes an HTTP/1.1 connection). Idempotent. */
  abort(): void;
  /** Settles when the exchange is over (response read or aborted); frees pool accounting. */
  readonly done: Promise<void>;
}
