// One downstream HTTP stream as the HCM, filters and router see it, whatever the codec (HTTP/1.1
// request on a keep-alive connection, or an HTTP/2 stream): request head and body, the response
// side with backpressure and trailers, and how it ended.
import type { Readable } from 'node:stream';
import type { HeaderMap, HttpProtocol, RequestHead } from './headers.ts';

export type StreamEnd = 'complete' | 'aborted';

export interface DownstreamStream {
  readonly protocol: HttpProtocol;
  readonly head: RequestHead;
  /** The request body. Read it with 'data'/pause/resume; nothing else consumes it. */
  readonly body: Readable;
  /** Request trailers, once `body` ended (empty when none). */
  requestTrailers(): HeaderMap;
  /** Request header bytes on the wire (approximate), for request_size. */
  readonly requestHeaderBytes: number;
  readonly responseStarted: boolean;
  /** Sends the response headers; `endStream` for a response without body (trailers-only for gRPC). */
  respond(status: number, headers: HeaderMap, endStream: boolean): void;
  /** Response body; false means wait for onDrain. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** Ends the response, with trailers (HTTP/2, or chunked HTTP/1.1). */
  end(trailers?: HeaderMap): void;
  /** Aborts: RST_STREAM on HTTP/2, connection close on HTTP/1.1. */
  reset(): void;
  /** Called once when the stream is over. */
  onEnd(cb: (how: StreamEnd) => void): void;
  /** The downstream went away (or reset) before the response completed. */
  readonly aborted: boolean;
}
