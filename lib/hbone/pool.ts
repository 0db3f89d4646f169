// The HBONE connection pool (fact sheet §1.4): per key {source identity, acceptable destination
// identities, destination address, source address} one or more HTTP/2 connections, each carrying
// up to min(100, server limit) CONNECT streams; a new connection is dialled when the others are
// full; a connection without streams is closed after the idle timeout (default 5 min).
//
// Invariants: a stream slot is reserved before any await, so N concurrent callers fill one
// connection before a second is dialled; a connection leaves the pool (draining) on GOAWAY, idle
// eviction or error and is never handed out again; every reserved slot is released exactly once.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { WorkloadCertificate } from '../identity/certificate.ts';
import type { SpiffeIdentity } from '../identity/spiffe.ts';
import type { Logger } from '../log/logger.ts';
import { dialHbone, openTunnel, type HboneClientConnection } from './client.ts';
import type { ConnectHeaders } from './connect-request.ts';
import { asHboneError, HboneError } from './errors.ts';
import { CONNECT_RESPONSE_TIMEOUT_MS, CONNECT_TIMEOUT_MS, HANDSHAKE_TIMEOUT_MS, POOL_IDLE_TIMEOUT_MS, POOL_MAX_STREAMS_PER_CONNECTION, type KeepaliveOptions } from './settings.ts';

export interface PoolKey {
  /** SPIFFE id of the source workload; its certificate is the client certificate. */
  srcIdentity: string;
  /** The server must present one of these SPIFFE ids. */
  dstIdentities: readonly string[];
  /** `ip:port` dialled, e.g. `10.0.1.5:15008` or a waypoint's address. */
  dstAddress: string;
  /** Source IP, when the caller distinguishes several (ztunnel's key has it). */
  srcAddress?: string;
}

export interface ConnectRequest {
  key: PoolKey;
  /** `:authority`, e.g. `10.0.1.5:8080`. */
  authority: string;
  headers?: ConnectHeaders;
  /** Creates and starts connecting the TCP socket to `key.dstAddress` (only called to dial). */
  connectSocket: () => net.Socket;
}

export interface Tunnel {
  /** Raw bytes of the tunnelled TCP connection; end() half-closes, destroy() resets. */
  stream: Duplex;
  responseHeaders: Record<string, string | string[] | undefined>;
  /** The server's verified identity. */
  peerIdentity: SpiffeIdentity;
}

export interface HbonePoolOptions {
  /** The source identity's current bundle. */
  getCertificate(srcIdentity: string): WorkloadCertificate | Promise<WorkloadCertificate>;
  maxStreamsPerConnection?: number;
  idleTimeoutMs?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** How long a CONNECT waits for its response (default CONNECT_RESPONSE_TIMEOUT_MS). */
  responseTimeoutMs?: number;
  keepalive?: KeepaliveOptions | false;
  log?: Logger;
}

export interface PoolStats {
  keys: number;
  connections: number;
  streams: number;
}

type ConnState = 'connecting' | 'ready' | 'draining' | 'closed';

interface PooledConnection {
  id: number;
  key: string;
  state: ConnState;
  /** Reserved or open streams. */
  streams: number;
  ready: Promise<HboneClientConnection>;
  conn?: HboneClientConnection;
  idleTimer?: NodeJS.Timeout;
}

function isOpen(pc: PooledConnection): boolean {
  return pc.conn !== undefined && !pc.conn.session.closed && !pc.conn.session.destroyed;
}

/** Canonical pool key: destination identities are a set, so their order does not split the pool. */
export function poolKeyString(k: PoolKey): string {
  return JSON.stringify([k.srcIdentity, [...new Set(k.dstIdentities)].sort(), k.dstAddress, k.srcAddress ?? '']);
}

export class HbonePool {
  readonly #opts: HbonePoolOptions;
  readonly #byKey = new Map<string, PooledConnection[]>();
  readonly #maxStreams: number;
  readonly #idleMs: number;
  #nextId = 1;
  #closed = false;

  constructor(opts: HbonePoolOptions) {
    this.#opts = opts;
    this.#maxStreams = opts.maxStreamsPerConnection ?? POOL_MAX_STREAMS_PER_CONNECTION;
    this.#idleMs = opts.idleTimeoutMs ?? POOL_IDLE_TIMEOUT_MS;
  }

  /** Opens a tunnel and returns its byte stream (the 200 has been received). */
  async connect(req: ConnectRequest): Promise<Duplex> {
    return (await this.open(req)).stream;
  }

  /** Like connect(), with the response headers (destination baggage) and the server identity. */
  async open(req: ConnectRequest): Promise<Tunnel> {
    // A connection can turn out dead between the pick and the request (GOAWAY, peer gone); one
    // retry on a fresh pick covers that without looping on a destination that keeps failing.
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new HboneError('HBONE_POOL_CLOSED', 'the HBONE pool is closed');
      const pc = this.#checkout(req);
      let conn: HboneClientConnection;
      try {
        conn = await pc.ready;
      } catch (err) {
        this.#release(pc);
        throw err;
      }
      if (pc.state !== 'ready' || conn.session.closed || conn.session.destroyed) {
        this.#release(pc);
        // A session can end without its 'close' reaching us first (torn down underneath): never
        // hand it out again.
        if (conn.session.closed || conn.session.destroyed) this.#remove(pc, 'closed');
        if (attempt === 0) continue;
        throw new HboneError('HBONE_SESSION_CLOSED', `HBONE connection to ${req.key.dstAddress} closed before the stream opened`);
      }
      let opened;
      try {
        opened = await openTunnel(conn.session, req.authority, req.headers, { responseTimeoutMs: this.#opts.responseTimeoutMs ?? CONNECT_RESPONSE_TIMEOUT_MS });
      } catch (err) {
        this.#release(pc);
        // A server that leaves a CONNECT unanswered is not trusted with new streams; the ones it
        // does carry finish on the draining connection.
        if (err instanceof HboneError && err.code === 'HBONE_RESPONSE_TIMEOUT') this.#drain(pc);
        if (attempt === 0 && err instanceof HboneError && err.refused) {
          this.#drain(pc);
          continue;
        }
        throw err;
      }
      // A safety net, not error handling: a caller that forgets an 'error' listener must not
      // crash the proxy when one peer resets; the stream's end stays observable via 'close'.
      opened.stream.on('error', () => undefined);
      let released = false;
      opened.stream.once('close', () => {
        if (!released) this.#release(pc);
        released = true;
      });
      return { stream: opened.stream, responseHeaders: opened.responseHeaders, peerIdentity: conn.peerIdentity };
    }
  }

  stats(): PoolStats {
    let connections = 0;
    let streams = 0;
    for (const list of this.#byKey.values()) {
      for (const pc of list) {
        connections++;
        streams += pc.streams;
      }
    }
    return { keys: this.#byKey.size, connections, streams };
  }

  /** Closes every connection gracefully (open tunnels finish) and refuses new requests. */
  async close(): Promise<void> {
    this.#closed = true;
    const waits: Promise<void>[] = [];
    for (const list of [...this.#byKey.values()]) {
      for (const pc of [...list]) {
        this.#drain(pc);
        waits.push(
          pc.ready.then(
            (c) => (c.session.destroyed ? undefined : new Promise<void>((r) => c.session.once('close', () => r()))),
            () => undefined,
          ),
        );
      }
    }
    await Promise.all(waits);
  }

  #checkout(req: ConnectRequest): PooledConnection {
    const key = poolKeyString(req.key);
    const list = this.#byKey.get(key) ?? [];
    let pc = list.find((c) => (c.state === 'connecting' || (c.state === 'ready' && isOpen(c))) && c.streams < this.#limit(c));
    if (!pc) {
      pc = this.#dial(key, req);
      list.push(pc);
      this.#byKey.set(key, list);
    }
    pc.streams++;
    clearTimeout(pc.idleTimer);
    pc.idleTimer = undefined;
    return pc;
  }

  #limit(pc: PooledConnection): number {
    const peer = pc.conn?.session.remoteSettings.maxConcurrentStreams;
    return peer === undefined ? this.#maxStreams : Math.min(this.#maxStreams, peer);
  }

  #dial(key: string, req: ConnectRequest): PooledConnection {
    const id = this.#nextId++;
    const log = this.#opts.log?.child({ hboneConn: id, dst: req.key.dstAddress });
    const ready = (async () => {
      let cert: WorkloadCertificate;
      try {
        cert = await this.#opts.getCertificate(req.key.srcIdentity);
      } catch (err) {
        throw asHboneError(err, 'HBONE_NO_CERTIFICATE', `no certificate for ${req.key.srcIdentity}`);
      }
      return dialHbone({
        connectSocket: req.connectSocket,
        certificate: cert,
        expectedIdentities: req.key.dstIdentities,
        connectTimeoutMs: this.#opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
        handshakeTimeoutMs: this.#opts.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
        ...(this.#opts.keepalive !== undefined ? { keepalive: this.#opts.keepalive } : {}),
      });
    })();
    const pc: PooledConnection = { id, key, state: 'connecting', streams: 0, ready };
    pc.ready.then(
      (conn) => {
        if (pc.state === 'draining' || pc.state === 'closed') {
          conn.session.close();
          return;
        }
        pc.conn = conn;
        pc.state = 'ready';
        log?.debug({ peer: conn.peerIdentity }, 'hbone connection established');
        conn.session.once('goaway', () => this.#drain(pc));
        conn.session.once('close', () => this.#remove(pc, 'closed'));
        if (pc.streams === 0) this.#armIdle(pc);
      },
      (err: unknown) => {
        log?.debug({ err }, 'hbone connection failed');
        this.#remove(pc, 'closed');
      },
    );
    return pc;
  }

  #release(pc: PooledConnection): void {
    pc.streams--;
    if (pc.streams === 0 && pc.state === 'ready') this.#armIdle(pc);
    else if (pc.streams === 0 && pc.state === 'draining') pc.conn?.session.close();
  }

  #armIdle(pc: PooledConnection): void {
    clearTimeout(pc.idleTimer);
    pc.idleTimer = setTimeout(() => {
      if (pc.streams === 0) this.#drain(pc);
    }, this.#idleMs);
    pc.idleTimer.unref();
  }

  /** No new streams; the session closes once its open streams finish. */
  #drain(pc: PooledConnection): void {
    if (pc.state === 'closed' || pc.state === 'draining') return;
    this.#remove(pc, 'draining');
    pc.conn?.session.close();
  }

  #remove(pc: PooledConnection, state: 'draining' | 'closed'): void {
    pc.state = state;
    clearTimeout(pc.idleTimer);
    const list = this.#byKey.get(pc.key);
    if (!list) return;
    const i = list.indexOf(pc);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#byKey.delete(pc.key);
  }
}
