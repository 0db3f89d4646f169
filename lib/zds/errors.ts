// ZdsError: the one error type of lib/zds and of the ZDS client built on it. Codes are stable (tests
// and metrics branch on them); messages say what was wrong with which message.

export type ZdsErrorCode =
  /** A datagram over 1024 bytes: both Istio peers read into a 1 KiB buffer and treat more as an error. */
  | 'MESSAGE_TOO_LARGE'
  /** Not a decodable ZDS message, no payload set, or a required field missing. */
  | 'MALFORMED'
  /** AddWorkload arrived without exactly one fd. */
  | 'FD_MISSING'
  /** A message other than AddWorkload carried fds, or AddWorkload carried more than one. */
  | 'FD_UNEXPECTED'
  /** The fd sent with AddWorkload is not a network namespace. */
  | 'FD_NOT_NETNS'
  /** A valid message at the wrong time: Keep or SnapshotSent after the snapshot, data before Hello, an unsolicited message. */
  | 'PROTOCOL'
  /** ztunnel did not send its Hello in time after connecting. */
  | 'HELLO_TIMEOUT'
  /** ztunnel did not answer a request in time. */
  | 'ACK_TIMEOUT'
  /** ztunnel answered a request with an error (see `ackError`). */
  | 'NACK'
  /** The netns fd handed to the server for a request is not open (the caller's bug; that request fails). */
  | 'BAD_FD'
  /** No ztunnel is connected to take an AddWorkload. */
  | 'NO_CONNECTION'
  /** The connection ended before the request was answered. */
  | 'CONNECTION_CLOSED'
  /** The server was closed. */
  | 'SERVER_CLOSED';

export class ZdsError extends Error {
  readonly code: ZdsErrorCode;
  /** For NACK: the error string ztunnel put in its Ack. */
  readonly ackError: string | undefined;

  constructor(code: ZdsErrorCode, message: string, options?: ErrorOptions & { ackError?: string }) {
    super(message, options);
    this.name = 'ZdsError';
    this.code = code;
    this.ackError = options?.ackError;
  }
}
