// The HTTP/1.1 downstream codec: Node's `http` parser (llhttp) on the tunnel's duplex stream, one
// shared server per header-size limit (connections are injected with emit('connection')), each
// request adapted to a DownstreamStream. Parse errors become 400, oversized headers 431, and the
// connection is closed; nothing else is disturbed.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { DownstreamStream, StreamEnd } from './downstream-stream.ts';
import { cleanHeaders, headerBytes, withoutHopByHop, type HeaderMap, type RequestHead } from './headers.ts';

export interface H1ConnectionHandlers {
  onStream(s: DownstreamStream): void;
  /** A request the parser refused; the codec already answered `status` and closes the connection. */
  onCodecError(status: 400 | 431, code: string): void;
  /** An `Upgrade` request (WebSocket): the connection is handed over raw, `head` = bytes read past it. */
  onUpgrade(head: RequestHead, socket: Duplex, rest: Buffer, requestHeaderBytes: number): void;
}

const handlersBySocket = new WeakMap<Duplex, H1ConnectionHandlers>();
const servers = new Map<number, http.Server>();

function serverFor(maxHeaderSize: number): http.Server {
  let srv = servers.get(maxHeaderSize);
  if (srv) return srv;
  srv = http.createServer({ maxHeaderSize, requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: 0, joinDuplicateHeaders: false });
  // Keep the response going when the client half-closes after its request (HTTP allows it).
  (srv as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  srv.keepAliveTimeout = 0;
  srv.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const h = handlersBySocket.get(req.socket as Duplex);
    if (!h) {
      res.destroy();
      return;
    }
    h.onStream(new H1DownstreamStream(req, res));
  });
  srv.on('upgrade', (req: http.IncomingMessage, socket: Duplex, rest: Buffer) => {
    const h = handlersBySocket.get(socket);
    if (!h) return void socket.destroy();
    const headers = cleanHeaders(req.headers);
    const authority = req.headers.host ?? '';
    delete headers['host'];
    h.onUpgrade({ method: req.method ?? 'GET', path: req.url ?? '/', authority, scheme: 'http', headers, protocol: 'HTTP/1.1' }, socket, rest, headerBytes(req.headers));
  });
  srv.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const h = handlersBySocket.get(socket);
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    if (socket.writable && !(socket as unknown as { _httpMessage?: unknown })._httpMessage) {
      const body = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
      socket.end(`HTTP/1.1 ${status} ${body}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`);
    } else {
      socket.destroy();
    }
    h?.onCodecError(status, err.code ?? 'HPE_ERROR');
  });
  servers.set(maxHeaderSize, srv);
  return srv;
}

/** Serves HTTP/1.1 on `socket` (a tunnel's downstream end). */
export function serveHttp1(socket: Duplex, maxHeaderSize: number, handlers: H1ConnectionHandlers): void {
  handlersBySocket.set(socket, handlers);
  serverFor(maxHeaderSize).emit('connection', socket);
}

class H1DownstreamStream implements DownstreamStream {
  readonly protocol = 'HTTP/1.1' as const;
  readonly head: RequestHead;
  readonly body: http.IncomingMessage;
  readonly requestHeaderBytes: number;
  #ended: StreamEnd | undefined;
  readonly #endCbs: ((how: StreamEnd) => void)[] = [];

  private readonly req: http.IncomingMessage;
  private readonly res: http.ServerResponse;

  constructor(req: http.IncomingMessage, res: http.ServerResponse) {
    this.req = req;
    this.res = res;
    this.body = req;
    let path = req.url ?? '/';
    let authority = req.headers.host ?? '';
    // Absolute-form request targets (a client talking to us as a proxy).
    const abs = /^https?:\/\/([^/?#]*)(.*)$/i.exec(path);
    if (abs) {
      authority = abs[1]!;
      path = abs[2] || '/';
    }
    const headers = withoutHopByHop(req.headers, false);
    delete headers['host'];
    this.head = { method: req.method ?? 'GET', path, authority, scheme: 'http', headers, protocol: 'HTTP/1.1' };
    this.requestHeaderBytes = headerBytes(req.headers) + path.length + 16;
    res.once('close', () => this.#finish(res.writableFinished ? 'complete' : 'aborted'));
  }

  get responseStarted(): boolean {
    return this.res.headersSent;
  }

  get aborted(): boolean {
    return this.#ended === 'aborted' || (this.res.destroyed && !this.res.writableFinished);
  }

  requestTrailers(): HeaderMap {
    return cleanHeaders(this.req.trailers);
  }

  respond(status: number, headers: HeaderMap, endStream: boolean): void {
    if (this.res.destroyed) return;
    this.res.writeHead(status, headers);
    if (endStream) this.res.end();
  }

  write(chunk: Buffer): boolean {
    return this.res.destroyed ? true : this.res.write(chunk);
  }

  onDrain(cb: () => void): void {
    this.res.once('drain', cb);
  }

  end(trailers?: HeaderMap): void {
    if (this.res.destroyed) return;
    // Trailers exist only in chunked encoding; with a content-length they are dropped, as Envoy does.
    if (trailers && Object.keys(trailers).length > 0 && !this.res.hasHeader('content-length')) this.res.addTrailers(trailers);
    this.res.end();
  }

  reset(): void {
    this.res.destroy();
    this.req.socket.destroy();
  }

  /** Drain: this response carries `connection: close` and the connection ends after it. */
  closeAfterResponse(): void {
    if (!this.res.headersSent) this.res.shouldKeepAlive = false;
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

export function isH1Stream(s: DownstreamStream): s is DownstreamStream & { closeAfterResponse(): void } {
  return s instanceof H1DownstreamStream;
}
