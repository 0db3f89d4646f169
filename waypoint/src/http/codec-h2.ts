// The HTTP/2 (h2c) downstream codec: a server session per tunnel (Node's performServerHandshake on
// the duplex stream, shared settings), each stream adapted to a DownstreamStream. Request headers
// over the chain's limit get a 431 on that stream only; gRPC trailers flow both ways.
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { DownstreamStream, StreamEnd } from './downstream-stream.ts';
import { cleanHeaders, headerBytes, withoutHopByHop, type HeaderMap, type RequestHead } from './headers.ts';

export interface H2ConnectionHandlers {
  onStream(s: DownstreamStream): void;
  /** A stream refused by the codec (oversized headers): already answered with `status`. */
  onCodecError(status: 431, code: string): void;
}

const { NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = http2.constants;
const CONNECTION_WINDOW_BYTES = 16 * 1024 * 1024;

/** Envoy's HCM defaults for downstream HTTP/2 on a waypoint (max_concurrent_streams 100…). */
function settingsFor(maxHeaderBytes: number): http2.Settings {
  return {
    enablePush: false,
    maxConcurrentStreams: 100,
    initialWindowSize: 1024 * 1024,
    // Advertised with head-room so our own check answers 431 instead of nghttp2 resetting.
    maxHeaderListSize: Math.max(4 * maxHeaderBytes, 256 * 1024),
  };
}

/** Serves h2c on `socket`; returns the session (GOAWAY on drain). */
export function serveHttp2(socket: Duplex, maxHeaderBytes: number, handlers: H2ConnectionHandlers): http2.ServerHttp2Session {
  const session = http2.performServerHandshake(socket as unknown as import('node:net').Socket, {
    settings: settingsFor(maxHeaderBytes),
    maxHeaderListPairs: 512,
    maxSessionMemory: 64,
  });
  session.on('error', () => undefined); // the session's end shows on its streams and 'close'
  // The connection-level window defaults to 64 KiB; the per-stream one alone would not help.
  session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
  session.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    if (headerBytes(headers) > maxHeaderBytes) {
      if (!stream.destroyed) {
        const body = 'Request Header Fields Too Large';
        stream.respond({ ':status': 431, 'content-type': 'text/plain', 'content-length': String(body.length) });
        stream.end(body);
      }
      handlers.onCodecError(431, 'headers_too_large');
      return;
    }
    handlers.onStream(new H2DownstreamStream(stream, headers));
  });
  return session;
}

class H2DownstreamStream implements DownstreamStream {
  readonly protocol = 'HTTP/2' as const;
  readonly head: RequestHead;
  readonly body: http2.ServerHttp2Stream;
  readonly requestHeaderBytes: number;
  #trailersIn: HeaderMap = {};
  #trailersOut: HeaderMap | undefined;
  #started = false;
  #ended: StreamEnd | undefined;
  #responseEnded = false;
  readonly #endCbs: ((how: StreamEnd) => void)[] = [];

  private readonly stream: http2.ServerHttp2Stream;

  constructor(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) {
    this.stream = stream;
    this.body = stream;
    const hdrs = withoutHopByHop(headers, true);
    const authority = headers[':authority'] ?? headers.host ?? '';
    delete hdrs['host'];
    this.head = {
      method: headers[':method'] ?? 'GET',
      path: headers[':path'] ?? '',
      authority: Array.isArray(authority) ? authority[0]! : authority,
      scheme: headers[':scheme'] ?? 'http',
      headers: hdrs,
      protocol: 'HTTP/2',
    };
    this.requestHeaderBytes = headerBytes(headers);
    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (this.#trailersIn = cleanHeaders(t)));
    stream.once('wantTrailers', () => {
      if (!stream.destroyed) stream.sendTrailers(this.#trailersOut ?? {});
    });
    stream.once('close', () => this.#finish(this.#responseEnded && stream.rstCode === NGHTTP2_NO_ERROR ? 'complete' : 'aborted'));
  }

  get responseStarted(): boolean {
    return this.#started;
  }

  get aborted(): boolean {
    return this.#ended === 'aborted';
  }

  requestTrailers(): HeaderMap {
    return this.#trailersIn;
  }

  respond(status: number, headers: HeaderMap, endStream: boolean): void {
    if (this.stream.destroyed || this.#started) return;
    this.#started = true;
    if (endStream) this.#responseEnded = true;
    this.stream.respond({ ':status': status, ...headers }, { endStream, waitForTrailers: !endStream });
  }

  write(chunk: Buffer): boolean {
    return this.stream.destroyed ? true : this.stream.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.stream.once('drain', cb);
  }

  end(trailers?: HeaderMap): void {
    if (this.stream.destroyed) return;
    this.#responseEnded = true;
    this.#trailersOut = trailers && Object.keys(trailers).length > 0 ? trailers : undefined;
    this.stream.end();
  }

  reset(): void {
    if (!this.stream.closed) this.stream.close(NGHTTP2_INTERNAL_ERROR);
  }

  onEnd(cb: (how: StreamEnd) => void): void {
    if (this.#ended) cb(this.#ended);
    else this.#endCbs.push(cb);
  }

  #finish(how: StreamEnd): void {
    if (this.#ended) return;
    this.#ended = how;
    for (const cb of this.#endCbs.splice(0)) cb(how);
  }
}
