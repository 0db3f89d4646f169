// The HTTP connection manager: serves an HTTP chain's connections (HTTP/1.1 keep-alive or h2c with
// multiplexing) and runs each stream through the waypoint's request header rules, the HTTP filter
// chain and the router. Codec errors are answered by the codec (400/431), recorded and counted.
// Drain: HTTP/1.1 responses carry `connection: close` (idle connections close now), HTTP/2
// sessions get GOAWAY; resolves once every connection is gone.
import type http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from '../../../lib/log/logger.ts';
import type { HttpFilterChain, WaypointConfig } from '../config/types.ts';
import type { DownstreamConnection } from '../listener/downstream-connection.ts';
import type { DataPlaneEvent } from '../listener/events.ts';
import { resolveRoute } from '../router/route-cache.ts';
import type { RouterFilter } from '../router/router-filter.ts';
import type { Random } from '../router/weighted-pick.ts';
import { proxyUpgrade, writeRawReply, type UpgradeDeps } from '../router/upgrade-proxy.ts';
import type { RequestRecordSink } from '../telemetry/request-record.ts';
import { ActiveStream } from './active-stream.ts';
import { isH1Stream, serveHttp1 } from './codec-h1.ts';
import { serveHttp2 } from './codec-h2.ts';
import type { DownstreamStream } from './downstream-stream.ts';
import { decodeHeaders, filtersFor, type FilterContext, type FilterDeps } from './filter-chain.ts';
import { applyRequestHeaderRules, type RequestHead } from './headers.ts';
import { localReply } from './local-reply.ts';
import { StreamInfo } from './stream-info.ts';

export interface ConnectionManagerDeps {
  readonly router: RouterFilter;
  /** The newest config: each stream's route is resolved in it once, before the filters (route cache). */
  config(): WaypointConfig | undefined;
  /** Random source of the filters (fault, cors filter_enabled); tests inject one. */
  readonly random?: Random;
  /** For HTTP/1.1 upgrades (WebSocket), which bypass the stream codec. */
  readonly upgrade: UpgradeDeps;
  readonly onRecord: RequestRecordSink;
  readonly log: Logger;
  onEvent?(e: DataPlaneEvent): void;
  /** Request id generator (tests inject one); UUID v4 by default. */
  newRequestId?(): string;
}

export type HttpCodec = 'http1' | 'h2c';

interface HcmConnection {
  readonly socket: Duplex;
  readonly codec: HttpCodec;
  activeStreams: number;
  session?: http2.ServerHttp2Session;
  /** Streams in flight (HTTP/1.1: at most one at a time), told to close the connection on drain. */
  readonly streams: Set<DownstreamStream>;
}

const DEFAULT_MAX_HEADER_BYTES = 60 * 1024;

export class HttpConnectionManager {
  readonly #connections = new Set<HcmConnection>();
  readonly #closed = new Map<HcmConnection, Promise<void>>();
  #draining = false;
  #activeStreams = 0;

  private readonly deps: ConnectionManagerDeps;
  readonly #filterDeps: FilterDeps;

  constructor(deps: ConnectionManagerDeps) {
    this.deps = deps;
    this.#filterDeps = { random: deps.random ?? Math.random, ...(deps.onEvent ? { onEvent: deps.onEvent } : {}) };
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  get activeStreams(): number {
    return this.#activeStreams;
  }

  /** Serves one downstream connection of `chain`, speaking `codec`. */
  serve(socket: Duplex, conn: DownstreamConnection, chain: HttpFilterChain, codec: HttpCodec): void {
    const c: HcmConnection = { socket, codec, activeStreams: 0, streams: new Set() };
    this.#connections.add(c);
    this.#closed.set(
      c,
      new Promise<void>((resolve) => {
        socket.once('close', () => {
          this.#connections.delete(c);
          this.#closed.delete(c);
          resolve();
        });
      }),
    );
    socket.on('error', () => undefined);
    const maxHeaderBytes = chain.maxRequestHeadersBytes > 0 ? chain.maxRequestHeadersBytes : DEFAULT_MAX_HEADER_BYTES;
    const onCodecError = (status: 400 | 431, code: string): void => this.#codecError(conn, chain, status, code);
    if (codec === 'http1') {
      serveHttp1(socket, maxHeaderBytes, {
        onStream: (s) => this.#onStream(c, s, conn, chain),
        onCodecError,
        onUpgrade: (head, up, rest, bytes) => void this.#onUpgrade(head, up, rest, bytes, conn, chain),
      });
    } else {
      c.session = serveHttp2(socket, maxHeaderBytes, { onStream: (s) => this.#onStream(c, s, conn, chain), onCodecError });
      c.session.once('close', () => socket.destroy());
      if (this.#draining) c.session.close();
    }
    // Sniffing paused the socket (its first bytes were put back); the codec's listeners are
    // attached now, so reading can go on.
    socket.resume();
    if (this.#draining && codec === 'http1') this.#closeIdle(c);
  }

  /** Stops new work on every connection; resolves when all of them closed. */
  async drain(): Promise<void> {
    this.#draining = true;
    for (const c of this.#connections) {
      if (c.codec === 'h2c') c.session?.close();
      else {
        for (const st of c.streams) if (isH1Stream(st)) st.closeAfterResponse();
        this.#closeIdle(c);
      }
    }
    await Promise.all([...this.#closed.values()]);
  }

  /** Tears every connection down (the drain deadline passed). */
  close(): void {
    for (const c of this.#connections) {
      c.session?.destroy();
      c.socket.destroy();
    }
  }

  #closeIdle(c: HcmConnection): void {
    if (c.activeStreams === 0) c.socket.end();
  }

  #codecError(conn: DownstreamConnection, chain: HttpFilterChain, status: 400 | 431, code: string): void {
    this.deps.log.debug({ chain: chain.name, status, code, src: conn.remoteAddress }, 'downstream codec error');
    this.deps.onEvent?.({ kind: 'codec-error', status, code, chain: chain.name });
    const info = new StreamInfo(conn, { method: '', path: '', authority: '', scheme: 'http', headers: {}, protocol: 'HTTP/1.1' });
    const reply = localReply(status === 431 ? 'headers_too_large' : 'bad_request');
    info.responseCode = status;
    for (const f of reply.flags) info.addFlag(f);
    info.responseCodeDetails = reply.details;
    info.destinationService = chain.service;
    info.emit(this.deps.onRecord);
  }

  #onStream(c: HcmConnection, ds: DownstreamStream, conn: DownstreamConnection, chain: HttpFilterChain): void {
    c.activeStreams++;
    this.#activeStreams++;
    c.streams.add(ds);
    ds.onEnd(() => {
      c.streams.delete(ds);
      c.activeStreams--;
      this.#activeStreams--;
      if (this.#draining && c.codec === 'http1') this.#closeIdle(c);
    });
    if (this.#draining && isH1Stream(ds)) ds.closeAfterResponse();
    const head = ds.head;
    applyRequestHeaderRules(head, { generateRequestId: chain.generateRequestId, ...(this.deps.newRequestId ? { newRequestId: this.deps.newRequestId } : {}) });
    const info = new StreamInfo(conn, head);
    info.requestHeaderBytes = ds.requestHeaderBytes;
    const filters = filtersFor(chain, this.#filterDeps);
    const ctx: FilterContext = {
      connection: conn,
      chain,
      state: new Map<string, unknown>(),
      route: resolveRoute(this.deps.config() ?? conn.config, chain, head),
      info,
      onEnd: (cb) => ds.onEnd(() => cb()),
    };
    const s = new ActiveStream(ds, info, chain, filters, ctx, this.deps.onRecord);
    void this.#run(s).catch((err: unknown) => {
      // A bug, not a peer's fault: answer 500 for this stream and keep serving the rest.
      this.deps.log.error({ err, chain: chain.name }, 'stream handling failed');
      s.sendLocalReply({ status: 500, body: '', flags: [], details: 'internal_error' });
    });
  }

  /** A WebSocket (or other) upgrade: header rules and filters as for any request, then spliced. */
  async #onUpgrade(head: RequestHead, socket: Duplex, rest: Buffer, headerBytes: number, conn: DownstreamConnection, chain: HttpFilterChain): Promise<void> {
    this.#activeStreams++;
    applyRequestHeaderRules(head, { generateRequestId: chain.generateRequestId, ...(this.deps.newRequestId ? { newRequestId: this.deps.newRequestId } : {}) });
    const info = new StreamInfo(conn, head);
    info.requestHeaderBytes = headerBytes;
    try {
      const filters = filtersFor(chain, this.#filterDeps);
      const ctx: FilterContext = {
        connection: conn,
        chain,
        state: new Map<string, unknown>(),
        route: resolveRoute(this.deps.config() ?? conn.config, chain, head),
        info,
        onEnd: (cb) => (socket.destroyed ? cb() : socket.once('close', () => cb())),
      };
      const r = await decodeHeaders(filters, head, ctx);
      if (r !== 'continue') writeRawReply(socket, info, r.localReply, chain.serverName);
      else await proxyUpgrade(this.deps.upgrade, chain, conn.config, head, socket, rest, info, ctx.route);
    } catch (err) {
      this.deps.log.error({ err, chain: chain.name }, 'upgrade handling failed');
      socket.destroy();
    } finally {
      this.#activeStreams--;
      info.emit(this.deps.onRecord);
    }
  }

  async #run(s: ActiveStream): Promise<void> {
    const r = await decodeHeaders(s.filters, s.head, s.filterContext);
    if (r !== 'continue') return s.sendLocalReply(r.localReply);
    if (s.downstream.aborted) return;
    await this.deps.router.route(s);
  }
}
