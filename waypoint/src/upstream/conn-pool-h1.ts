// HTTP/1.1 upstream pool for one endpoint: keep-alive connections, each an HBONE tunnel stream or
// a TCP socket, one request at a time per connection (no pipelining). Requests beyond free
// connections open new ones up to the cluster's max_connections, then wait (max_pending_requests),
// then overflow. Node's http client runs the codec on the connection we hand it.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Endpoint } from '../config/types.ts';
import { cleanHeaders } from '../http/headers.ts';
import type { ClusterCircuitBreaker } from './circuit-breaker.ts';
import type { ConnPool, PoolSettings } from './conn-pool.ts';
import type { UpstreamConnector } from './upstream-connector.ts';
import { UpstreamError, type UpstreamRequest, type UpstreamRequestHead, type UpstreamResponse } from './upstream-request.ts';

interface H1Connection {
  readonly socket: Duplex;
  requests: number;
  idleTimer?: NodeJS.Timeout;
  busy: boolean;
  /** The upstream ended its side (FIN, or END_STREAM on an HBONE stream, which stays writable). */
  ended: boolean;
  /** While idle: anything the upstream sends (or its end) retires the connection. */
  onIdleData?: () => void;
}

interface Waiter {
  resolve(c: H1Connection): void;
  reject(e: Error): void;
}

const MAX_RESPONSE_HEADER_BYTES = 64 * 1024;

export class H1ConnPool implements ConnPool {
  readonly #idle: H1Connection[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #all = new Set<H1Connection>();
  #connecting = 0;
  #draining = false;

  private readonly endpoint: Endpoint;
  private readonly connector: UpstreamConnector;
  private readonly breaker: ClusterCircuitBreaker;
  private readonly settings: () => PoolSettings;

  constructor(endpoint: Endpoint, connector: UpstreamConnector, breaker: ClusterCircuitBreaker, settings: () => PoolSettings) {
    this.endpoint = endpoint;
    this.connector = connector;
    this.breaker = breaker;
    this.settings = settings;
  }

  get connectionCount(): number {
    return this.#all.size + this.#connecting;
  }

  async open(head: UpstreamRequestHead): Promise<UpstreamRequest> {
    if (this.#draining) throw new UpstreamError('connection_termination', 'pool is draining');
    const conn = await this.#acquire();
    return this.#send(conn, head);
  }

  drain(): void {
    this.#draining = true;
    for (const c of this.#idle.splice(0)) c.socket.destroy();
    for (const w of this.#waiters.splice(0)) {
      this.breaker.pending--;
      w.reject(new UpstreamError('connection_termination', 'pool is draining'));
    }
  }

  #acquire(): Promise<H1Connection> {
    for (let c = this.#idle.pop(); c; c = this.#idle.pop()) {
      if (c.onIdleData) c.socket.off('data', c.onIdleData);
      c.onIdleData = undefined;
      if (c.socket.destroyed || !c.socket.writable || c.ended) {
        c.socket.destroy();
        continue;
      }
      clearTimeout(c.idleTimer);
      c.busy = true;
      return Promise.resolve(c);
    }
    if (this.breaker.canConnect()) return this.#connect();
    if (this.connectionCount === 0) {
      // Envoy: a host's pool with no connection at all opens one past the cluster's max_connections
      // (other hosts' pools hold them, counted as upstream_cx_overflow); queued here, the request
      // would wait on a connection this pool never has.
      this.breaker.overflows.connections++;
      return this.#connect();
    }
    if (this.breaker.canQueue()) {
      this.breaker.pending++;
      return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    this.breaker.overflows.pending++;
    return Promise.reject(new UpstreamError('overflow', 'max pending requests reached'));
  }

  async #connect(): Promise<H1Connection> {
    this.breaker.connections++;
    this.#connecting++;
    let socket: Duplex;
    try {
      socket = await this.connector.connect(this.endpoint, this.settings().connectTimeoutMs);
    } catch (err) {
      this.breaker.connections--;
      this.#connecting--;
      this.#slotFreed();
      throw err;
    }
    this.#connecting--;
    // Node's HTTP/2 stream mangles a corked header string + body buffer pair (the http client
    // writes both at once via writev): without _writev the chunks go down one by one, intact.
    if ('rstCode' in socket) (socket as unknown as { _writev: unknown })._writev = null;
    const conn: H1Connection = { socket, requests: 0, busy: true, ended: false };
    this.#all.add(conn);
    socket.on('error', () => undefined);
    // An HBONE stream is half-open: the backend closing its keep-alive connection arrives as the
    // stream's end only, and a request written after it would never be answered (Envoy closes a
    // connection whose peer closed).
    socket.once('end', () => {
      conn.ended = true;
      if (!conn.busy) socket.destroy();
    });
    socket.once('close', () => {
      clearTimeout(conn.idleTimer);
      this.#all.delete(conn);
      const i = this.#idle.indexOf(conn);
      if (i >= 0) this.#idle.splice(i, 1);
      this.breaker.connections--;
      this.#slotFreed();
    });
    return conn;
  }

  /**
   * A connection closed: a waiter may now open one, within max_connections or, with no connection
   * left in this pool, past it (as #acquire): the cluster's slot may have gone to another host's pool.
   */
  #slotFreed(): void {
    if (this.#waiters.length === 0) return;
    if (!this.breaker.canConnect()) {
      if (this.connectionCount > 0) return;
      this.breaker.overflows.connections++;
    }
    const w = this.#waiters.shift()!;
    this.breaker.pending--;
    this.#connect().then(w.resolve, w.reject);
  }

  #release(conn: H1Connection): void {
    conn.busy = false;
    const max = this.settings().maxRequestsPerConnection;
    if (this.#draining || conn.socket.destroyed || conn.ended || (max > 0 && conn.requests >= max)) {
      conn.socket.destroy();
      return;
    }
    const w = this.#waiters.shift();
    if (w) {
      this.breaker.pending--;
      conn.busy = true;
      w.resolve(conn);
      return;
    }
    this.#idle.push(conn);
    // Read while idle so that the upstream's end is seen; unexpected bytes also retire it.
    conn.onIdleData = () => conn.socket.destroy();
    conn.socket.on('data', conn.onIdleData);
    conn.socket.resume();
    const idleMs = this.settings().idleTimeoutMs;
    if (idleMs > 0) {
      conn.idleTimer = setTimeout(() => conn.socket.destroy(), idleMs);
      conn.idleTimer.unref();
    }
  }

  #send(conn: H1Connection, head: UpstreamRequestHead): UpstreamRequest {
    const reused = conn.requests > 0;
    conn.requests++;
    const max = this.settings().maxRequestsPerConnection;
    const last = this.#draining || (max > 0 && conn.requests >= max);
    const headers: Record<string, string | string[]> = { ...head.headers, host: head.authority, connection: last ? 'close' : 'keep-alive' };
    const req = http.request({
      method: head.method,
      path: head.path,
      headers,
      setHost: false,
      createConnection: () => conn.socket as unknown as import('node:net').Socket,
      maxHeaderSize: MAX_RESPONSE_HEADER_BYTES,
    });
    let gotResponse = false;
    let released = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const finish = (reusable: boolean): void => {
      if (released) return;
      released = true;
      if (reusable) this.#release(conn);
      else conn.socket.destroy();
      resolveDone();
    };
    // Node's client emits 'free' on the connection once a keep-alive exchange completed both ways.
    const onFree = (): void => finish(true);
    conn.socket.once('free', onFree);
    const response = new Promise<UpstreamResponse>((resolve, reject) => {
      req.once('response', (res: http.IncomingMessage) => {
        gotResponse = true;
        res.once('aborted', () => finish(false));
        res.once('close', () => {
          if (!res.complete) finish(false);
        });
        resolve({ status: res.statusCode ?? 0, headers: cleanHeaders(res.headers), body: res, endStream: false, trailers: () => (res.complete ? cleanHeaders(res.trailers) : undefined) });
      });
      req.once('error', (err: NodeJS.ErrnoException) => {
        conn.socket.off('free', onFree);
        finish(false);
        if (gotResponse) return;
        const protocol = typeof err.code === 'string' && err.code.startsWith('HPE_');
        // A reused keep-alive connection the server closed meanwhile never saw this request.
        reject(new UpstreamError(protocol ? 'protocol_error' : 'connection_termination', `upstream ${err.code ?? err.message}`, { requestSent: !(reused && !protocol), cause: err }));
      });
    });
    response.catch(() => undefined);
    req.once('close', () => {
      if (!gotResponse) finish(false);
    });
    return {
      write: (chunk) => req.write(chunk),
      onDrain: (cb) => void req.once('drain', cb),
      end: (trailers) => {
        if (trailers && Object.keys(trailers).length > 0 && !req.hasHeader('content-length')) req.addTrailers(trailers);
        req.end();
      },
      response,
      abort: () => {
        conn.socket.off('free', onFree);
        finish(false);
        req.destroy();
      },
      done,
    };
  }
}
