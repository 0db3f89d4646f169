// HboneError: the one error type of lib/hbone. Codes are stable (tests and metrics branch on them);
// messages name the cause and, where one exists, the likely fix.

export type HboneErrorCode =
  /** The TCP connect to the peer's HBONE port did not complete in time. */
  | 'HBONE_CONNECT_TIMEOUT'
  /** The TCP connect failed (refused, unreachable, reset). */
  | 'HBONE_CONNECT_FAILED'
  /** The TLS handshake failed: untrusted chain, wrong version or cipher, missing client cert. */
  | 'HBONE_TLS_HANDSHAKE'
  /** The TLS handshake (or the HTTP/2 preface after it) did not complete in time. */
  | 'HBONE_TLS_TIMEOUT'
  /** The peer did not negotiate ALPN h2. */
  | 'HBONE_ALPN'
  /** The server's certificate carries none of the expected SPIFFE identities. */
  | 'HBONE_SERVER_IDENTITY'
  /** The client's certificate has no SPIFFE identity in our trust domain. */
  | 'HBONE_CLIENT_IDENTITY'
  /** No certificate is available for the identity (client) or local address (server). */
  | 'HBONE_NO_CERTIFICATE'
  /** The server took the CONNECT stream but sent no response headers in time (the stream is cancelled). */
  | 'HBONE_RESPONSE_TIMEOUT'
  /** The server answered the CONNECT with a status other than 200; see `status`. */
  | 'HBONE_STATUS'
  /** The CONNECT stream was reset, or its connection closed, before a response arrived. */
  | 'HBONE_STREAM_RESET'
  /** The HTTP/2 connection failed or was closed (GOAWAY, keepalive timeout, peer gone). */
  | 'HBONE_SESSION_CLOSED'
  /** The HTTP/2 keepalive PING was not acknowledged in time. */
  | 'HBONE_KEEPALIVE_TIMEOUT'
  /** The pool was closed. */
  | 'HBONE_POOL_CLOSED';

export class HboneError extends Error {
  readonly code: HboneErrorCode;
  /** HTTP status for HBONE_STATUS. */
  readonly status: number | undefined;
  /** The server refused the stream without processing it (GOAWAY race): safe to send elsewhere. */
  readonly refused: boolean;

  constructor(code: HboneErrorCode, message: string, options?: ErrorOptions & { status?: number; refused?: boolean }) {
    super(message, options);
    this.name = 'HboneError';
    this.code = code;
    this.status = options?.status;
    this.refused = options?.refused ?? false;
  }
}

/** Wraps any failure as an HboneError of `code`, keeping an HboneError as it is. */
export function asHboneError(err: unknown, code: HboneErrorCode, message: string): HboneError {
  if (err instanceof HboneError) return err;
  const detail = err instanceof Error ? `: ${(err as NodeJS.ErrnoException).code ?? err.message}` : '';
  return new HboneError(code, `${message}${detail}`, { cause: err });
}
