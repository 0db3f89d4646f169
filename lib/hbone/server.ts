// The HBONE server (inbound side of ztunnel): TLS 1.3 + mTLS on sockets the caller accepted (e.g.
// on a 15008 listener inside a pod netns), HTTP/2 with the fact-sheet settings, and one tunnel per
// CONNECT stream. The certificate is chosen per connection from the local address, since a listener
// serves one pod's identity. What to do with a tunnel (policy, upstream dial) is the caller's call.
import http2 from 'node:http2';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import type { SpiffeIdentity } from '../identity/spiffe.ts';
import type { Logger } from '../log/logger.ts';
import type { Authority } from './authority.ts';
import { decideConnect, type ConnectHeaders } from './connect-request.ts';
import { copyBidirectional, resetStream, type CopyHandle, type CopyResult } from './copy.ts';
import { HboneError } from './errors.ts';
import { startKeepalive } from './keepalive.ts';
import { checkClientIdentity, peerCertificateIdentity } from './peer-verify.ts';
import {
  ALPN_H2,
  CONNECTION_WINDOW_SIZE,
  DEFAULT_KEEPALIVE,
  DRAIN_TIMEOUT_MS,
  HANDSHAKE_TIMEOUT_MS,
  MAX_SESSION_MEMORY_MB,
  SERVER_H2_SETTINGS,
  type KeepaliveOptions,
} from './settings.ts';
import { tlsContextOptions } from './tls-context.ts';

export interface SocketAddress {
  address: string;
  port: number;
}

export interface TunnelRequest {
  authority: Authority;
  /** `:authority` exactly as received. */
  rawAuthority: string;
  /** The client's SPIFFE identity (verified chain, our trust domain). */
  peerIdentity: SpiffeIdentity;
  /** The identity this connection was served with. */
  localIdentity: SpiffeIdentity;
  headers: ConnectHeaders;
  /** Local end of the TCP connection (pod IP:15008). */
  localAddress: SocketAddress;
  /** The client's address (the peer ztunnel, or its pod). */
  remoteAddress: SocketAddress;
  /** Aborted when the client resets the stream or the connection goes away while deciding. */
  signal: AbortSignal;
}

export type TunnelDecision =
  | {
      kind: 'accept';
      /** Already connected upstream (e.g. the app socket); the 200 goes out only after this. */
      upstream: Duplex;
      /** Extra response headers, e.g. `baggage` describing the destination. */
      responseHeaders?: Record<string, string>;
      /** Called once when the tunnel ends, with byte counts and how it ended. */
      onClose?: (result: CopyResult) => void;
    }
  | { kind: 'reject'; status: 400 | 401 | 503; reason: string };

export type ServerEvent =
  | { kind: 'connection-rejected'; error: HboneError; remoteAddress: SocketAddress; localAddress: SocketAddress }
  /** `by`: the request itself was malformed (protocol) or onTunnel refused it (handler). */
  | { kind: 'stream-rejected'; by: 'protocol' | 'handler'; status: number; reason: string; remoteAddress: SocketAddress; localAddress: SocketAddress }
  /** A closing connection outlived the drain grace period: torn down with its `tunnels` open tunnels reset. */
  | { kind: 'connection-force-closed'; why: string; tunnels: number; remoteAddress: SocketAddress; localAddress: SocketAddress };

export interface HboneServerOptions {
  /** The bundle to serve on a connection accepted at `localAddress` (pod IP); undefined refuses it. */
  getCertificate(localAddress: string): WorkloadCertificate | undefined | Promise<WorkloadCertificate | undefined>;
  onTunnel(req: TunnelRequest): Promise<TunnelDecision>;
  /** Accept `host:port` authorities (double-HBONE inner tunnels). Default false: 400. */
  allowHostnameAuthority?: boolean;
  handshakeTimeoutMs?: number;
  /**
   * Grace period of a closing connection (peer GOAWAY, our close(), HTTP/2 error): its open tunnels
   * may finish within it, then the connection and their app sockets are torn down. Default
   * DRAIN_TIMEOUT_MS.
   */
  drainTimeoutMs?: number;
  /** Keepalive PINGs; false disables them. */
  keepalive?: KeepaliveOptions | false;
  log?: Logger;
  /** Rejections for metrics; each is also logged once at debug level. */
  onEvent?: (e: ServerEvent) => void;
}

interface ServerConnection {
  socket: net.Socket;
  tls?: tls.TLSSocket;
  session?: http2.ServerHttp2Session;
  /** Resolves once the connection is gone (whichever of the TCP or TLS socket closes first). */
  closed: Promise<void>;
  /** Tunnels copying on this connection; aborted (app sockets reset) if the drain deadline passes. */
  tunnels: Set<CopyHandle>;
  /** Armed once the connection starts closing. */
  drainTimer?: NodeJS.Timeout;
  remoteAddress: SocketAddress;
  localAddress: SocketAddress;
}

interface PendingHandshake {
  onSecure(t: tls.TLSSocket): void;
  onError(err: Error): void;
}

export class HboneServer {
  readonly #opts: HboneServerOptions;
  readonly #connections = new Set<ServerConnection>();
  // One never-listening tls.Server per certificate bundle: it runs Node's client-certificate
  // authorization (rejectUnauthorized) that a bare server TLSSocket skips, and owns the context.
  readonly #tlsServers = new WeakMap<WorkloadCertificate, tls.Server>();
  // tls.Server reports handshakes through server-wide events; this routes them back per socket.
  readonly #pending = new WeakMap<net.Socket, PendingHandshake>();
  readonly #attached = new Set<net.Server>();
  readonly #onListenerConnection = (s: net.Socket): void => this.handleConnection(s);
  #closing = false;
  #forcedCloses = 0;

  constructor(opts: HboneServerOptions) {
    this.#opts = opts;
  }

  /** Serves every connection `server` accepts. */
  attach(server: net.Server): void {
    this.#attached.add(server);
    server.on('connection', this.#onListenerConnection);
  }

  /** Number of live connections (handshaking or serving). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Connections torn down because they did not finish closing within the drain grace period (or
   * their socket went away under a closing session), together with their tunnels' app sockets.
   */
  get forcedCloseCount(): number {
    return this.#forcedCloses;
  }

  /** Serves one accepted TCP connection. Never throws; a bad peer only costs its own connection. */
  handleConnection(socket: net.Socket): void {
    const localAddress = { address: socket.localAddress ?? '', port: socket.localPort ?? 0 };
    const remoteAddress = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    socket.on('error', () => undefined); // reported through the TLS layer or the close below
    socket.setNoDelay(true); // small HTTP/2 frames (a request's HEADERS, then DATA) go out at once
    if (this.#closing || socket.destroyed || !socket.localAddress) {
      socket.destroy();
      return;
    }
    let markClosed!: () => void;
    const conn: ServerConnection = { socket, closed: new Promise((r) => (markClosed = r)), tunnels: new Set(), remoteAddress, localAddress };
    this.#connections.add(conn);
    const forget = (): void => {
      clearTimeout(conn.drainTimer);
      this.#connections.delete(conn);
      markClosed();
    };
    socket.once('close', forget);
    let failed = false;
    const reject = (error: HboneError): void => {
      if (failed) return;
      failed = true;
      this.#opts.log?.debug({ err: error, code: error.code, src: remoteAddress, dst: localAddress }, 'hbone connection rejected');
      this.#opts.onEvent?.({ kind: 'connection-rejected', error, remoteAddress, localAddress });
      conn.session?.destroy();
      conn.tls?.destroy();
      socket.destroy();
      forget();
    };
    const start = (cert: WorkloadCertificate | undefined): void => {
      if (socket.destroyed || failed) return;
      if (this.#closing) return reject(new HboneError('HBONE_SESSION_CLOSED', 'server is shutting down'));
      if (!cert) return reject(new HboneError('HBONE_NO_CERTIFICATE', `no certificate for local address ${localAddress.address}`));
      this.#pending.set(socket, {
        onSecure: (t) => {
          this.#pending.delete(socket);
          conn.tls = t;
          t.on('error', () => undefined); // the HTTP/2 session reports connection errors
          t.once('close', forget);
          // Watched on the socket, not left to the session: a peer that ended its side sends no
          // more frames, so the connection is closing whatever node:http2 makes of it.
          t.once('end', () => this.#startDrain(conn, 'peer ended the TLS stream'));
          // Runs in a tls.Server event listener: a throw (e.g. from the HTTP/2 handshake) would be
          // uncaught, so it rejects this connection instead.
          try {
            this.#onSecure(conn, t, cert, localAddress, remoteAddress, reject);
          } catch (err) {
            reject(new HboneError('HBONE_SESSION_CLOSED', `could not start HTTP/2 with ${remoteAddress.address}:${remoteAddress.port}`, { cause: err }));
          }
        },
        onError: (err) => {
          this.#pending.delete(socket);
          const timeout = (err as NodeJS.ErrnoException).code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
          // An untrusted client certificate shows up here as "socket hang up": Node destroys the
          // socket after the handshake without a more specific event.
          reject(
            new HboneError(timeout ? 'HBONE_TLS_TIMEOUT' : 'HBONE_TLS_HANDSHAKE', `TLS handshake with ${remoteAddress.address}:${remoteAddress.port} failed: ${err.message}`, {
              cause: err,
            }),
          );
        },
      });
      this.#tlsServerFor(cert).emit('connection', socket);
    };
    const lookupFailed = (err: unknown): void => reject(new HboneError('HBONE_NO_CERTIFICATE', `certificate lookup for ${localAddress.address} failed`, { cause: err }));
    let cert: ReturnType<HboneServerOptions['getCertificate']>;
    try {
      cert = this.#opts.getCertificate(localAddress.address);
    } catch (err) {
      return lookupFailed(err);
    }
    // Lazy loading: the pod's certificate may still be on its way; early bytes wait in the socket
    // and Node's TLSSocket replays them when it wraps it.
    // start() runs from a promise callback too: a throw there must reject this connection only.
    const startSafely = (c: WorkloadCertificate | undefined): void => {
      try {
        start(c);
      } catch (err) {
        reject(new HboneError('HBONE_TLS_HANDSHAKE', `could not start TLS with ${remoteAddress.address}:${remoteAddress.port}`, { cause: err }));
      }
    };
    if (cert instanceof Promise) cert.then(startSafely, lookupFailed);
    else startSafely(cert);
  }

  #tlsServerFor(cert: WorkloadCertificate): tls.Server {
    let srv = this.#tlsServers.get(cert);
    if (!srv) {
      srv = tls.createServer({
        ...tlsContextOptions(cert),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: [ALPN_H2],
        handshakeTimeout: this.#opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
      });
      srv.on('secureConnection', (t: tls.TLSSocket) => this.#pendingFor(t)?.onSecure(t));
      srv.on('tlsClientError', (err: Error, t: tls.TLSSocket) => this.#pendingFor(t)?.onError(err));
      this.#tlsServers.set(cert, srv);
    }
    return srv;
  }

  #pendingFor(t: tls.TLSSocket): PendingHandshake | undefined {
    // Node keeps the wrapped net.Socket as TLSSocket._parent (lib/_tls_wrap.js); it is the only
    // link from the TLSSocket tls.Server created back to the socket we handed it.
    const parent = (t as unknown as { _parent?: net.Socket })._parent;
    return parent ? this.#pending.get(parent) : undefined;
  }

  #onSecure(
    conn: ServerConnection,
    t: tls.TLSSocket,
    cert: WorkloadCertificate,
    localAddress: SocketAddress,
    remoteAddress: SocketAddress,
    reject: (e: HboneError) => void,
  ): void {
    if (t.alpnProtocol !== ALPN_H2) return reject(new HboneError('HBONE_ALPN', `client did not negotiate ALPN h2 (got ${String(t.alpnProtocol)})`));
    const decision = checkClientIdentity(peerCertificateIdentity(t.getPeerX509Certificate()), cert.identity.trustDomain);
    if (decision.kind === 'reject') return reject(new HboneError('HBONE_CLIENT_IDENTITY', decision.reason));
    const peerIdentity = decision.identity;
    const session = http2.performServerHandshake(t, { settings: SERVER_H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
    conn.session = session;
    session.on('error', (err: NodeJS.ErrnoException) => {
      this.#opts.log?.debug({ err, src: remoteAddress }, 'hbone session error');
      this.#startDrain(conn, 'HTTP/2 session error');
      // A peer that breaks HTTP/2 (bad preface, malformed frames: nghttp2 answers GOAWAY) is a
      // refused connection and counted as one; a plain socket error (reset, peer gone) is not.
      if (err.code?.startsWith('ERR_HTTP2_')) {
        const error = new HboneError('HBONE_SESSION_CLOSED', `HTTP/2 protocol error from ${remoteAddress.address}:${remoteAddress.port}: ${err.message}`, { cause: err });
        this.#opts.onEvent?.({ kind: 'connection-rejected', error, remoteAddress, localAddress });
      }
    });
    // A peer GOAWAY (node starts a graceful close) or a bad frame: the connection is on its way out.
    // After either, node may stop reading the socket while a tunnel keeps the session open, so a
    // bounded grace period is what guarantees the connection goes (keepalive PINGs are cancelled
    // on a closing session).
    session.on('goaway', () => this.#startDrain(conn, 'peer sent GOAWAY'));
    session.on('frameError', () => this.#startDrain(conn, 'HTTP/2 frame error'));
    session.once('close', () => clearTimeout(conn.drainTimer));
    // Registered after node:http2's own listener, which destroys the session on socket close: one
    // still alive here is stuck, and its tunnels would be too.
    t.once('close', () => {
      if (!session.destroyed) this.#forceClose(conn, 'TLS socket closed under a live HTTP/2 session');
    });
    session.setLocalWindowSize(CONNECTION_WINDOW_SIZE);
    if (this.#opts.keepalive !== false) startKeepalive(session, this.#opts.keepalive ?? DEFAULT_KEEPALIVE);
    session.on('stream', (stream, headers) => {
      // Anything #onStream did not foresee costs this stream only, never an unhandled rejection.
      this.#onStream(stream, headers, conn, { peerIdentity, localIdentity: cert.identity, localAddress, remoteAddress }).catch((err: unknown) => {
        this.#opts.log?.warn({ err, src: remoteAddress }, 'hbone stream failed; resetting it');
        if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      });
    });
    if (this.#closing) this.#closeSession(conn);
  }

  /** GOAWAY to the peer; open tunnels get the drain grace period, then are torn down. */
  #closeSession(conn: ServerConnection): void {
    conn.session?.close();
    this.#startDrain(conn, 'server closing');
  }

  /** Arms the drain deadline of a closing connection (once). */
  #startDrain(conn: ServerConnection, why: string): void {
    if (conn.drainTimer || !this.#connections.has(conn)) return;
    const ms = this.#opts.drainTimeoutMs ?? DRAIN_TIMEOUT_MS;
    this.#opts.log?.debug({ src: conn.remoteAddress, why, drainMs: ms, tunnels: conn.tunnels.size }, 'hbone connection draining');
    conn.drainTimer = setTimeout(() => this.#forceClose(conn, `not closed ${ms} ms after it started draining (${why})`), ms);
    conn.drainTimer.unref();
  }

  /** Tears down a connection that could not close by itself, with every app socket tied to it. */
  #forceClose(conn: ServerConnection, why: string): void {
    clearTimeout(conn.drainTimer);
    this.#forcedCloses++;
    this.#opts.log?.warn({ src: conn.remoteAddress, why, tunnels: conn.tunnels.size }, 'hbone connection force-closed');
    this.#opts.onEvent?.({ kind: 'connection-force-closed', why, tunnels: conn.tunnels.size, remoteAddress: conn.remoteAddress, localAddress: conn.localAddress });
    const error = new HboneError('HBONE_SESSION_CLOSED', `HBONE connection from ${conn.remoteAddress.address}:${conn.remoteAddress.port} force-closed: ${why}`);
    for (const t of conn.tunnels) t.abort(error);
    conn.tunnels.clear();
    conn.session?.destroy();
    conn.tls?.destroy();
    conn.socket.destroy();
  }

  async #onStream(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    conn: ServerConnection,
    ctx: { peerIdentity: SpiffeIdentity; localIdentity: SpiffeIdentity; localAddress: SocketAddress; remoteAddress: SocketAddress },
  ): Promise<void> {
    stream.on('error', () => undefined); // stream failures surface as the copy result
    const plan = decideConnect(headers, { allowHostnameAuthority: this.#opts.allowHostnameAuthority ?? false });
    if (plan.kind === 'reject') return this.#respondError(stream, 'protocol', plan.status, plan.reason, ctx);
    const abort = new AbortController();
    const onEarlyClose = (): void => abort.abort(new HboneError('HBONE_STREAM_RESET', 'client closed the stream before the tunnel was set up'));
    stream.once('close', onEarlyClose);
    let decision: TunnelDecision;
    try {
      decision = await this.#opts.onTunnel({
        authority: plan.authority,
        rawAuthority: plan.rawAuthority,
        peerIdentity: ctx.peerIdentity,
        localIdentity: ctx.localIdentity,
        headers: plan.headers,
        localAddress: ctx.localAddress,
        remoteAddress: ctx.remoteAddress,
        signal: abort.signal,
      });
    } catch (err) {
      this.#opts.log?.warn({ err }, 'hbone onTunnel threw; answering 503');
      decision = { kind: 'reject', status: 503, reason: 'internal error' };
    } finally {
      stream.off('close', onEarlyClose);
    }
    if (decision.kind === 'reject') return this.#respondError(stream, 'handler', decision.status, decision.reason, ctx);
    const { upstream } = decision;
    if (stream.destroyed || stream.closed) {
      // The client gave up while we dialled: the app must see an abort, not a clean close.
      resetStream(upstream);
      decision.onClose?.({ kind: 'reset', side: 'a', error: undefined, stats: { aToB: 0, bToA: 0 } });
      return;
    }
    stream.respond({ ':status': 200, ...decision.responseHeaders });
    const copy = copyBidirectional(stream, upstream);
    conn.tunnels.add(copy);
    void copy.done.then(() => conn.tunnels.delete(copy));
    const onClose = decision.onClose;
    if (onClose) void copy.done.then(onClose).catch((err: unknown) => this.#opts.log?.warn({ err }, 'hbone tunnel onClose threw'));
  }

  #respondError(
    stream: http2.ServerHttp2Stream,
    by: 'protocol' | 'handler',
    status: number,
    reason: string,
    ctx: { localAddress: SocketAddress; remoteAddress: SocketAddress },
  ): void {
    this.#opts.log?.debug({ status, reason, src: ctx.remoteAddress, dst: ctx.localAddress }, 'hbone stream rejected');
    this.#opts.onEvent?.({ kind: 'stream-rejected', by, status, reason, remoteAddress: ctx.remoteAddress, localAddress: ctx.localAddress });
    if (stream.destroyed || stream.closed) return;
    stream.respond({ ':status': status }, { endStream: true });
    // The answer is complete; close our side so a client that never ends its half cannot pin a
    // stream slot (RST_STREAM NO_ERROR after a full response is what HTTP/2 servers do).
    stream.close(http2.constants.NGHTTP2_NO_ERROR);
  }

  /**
   * Stops serving: detaches from listeners, refuses new connections, sends GOAWAY on every
   * connection and resolves when the last one closed (open tunnels finish first, within the drain
   * grace period).
   */
  async close(): Promise<void> {
    this.#closing = true;
    for (const s of this.#attached) s.off('connection', this.#onListenerConnection);
    this.#attached.clear();
    const closed: Promise<void>[] = [];
    for (const c of this.#connections) {
      closed.push(c.closed);
      if (c.session) this.#closeSession(c);
      else {
        // Still handshaking (or waiting for its certificate): nothing to drain.
        c.tls?.destroy();
        c.socket.destroy();
      }
    }
    await Promise.all(closed);
  }

  /** Tears every connection down at once (drain deadline passed). */
  destroy(): void {
    this.#closing = true;
    for (const s of this.#attached) s.off('connection', this.#onListenerConnection);
    this.#attached.clear();
    for (const c of this.#connections) {
      c.session?.destroy();
      c.tls?.destroy();
      c.socket.destroy();
    }
  }
}

export function createHboneServer(opts: HboneServerOptions): HboneServer {
  return new HboneServer(opts);
}
