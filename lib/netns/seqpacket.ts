// AF_UNIX SOCK_SEQPACKET sockets carrying fds (SCM_RIGHTS): the transport of ZDS, where the
// istio-cni node agent listens and ztunnel connects. One send() is one datagram is one 'message'.
// Readiness comes from uv_poll on Node's own loop; the syscalls themselves are non-blocking.
import { EventEmitter } from 'node:events';
import { lstatSync, unlinkSync } from 'node:fs';
import { NetnsError } from './errors.ts';
import { native, POLL_READABLE, POLL_WRITABLE, type NativePoller } from './native.ts';

/** Largest datagram accepted (ZDS messages are under 1 KiB; ztunnel reads with a 1024-byte buffer). */
export const MAX_MESSAGE_BYTES = 65536;
/** Most fds in one datagram (ZDS sends exactly one, with AddWorkload). */
export const MAX_MESSAGE_FDS = 32;

/** Messages handled per readiness callback, so one busy peer cannot starve the event loop. */
const BATCH = 64;
/** Pause before accepting again after fd or memory exhaustion; level-triggered poll would spin. */
const ACCEPT_BACKOFF_MS = 100;

export interface SeqpacketMessage {
  data: Buffer;
  /** Received fds, close-on-exec. The 'message' listener owns them and must close them. */
  fds: number[];
}

export interface SeqpacketSocketOptions {
  /** A longer datagram is an error (MSG_TRUNC) and closes the socket. At most MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number;
  /** More fds in one datagram is an error (MSG_CTRUNC; the fds are closed). At most MAX_MESSAGE_FDS. */
  maxFds?: number;
}

type SocketEvents = {
  message: [SeqpacketMessage];
  /** The send queue has emptied after a send() returned false. */
  drain: [];
  error: [NetnsError];
  close: [];
};

type SocketState = 'open' | 'closed';

interface QueuedMessage {
  data: Buffer;
  /** Our own duplicates, so callers may close theirs as soon as send() returns. */
  fds: number[];
}

export class SeqpacketSocket extends EventEmitter<SocketEvents> {
  /** Connects to a listening path. Throws NetnsError (ENOENT, ECONNREFUSED, EAGAIN if its backlog is full). */
  static connect(path: string, opts: SeqpacketSocketOptions = {}): SeqpacketSocket {
    return new SeqpacketSocket(native().seqpacketConnect(path), opts);
  }

  /** A connected pair (socketpair), e.g. for tests or an in-process peer. */
  static pair(opts: SeqpacketSocketOptions = {}): [SeqpacketSocket, SeqpacketSocket] {
    const [a, b] = native().seqpacketPair();
    return [new SeqpacketSocket(a, opts), new SeqpacketSocket(b, opts)];
  }

  /** Takes ownership of a connected, non-blocking SOCK_SEQPACKET fd. */
  static fromFd(fd: number, opts: SeqpacketSocketOptions = {}): SeqpacketSocket {
    return new SeqpacketSocket(fd, opts);
  }

  readonly #fd: number;
  readonly #poller: NativePoller;
  readonly #maxBytes: number;
  readonly #maxFds: number;
  #state: SocketState = 'open';
  #paused = false;
  #queue: QueuedMessage[] = [];

  private constructor(fd: number, opts: SeqpacketSocketOptions) {
    super();
    this.#maxBytes = limit(opts.maxMessageBytes, MAX_MESSAGE_BYTES, 'maxMessageBytes');
    this.#maxFds = limit(opts.maxFds, MAX_MESSAGE_FDS, 'maxFds');
    this.#fd = fd;
    try {
      this.#poller = native().pollCreate(fd, (status, events) => this.#onReady(status, events));
    } catch (err) {
      native().closeFd(fd);
      throw err;
    }
    this.#updatePoll();
  }

  get fd(): number {
    return this.#fd;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /**
   * Sends one datagram, with `fds` as SCM_RIGHTS. The fds stay the caller's. Returns false when the
   * message was queued because the socket buffer is full; 'drain' follows once the queue is sent.
   * Sending on a closed socket or over the limits throws; failures of the peer arrive as 'error'.
   * `data` is not copied: do not modify it until sent.
   */
  send(data: Buffer, fds: readonly number[] = []): boolean {
    if (this.#state !== 'open') throw NetnsError.of('EPIPE', 'send', 'socket is closed');
    if (data.length > MAX_MESSAGE_BYTES) {
      throw NetnsError.of('EMSGSIZE', 'send', `${data.length} bytes > ${MAX_MESSAGE_BYTES}`);
    }
    if (fds.length > MAX_MESSAGE_FDS) throw NetnsError.of('EMSGSIZE', 'send', `${fds.length} fds > ${MAX_MESSAGE_FDS}`);
    if (this.#queue.length === 0 && this.#trySend(data, fds)) return true;
    if (this.#state !== 'open') return false;
    const n = native();
    const dups: number[] = [];
    try {
      for (const fd of fds) dups.push(n.dupFd(fd));
    } catch (err) {
      for (const d of dups) n.closeFd(d);
      throw err;
    }
    this.#queue.push({ data, fds: dups });
    this.#updatePoll();
    return false;
  }

  /** Stops reading; the peer's sends queue up in the kernel and then block (backpressure). */
  pause(): this {
    this.#paused = true;
    this.#updatePoll();
    return this;
  }

  resume(): this {
    this.#paused = false;
    this.#updatePoll();
    return this;
  }

  ref(): this {
    if (this.#state === 'open') native().pollRef(this.#poller, true);
    return this;
  }

  /** Lets the process exit while this socket is open, as net.Socket#unref. */
  unref(): this {
    if (this.#state === 'open') native().pollRef(this.#poller, false);
    return this;
  }

  /** Closes now, dropping unsent queued messages; 'close' is emitted on the next tick. */
  close(): void {
    if (!this.#release()) return;
    process.nextTick(() => this.emit('close'));
  }

  #destroy(err: NetnsError): void {
    if (!this.#release()) return;
    process.nextTick(() => {
      this.emit('error', err);
      this.emit('close');
    });
  }

  /** Frees the fd, the poller and queued fds; false if already closed. */
  #release(): boolean {
    if (this.#state === 'closed') return false;
    this.#state = 'closed';
    const n = native();
    // The poller must stop watching before the fd number can be reused.
    n.pollClose(this.#poller);
    n.closeFd(this.#fd);
    for (const m of this.#queue) for (const fd of m.fds) n.closeFd(fd);
    this.#queue = [];
    return true;
  }

  #updatePoll(): void {
    if (this.#state !== 'open') return;
    const events = (this.#paused ? 0 : POLL_READABLE) | (this.#queue.length > 0 ? POLL_WRITABLE : 0);
    native().pollSet(this.#poller, events);
  }

  #onReady(status: number, events: number): void {
    if (this.#state !== 'open') return;
    if (status < 0) {
      this.#destroy(new NetnsError(-status, 'poll'));
      return;
    }
    if (events & POLL_WRITABLE) this.#flush();
    if (events & POLL_READABLE) this.#readSome();
  }

  #readSome(): void {
    const n = native();
    for (let i = 0; i < BATCH && this.#state === 'open' && !this.#paused; i++) {
      let msg;
      try {
        msg = n.seqpacketRecv(this.#fd, this.#maxBytes, this.#maxFds);
      } catch (err) {
        this.#destroy(asNetnsError(err));
        return;
      }
      if (msg === null) return;
      if (msg.eof) {
        this.close();
        return;
      }
      if (this.listenerCount('message') === 0) {
        // Nobody can take ownership of these fds; holding them would leak (and pin pod netns).
        for (const fd of msg.fds) n.closeFd(fd);
        continue;
      }
      this.emit('message', { data: msg.data, fds: msg.fds });
    }
  }

  #flush(): void {
    const n = native();
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      if (!head || !this.#trySend(head.data, head.fds)) return;
      this.#queue.shift();
      for (const fd of head.fds) n.closeFd(fd);
    }
    this.#updatePoll();
    this.emit('drain');
  }

  /** true: sent; false: would block (or the socket was destroyed by the failure). */
  #trySend(data: Buffer, fds: readonly number[]): boolean {
    try {
      return native().seqpacketSend(this.#fd, data, fds);
    } catch (err) {
      const e = asNetnsError(err);
      // EBADF can only be one of the caller's fds (ours is open): their bug, not the connection's.
      if (e.code === 'EBADF') throw e;
      this.#destroy(e);
      return false;
    }
  }
}

export interface SeqpacketServerOptions extends SeqpacketSocketOptions {
  backlog?: number;
  /** Remove a socket file already at `path` (left by a previous run) before binding. */
  removeExisting?: boolean;
}

type ServerEvents = {
  connection: [SeqpacketSocket];
  /** accept failed; the server keeps listening (after a short pause when out of fds or memory). */
  error: [NetnsError];
  close: [];
};

type ServerState = 'listening' | 'backoff' | 'closed';

export class SeqpacketServer extends EventEmitter<ServerEvents> {
  /** Binds and listens synchronously; throws NetnsError (EADDRINUSE, EACCES, ENAMETOOLONG). */
  static listen(path: string, opts: SeqpacketServerOptions = {}): SeqpacketServer {
    if (opts.removeExisting) removeSocketFile(path);
    const fd = native().seqpacketListen(path, opts.backlog ?? 128);
    let ino: number;
    try {
      ino = lstatSync(path).ino;
    } catch (err) {
      native().closeFd(fd);
      throw err;
    }
    return new SeqpacketServer(fd, path, ino, opts);
  }

  readonly path: string;
  readonly #fd: number;
  readonly #ino: number;
  readonly #poller: NativePoller;
  readonly #socketOpts: SeqpacketSocketOptions;
  #state: ServerState = 'listening';
  #backoff: NodeJS.Timeout | undefined;
  #refed = true;

  private constructor(fd: number, path: string, ino: number, opts: SeqpacketServerOptions) {
    super();
    this.path = path;
    this.#fd = fd;
    this.#ino = ino;
    this.#socketOpts = { maxMessageBytes: opts.maxMessageBytes, maxFds: opts.maxFds };
    try {
      this.#poller = native().pollCreate(fd, (status) => this.#onReady(status));
      native().pollSet(this.#poller, POLL_READABLE);
    } catch (err) {
      native().closeFd(fd);
      throw err;
    }
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  ref(): this {
    this.#refed = true;
    if (this.#state !== 'closed') native().pollRef(this.#poller, true);
    this.#backoff?.ref();
    return this;
  }

  unref(): this {
    this.#refed = false;
    if (this.#state !== 'closed') native().pollRef(this.#poller, false);
    this.#backoff?.unref();
    return this;
  }

  /** Stops accepting and removes the socket file (if it is still ours); accepted sockets stay open. */
  close(): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#backoff);
    const n = native();
    n.pollClose(this.#poller);
    n.closeFd(this.#fd);
    try {
      if (lstatSync(this.path).ino === this.#ino) unlinkSync(this.path);
    } catch {
      // Already gone or replaced: nothing of ours to remove.
    }
    process.nextTick(() => this.emit('close'));
  }

  #onReady(status: number): void {
    if (this.#state !== 'listening') return;
    if (status < 0) {
      this.emit('error', new NetnsError(-status, 'poll'));
      return;
    }
    const n = native();
    for (let i = 0; i < BATCH && this.#state === 'listening'; i++) {
      let fd: number;
      try {
        fd = n.seqpacketAccept(this.#fd);
      } catch (err) {
        const e = asNetnsError(err);
        if (RESOURCE_ERRORS.has(e.code)) this.#pauseAccepting();
        this.emit('error', e);
        return;
      }
      if (fd < 0) return;
      const socket = SeqpacketSocket.fromFd(fd, this.#socketOpts);
      if (this.listenerCount('connection') === 0) socket.close();
      else this.emit('connection', socket);
    }
  }

  #pauseAccepting(): void {
    this.#state = 'backoff';
    native().pollSet(this.#poller, 0);
    this.#backoff = setTimeout(() => {
      this.#backoff = undefined;
      if (this.#state !== 'backoff') return;
      this.#state = 'listening';
      native().pollSet(this.#poller, POLL_READABLE);
    }, ACCEPT_BACKOFF_MS);
    if (!this.#refed) this.#backoff.unref();
  }
}

const RESOURCE_ERRORS = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

function removeSocketFile(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function limit(value: number | undefined, max: number, what: string): number {
  if (value === undefined) return max;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`SeqpacketSocket: ${what} must be an integer in 0..${max}, got ${value}`);
  }
  return value;
}

function asNetnsError(err: unknown): NetnsError {
  if (err instanceof NetnsError) return err;
  throw err;
}
