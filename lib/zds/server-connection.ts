// One ztunnel connection as the node agent sees it: wait for ZdsHello, send the snapshot (Add with
// the netns fd, or Keep), then SnapshotSent, then queued adds/deletes, one request at a time, each
// answered by an Ack before the next goes out (as Istio's agent does). A connection whose
// request/answer pairing is in doubt (timeout, unsolicited or garbled answer) is closed: ztunnel
// reconnects and gets a fresh snapshot, which is the protocol's way to resynchronise.
import { EventEmitter } from 'node:events';
import type { Logger } from '../log/logger.ts';
import { closeFd, NetnsError, type SeqpacketMessage, type SeqpacketSocket } from '../netns/index.ts';
import { decodeAck, decodeHello, encodeRequest, type ZdsRequest, type ZdsWorkloadInfo } from './codec.ts';
import { ZdsError } from './errors.ts';
import { ZdsVersion } from '../proto/index.ts';

/** A pod the agent knows about, as the snapshot lists it. Without a netns fd it is sent as Keep. */
export interface ZdsSnapshotEntry {
  uid: string;
  info: ZdsWorkloadInfo;
  /** Stays the provider's; it is only used while the entry is being sent. */
  netnsFd?: number;
}

export type ZdsConnectionState = 'pending' | 'awaiting-hello' | 'snapshot' | 'ready' | 'closed';

const TRANSITIONS: Record<ZdsConnectionState, readonly ZdsConnectionState[]> = {
  pending: ['awaiting-hello', 'closed'],
  'awaiting-hello': ['snapshot', 'closed'],
  snapshot: ['ready', 'closed'],
  ready: ['closed'],
  closed: [],
};

export interface ZdsServerConnectionOptions {
  /** Lists the pods to announce; iterated lazily, one entry per acknowledged request. */
  snapshot: () => Iterable<ZdsSnapshotEntry>;
  helloTimeoutMs: number;
  ackTimeoutMs: number;
  log: Logger;
}

type ConnectionEvents = {
  hello: [version: number];
  /** The snapshot, SnapshotSent included, was answered; `acked`: the pods ztunnel accepted (no error). */
  ready: [acked: readonly string[]];
  /** ztunnel answered a request with an error string. */
  nack: [request: ZdsRequest, error: string];
  close: [error: ZdsError | undefined];
};

interface QueuedRequest {
  request: ZdsRequest;
  data: Buffer;
  fd: number | undefined;
  resolve(): void;
  reject(err: ZdsError): void;
}

interface InFlight {
  request: ZdsRequest;
  timer: NodeJS.Timeout;
  resolve(ackError: string): void;
  reject(err: ZdsError): void;
}

export class ZdsServerConnection extends EventEmitter<ConnectionEvents> {
  readonly id: number;
  readonly #socket: SeqpacketSocket;
  readonly #opts: ZdsServerConnectionOptions;
  readonly #log: Logger;
  #state: ZdsConnectionState = 'pending';
  #queue: QueuedRequest[] = [];
  #wake: (() => void) | undefined;
  #inflight: InFlight | undefined;
  #hello: { resolve(): void; reject(err: ZdsError): void; timer?: NodeJS.Timeout } | undefined;
  #socketError: NetnsError | undefined;

  /** Takes the accepted socket, paused, so no message is read before start(). */
  constructor(id: number, socket: SeqpacketSocket, opts: ZdsServerConnectionOptions) {
    super();
    this.id = id;
    this.#socket = socket.pause();
    this.#opts = opts;
    this.#log = opts.log.child({ zdsConn: id });
    socket.on('message', (m) => this.#onMessage(m));
    socket.on('error', (err) => {
      this.#socketError = err;
    });
    socket.on('close', () => this.close(new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${id} closed`, this.#socketError ? { cause: this.#socketError } : undefined)));
  }

  get state(): ZdsConnectionState {
    return this.#state;
  }

  get closed(): boolean {
    return this.#state === 'closed';
  }

  /** Starts reading: expects ZdsHello within helloTimeoutMs, then sends the snapshot. */
  start(): void {
    if (!this.#to('awaiting-hello')) return;
    const hello = new Promise<void>((resolve, reject) => {
      this.#hello = { resolve, reject };
    });
    this.#hello!.timer = setTimeout(() => {
      this.close(new ZdsError('HELLO_TIMEOUT', `ztunnel connection ${this.id}: no ZdsHello within ${this.#opts.helloTimeoutMs} ms`));
    }, this.#opts.helloTimeoutMs);
    this.#socket.resume();
    void this.#run(hello);
  }

  /**
   * Queues a request behind the snapshot and earlier requests. Resolves on an empty Ack; rejects
   * with ZdsError (NACK with ztunnel's error, ACK_TIMEOUT, CONNECTION_CLOSED, MESSAGE_TOO_LARGE).
   * `fd` stays the caller's and must stay open until the promise settles.
   */
  request(request: ZdsRequest, fd?: number): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id} is closed`));
    let data: Buffer;
    try {
      data = encodeRequest(request);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ request, data, fd, resolve, reject });
      this.#wake?.();
    });
  }

  /** Closes the socket; the in-flight and queued requests fail with `error` (or CONNECTION_CLOSED). */
  close(error?: ZdsError): void {
    if (!this.#to('closed')) return;
    const err = error ?? new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id} closed`);
    if (this.#hello) {
      clearTimeout(this.#hello.timer);
      this.#hello.reject(err);
      this.#hello = undefined;
    }
    if (this.#inflight) {
      clearTimeout(this.#inflight.timer);
      this.#inflight.reject(err);
      this.#inflight = undefined;
    }
    const closedErr = err.code === 'CONNECTION_CLOSED' ? err : new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id} closed before the request was sent`, { cause: err });
    for (const q of this.#queue.splice(0)) q.reject(closedErr);
    this.#wake?.();
    this.#socket.close();
    this.emit('close', error);
  }

  #to(next: ZdsConnectionState): boolean {
    if (!TRANSITIONS[this.#state].includes(next)) return false;
    this.#state = next;
    return true;
  }

  async #run(hello: Promise<void>): Promise<void> {
    try {
      await hello;
      if (!this.#to('snapshot')) return;
      const acked = await this.#sendSnapshot();
      if (!this.#to('ready')) return;
      this.#log.debug({ acked: acked.length }, 'snapshot sent');
      this.emit('ready', acked);
      for (;;) {
        const q = await this.#next();
        if (!q) return;
        let ackError: string;
        try {
          ackError = await this.#exchange(q.request, q.data, q.fd);
        } catch (err) {
          q.reject(err as ZdsError);
          if (err instanceof ZdsError && err.code === 'CONNECTION_CLOSED') return;
          if (this.closed) return;
          continue;
        }
        if (ackError) {
          this.emit('nack', q.request, ackError);
          q.reject(new ZdsError('NACK', `ztunnel refused ${describe(q.request)}: ${ackError}`, { ackError }));
        } else {
          q.resolve();
        }
      }
    } catch (err) {
      if (!this.closed) {
        this.#log.error({ err: (err as Error).message }, 'ZDS connection failed');
        this.close(err instanceof ZdsError ? err : new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id}: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  /**
   * Snapshot entries are read one at a time so each netns fd is used while its provider still holds
   * it. Resolves with the uids ztunnel acknowledged without error: only those are known to be served.
   */
  async #sendSnapshot(): Promise<string[]> {
    const acked: string[] = [];
    for (const entry of this.#opts.snapshot()) {
      if (this.closed) return acked;
      const request: ZdsRequest = entry.netnsFd === undefined ? { kind: 'keep', uid: entry.uid } : { kind: 'add', uid: entry.uid, info: entry.info };
      let data: Buffer;
      try {
        data = encodeRequest(request);
      } catch (err) {
        // One pod that cannot be described must not keep the others from ztunnel.
        this.#log.error({ uid: entry.uid, err: (err as Error).message }, 'snapshot entry skipped');
        continue;
      }
      let ackError: string;
      try {
        ackError = await this.#exchange(request, data, entry.netnsFd);
      } catch (err) {
        if (err instanceof ZdsError && err.code === 'BAD_FD' && !this.closed) {
          this.#log.error({ uid: entry.uid, err: err.message }, 'snapshot entry not sent');
          continue;
        }
        throw err;
      }
      // As Istio's agent: an error answer during the snapshot is logged, and the snapshot goes on.
      if (ackError) this.emit('nack', request, ackError);
      else acked.push(entry.uid);
    }
    const done: ZdsRequest = { kind: 'snapshotSent' };
    const ackError = await this.#exchange(done, encodeRequest(done), undefined);
    if (ackError) this.emit('nack', done, ackError);
    return acked;
  }

  #next(): Promise<QueuedRequest | undefined> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (this.closed) {
          this.#wake = undefined;
          resolve(undefined);
          return;
        }
        const q = this.#queue.shift();
        if (!q) return;
        this.#wake = undefined;
        resolve(q);
      };
      this.#wake = check;
      check();
    });
  }

  /** Sends one request and resolves with the Ack's error string ('' = success). */
  #exchange(request: ZdsRequest, data: Buffer, fd: number | undefined): Promise<string> {
    if (this.closed) return Promise.reject(new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id} is closed`));
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(new ZdsError('ACK_TIMEOUT', `ztunnel connection ${this.id}: no answer to ${describe(request)} within ${this.#opts.ackTimeoutMs} ms`));
      }, this.#opts.ackTimeoutMs);
      this.#inflight = { request, timer, resolve, reject };
      try {
        this.#socket.send(data, fd === undefined ? [] : [fd]);
      } catch (err) {
        clearTimeout(timer);
        this.#inflight = undefined;
        // EBADF can only be the caller's fd (ours is open): that request fails, the connection is fine.
        if (err instanceof NetnsError && err.code === 'EBADF') {
          reject(new ZdsError('BAD_FD', `${describe(request)}: netns fd ${fd} is not open`, { cause: err }));
          return;
        }
        reject(new ZdsError('CONNECTION_CLOSED', `ztunnel connection ${this.id}: send failed: ${(err as Error).message}`, { cause: err }));
      }
    });
  }

  #onMessage(m: SeqpacketMessage): void {
    // ztunnel never sends fds; whatever arrived is ours to close.
    for (const fd of m.fds) closeFd(fd);
    if (this.closed) return;
    if (m.fds.length > 0) {
      this.close(new ZdsError('PROTOCOL', `ztunnel connection ${this.id}: message carried ${m.fds.length} fd(s)`));
      return;
    }
    if (this.#state === 'awaiting-hello') {
      const hello = decodeHello(m.data);
      if (!hello.ok) {
        this.close(new ZdsError('PROTOCOL', `ztunnel connection ${this.id}: first message is not a ZdsHello: ${hello.error.message}`, { cause: hello.error }));
        return;
      }
      if (hello.value.version !== ZdsVersion.V1) this.#log.warn({ version: hello.value.version }, 'ztunnel speaks a ZDS version we do not know; continuing as V1');
      const h = this.#hello;
      this.#hello = undefined;
      if (h) {
        clearTimeout(h.timer);
        h.resolve();
      }
      this.emit('hello', hello.value.version);
      return;
    }
    const inflight = this.#inflight;
    if (!inflight) {
      this.close(new ZdsError('PROTOCOL', `ztunnel connection ${this.id}: unsolicited message (${m.data.length} bytes)`));
      return;
    }
    const ack = decodeAck(m.data);
    if (!ack.ok) {
      this.close(new ZdsError('PROTOCOL', `ztunnel connection ${this.id}: bad answer to ${describe(inflight.request)}: ${ack.error.message}`, { cause: ack.error }));
      return;
    }
    clearTimeout(inflight.timer);
    this.#inflight = undefined;
    inflight.resolve(ack.value.error);
  }
}

function describe(r: ZdsRequest): string {
  return r.kind === 'snapshotSent' ? 'SnapshotSent' : `${r.kind} ${r.uid}`;
}
