// The node agent's side of ZDS: listen on the unix SOCK_SEQPACKET path, take ztunnel connections
// (at most a few per second, as Istio's agent does), give each the snapshot, then route updates:
// adds go to the newest connection only (during an upgrade the new ztunnel takes new pods), deletes
// go to every connection (any of them may be serving the pod). The socket file is 0600 whatever the
// umask, and a peer that is neither root nor an allowed uid (SO_PEERCRED) is closed before it sees
// anything: pod netns fds are as good as root inside those pods. Metrics are left to the caller via
// events; there is no registry here.
import { EventEmitter } from 'node:events';
import { chmodSync } from 'node:fs';
import { createLogger, type Logger } from '../log/logger.ts';
import { getPeerCredentials, SeqpacketServer, type PeerCredentials, type SeqpacketSocket } from '../netns/index.ts';
import { ZDS_MAX_MESSAGE_BYTES, type ZdsRequest, type ZdsWorkloadInfo } from './codec.ts';
import { ZdsError } from './errors.ts';
import { ZdsServerConnection, type ZdsSnapshotEntry } from './server-connection.ts';

export interface ZdsServerOptions {
  /** Socket path (Istio: /var/run/ztunnel/ztunnel.sock, agent flag ztunnel-uds-address). */
  path: string;
  /** The pods to announce to each new connection; see ZdsSnapshotEntry. */
  snapshot: () => Iterable<ZdsSnapshotEntry>;
  /** Istio's agent allows 5 s for the hello and for each answer. */
  helloTimeoutMs?: number;
  ackTimeoutMs?: number;
  /** New connections started per second; later ones wait their turn. Istio: 5. */
  maxConnectionsPerSecond?: number;
  /** Remove a stale socket file left at `path` (Istio's agent does). Default true. */
  removeExisting?: boolean;
  /**
   * Peer uids (SO_PEERCRED) allowed besides root, e.g. the uid ztunnel runs as. Default: the
   * agent's own uid (a peer with it could read our memory anyway).
   */
  allowedPeerUids?: readonly number[];
  log?: Logger;
}

/** Why a connecting peer was closed unheard. */
export interface ZdsPeerRefusal {
  /** Undefined when the credentials could not be read at all. */
  peer: PeerCredentials | undefined;
  reason: string;
}

type ServerEvents = {
  /** ztunnel said hello on connection `id`. */
  connected: [id: number, version: number];
  /** Connection `id` answered its whole snapshot; `acked`: the pods it accepted (not NACKed). */
  snapshotSent: [id: number, acked: readonly string[]];
  disconnected: [id: number, error: ZdsError | undefined];
  /** ztunnel answered a request with an error. */
  nack: [id: number, request: ZdsRequest, error: string];
  /** accept() failed; the server keeps listening. */
  acceptError: [error: Error];
  /** A peer that is neither root nor allowed connected; it was closed before anything was sent. */
  peerRefused: [refusal: ZdsPeerRefusal];
};

type ServerState = 'listening' | 'closed';

export class ZdsServer extends EventEmitter<ServerEvents> {
  /** Binds synchronously; throws NetnsError (EADDRINUSE, EACCES, ENAMETOOLONG…). */
  static listen(opts: ZdsServerOptions): ZdsServer {
    const listener = SeqpacketServer.listen(opts.path, {
      removeExisting: opts.removeExisting ?? true,
      // Room above the 1 KiB limit, so an oversize answer is reported as such rather than as a
      // truncated read.
      maxMessageBytes: 4 * ZDS_MAX_MESSAGE_BYTES,
      maxFds: 4,
    });
    try {
      // bind() made it 0777 & ~umask; only root (and the peer check below) may get pod netns fds.
      chmodSync(listener.path, 0o600);
    } catch (err) {
      listener.close();
      throw err;
    }
    return new ZdsServer(listener, opts);
  }

  readonly path: string;
  readonly #listener: SeqpacketServer;
  readonly #opts: Required<Omit<ZdsServerOptions, 'log' | 'removeExisting' | 'allowedPeerUids'>> & { log: Logger };
  readonly #allowedUids: ReadonlySet<number>;
  /** Started connections, oldest first. */
  readonly #connections: ZdsServerConnection[] = [];
  /** Accepted, waiting for the connection rate limit. */
  readonly #waiting = new Map<ZdsServerConnection, NodeJS.Timeout>();
  #nextStart = 0;
  #nextId = 1;
  #state: ServerState = 'listening';

  private constructor(listener: SeqpacketServer, opts: ZdsServerOptions) {
    super();
    this.path = listener.path;
    this.#listener = listener;
    this.#opts = {
      path: opts.path,
      snapshot: opts.snapshot,
      helloTimeoutMs: opts.helloTimeoutMs ?? 5000,
      ackTimeoutMs: opts.ackTimeoutMs ?? 5000,
      maxConnectionsPerSecond: opts.maxConnectionsPerSecond ?? 5,
      log: opts.log ?? createLogger({ component: 'zds-server', level: 'silent' }),
    };
    this.#allowedUids = new Set([0, ...(opts.allowedPeerUids ?? [process.getuid?.() ?? 0])]);
    listener.on('connection', (s) => this.#accept(s));
    listener.on('error', (err) => {
      this.#opts.log.warn({ err: err.message }, 'ZDS accept failed');
      this.emit('acceptError', err);
    });
  }

  /** Connections started (past the rate limit) and not closed. */
  get connectionCount(): number {
    return this.#connections.length;
  }

  /**
   * Announces a pod to the newest ztunnel, with its netns fd (SCM_RIGHTS). Resolves when ztunnel
   * acknowledged it; rejects with ZdsError NO_CONNECTION, NACK (ztunnel could not start the proxy),
   * ACK_TIMEOUT, CONNECTION_CLOSED, BAD_FD. `netnsFd` stays the caller's and must stay open until
   * the promise settles.
   */
  addWorkload(uid: string, info: ZdsWorkloadInfo, netnsFd: number): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ZdsError('SERVER_CLOSED', 'ZDS server is closed'));
    const newest = this.#connections.at(-1);
    if (!newest) return Promise.reject(new ZdsError('NO_CONNECTION', `no ztunnel connected to announce ${uid} to`));
    return newest.request({ kind: 'add', uid, info }, netnsFd);
  }

  /**
   * Tells every ztunnel the pod is gone. Resolves when all answered (at once if none is connected);
   * otherwise rejects with the first failure.
   */
  async delWorkload(uid: string): Promise<void> {
    if (this.#state === 'closed') throw new ZdsError('SERVER_CLOSED', 'ZDS server is closed');
    const results = await Promise.allSettled(this.#connections.map((c) => c.request({ kind: 'del', uid })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Stops listening (removing the socket file) and closes every connection. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#listener.close();
    const err = new ZdsError('SERVER_CLOSED', 'ZDS server closed');
    for (const [conn, timer] of this.#waiting) {
      clearTimeout(timer);
      conn.close(err);
    }
    this.#waiting.clear();
    for (const c of [...this.#connections]) c.close(err);
  }

  /** Root or an allowed uid, as the kernel saw the peer at connect() time; otherwise why not. */
  #checkPeer(socket: SeqpacketSocket): ZdsPeerRefusal | undefined {
    let peer: PeerCredentials;
    try {
      peer = getPeerCredentials(socket.fd);
    } catch (err) {
      return { peer: undefined, reason: `cannot read the peer credentials: ${(err as Error).message}` };
    }
    if (this.#allowedUids.has(peer.uid)) return undefined;
    return { peer, reason: `uid ${peer.uid} is not allowed (allowed: ${[...this.#allowedUids].join(', ')})` };
  }

  #accept(socket: SeqpacketSocket): void {
    const refusal = this.#checkPeer(socket);
    if (refusal) {
      socket.close();
      this.#opts.log.warn({ peerPid: refusal.peer?.pid, peerUid: refusal.peer?.uid, reason: refusal.reason }, 'ZDS peer refused');
      this.emit('peerRefused', refusal);
      return;
    }
    const id = this.#nextId++;
    const conn = new ZdsServerConnection(id, socket, {
      snapshot: this.#opts.snapshot,
      helloTimeoutMs: this.#opts.helloTimeoutMs,
      ackTimeoutMs: this.#opts.ackTimeoutMs,
      log: this.#opts.log,
    });
    conn.on('hello', (version) => this.emit('connected', id, version));
    conn.on('ready', (acked) => this.emit('snapshotSent', id, acked));
    conn.on('nack', (request, error) => {
      this.#opts.log.warn({ zdsConn: id, request: request.kind, uid: 'uid' in request ? request.uid : undefined, error }, 'ztunnel answered with an error');
      this.emit('nack', id, request, error);
    });
    conn.on('close', (error) => {
      const i = this.#connections.indexOf(conn);
      if (i >= 0) this.#connections.splice(i, 1);
      const t = this.#waiting.get(conn);
      if (t) clearTimeout(t);
      this.#waiting.delete(conn);
      this.#opts.log.info({ zdsConn: id, reason: error?.message, connections: this.#connections.length }, 'ztunnel disconnected');
      this.emit('disconnected', id, error);
    });
    // Token bucket of one: starts are spaced 1/rate apart; the socket stays paused meanwhile.
    const now = Date.now();
    const startAt = Math.max(now, this.#nextStart);
    this.#nextStart = startAt + 1000 / this.#opts.maxConnectionsPerSecond;
    const start = (): void => {
      this.#waiting.delete(conn);
      if (conn.closed || this.#state === 'closed') return;
      this.#connections.push(conn);
      this.#opts.log.info({ zdsConn: id, connections: this.#connections.length }, 'ztunnel connected');
      conn.start();
    };
    if (startAt <= now) start();
    else this.#waiting.set(conn, setTimeout(start, startAt - now));
  }
}
