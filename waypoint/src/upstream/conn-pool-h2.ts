// HTTP/2 upstream pool for one endpoint: one multiplexed session over an HBONE tunnel stream (or
// TCP for plaintext endpoints), reopened after GOAWAY, close or max_requests_per_connection.
// Used for clusters with upstreamProtocol http2, or 'downstream' when the request came in on h2.
import http2 from 'node:http2';
import type { Endpoint } from '../config/types.ts';
import type { ClusterCircuitBreaker } from './circuit-breaker.ts';
import type { ConnPool, PoolSettings } from './conn-pool.ts';
import { cleanHeaders } from '../http/headers.ts';
import { endpointKey } from './load-balancer.ts';
import type { UpstreamConnector } from './upstream-connector.ts';
import { UpstreamError, type UpstreamRequest, type UpstreamRequestHead, type UpstreamResponse } from './upstream-request.ts';

interface H2Session {
  readonly session: http2.ClientHttp2Session;
  streams: number;
  requests: number;
  idleTimer?: NodeJS.Timeout;
}

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

export class H2ConnPool implements ConnPool {
  #current: H2Session | undefined;
  #connecting: Promise<H2Session> | undefined;
  readonly #all = new Set<H2Session>();
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
    return this.#all.size + (this.#connecting ? 1 : 0);
  }

  async open(head: UpstreamRequestHead): Promise<UpstreamRequest> {
    if (this.#draining) throw new UpstreamError('connection_termination', 'pool is draining');
    const s = await this.#session();
    return this.#send(s, head);
  }

  drain(): void {
    this.#draining = true;
    for (const s of this.#all) s.session.close();
    this.#current = undefined;
  }

  #session(): Promise<H2Session> {
    const cur = this.#current;
    if (cur && !cur.session.closed && !cur.session.destroyed) return Promise.resolve(cur);
    if (this.#connecting) {
      // Waiting for the session counts as pending (Envoy's pending requests).
      if (!this.breaker.canQueue()) {
        this.breaker.overflows.pending++;
        return Promise.reject(new UpstreamError('overflow', 'max pending requests reached'));
      }
      this.breaker.pending++;
      return this.#connecting.finally(() => this.breaker.pending--);
    }
    if (!this.breaker.canConnect()) {
      this.breaker.overflows.connections++;
      return Promise.reject(new UpstreamError('overflow', 'max connections reached'));
    }
    this.breaker.connections++;
    const connecting = this.#dial().catch((err: unknown) => {
      this.breaker.connections--;
      throw err;
    });
    this.#connecting = connecting;
    void connecting.then(
      () => (this.#connecting = undefined),
      () => (this.#connecting = undefined),
    );
    return connecting;
  }

  async #dial(): Promise<H2Session> {
    const transport = await this.connector.connect(this.endpoint, this.settings().connectTimeoutMs);
    const session = http2.connect(`http://${endpointKey(this.endpoint)}`, { createConnection: () => transport as unknown as import('node:net').Socket, maxSessionMemory: 64, settings: { enablePush: false, initialWindowSize: 1024 * 1024 } });
    session.on('error', () => undefined); // surfaced through the streams
    // The connection-level window defaults to 64 KiB, which would throttle every stream.
    session.setLocalWindowSize(16 * 1024 * 1024);
    const s: H2Session = { session, streams: 0, requests: 0 };
    this.#all.add(s);
    this.#current = s;
    const retire = (): void => {
      if (this.#current === s) this.#current = undefined;
    };
    session.once('goaway', retire);
    session.once('close', () => {
      retire();
      clearTimeout(s.idleTimer);
      this.#all.delete(s);
      this.breaker.connections--;
      transport.destroy();
    });
    return s;
  }

  #send(s: H2Session, head: UpstreamRequestHead): UpstreamRequest {
    s.requests++;
    s.streams++;
    clearTimeout(s.idleTimer);
    const max = this.settings().maxRequestsPerConnection;
    if (max > 0 && s.requests >= max && this.#current === s) this.#current = undefined;
    let stream: http2.ClientHttp2Stream;
    try {
      stream = s.session.request(
        { ':method': head.method, ':path': head.path, ':authority': head.authority, ':scheme': head.scheme, ...head.headers },
        { endStream: false, waitForTrailers: true },
      );
    } catch (err) {
      this.#streamDone(s);
      throw new UpstreamError('connection_termination', `cannot open an HTTP/2 stream: ${(err as Error).message}`, { cause: err });
    }
    stream.on('error', () => undefined);
    let trailersOut: Record<string, string | string[]> | undefined;
    stream.once('wantTrailers', () => stream.sendTrailers(trailersOut ?? {}));
    let trailersIn: Record<string, string | string[]> | undefined;
    stream.once('trailers', (t: http2.IncomingHttpHeaders) => (trailersIn = cleanHeaders(t)));
    let gotResponse = false;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const response = new Promise<UpstreamResponse>((resolve, reject) => {
      stream.once('response', (h: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
        gotResponse = true;
        const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        resolve({ status: Number(h[':status'] ?? 0), headers: cleanHeaders(h), body: stream, endStream, trailers: () => (stream.readableEnded ? (trailersIn ?? {}) : undefined) });
      });
      stream.once('close', () => {
        this.#streamDone(s);
        resolveDone();
        if (gotResponse) return;
        const refused = stream.rstCode === NGHTTP2_REFUSED_STREAM;
        reject(new UpstreamError(refused ? 'refused_stream' : 'connection_termination', `upstream stream closed before response (code ${stream.rstCode ?? '?'})`, { requestSent: !refused }));
      });
    });
    response.catch(() => undefined);
    return {
      write: (chunk) => stream.write(chunk),
      onDrain: (cb) => void stream.once('drain', cb),
      end: (trailers) => {
        trailersOut = trailers && Object.keys(trailers).length > 0 ? trailers : undefined;
        stream.end();
      },
      response,
      abort: () => {
        if (!stream.closed) stream.close(NGHTTP2_CANCEL);
      },
      done,
    };
  }

  #streamDone(s: H2Session): void {
    s.streams--;
    const max = this.settings().maxRequestsPerConnection;
    if (this.#draining || (max > 0 && s.requests >= max) || this.#current !== s) {
      if (s.streams === 0) s.session.close();
      return;
    }
    const idleMs = this.settings().idleTimeoutMs;
    if (s.streams === 0 && idleMs > 0) {
      s.idleTimer = setTimeout(() => s.session.close(), idleMs);
      s.idleTimer.unref();
    }
  }
}
